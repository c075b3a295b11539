package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gavelrtc/gavel/events"
)

// Subscription delivers a session's events in order, each once. It is
// meant for one reader goroutine; Close may be called from any goroutine.
// It satisfies interface{ Next(context.Context) (events.Event, error) }.
type Subscription struct {
	s *Session

	// The owner queues each command's events as the slice it already has
	// (see offer), and the reader takes them event by event. mu is held
	// only to queue or take, never while waiting, so the owner never waits
	// for a reader.
	mu     sync.Mutex
	queue  [][]events.Event // commands' events, oldest from head
	head   int              // the command being read: queue[head]
	off    int              // its events already delivered
	behind int              // events of the commands after it: the buffer
	err    error            // set once, by end: delivered after the queue
	wake   chan struct{}    // capacity 1: signalled by offer, end and Close
	held   int              // Hold calls not yet released: offer defers its signal
	owed   bool             // a signal deferred by Hold

	closed atomic.Bool // Close was called

	// The reader's: the last seq delivered, events read from the store,
	// and the seq up to which the store must be read before the queue.
	seq       uint64
	fromStore []events.Event
	catchUpTo uint64
}

// keptQueue is the capacity of a drained queue that is kept for the next
// commands; a larger one, grown by a burst, is released.
const keptQueue = 16

func newSubscription(s *Session, after uint64) *Subscription {
	return &Subscription{s: s, wake: make(chan struct{}, 1), seq: after}
}

// offer queues evs, one command's events (shared, never modified), without
// blocking, and reports whether the subscription is still live: false if
// it is closed, ended, or cut off now because evs do not fit. The rule, as
// WithSubscriberBuffer documents it: the command being read does not count;
// evs fit if nothing waits behind it or if what waits plus evs is at most
// the buffer.
func (s *Subscription) offer(evs []events.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.closed.Load() {
		return false
	}
	if s.head < len(s.queue) {
		if s.behind > 0 && s.behind+len(evs) > s.s.cfg.subLimit {
			s.endLocked(ErrSlowSubscriber)
			return false
		}
		s.behind += len(evs)
	}
	if len(s.queue) == cap(s.queue) && s.head >= len(s.queue)/2 {
		// Reuse the room of delivered commands rather than grow.
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue, s.head = s.queue[:n], 0
	}
	s.queue = append(s.queue, evs)
	if s.held > 0 {
		s.owed = true
	} else {
		s.signal()
	}
	return true
}

// Hold defers waking the reader for events queued from now until the
// matching Release; Next still returns the events queued if it is called.
// A transport that both submits and reads its own command's events holds
// its subscription while it submits and writes the answer: the answer
// carries those events, and the reader, which would only drop them, is
// woken after the answer is out, not on the answer's path. Every Hold
// needs its Release; both may be called from any goroutine.
func (s *Subscription) Hold() {
	s.mu.Lock()
	s.held++
	s.mu.Unlock()
}

// Release ends a Hold, waking the reader if events came meanwhile.
func (s *Subscription) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held--; s.held == 0 && s.owed {
		s.owed = false
		s.signal()
	}
}

// take returns the next queued event, or nil and the error that ended the
// subscription (nil while it is live) when none is queued.
func (s *Subscription) take() (events.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == len(s.queue) {
		return nil, s.err
	}
	cur := s.queue[s.head]
	ev := cur[s.off]
	if s.off++; s.off < len(cur) {
		return ev, nil
	}
	s.queue[s.head] = nil
	s.head, s.off = s.head+1, 0
	switch {
	case s.head < len(s.queue):
		s.behind -= len(s.queue[s.head])
	case cap(s.queue) > keptQueue:
		s.queue, s.head = nil, 0
	default:
		s.queue, s.head = s.queue[:0], 0
	}
	return ev, nil
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// end ends the subscription with err once its queued events are read.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *Subscription) endLocked(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("session %q: %w", s.s.id, err)
		s.signal()
	}
}

// Next returns the next event, waiting for it until ctx ends. It returns
// ErrSlowSubscriber once the subscription has been cut off and its queued
// events are delivered, ErrClosed once the session or the subscription is
// closed, or ctx's error (the subscription stays usable). After
// ErrSlowSubscriber or ErrClosed every later call returns the same error.
func (s *Subscription) Next(ctx context.Context) (events.Event, error) {
	for {
		if s.closed.Load() {
			return nil, fmt.Errorf("session %q: subscription: %w", s.s.id, ErrClosed)
		}
		if len(s.fromStore) > 0 {
			ev := s.fromStore[0]
			s.fromStore[0] = nil
			s.fromStore = s.fromStore[1:]
			if ev.Sequence() > s.seq {
				s.seq = ev.Sequence()
				return ev, nil
			}
			continue
		}
		if s.seq < s.catchUpTo {
			if err := s.readStore(ctx); err != nil {
				return nil, err
			}
			continue
		}
		ev, err := s.take()
		if err != nil {
			return nil, err
		}
		if ev == nil {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		switch seq := ev.Sequence(); {
		case seq <= s.seq:
			continue
		case seq != s.seq+1:
			return nil, fmt.Errorf("session %q: subscription: event %d after %d", s.s.id, seq, s.seq)
		}
		s.seq = ev.Sequence()
		return ev, nil
	}
}

// readStore reads the next events up to catchUpTo from the store, at most
// WithCatchUpBatch of them.
func (s *Subscription) readStore(ctx context.Context) error {
	want := s.seq + 1
	limit := min(s.catchUpTo, s.seq+uint64(s.s.cfg.catchUpBatch))
	for rec, err := range s.s.store.Records(ctx, s.s.id, want) {
		if err != nil {
			return fmt.Errorf("session %q: subscription: reading the log: %w", s.s.id, err)
		}
		for _, ev := range rec.Events {
			if seq := ev.Sequence(); seq >= want && seq <= limit {
				if seq != want {
					return fmt.Errorf("session %q: subscription: the log has event %d where %d was due", s.s.id, seq, want)
				}
				s.fromStore = append(s.fromStore, ev)
				want++
			}
		}
		if want > limit {
			break
		}
	}
	if want <= limit {
		return fmt.Errorf("session %q: subscription: the log ends before event %d", s.s.id, want)
	}
	return nil
}

// Seq is the seq of the last event Next returned (the subscription's start
// before the first): where to resume with Subscribe after a cut-off.
func (s *Subscription) Seq() uint64 { return s.seq }

// Close ends the subscription and releases its queue.
func (s *Subscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.mu.Lock()
	clear(s.queue)
	s.queue, s.head, s.off, s.behind = nil, 0, 0, 0
	s.signal()
	s.mu.Unlock()
	s.s.touch()
}
