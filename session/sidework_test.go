package session_test

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// pathStore is a memory store whose SaveSnapshot blocks until release is
// closed, and that fails the test when, once armed, it is asked anything
// but an append: nothing else may be on the path of a command.
type pathStore struct {
	*session.MemStore
	t       *testing.T
	armed   atomic.Bool
	saves   atomic.Int64
	entered chan struct{} // closed by the first SaveSnapshot
	release chan struct{}
}

func (p *pathStore) offPath(what string) {
	if p.armed.Load() {
		p.t.Errorf("%s on the path of a command", what)
	}
}

func (p *pathStore) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	p.offPath("Header")
	return p.MemStore.Header(ctx, id)
}

func (p *pathStore) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	p.offPath("Records")
	return p.MemStore.Records(ctx, id, from)
}

func (p *pathStore) LatestSnapshot(ctx context.Context, id string) (session.Snapshot, error) {
	p.offPath("LatestSnapshot")
	return p.MemStore.LatestSnapshot(ctx, id)
}

func (p *pathStore) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	if p.saves.Add(1) == 1 {
		close(p.entered)
	}
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.MemStore.SaveSnapshot(ctx, id, snap)
}

// TestSnapshotsBesideTheOwner: with a snapshot due after every event and a
// store whose SaveSnapshot blocks, commands go on being decided, appended
// and answered: the snapshot is saved beside the owner, never in front of
// the next command, and nothing but the append touches the store on a
// command's path. The snapshotter holds one job: once released, it saves
// the latest state, not every one it was given.
func TestSnapshotsBesideTheOwner(t *testing.T) {
	st := &pathStore{MemStore: session.NewMemStore(), t: t, entered: make(chan struct{}), release: make(chan struct{})}
	s := open(t, "room-1", st, session.WithSnapshotInterval(1))
	st.armed.Store(true)
	submit(t, s, joinCmd("c0", "host", "host"))
	testwait.Recv(t, st.entered, "the first snapshot")
	const n = 200
	var last session.Result
	for i := range n {
		last = submit(t, s, audioCmd(fmt.Sprint("c", i+1), "host", i%2 == 1)) // each within testwait's deadline
	}
	if got := st.saves.Load(); got != 1 {
		t.Errorf("%d snapshots started while the first was blocked, want 1", got)
	}
	st.armed.Store(false)
	close(st.release)
	if err := s.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	snap, err := st.LatestSnapshot(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if snap.State.Seq != last.Seq {
		t.Errorf("the latest snapshot is at seq %d, want the last, %d", snap.State.Seq, last.Seq)
	}
	if got := st.saves.Load(); got != 2 {
		t.Errorf("%d snapshots saved, want 2: the blocked one and the latest", got)
	}
	if sess, err := session.Open(testwait.Context(t), "room-1", st.MemStore, session.WithPresets(presets)); err != nil {
		t.Fatal(err)
	} else {
		got, _ := sess.State(testwait.Context(t))
		if want, _ := core.FromSnapshot(snap.State, presets); !got.Equal(want) {
			t.Errorf("reopened: %+v, want the snapshot's %+v", got.Snapshot(), snap.State)
		}
		sess.Close(testwait.Context(t))
	}
}

// slowStore is a memory store whose reads of the log (Records) and
// snapshot saves block, once armed, until released, and that follows
// (session.Follower) by waiting for the session to stop: followEnded gets
// a value each time a follow stream ends.
type slowStore struct {
	*session.MemStore
	blockReads, blockSaves atomic.Bool
	reading, saving        chan struct{} // a value when a blocked call starts
	release                chan struct{}
	saved                  atomic.Bool // a blocked save has returned
	followEnded            chan struct{}
}

func newSlowStore() *slowStore {
	return &slowStore{MemStore: session.NewMemStore(), reading: make(chan struct{}, 100), saving: make(chan struct{}, 100),
		release: make(chan struct{}), followEnded: make(chan struct{}, 100)}
}

func (s *slowStore) wait(ctx context.Context, entered chan struct{}) error {
	entered <- struct{}{}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowStore) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	if !s.blockReads.Load() {
		return s.MemStore.Records(ctx, id, from)
	}
	return func(yield func(sessionlog.Record, error) bool) {
		if err := s.wait(ctx, s.reading); err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		for rec, err := range s.MemStore.Records(ctx, id, from) {
			if !yield(rec, err) {
				return
			}
		}
	}
}

