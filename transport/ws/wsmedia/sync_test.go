package wsmedia_test

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// stillStore is a memory store shared by two managers, as a JetStream
// stream is by two nodes, whose follow streams deliver nothing: a manager
// on it lags what the other appends, without knowing it.
type stillStore struct{ *session.MemStore }

func (stillStore) Follow(ctx context.Context, _ string, _ sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(func(sessionlog.Record, error) bool) { <-ctx.Done() }
}

// TestConnectReadsTheLog: the hub decides a participant's media on the
// log, not on its manager's state, which lags another node's commands: a
// participant who joined through the other node a moment ago is admitted,
// and once kicked there is refused with not_joined; the kick, read from
// the log, closes the media connection admitted before.
func TestConnectReadsTheLog(t *testing.T) {
	leakcheck.Check(t)
	ctx := testwait.Context(t)
	st := stillStore{session.NewMemStore()}
	var ms []*session.Manager
	for range 2 {
		m, err := session.NewManager(st, session.WithPresets(wstest.Presets))
		if err != nil {
			t.Fatal(err)
		}
		testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
		ms = append(ms, m)
	}
	here, there := ms[0], ms[1]
	submit := func(cmd core.Command) {
		t.Helper()
		if _, err := there.Submit(ctx, room, cmd); err != nil {
			t.Fatal(err)
		}
	}
	submit(core.Command{ID: "c1", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host"})
	if _, err := here.State(ctx, room); err != nil { // open here, at seq 1
		t.Fatal(err)
	}
	hub, err := wsmedia.New(here, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork())))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { hub.Close(ctx) })

	submit(core.Command{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee"})
	if st, _ := here.State(ctx, room); st.Joined("bob") {
		t.Fatal("this manager saw bob join: the test shows nothing")
	}
	p, err := hub.Connect(ctx, room, "bob")
	if err != nil {
		t.Fatalf("bob, joined through the other manager: %v", err)
	}
	defer p.Close(ctx)

	submit(core.Command{ID: "c3", Type: core.Kick, Actor: "hana", Target: "bob"})
	if _, err := hub.Connect(ctx, room, "bob"); !notJoined(err) {
		t.Errorf("bob, kicked through the other manager: %v, want not_joined", err)
	}
	for {
		if _, err := p.Next(ctx); err != nil {
			if !errors.Is(err, ws.ErrMediaClosed) {
				t.Errorf("bob's media connection after the kick: %v, want ErrMediaClosed", err)
			}
			break
		}
	}
}

func notJoined(err error) bool {
	code, _ := core.CodeOf(err)
	return code == core.CodeNotJoined
}
