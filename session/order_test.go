package session

import (
	"context"
	"errors"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/sessionlog"
)

// orderStore checks, when each record is appended, that nobody has been
// told of it yet: no subscriber holds its events, no caller its answer.
type orderStore struct {
	*MemStore
	t       *testing.T
	sub     *Subscription
	answers *int
}

func (o orderStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	if n := o.sub.queued(); n != 0 {
		o.t.Errorf("appending %q: the subscriber holds %d events already", rec.Command.ID, n)
	}
	if *o.answers != int(expected) {
		o.t.Errorf("appending %q: %d commands answered, want %d", rec.Command.ID, *o.answers, expected)
	}
	return o.MemStore.Append(ctx, id, expected, rec)
}

// TestOrder checks the order of the package doc: decide, append, and only
// then publish, and then answer: when Submit returns, the subscriber holds
// the command's events already. A rejection is appended before it is
// answered too.
func TestOrder(t *testing.T) {
	answers := 0
	st := orderStore{MemStore: NewMemStore(), t: t, answers: &answers}
	s, err := Open(testwait.Context(t), "room-1", &st, WithPresets(core.Presets{"host": {}}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(testwait.Context(t))
	if st.sub, err = s.Subscribe(testwait.Context(t), 0); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range []core.Command{
		{ID: "c1", Type: core.Join, Actor: "a", Preset: "host", Audio: true},
		{ID: "c2", Type: core.SetAudio, Actor: "a"},
		{ID: "c3", Type: core.SetAudio, Actor: "a"},          // no event
		{ID: "c4", Type: core.Kick, Actor: "a", Target: "b"}, // permission_denied
	} {
		if _, err := s.Submit(testwait.Context(t), cmd); err != nil && (i < 3 || !errors.Is(err, core.ErrPermissionDenied)) {
			t.Fatal(err)
		}
		answers++
		if n := st.sub.queued(); n != max(0, min(1, 2-i)) {
			t.Errorf("when %q is answered the subscriber holds %d events, want %d", cmd.ID, n, max(0, min(1, 2-i)))
		}
		if i < 2 {
			if _, err := st.sub.Next(testwait.Context(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
