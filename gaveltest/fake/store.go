package fake

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// ErrUnavailable is the error of a Store that fails or loses an append, or
// is disconnected: a transient failure (it matches neither
// session.ErrPermanent nor session.ErrConflict), after which the runtime
// cannot tell whether the append took place, and a caller submits the
// command again.
var ErrUnavailable = errors.New("fake: store unavailable")

// A Fault is what a Store does to one append instead of storing its
// records and saying so.
type Fault int

const (
	// None: the append goes through.
	None Fault = iota
	// Fail refuses the append with ErrUnavailable; nothing is stored.
	Fail
	// LoseReply stores the records, then answers ErrUnavailable: the writer
	// cannot tell that they are stored, as when the connection is lost
	// after the write.
	LoseReply
	// Conflict refuses the append with session.ErrConflict, as when another
	// writer appended first; nothing is stored.
	Conflict
	// TooLarge refuses the append with session.ErrTooLarge, a permanent
	// failure; nothing is stored.
	TooLarge
)

var faultNames = []string{"none", "fail", "lose reply", "conflict", "too large"}

func (f Fault) String() string {
	if f < 0 || int(f) >= len(faultNames) {
		return fmt.Sprintf("Fault(%d)", int(f))
	}
	return faultNames[f]
}

// Store wraps a session.Store and injects faults into its appends, for
// testing what a service does when the log fails it: its retries, what it
// tells its users. Appends are numbered from 1 in the order they reach the
// Store, an Append or an AppendBatch call being one append (the runtime's
// group commit is one write), failed ones too. Inject, InjectFunc and Hold
// say what happens to which; Disconnect fails every call until Reconnect.
//
// A Store is a session.BatchAppender and a session.Snapshotter whatever
// the store it wraps: over one that is not, it appends a batch a record at
// a time (not all or nothing, then) and keeps snapshots in memory. A
// Server's runtime follows the log through it when the wrapped store is a
// session.Follower. All methods are safe for concurrent use.
type Store struct {
	inner session.Store

	mu      sync.Mutex
	appends int
	faults  map[int]Fault
	rule    func(n int, recs []sessionlog.Record) Fault
	holds   map[int]*hold
	down    bool
	snaps   map[string]session.Snapshot // when inner keeps none
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.BatchAppender = (*Store)(nil)
	_ session.Snapshotter   = (*Store)(nil)
)

type hold struct {
	reached, released chan struct{}
	once              sync.Once
}

// NewStore returns a Store in front of inner (session.NewMemStore(), a
// file store, …), injecting no fault yet.
func NewStore(inner session.Store) *Store {
	return &Store{inner: inner, faults: map[int]Fault{}, holds: map[int]*hold{}, snaps: map[string]session.Snapshot{}}
}

// Inject makes the n-th append (counting from 1 since NewStore) fail with
// f. A fault injected for an append that has happened has no effect.
func (s *Store) Inject(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[n] = f
}

// InjectFunc has f decide the fault of every append that Inject does not:
// n is the append's number, recs what it would store (one record for
// Append). f runs under the Store's lock: it must not call the Store.
func (s *Store) InjectFunc(f func(n int, recs []sessionlog.Record) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rule = f
}

// Hold makes the n-th append wait, before anything else happens to it,
// until release is called or the append's context ends (it then fails
// with the context's error); reached is closed when it starts waiting.
// So a test can act while an append is in flight, without a sleep. A test
// that holds an append releases it.
func (s *Store) Hold(n int) (reached <-chan struct{}, release func()) {
	h := &hold{reached: make(chan struct{}), released: make(chan struct{})}
	s.mu.Lock()
	s.holds[n] = h
	s.mu.Unlock()
	return h.reached, func() { h.once.Do(func() { close(h.released) }) }
}

// Appends is the number of appends so far.
func (s *Store) Appends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

// Disconnect makes every call fail with ErrUnavailable, appends, reads and
// snapshots alike, as when the connection to the store is lost, until
// Reconnect. Appends made meanwhile are counted.
func (s *Store) Disconnect() { s.setDown(true) }

// Reconnect undoes Disconnect.
func (s *Store) Reconnect() { s.setDown(false) }

func (s *Store) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Store) unavailable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return fmt.Errorf("disconnected: %w", ErrUnavailable)
	}
	return nil
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, h sessionlog.Header) error {
	if err := s.unavailable(); err != nil {
		return err
	}
	return s.inner.Create(ctx, h)
}

