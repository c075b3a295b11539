package session

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
)

// queued is how many events wait in s's queue.
func (s *Subscription) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := -s.off
	for _, evs := range s.queue[s.head:] {
		n += len(evs)
	}
	return n
}

func (s *Subscription) queueCap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cap(s.queue)
}

// watched opens a session (closed when the test ends) and watches it.
func watched(t *testing.T, opts ...Option) (*Session, *Subscription) {
	t.Helper()
	s, err := Open(testwait.Context(t), "room-1", NewMemStore(), append([]Option{WithPresets(core.Presets{"host": {}})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { _ = s.Close(ctx) })
	_, sub, err := s.Watch(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, sub
}

// TestQueueOnDemand: a subscription allocates no queue up front, queues the
// owner's slices themselves, grows as commands wait and lets the room go
// once they are read.
func TestQueueOnDemand(t *testing.T) {
	s, sub := watched(t)
	if c := sub.queueCap(); c != 0 {
		t.Errorf("an idle subscription's queue has room for %d commands, want none", c)
	}
	const n = 100
	var results []Result
	for i := range n {
		cmd := core.Command{ID: fmt.Sprint(i), Type: core.SetAudio, Actor: "a", Enabled: i%2 == 1}
		if i == 0 {
			cmd = core.Command{ID: "0", Type: core.Join, Actor: "a", Preset: "host"}
		}
		res, err := s.Submit(testwait.Context(t), cmd)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if got := sub.queued(); got != n {
		t.Fatalf("%d events queued, want %d", got, n)
	}
	sub.mu.Lock()
	for i, evs := range sub.queue[sub.head:] {
		if &evs[0] != &results[i].Events[0] {
			t.Errorf("command %d: the subscription queues a copy of its events", i)
		}
	}
	sub.mu.Unlock()
	for range n {
		if _, err := sub.Next(testwait.Context(t)); err != nil {
			t.Fatal(err)
		}
	}
	if c := sub.queueCap(); c > keptQueue {
		t.Errorf("read to the end, the queue keeps room for %d commands, want at most %d", c, keptQueue)
	}
}

// TestHoldDefersTheWake: events queued while a subscription is held wake
// its reader only at Release (nested holds: at the last one), and are
// there for a Next that does not wait; a cut-off is never held back.
func TestHoldDefersTheWake(t *testing.T) {
	s, sub := watched(t, WithSubscriberBuffer(1))
	woken := func() bool { return len(sub.wake) == 1 }
	submit := func(cmd core.Command) {
		t.Helper()
		if _, err := s.Submit(testwait.Context(t), cmd); err != nil {
			t.Fatal(err)
		}
	}

	sub.Hold()
	sub.Hold()
	submit(core.Command{ID: "1", Type: core.Join, Actor: "a", Preset: "host"})
	if woken() {
		t.Fatal("an event queued while held woke the reader")
	}
	sub.Release()
	if woken() {
		t.Fatal("the reader woke while a second Hold was not released")
	}
	sub.Release()
	if !woken() {
		t.Fatal("Release did not wake the reader for the event queued while held")
	}
	<-sub.wake // as a waiting Next would
	if ev, err := sub.Next(testwait.Context(t)); err != nil || ev.Sequence() != 1 {
		t.Fatalf("Next = %v, %v; want event 1", ev, err)
	}

	sub.Hold()
	submit(core.Command{ID: "2", Type: core.SetAudio, Actor: "a", Enabled: true})
	if ev, err := sub.Next(testwait.Context(t)); err != nil || ev.Sequence() != 2 {
		t.Fatalf("held: Next = %v, %v; want event 2, queued", ev, err)
	}
	submit(core.Command{ID: "3", Type: core.SetAudio, Actor: "a", Enabled: false})
	submit(core.Command{ID: "4", Type: core.SetAudio, Actor: "a", Enabled: true})
	submit(core.Command{ID: "5", Type: core.SetAudio, Actor: "a", Enabled: false}) // over the buffer of 1: cut off
	if !woken() {
		t.Fatal("a held subscription's cut-off did not wake the reader")
	}
	sub.Release()
	for seq := uint64(3); seq <= 4; seq++ {
		if ev, err := sub.Next(testwait.Context(t)); err != nil || ev.Sequence() != seq {
			t.Fatalf("Next = %v, %v; want event %d", ev, err, seq)
		}
	}
	if _, err := sub.Next(testwait.Context(t)); !errors.Is(err, ErrSlowSubscriber) {
		t.Fatalf("Next after the cut-off: %v, want ErrSlowSubscriber", err)
	}
}
