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

	// The owner sends on ch without blocking, and closes it once, with err
	// set before, to end the subscription.
	ch      chan events.Event
	err     error
	endOnce sync.Once

	closed    atomic.Bool   // Close was called
	closedCh  chan struct{} // closed by Close
	closeOnce sync.Once

	// The reader's: the last seq delivered, events read from the store,
	// and the seq up to which the store must be read before ch.
	seq       uint64
	fromStore []events.Event
	catchUpTo uint64
}

func newSubscription(s *Session, after uint64, buffer int) *Subscription {
	return &Subscription{
		s:        s,
		ch:       make(chan events.Event, buffer),
		closedCh: make(chan struct{}),
		seq:      after,
	}
}

// offer queues evs without blocking, and reports whether they all fit.
func (s *Subscription) offer(evs []events.Event) bool {
	for _, ev := range evs {
		select {
		case s.ch <- ev:
		default:
			return false
		}
	}
	return true
}

// end ends the subscription with err once its buffered events are read.
func (s *Subscription) end(err error) {
	s.endOnce.Do(func() {
		s.err = fmt.Errorf("session %q: %w", s.s.id, err)
		close(s.ch)
	})
}

// Next returns the next event, waiting for it until ctx ends. It returns
// ErrSlowSubscriber once the subscription has been cut off and its buffered
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
		select {
		case ev, ok := <-s.ch:
			if !ok {
				return nil, s.err
			}
			switch seq := ev.Sequence(); {
			case seq <= s.seq:
				continue
			case seq != s.seq+1:
				return nil, fmt.Errorf("session %q: subscription: event %d after %d", s.s.id, seq, s.seq)
			}
			s.seq = ev.Sequence()
			return ev, nil
		case <-s.closedCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// readStore reads the next events up to catchUpTo from the store, at most a
// buffer's worth.
func (s *Subscription) readStore(ctx context.Context) error {
	want := s.seq + 1
	limit := min(s.catchUpTo, s.seq+uint64(cap(s.ch)))
	for rec, err := range s.s.cfg.store.Records(ctx, s.s.id, want) {
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

// Close ends the subscription and releases its buffer.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closedCh)
		s.s.touch()
	})
}
