package session_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
)

// routeTo is a Router whose home is another instance for the sessions in
// away, answered with answer; it records what it was asked.
type routeTo struct {
	away   map[string]bool
	answer session.Result
	asked  []string // command ids
}

func (r *routeTo) Route(ctx context.Context, id string, cmd core.Command) (session.Result, bool, error) {
	r.asked = append(r.asked, cmd.ID)
	if !r.away[id] {
		return session.Result{}, false, nil
	}
	return r.answer, true, nil
}

// TestRouter: Manager.Submit asks the Router of WithRouter first; a
// command it routes is answered with its outcome and this manager
// neither opens nor creates the session; one it does not route is
// decided here. Decide never asks it; a command that is not well formed
// is answered invalid_command without it. WithRouter(nil) is refused.
func TestRouter(t *testing.T) {
	if _, err := session.NewManager(session.NewMemStore(), session.WithRouter(nil)); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("WithRouter(nil): %v, want ErrInvalidOption", err)
	}
	st := session.NewMemStore()
	r := &routeTo{away: map[string]bool{"away": true}, answer: session.Result{Seq: 42}}
	m, err := session.NewManager(st, session.WithPresets(presets), session.WithRouter(r))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
	ctx := testwait.Context(t)

	res, err := m.Submit(ctx, "away", core.Command{ID: "h1", Type: core.Join, Actor: "h1", Name: "H", Preset: "host"})
	if err != nil || res.Seq != 42 {
		t.Errorf("routed: seq %d, %v; want the router's seq 42", res.Seq, err)
	}
	if _, err := st.Header(ctx, "away"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("routed: the store has the session (%v): this manager created it", err)
	}
	if res, err = m.Submit(ctx, "here", core.Command{ID: "h2", Type: core.Join, Actor: "h2", Name: "H", Preset: "host"}); err != nil || res.Seq != 1 {
		t.Errorf("not routed: seq %d, %v; want it decided here, seq 1", res.Seq, err)
	}
	if res, err = m.Decide(ctx, "away", core.Command{ID: "h3", Type: core.Join, Actor: "h3", Name: "H", Preset: "host"}); err != nil || res.Seq != 1 {
		t.Errorf("Decide: seq %d, %v; want it decided here, seq 1", res.Seq, err)
	}
	if _, err := m.Submit(ctx, "away", core.Command{ID: "bad", Type: core.Join}); !errors.Is(err, core.ErrInvalidCommand) {
		t.Errorf("ill-formed: %v, want invalid_command", err)
	}
	if d := cmp.Diff([]string{"h1", "h2"}, r.asked); d != "" {
		t.Errorf("what the router was asked (-want +got):\n%s", d)
	}
}

// TestRouterAfterClose: a closed Manager's Submit fails with ErrClosed,
// as without a Router, and routes nothing.
func TestRouterAfterClose(t *testing.T) {
	r := &routeTo{away: map[string]bool{"away": true}, answer: session.Result{Seq: 42}}
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(presets), session.WithRouter(r))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Submit(ctx, "away", core.Command{ID: "h1", Type: core.Join, Actor: "h1", Name: "H", Preset: "host"}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	if len(r.asked) != 0 {
		t.Errorf("the router was asked %v after Close", r.asked)
	}
}
