package session_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// gatedStore holds every Header call (the first step of opening a session)
// until gate is closed or the caller's context ends.
type gatedStore struct {
	*session.MemStore
	gate chan struct{}
}

func (g *gatedStore) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return sessionlog.Header{}, ctx.Err()
	}
	return g.MemStore.Header(ctx, id)
}

// A session is opened under the manager's lifetime: the caller that
// started the opening going away fails only itself, and another caller
// waiting for the same session gets it.
func TestManagerOpenOutlivesFirstCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &gatedStore{MemStore: session.NewMemStore(), gate: make(chan struct{})}
		m, err := session.NewManager(st, session.WithPresets(presets), session.WithIdleTimeout(0))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())

		first, leave := context.WithCancel(t.Context())
		firstErr := make(chan error, 1)
		go func() {
			_, err := m.Session(first, "room-1")
			firstErr <- err
		}()
		synctest.Wait() // the opening waits on the store
		type got struct {
			s   *session.Session
			err error
		}
		second := make(chan got, 1)
		go func() {
			s, err := m.Session(t.Context(), "room-1")
			second <- got{s, err}
		}()
		synctest.Wait() // the second caller waits for the same opening

		leave()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Errorf("the caller that went away: %v, want context.Canceled", err)
		}
		close(st.gate)
		g := <-second
		if g.err != nil {
			t.Fatalf("the caller still waiting: %v", g.err)
		}
		// (No Submit in the bubble: its requests are pooled, and must not
		// carry the bubble's channels out of it.)
		if st, err := g.s.State(t.Context()); err != nil || st.Session() != "room-1" {
			t.Errorf("the session opened for both: %v, %v", st.Session(), err)
		}
	})
}

// A session that takes longer than WithOpenTimeout to open fails every
// caller waiting for it, each only within its own context; the next call
// tries again.
func TestManagerOpenTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &gatedStore{MemStore: session.NewMemStore(), gate: make(chan struct{})}
		m, err := session.NewManager(st, session.WithPresets(presets), session.WithIdleTimeout(0), session.WithOpenTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		if _, err := m.Session(t.Context(), "room-1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a session the store holds past the open timeout: %v, want a deadline error", err)
		}
		short, cancel := context.WithTimeout(t.Context(), time.Second/2)
		defer cancel()
		if _, err := m.Session(short, "room-1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a caller whose context ends first: %v, want its deadline", err)
		}
		close(st.gate)
		if _, err := m.Session(t.Context(), "room-1"); err != nil {
			t.Errorf("once the store answers: %v", err)
		}
	})
	if _, err := session.NewManager(session.NewMemStore(), session.WithOpenTimeout(0)); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("WithOpenTimeout(0): %v, want ErrInvalidOption", err)
	}
}