// Header implements session.Store.
func (s *Store) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	if err := s.unavailable(); err != nil {
		return sessionlog.Header{}, err
	}
	return s.inner.Header(ctx, id)
}

// Records implements session.Store.
func (s *Store) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	if err := s.unavailable(); err != nil {
		return func(yield func(sessionlog.Record, error) bool) { yield(sessionlog.Record{}, err) }
	}
	return s.inner.Records(ctx, id, from)
}

// Sessions implements session.Store.
func (s *Store) Sessions(ctx context.Context) iter.Seq2[string, error] {
	if err := s.unavailable(); err != nil {
		return func(yield func(string, error) bool) { yield("", err) }
	}
	return s.inner.Sessions(ctx)
}

// Append implements session.Store, with the faults.
func (s *Store) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return s.append(ctx, id, expected, []sessionlog.Record{rec})
}

// AppendBatch implements session.BatchAppender, with the faults.
func (s *Store) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	return s.append(ctx, id, expected, recs)
}

func (s *Store) append(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	s.mu.Lock()
	s.appends++
	n := s.appends
	h := s.holds[n]
	delete(s.holds, n)
	s.mu.Unlock()
	if h != nil {
		close(h.reached)
		select {
		case <-h.released:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	s.mu.Lock()
	f, ok := s.faults[n]
	delete(s.faults, n)
	if !ok && s.rule != nil {
		f = s.rule(n, recs)
	}
	down := s.down
	s.mu.Unlock()
	switch {
	case down:
		return 0, fmt.Errorf("append %d: disconnected: %w", n, ErrUnavailable)
	case f == Fail:
		return 0, fmt.Errorf("append %d: %w", n, ErrUnavailable)
	case f == Conflict:
		return 0, fmt.Errorf("append %d: %w", n, session.ErrConflict)
	case f == TooLarge:
		return 0, fmt.Errorf("append %d: %w", n, session.ErrTooLarge)
	}
	pos, err := s.store(ctx, id, expected, recs)
	if err == nil && f == LoseReply {
		return 0, fmt.Errorf("append %d: the reply was lost: %w", n, ErrUnavailable)
	}
	return pos, err
}

func (s *Store) store(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	if b, ok := s.inner.(session.BatchAppender); ok {
		return b.AppendBatch(ctx, id, expected, recs)
	}
	pos := expected
	for _, r := range recs {
		var err error
		if pos, err = s.inner.Append(ctx, id, pos, r); err != nil {
			return 0, err
		}
	}
	return pos, nil
}

// SaveSnapshot implements session.Snapshotter: it saves to the store it
// wraps, or in memory if that keeps no snapshots.
func (s *Store) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	if err := s.unavailable(); err != nil {
		return err
	}
	if sn, ok := s.inner.(session.Snapshotter); ok {
		return sn.SaveSnapshot(ctx, id, snap)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snaps[id] = snap
	return nil
}

// follower is a Store over a store that follows (session.Follower), such
// as a JetStream store shared by several instances: the runtime on it
// follows the log through it. A disconnected Store's follow streams fail.
type follower struct {
	*Store
	f session.Follower
}

// Follow implements session.Follower.
func (s follower) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		if err := s.unavailable(); err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		for rec, err := range s.f.Follow(ctx, id, after) {
			if err == nil {
				err = s.unavailable()
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// runtimeStore is s as a runtime sees it: a session.Follower when the
// store s wraps is one.
func (s *Store) runtimeStore() session.Store {
	if f, ok := s.inner.(session.Follower); ok {
		return follower{s, f}
	}
	return s
}

// LatestSnapshot implements session.Snapshotter.
func (s *Store) LatestSnapshot(ctx context.Context, id string) (session.Snapshot, error) {
	if err := s.unavailable(); err != nil {
		return session.Snapshot{}, err
	}
	if sn, ok := s.inner.(session.Snapshotter); ok {
		return sn.LatestSnapshot(ctx, id)
	}
	if err := ctx.Err(); err != nil {
		return session.Snapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.snaps[id]
	if !ok {
		return session.Snapshot{}, fmt.Errorf("session %q: no snapshot: %w", id, session.ErrNotFound)
	}
	return snap, nil
}
