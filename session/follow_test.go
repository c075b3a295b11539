package session_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// followStore is a memory store shared by several runtimes, as a JetStream
// stream is by several gavel instances: it implements session.Follower, so
// what one runtime appends reaches the others' follow streams. Break ends
// every follow stream with an error, and new ones deliver nothing until
// Mend. It counts the appends answered ErrConflict.
type followStore struct {
	*session.MemStore
	conflicts atomic.Int64
	calls     chan struct{} // a value each time Follow starts

	mu      sync.Mutex
	changed chan struct{} // closed at each append, Break and Mend
	epoch   int           // Breaks so far
	broken  bool
}

var _ session.Follower = (*followStore)(nil)

func newFollowStore() *followStore {
	return &followStore{MemStore: session.NewMemStore(), calls: make(chan struct{}, 1000), changed: make(chan struct{})}
}

// changeLocked wakes every follow stream.
func (f *followStore) changeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *followStore) appended(err error) {
	if errors.Is(err, session.ErrConflict) {
		f.conflicts.Add(1)
	}
	if err == nil {
		f.mu.Lock()
		f.changeLocked()
		f.mu.Unlock()
	}
}

func (f *followStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	pos, err := f.MemStore.Append(ctx, id, expected, rec)
	f.appended(err)
	return pos, err
}

func (f *followStore) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	pos, err := f.MemStore.AppendBatch(ctx, id, expected, recs)
	f.appended(err)
	return pos, err
}

// Break ends every follow stream with an error; those started later
// deliver nothing until Mend.
func (f *followStore) Break() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch++
	f.broken = true
	f.changeLocked()
}

// Mend lets follow streams deliver again.
func (f *followStore) Mend() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = false
	f.changeLocked()
}

var errBroken = errors.New("follow stream broken")

func (f *followStore) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		f.calls <- struct{}{}
		f.mu.Lock()
		epoch := f.epoch
		f.mu.Unlock()
		for {
			f.mu.Lock()
			changed, now, broken := f.changed, f.epoch, f.broken
			f.mu.Unlock()
			if now != epoch {
				yield(sessionlog.Record{}, errBroken)
				return
			}
			if !broken {
				for rec, err := range f.MemStore.Records(ctx, id, 1) {
					if err != nil {
						yield(rec, err)
						return
					}
					if rec.Pos <= after {
						continue
					}
					if !yield(rec, nil) {
						return
					}
					after = rec.Pos
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}
}

func TestFollowStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) session.Store { return newFollowStore() })
}

// eventsOf returns every event of a log.
func eventsOf(recs []sessionlog.Record) []events.Event {
	var out []events.Event
	for _, r := range recs {
		out = append(out, r.Events...)
	}
	return out
}

