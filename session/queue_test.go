package session

import (
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

// TestQueueOnDemand: a subscription allocates no queue up front, queues the
// owner's slices themselves, grows as commands wait and lets the room go
// once they are read.
func TestQueueOnDemand(t *testing.T) {
	s, err := Open(testwait.Context(t), "room-1", NewMemStore(), WithPresets(core.Presets{"host": {}}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(testwait.Context(t))
	_, sub, err := s.Watch(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
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
