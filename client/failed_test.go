package client_test

import (
	"errors"
	"testing"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// A command refused for good fails with ErrFailed, at once, and the meeting
// goes on.
func TestCommandFailedForGood(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	// The store can never hold a disable_all_video record.
	srv.Store.InjectFunc(func(_ int, recs []sessionlog.Record) fake.Fault {
		for _, r := range recs {
			if r.Command.Type == core.DisableAllVideo {
				return fake.TooLarge
			}
		}
		return fake.None
	})
	m, _ := join(t, srv, "hana", "host")
	err := m.Participants.DisableAllVideo(ctxT(t))
	if !errors.Is(err, client.ErrFailed) || errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("DisableAllVideo: %v, want ErrFailed", err)
	}
	if err := m.Self.DisableAudio(ctxT(t)); err != nil {
		t.Errorf("the next command: %v", err)
	}
}