// TestFollow: a command another runtime applies reaches this runtime's
// subscribers, state and idempotency window, without this runtime
// submitting anything.
func TestFollow(t *testing.T) {
	st := newFollowStore()
	a := open(t, "room-1", st)
	b := open(t, "room-1", st)
	sub, err := a.Subscribe(testwait.Context(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	res1 := submit(t, b, joinCmd("c1", "host", "host"))
	res2 := submit(t, b, audioCmd("c2", "host", false))
	if diff := cmp.Diff(append(res1.Events, res2.Events...), next(t, sub, 2)); diff != "" {
		t.Errorf("a's subscriber (-b's answers +got):\n%s", diff)
	}
	// The state is installed before the events are published.
	if st, _ := a.State(testwait.Context(t)); st.Seq() != 2 {
		t.Errorf("a's state is at seq %d once its subscriber has event 2", st.Seq())
	}
	if res := submit(t, a, audioCmd("c2", "host", false)); !res.Duplicate || res.Seq != 2 {
		t.Errorf("c2 again through a: %+v, want b's outcome as a duplicate", res)
	}
	if n := st.conflicts.Load(); n != 0 {
		t.Errorf("%d conflicts: a decided on a state behind the log", n)
	}
}

// TestFollowTwoDeciders: two runtimes on one log decide at once, each
// with its subscribers; conflicts are resolved (the log never forks) and
// each runtime's subscribers see the whole log, the other's commands
// interleaved with its own in log order, none twice, none missing.
func TestFollowTwoDeciders(t *testing.T) {
	st := newFollowStore()
	a := open(t, "room-1", st, session.WithConflictRetries(64))
	b := open(t, "room-1", st, session.WithConflictRetries(64))
	var subs []*session.Subscription
	for _, s := range []*session.Session{a, b, a, b} {
		sub, err := s.Subscribe(testwait.Context(t), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs = append(subs, sub)
	}
	hammer(t, st, []*session.Session{a, b}, 16, 30)
	want := eventsOf(logOf(t, st, "room-1"))
	for i, sub := range subs {
		if diff := cmp.Diff(want, next(t, sub, len(want))); diff != "" {
			t.Errorf("subscriber %d (-log +got):\n%s", i, diff)
		}
	}
	full := checkLog(t, "room-1", logOf(t, st, "room-1"))
	for i, s := range []*session.Session{a, b} {
		if got, _ := s.State(testwait.Context(t)); !got.Equal(full) {
			t.Errorf("runtime %d's state is not the log's: %+v", i, got.Snapshot())
		}
	}
	t.Logf("%d events, %d conflicts", len(want), st.conflicts.Load())
}

// TestFollowFails: when a runtime's follow stream fails, the runtime reads
// the store before it decides again (no conflict, no decision on a stale
// state), and follows again from where it was once the stream works.
func TestFollowFails(t *testing.T) {
	st := newFollowStore()
	a := open(t, "room-1", st)
	testwait.Recv(t, st.calls, "a's follow stream")
	b := open(t, "room-1", plainStore{st}) // a writer that does not follow
	sub, err := a.Subscribe(testwait.Context(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	submit(t, b, joinCmd("c1", "host", "host"))
	next(t, sub, 1)

	st.Break()
	testwait.Recv(t, st.calls, "a's follow stream, started again") // after a has noted the failure
	submit(t, b, joinCmd("c2", "p1", "attendee"))
	// The mute needs p1, whom a has not seen.
	res := submit(t, a, core.Command{ID: "c3", Type: core.DisableAudio, Actor: "host", Target: "p1"})
	if res.Seq != 3 {
		t.Errorf("a's mute of p1: %+v, want it applied at seq 3", res)
	}
	if n := st.conflicts.Load(); n != 0 {
		t.Errorf("%d conflicts: a decided on a stale state after its follow stream failed", n)
	}
	st.Mend()
	submit(t, b, audioCmd("c4", "p1", true))
	want := eventsOf(logOf(t, st, "room-1"))
	if diff := cmp.Diff(want[1:], next(t, sub, 3)); diff != "" {
		t.Errorf("a's subscriber after the failure (-log +got):\n%s", diff)
	}
}

// TestManagerFollows: a Manager's Watch on one node sees the commands
// another node's Manager applies, without submitting anything.
func TestManagerFollows(t *testing.T) {
	st := newFollowStore()
	managers := make([]*session.Manager, 2)
	for i := range managers {
		m, err := session.NewManager(st, session.WithPresets(presets))
		if err != nil {
			t.Fatal(err)
		}
		testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
		managers[i] = m
	}
	a, b := managers[0], managers[1]
	if _, err := b.Submit(testwait.Context(t), "room-1", joinCmd("c1", "host", "host")); err != nil {
		t.Fatal(err)
	}
	state, sub, err := a.Watch(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	res, err := b.Submit(testwait.Context(t), "room-1", joinCmd("c2", "p1", "attendee"))
	if err != nil {
		t.Fatal(err)
	}
	if state.Seq() != 1 {
		t.Fatalf("a's Watch gave seq %d, want 1", state.Seq())
	}
	if diff := cmp.Diff(res.Events, next(t, sub, 1)); diff != "" {
		t.Errorf("a's watcher (-b's answer +got):\n%s", diff)
	}
}

// heldStore is one runtime's view of a followStore: its first Append of
// command hold waits for release, it notes the from of every Records call,
// and it hands over the position of each record its follow stream gave
// the runtime.
type heldStore struct {
	*followStore
	hold      string
	once      sync.Once
	entered   chan struct{} // closed when the held Append starts
	release   chan struct{}
	delivered chan sessionlog.Position // each record handed over, once deliver returned

	mu    sync.Mutex
	froms []uint64
}

func (s *heldStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	var err error
	if rec.Command.ID == s.hold {
		s.once.Do(func() {
			close(s.entered)
			select {
			case <-s.release:
			case <-ctx.Done():
				err = ctx.Err()
			}
		})
	}
	if err != nil {
		return 0, err
	}
	return s.followStore.Append(ctx, id, expected, rec)
}

func (s *heldStore) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	s.mu.Lock()
	s.froms = append(s.froms, from)
	s.mu.Unlock()
	return s.followStore.Records(ctx, id, from)
}

func (s *heldStore) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		for rec, err := range s.followStore.Follow(ctx, id, after) {
			if !yield(rec, err) {
				return
			}
			if err == nil {
				s.delivered <- rec.Pos
			}
		}
	}
}

// TestConflictTakesDeliveries: a runtime whose append conflicts while its
// follow stream has delivered the other writer's records (queued behind
// the batch it was deciding) folds those and reads from the store only
// what they do not hold, so a long tail is not read again (on JetStream,
// a consumer's creation per conflict); the command is then decided on the
// whole log.
func TestConflictTakesDeliveries(t *testing.T) {
	fs := newFollowStore()
	held := &heldStore{followStore: fs, hold: "a-1", entered: make(chan struct{}), release: make(chan struct{}),
		delivered: make(chan sessionlog.Position, 100)}
	a := open(t, "room-1", held)
	b := open(t, "room-1", fs)
	var last session.Result
	last = submit(t, b, joinCmd("join", "host", "host"))
	testwait.Recv(t, held.delivered, "the join at a")
	answered := make(chan error, 1)
	go func() {
		_, err := a.Submit(testwait.Context(t), audioCmd("a-1", "host", false))
		answered <- err
	}()
	testwait.Recv(t, held.entered, "a's append")
	const tail = 20
	for i := range tail {
		last = submit(t, b, audioCmd(fmt.Sprintf("b-%d", i), "host", i%2 == 1))
	}
	for range tail {
		testwait.Recv(t, held.delivered, "b's records at a")
	}
	held.mu.Lock()
	before := len(held.froms)
	held.mu.Unlock()
	close(held.release)
	if err := testwait.Recv(t, answered, "a's answer"); err != nil {
		t.Fatal(err)
	}
	if n := fs.conflicts.Load(); n != 1 {
		t.Errorf("%d conflicts, want 1", n)
	}
	held.mu.Lock()
	froms := held.froms[before:]
	held.mu.Unlock()
	if want := []uint64{last.Seq + 1}; !cmp.Equal(froms, want) {
		t.Errorf("a read the log from seqs %v after the conflict, want %v: past the %d records its follow stream had delivered", froms, want, tail)
	}
	full := checkLog(t, "room-1", logOf(t, fs, "room-1"))
	if got, _ := a.State(testwait.Context(t)); !got.Equal(full) {
		t.Errorf("a's state is not the log's: %+v", got.Snapshot())
	}
}
