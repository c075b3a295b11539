package session

import (
	"context"
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"sync"

	"github.com/gavelrtc/gavel/sessionlog"
)

// MemStore is a Store in memory, for tests and for services that need no
// durability. It implements BatchAppender and Snapshotter. The zero value
// is not usable: call NewMemStore.
type MemStore struct {
	mu       sync.RWMutex
	sessions map[string]*memLog
}

type memLog struct {
	mu       sync.RWMutex
	header   sessionlog.Header
	chunks   [][]sessionlog.Record // record i, at Pos i+1, is at chunkOf(i); each element written once
	after    []uint64              // after[i]: the session's seq after record i
	snapshot *Snapshot
}

// chunkOf returns where record i of a memLog is: chunk k, which holds
// 16<<k records, at offset off. A log grows by a chunk as large as what it
// holds, never copying its records (as a slice would when it grows), and
// each chunk keeps the length it was made with: a reader of a chunk never
// races an append.
func chunkOf(i int) (k, off int) {
	k = bits.Len(uint(i/16+1)) - 1
	return k, i - 16*(1<<k-1)
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{sessions: make(map[string]*memLog)}
}

var (
	_ Store         = (*MemStore)(nil)
	_ BatchAppender = (*MemStore)(nil)
	_ Snapshotter   = (*MemStore)(nil)
)

func (m *MemStore) log(session string) (*memLog, error) {
	m.mu.RLock()
	l := m.sessions[session]
	m.mu.RUnlock()
	if l == nil {
		return nil, fmt.Errorf("session %q: %w", session, ErrNotFound)
	}
	return l, nil
}

// Create implements Store.
func (m *MemStore) Create(ctx context.Context, h sessionlog.Header) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[h.Session]; ok {
		return fmt.Errorf("session %q: %w", h.Session, ErrExists)
	}
	m.sessions[h.Session] = &memLog{header: h}
	return nil
}

// Header implements Store.
func (m *MemStore) Header(ctx context.Context, session string) (sessionlog.Header, error) {
	if err := ctx.Err(); err != nil {
		return sessionlog.Header{}, err
	}
	l, err := m.log(session)
	if err != nil {
		return sessionlog.Header{}, err
	}
	return l.header, nil
}

// Append implements Store.
func (m *MemStore) Append(ctx context.Context, session string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return m.AppendBatch(ctx, session, expected, []sessionlog.Record{rec})
}

// AppendBatch implements BatchAppender.
func (m *MemStore) AppendBatch(ctx context.Context, session string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l, err := m.log(session)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if last := sessionlog.Position(len(l.after)); last != expected {
		return 0, fmt.Errorf("session %q: expected position %d, last is %d: %w", session, expected, last, ErrConflict)
	}
	seq := uint64(0)
	if n := len(l.after); n > 0 {
		seq = l.after[n-1]
	}
	for _, r := range recs {
		r.Pos = sessionlog.Position(len(l.after) + 1)
		seq = r.LastSeq(seq)
		k, off := chunkOf(len(l.after))
		if k == len(l.chunks) {
			l.chunks = append(l.chunks, make([]sessionlog.Record, 16<<k))
		}
		l.chunks[k][off] = r
		l.after = append(l.after, seq)
	}
	return sessionlog.Position(len(l.after)), nil
}

// Records implements Store. It starts at the record holding from, found by
// binary search.
func (m *MemStore) Records(ctx context.Context, session string, from uint64) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		l, err := m.log(session)
		if err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		l.mu.RLock()
		// Appends write records past n, into the last chunk or a new
		// one: the records before n stay as they are.
		chunks, n := l.chunks, len(l.after)
		start := startIndex(l.after, from)
		l.mu.RUnlock()
		for i := start; i < n; i++ {
			if err := ctx.Err(); err != nil {
				yield(sessionlog.Record{}, err)
				return
			}
			if k, off := chunkOf(i); !yield(chunks[k][off], nil) {
				return
			}
		}
	}
}

// startIndex returns the index of the first record to yield for from: the
// record holding event from-1, which every later record follows and every
// event < from-1 precedes. after is sorted, so a binary search finds it.
func startIndex(after []uint64, from uint64) int {
	if from <= 1 {
		return 0
	}
	i, _ := slices.BinarySearch(after, from-1)
	return i
}

// Sessions implements Store.
func (m *MemStore) Sessions(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		m.mu.RLock()
		ids := make([]string, 0, len(m.sessions))
		for id := range m.sessions {
			ids = append(ids, id)
		}
		m.mu.RUnlock()
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			if !yield(id, nil) {
				return
			}
		}
	}
}

// SaveSnapshot implements Snapshotter.
func (m *MemStore) SaveSnapshot(ctx context.Context, session string, snap Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := m.log(session)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if snap.Pos > sessionlog.Position(len(l.after)) {
		return fmt.Errorf("session %q: snapshot at position %d beyond the log's %d", session, snap.Pos, len(l.after))
	}
	snap.State.Participants = slices.Clone(snap.State.Participants)
	l.snapshot = &snap
	return nil
}

// LatestSnapshot implements Snapshotter.
func (m *MemStore) LatestSnapshot(ctx context.Context, session string) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	l, err := m.log(session)
	if err != nil {
		return Snapshot{}, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.snapshot == nil {
		return Snapshot{}, fmt.Errorf("session %q: no snapshot: %w", session, ErrNotFound)
	}
	snap := *l.snapshot
	snap.State.Participants = slices.Clone(snap.State.Participants)
	return snap, nil
}