func (s *slowStore) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	if s.blockSaves.Load() {
		defer s.saved.Store(true)
		if err := s.wait(ctx, s.saving); err != nil {
			return err
		}
	}
	return s.MemStore.SaveSnapshot(ctx, id, snap)
}

func (s *slowStore) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(func(sessionlog.Record, error) bool) {
		<-ctx.Done()
		s.followEnded <- struct{}{}
	}
}

// TestCatchUpBesideTheOwner: a subscriber catching up from the store reads
// it in its own goroutine: while that read is blocked, commands are
// decided, answered and published to the other subscribers; once it
// returns, the subscriber has every event once, in order.
func TestCatchUpBesideTheOwner(t *testing.T) {
	st := newSlowStore()
	s := open(t, "room-1", st, session.WithRecentEvents(4), session.WithSubscriberBuffer(1000))
	last := submit(t, s, joinCmd("c0", "host", "host"))
	for i := range 20 {
		last = submit(t, s, audioCmd(fmt.Sprint("a", i), "host", i%2 == 1))
	}
	st.blockReads.Store(true)
	slow, err := s.Subscribe(testwait.Context(t), 0) // beyond the 4 recent events: it reads the store
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	first := make(chan events.Event, 1)
	go func() {
		ev, err := slow.Next(testwait.Context(t))
		if err != nil {
			close(first)
			return
		}
		first <- ev
	}()
	testwait.Recv(t, st.reading, "the catch-up read")
	live, err := s.Subscribe(testwait.Context(t), last.Seq)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var want []events.Event
	for i := range 50 {
		res := submit(t, s, audioCmd(fmt.Sprint("b", i), "host", i%2 == 0)) // answered while the read is blocked
		want = append(want, res.Events...)
	}
	if diff := cmp.Diff(want, next(t, live, len(want))); diff != "" {
		t.Errorf("the live subscriber while the catch-up read is blocked (-answers +got):\n%s", diff)
	}
	close(st.release)
	all := eventsOf(logOf(t, st.MemStore, "room-1"))
	got := []events.Event{testwait.Recv(t, first, "the catching-up subscriber's first event")}
	got = append(got, next(t, slow, len(all)-1)...)
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("the subscriber that caught up (-log +got):\n%s", diff)
	}
}

// TestIdleCloseBesideCommands: a session closed for idleness saves its
// last snapshot on its way out; a command for it that comes meanwhile
// opens it again and is answered without waiting for that save.
func TestIdleCloseBesideCommands(t *testing.T) {
	leakcheck.Check(t) // Close waits for the closed session too
	clk := newClock()
	st := newSlowStore()
	m, err := session.NewManager(st, session.WithPresets(presets), session.WithClock(clk.Now),
		session.WithIdleTimeout(time.Hour), session.WithSnapshotInterval(1))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
	st.blockSaves.Store(true)
	if _, err := m.Submit(testwait.Context(t), "room-1", joinCmd("c0", "host", "host")); err != nil {
		t.Fatal(err)
	}
	testwait.Recv(t, st.saving, "the first snapshot") // blocked: the next is kept for the close
	if _, err := m.Submit(testwait.Context(t), "room-1", audioCmd("c1", "host", false)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	closed := make(chan error, 1)
	go func() { closed <- m.CloseIdle(testwait.Context(t)) }()
	testwait.Recv(t, st.followEnded, "the idle session to stop")
	res, err := m.Submit(testwait.Context(t), "room-1", audioCmd("c2", "host", true))
	if err != nil || res.Seq != 3 {
		t.Fatalf("a command after the idle close: %+v, %v", res, err)
	}
	if st.saved.Load() {
		t.Error("the command was answered only once the closed session's snapshot was saved")
	}
	close(st.release)
	if err := testwait.Recv(t, closed, "CloseIdle"); err != nil {
		t.Fatal(err)
	}
}
