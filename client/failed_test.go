package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// allVideoTooLarge is a store that can never hold a disable_all_video record.
type allVideoTooLarge struct{ *session.MemStore }

func (s allVideoTooLarge) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return s.AppendBatch(ctx, id, expected, []sessionlog.Record{rec})
}

func (s allVideoTooLarge) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	for _, r := range recs {
		if r.Command.Type == core.DisableAllVideo {
			return 0, session.ErrTooLarge
		}
	}
	return s.MemStore.AppendBatch(ctx, id, expected, recs)
}

// A command refused for good fails with ErrFailed, at once, and the meeting
// goes on.
func TestCommandFailedForGood(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.NewOn(t, allVideoTooLarge{session.NewMemStore()})
	m, _ := join(t, srv, "hana", "host")
	err := m.Participants.DisableAllVideo(ctxT(t))
	if !errors.Is(err, client.ErrFailed) || errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("DisableAllVideo: %v, want ErrFailed", err)
	}
	if err := m.Self.DisableAudio(ctxT(t)); err != nil {
		t.Errorf("the next command: %v", err)
	}
}
