package session_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
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

// gatedManager returns a manager, closed when the test ends, on a store
// whose Header waits for st.gate.
func gatedManager(t *testing.T, opts ...session.Option) (*gatedStore, *session.Manager) {
	t.Helper()
	st := &gatedStore{MemStore: session.NewMemStore(), gate: make(chan struct{})}
	m, err := session.NewManager(st, append([]session.Option{session.WithPresets(presets), session.WithIdleTimeout(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return st, m
}

// A session is opened under the manager's lifetime: the caller that
// started the opening going away fails only itself, and another caller
// waiting for the same session gets it.
func TestManagerOpenOutlivesFirstCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, m := gatedManager(t)

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
		st, m := gatedManager(t, session.WithOpenTimeout(time.Second))
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

// Subscribe, Watch and State say that a session the store does not have
// does not exist, and create nothing; Submit and Session create it.
func TestManagerNotFound(t *testing.T) {
	st := session.NewMemStore()
	m, err := session.NewManager(st, session.WithPresets(presets), session.WithIdleTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(testwait.Context(t))
	ctx := testwait.Context(t)
	if _, err := m.Subscribe(ctx, "nobody", 0); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Subscribe: %v, want ErrNotFound", err)
	}
	if _, _, err := m.Watch(ctx, "nobody"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Watch: %v, want ErrNotFound", err)
	}
	if _, err := m.State(ctx, "nobody"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("State: %v, want ErrNotFound", err)
	}
	if _, err := st.Header(ctx, "nobody"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("asking created the session: Header = %v", err)
	}
	// A malformed command creates nothing either.
	if _, err := m.Submit(ctx, "nobody", core.Command{Type: core.Leave, Actor: "a"}); !errors.Is(err, core.ErrInvalidCommand) {
		t.Errorf("Submit of a command without an id: %v, want invalid_command", err)
	}
	if _, err := st.Header(ctx, "nobody"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a malformed command created the session: Header = %v", err)
	}

	if _, err := m.Submit(ctx, "room-1", joinCmd("c1", "ann", "host")); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(ctx, "room-1"); err != nil || s.Seq() != 1 {
		t.Errorf("State of a session Submit created: seq %d, %v", s.Seq(), err)
	}
	if _, err := m.Session(ctx, "room-2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Watch(ctx, "room-2"); err != nil {
		t.Errorf("Watch of a session Session created: %v", err)
	}
}

// A caller that would create a session is not failed by a caller that
// would not, opening it at the same time.
func TestManagerNotFoundThenCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, m := gatedManager(t)
		watched := make(chan error, 1)
		go func() {
			_, _, err := m.Watch(t.Context(), "room-1")
			watched <- err
		}()
		synctest.Wait() // Watch's opening waits on the store
		opened := make(chan error, 1)
		go func() {
			_, err := m.Session(t.Context(), "room-1")
			opened <- err
		}()
		synctest.Wait() // Session waits for the same opening
		close(st.gate)
		if err := <-watched; !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Watch: %v, want ErrNotFound", err)
		}
		if err := <-opened; err != nil {
			t.Errorf("Session, behind a Watch that found nothing: %v", err)
		}
		if _, err := st.MemStore.Header(t.Context(), "room-1"); err != nil {
			t.Errorf("the session was not created: %v", err)
		}
	})
}
