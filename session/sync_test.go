package session_test

import (
	"context"
	"errors"
	"iter"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// stillStore is a memory store shared by several runtimes whose follow
// streams deliver nothing: a runtime on it lags the log without knowing
// it, as one whose follow stream is merely behind.
type stillStore struct{ *session.MemStore }

func (stillStore) Follow(ctx context.Context, _ string, _ sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(func(sessionlog.Record, error) bool) { <-ctx.Done() }
}

// TestSync: Sync is a read barrier: a runtime that lags the log (its
// follow stream has delivered nothing) returns, from Sync, the state after
// every record another writer had stored, and its subscribers get those
// records' events, in order, once.
func TestSync(t *testing.T) {
	ctx := testwait.Context(t)
	st := stillStore{session.NewMemStore()}
	a := open(t, "room-1", st)
	b := open(t, "room-1", st)
	sub, err := a.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var want []core.Command
	want = append(want, joinCmd("c1", "host", "host"), joinCmd("c2", "p1", "attendee"),
		core.Command{ID: "c3", Type: core.Kick, Actor: "host", Target: "p1"})
	var evs []events.Event
	for _, cmd := range want {
		evs = append(evs, submit(t, b, cmd).Events...)
	}
	if got, _ := a.State(ctx); got.Seq() != 0 {
		t.Fatalf("a's state at seq %d before Sync: its follow stream delivered", got.Seq())
	}
	got, err := a.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := b.State(ctx)
	if !got.Equal(full) || got.Joined("p1") {
		t.Errorf("a's Sync: %+v, want the log's state %+v", got.Snapshot(), full.Snapshot())
	}
	if now, _ := a.State(ctx); !now.Equal(full) {
		t.Errorf("a's State after Sync: %+v", now.Snapshot())
	}
	if diff := cmp.Diff(evs, next(t, sub, len(evs))); diff != "" {
		t.Errorf("a's subscriber (-b's answers +got):\n%s", diff)
	}
	// A command sent again through a is answered with b's outcome.
	if res := submit(t, a, want[2]); !res.Duplicate {
		t.Errorf("c3 again through a: %+v, want b's outcome", res)
	}
}

// TestManagerSync: Manager.Sync opens the session (which reads its log) or
// reads the log's tail for an open one; a session the store lacks is
// ErrNotFound. A store with one writer needs no read: Sync is State.
func TestManagerSync(t *testing.T) {
	ctx := testwait.Context(t)
	st := stillStore{session.NewMemStore()}
	var ms []*session.Manager
	for range 2 {
		m, err := session.NewManager(st, session.WithPresets(presets))
		if err != nil {
			t.Fatal(err)
		}
		testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
		ms = append(ms, m)
	}
	a, b := ms[0], ms[1]
	if _, err := a.Sync(ctx, "room-1"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Sync of a session the store lacks: %v, want ErrNotFound", err)
	}
	for _, cmd := range []core.Command{joinCmd("c1", "host", "host"), joinCmd("c2", "p1", "attendee")} {
		if _, err := b.Submit(ctx, "room-1", cmd); err != nil {
			t.Fatal(err)
		}
		got, err := a.Sync(ctx, "room-1")
		if want, _ := b.State(ctx, "room-1"); err != nil || !got.Equal(want) {
			t.Errorf("a's Sync after %s: seq %d, %v; want seq %d", cmd.ID, got.Seq(), err, want.Seq())
		}
	}

	one, err := session.NewManager(session.NewMemStore(), session.WithPresets(presets))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { one.Close(ctx) })
	if _, err := one.Submit(ctx, "room-1", joinCmd("c1", "host", "host")); err != nil {
		t.Fatal(err)
	}
	got, err := one.Sync(ctx, "room-1")
	if want, _ := one.State(ctx, "room-1"); err != nil || !got.Equal(want) {
		t.Errorf("Sync on a store with one writer: seq %d, %v; want State's, seq %d", got.Seq(), err, want.Seq())
	}
}

// brokenReads is a stillStore whose reads fail while it is down, and
// which counts appends.
type brokenReads struct {
	stillStore
	down    atomic.Bool
	appends atomic.Int64
}

var errDown = errors.New("store down")

func (s *brokenReads) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	if s.down.Load() {
		return func(yield func(sessionlog.Record, error) bool) { yield(sessionlog.Record{}, errDown) }
	}
	return s.stillStore.Records(ctx, id, from)
}

func (s *brokenReads) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	s.appends.Add(1)
	return s.stillStore.Append(ctx, id, expected, rec)
}

// TestSyncFails: a Sync whose read fails returns the store's error, and
// the session reads the store before its next decision: the command
// after it is decided on the log's state and appended once, with no
// conflict.
func TestSyncFails(t *testing.T) {
	ctx := testwait.Context(t)
	st := &brokenReads{stillStore: stillStore{session.NewMemStore()}}
	a := open(t, "room-1", st)
	b := open(t, "room-1", st.stillStore)
	submit(t, b, joinCmd("c1", "host", "host"))
	st.down.Store(true)
	if _, err := a.Sync(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Sync with the store down: %v, want its error", err)
	}
	st.down.Store(false)
	res := submit(t, a, core.Command{ID: "c2", Type: core.DisableAudio, Actor: "host", Target: "host"})
	if res.Seq != 2 || st.appends.Load() != 1 {
		t.Errorf("after a failed Sync: %+v in %d appends, want seq 2 in one append (no conflict)", res, st.appends.Load())
	}
}
