package session_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// townHall opens a session with a host and n-1 attendees, everyone's audio
// and video on.
func townHall(t testing.TB, n int, st session.Store, opts ...session.Option) *session.Session {
	t.Helper()
	s := open(t, "town-hall", st, opts...)
	submit(t, s, joinCmd("j0", "host", "host"))
	for i := 1; i < n; i++ {
		submit(t, s, joinCmd(fmt.Sprintf("j%d", i), fmt.Sprintf("p%d", i), "attendee"))
	}
	return s
}

func hostCmd(id string, typ core.CommandType) core.Command {
	return core.Command{ID: id, Type: typ, Actor: "host"}
}

// TestBulkReachesIdleSubscribers: in a town hall of 5,000 with the default
// buffer of 1,024, a disable_all_audio is one event, which every subscriber
// gets, and what follows too: small commands, or a second disable-all right
// behind the first.
func TestBulkReachesIdleSubscribers(t *testing.T) {
	const n = 5000
	for name, follow := range map[string][]core.Command{
		"then small commands": {
			hostCmd("v1", core.SetVideo), {ID: "v2", Type: core.SetVideo, Actor: "host", Enabled: true},
			hostCmd("v3", core.SetVideo), {ID: "v4", Type: core.SetVideo, Actor: "host", Enabled: true},
			audioCmd("a1", "p1", true), audioCmd("a2", "p2", true), audioCmd("a3", "p3", true),
		},
		"then a second disable-all": {hostCmd("mute-video", core.DisableAllVideo)},
	} {
		t.Run(name, func(t *testing.T) {
			s := townHall(t, n, session.NewMemStore())
			var subs []*session.Subscription
			for range 3 {
				_, sub, err := s.Watch(testwait.Context(t))
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, sub)
			}
			want := submit(t, s, hostCmd("mute-all", core.DisableAllAudio)).Events
			if d := cmp.Diff([]events.Event{&events.AllAudioDisabled{Seq: n + 1, Count: n, By: "host"}}, want); d != "" {
				t.Fatalf("disable_all_audio of %d (-want +got):\n%s", n, d)
			}
			for _, cmd := range follow {
				want = append(want, submit(t, s, cmd).Events...)
			}
			for i, sub := range subs {
				// next fails the test on ErrSlowSubscriber.
				if diff := cmp.Diff(want, next(t, sub, len(want))); diff != "" {
					t.Fatalf("subscriber %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestStalledSubscriber: a subscriber that stops reading holds the command
// it was at plus its buffer, is cut off at the command after, and resumes
// from its last seq with nothing missing or doubled.
func TestStalledSubscriber(t *testing.T) {
	const n, buffer = 100, 16
	s := townHall(t, n, session.NewMemStore(), smallBuffers(buffer)...)
	_, sub, err := s.Watch(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	want := submit(t, s, hostCmd("mute-all", core.DisableAllAudio)).Events
	for i := range buffer + 1 { // the last one does not fit
		want = append(want, submit(t, s, audioCmd(fmt.Sprintf("a%d", i), "host", i%2 == 0)).Events...)
	}
	got := next(t, sub, 1+buffer)
	if _, err := sub.Next(testwait.Context(t)); !errors.Is(err, session.ErrSlowSubscriber) {
		t.Fatalf("after the burst and %d events: %v, want ErrSlowSubscriber", buffer, err)
	}
	resumed, err := s.Subscribe(testwait.Context(t), sub.Seq())
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, next(t, resumed, len(want)-len(got))...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events before and after resuming (-want +got):\n%s", diff)
	}
}

// TestSubscriptionRule checks the queueing rule of WithSubscriberBuffer
// against a model, on drawn commands (gaveltest.Command: zero to two events
// each), buffers and reads: a subscriber is cut off exactly at the command
// the rule says, never otherwise, and across cut-offs and resumes it gets
// the log's events, each once, in order.
func TestSubscriptionRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx, cancelRun := context.WithTimeout(context.Background(), testwait.Limit)
		defer cancelRun()
		polled, cancel := context.WithCancel(ctx)
		cancel() // Next(polled) does not wait: an event, an end, or ctx's error
		buffer := rapid.IntRange(1, 6).Draw(t, "buffer")
		st := session.NewMemStore()
		s, err := session.Open(ctx, "room-1", st, smallBuffers(buffer, session.WithPresets(presets))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		do := func(cmd core.Command) session.Result {
			res, err := s.Submit(ctx, cmd)
			if err != nil {
				t.Fatalf("Submit(%+v): %v", cmd, err)
			}
			return res
		}
		actors := []string{"host", "ann", "bob", "cy"}
		for i, a := range actors {
			do(joinCmd("j-"+a, a, []string{"host", "attendee"}[min(i, 1)]))
		}
		state, sub, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var (
			got   []events.Event
			queue []int // the model: the commands' events waiting, the head's left
			cut   bool
		)
		read := func() events.Event {
			ev, err := sub.Next(polled)
			if err != nil {
				t.Fatalf("Next with %v queued: %v", queue, err)
			}
			got = append(got, ev)
			if queue[0]--; queue[0] == 0 {
				queue = queue[1:]
			}
			return ev
		}
		for i := range rapid.IntRange(1, 60).Draw(t, "commands") {
			if state.Ended() {
				break
			}
			res := do(gaveltest.Command(state, gaveltest.CommandID(i+1)).Draw(t, "command"))
			state = reducer.Fold(state, res.Events)
			if len(res.Events) == 0 {
				continue
			}
			k := len(res.Events)
			behind := 0
			for _, q := range queue[min(1, len(queue)):] {
				behind += q
			}
			if len(queue) > 0 && behind > 0 && behind+k > buffer {
				cut = true
			} else {
				queue = append(queue, k)
			}
			if cut {
				// What it holds, then the cut-off; resumed, it reads up to
				// the present, where a new subscription's queue is empty.
				for len(queue) > 0 {
					read()
				}
				if _, err := sub.Next(polled); !errors.Is(err, session.ErrSlowSubscriber) {
					t.Fatalf("after the command that did not fit: %v, want ErrSlowSubscriber", err)
				}
				if sub, err = s.Subscribe(ctx, sub.Seq()); err != nil {
					t.Fatal(err)
				}
				for sub.Seq() < res.Seq {
					ev, err := sub.Next(ctx)
					if err != nil {
						t.Fatalf("resuming: %v", err)
					}
					got = append(got, ev)
				}
				cut = false
			}
			for range rapid.IntRange(0, 4).Draw(t, "reads") {
				if len(queue) == 0 {
					break
				}
				read()
			}
			if len(queue) == 0 {
				if ev, err := sub.Next(polled); !errors.Is(err, context.Canceled) {
					t.Fatalf("nothing queued: Next = %v, %v", ev, err)
				}
			}
		}
		for len(queue) > 0 {
			read()
		}
		var want []events.Event
		for _, r := range logOf(t, st, "room-1")[len(actors):] {
			want = append(want, r.Events...)
		}
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Fatalf("the subscriber's events (-log +got):\n%s", diff)
		}
	})
}

// TestSubscribersConcurrent has readers follow a session, resuming after
// every cut-off, while goroutines submit bursts and single events with a
// small buffer: each reader gets the log's events, each once, in order.
func TestSubscribersConcurrent(t *testing.T) {
	const participants = 40
	st := session.NewMemStore()
	s := townHall(t, participants, st, smallBuffers(8)...)
	start := submit(t, s, hostCmd("start", core.SetAudio)).Seq
	type reading struct {
		evs []events.Event
		err error
	}
	results := make(chan reading)
	for range 4 {
		sub, err := s.Subscribe(testwait.Context(t), start)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			var r reading
			defer func() { results <- r }()
			for {
				ev, err := sub.Next(testwait.Context(t))
				if errors.Is(err, session.ErrSlowSubscriber) {
					if sub, err = s.Subscribe(testwait.Context(t), sub.Seq()); err == nil {
						continue
					}
				}
				if err != nil {
					r.err = err
					return
				}
				if r.evs = append(r.evs, ev); ev.Type() == events.TypeSessionEnded {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("g%d-%d", g, i)
				cmd := audioCmd(id, fmt.Sprintf("p%d", 1+(g*50+i)%(participants-1)), true)
				if i%10 == 9 {
					cmd = hostCmd(id, core.DisableAllAudio)
				}
				if _, err := s.Submit(testwait.Context(t), cmd); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	submit(t, s, hostCmd("end", core.KickAll))
	var want []events.Event
	for _, r := range logOf(t, st, "town-hall") {
		if len(r.Events) > 0 && r.Events[0].Sequence() > start {
			want = append(want, r.Events...)
		}
	}
	for range 4 {
		r := testwait.Recv(t, results, "a reader's events")
		if r.err != nil {
			t.Fatalf("reader: %v", r.err)
		}
		if diff := cmp.Diff(want, r.evs); diff != "" {
			t.Errorf("a reader's events (-log +got):\n%s", diff)
		}
	}
}

// readCounter is a MemStore that counts the reads of a log.
type readCounter struct {
	*session.MemStore
	reads atomic.Int64
}

func (r *readCounter) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	r.reads.Add(1)
	return r.MemStore.Records(ctx, id, from)
}

// TestSubscriberOptionsAreSeparate: the bound of a subscriber's buffer, the
// session's recent events and the catch-up batch are set apart, and each
// does what its option says.
func TestSubscriberOptionsAreSeparate(t *testing.T) {
	const joined = 20 // one event each
	start := func(t *testing.T, opts ...session.Option) (*session.Session, *readCounter) {
		st := &readCounter{MemStore: session.NewMemStore()}
		s := townHall(t, joined, st, opts...)
		st.reads.Store(0)
		return s, st
	}
	subscribe := func(t *testing.T, s *session.Session, after uint64) *session.Subscription {
		sub, err := s.Subscribe(testwait.Context(t), after)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
		return sub
	}

	t.Run("recent events serve a subscription from memory", func(t *testing.T) {
		s, st := start(t, session.WithRecentEvents(2*joined), session.WithSubscriberBuffer(1), session.WithCatchUpBatch(1))
		next(t, subscribe(t, s, 0), joined)
		if n := st.reads.Load(); n != 0 {
			t.Errorf("%d reads of the store, want 0: the last %d events are in memory", n, 2*joined)
		}
	})
	t.Run("the catch-up batch sizes the reads", func(t *testing.T) {
		s, st := start(t, session.WithRecentEvents(1), session.WithSubscriberBuffer(1), session.WithCatchUpBatch(3))
		next(t, subscribe(t, s, 0), joined)
		if n, want := st.reads.Load(), int64((joined+2)/3); n != want {
			t.Errorf("%d reads of the store, want %d: %d events, 3 at a time", n, want, joined)
		}
	})
	t.Run("the subscriber buffer alone bounds a subscriber", func(t *testing.T) {
		for _, tc := range []struct {
			buffer, recent int
			cut            bool
		}{{1, 64, true}, {64, 1, false}} {
			s, _ := start(t, session.WithSubscriberBuffer(tc.buffer), session.WithRecentEvents(tc.recent), session.WithCatchUpBatch(64))
			sub := subscribe(t, s, joined)
			for i := range 3 { // a subscriber that does not read
				submit(t, s, audioCmd(fmt.Sprintf("mute-%d", i), fmt.Sprintf("p%d", i+1), false))
			}
			next(t, sub, 2) // what it holds, then the third or the cut-off
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, err := sub.Next(ctx)
			cancel()
			if cut := errors.Is(err, session.ErrSlowSubscriber); cut != tc.cut {
				t.Errorf("buffer %d, recent events %d: the third of 3 unread commands: %v, cut off %v, want %v",
					tc.buffer, tc.recent, err, cut, tc.cut)
			}
		}
	})
}

// BenchmarkIdleSubscription measures the heap an idle subscription takes
// (B/sub, the runtime.MemStats.HeapAlloc delta over 1,000 subscriptions
// through Watch, with the default buffer), next to an empty session.
//
//	go test -run '^$' -bench BenchmarkIdleSubscription -benchmem ./session
func BenchmarkIdleSubscription(b *testing.B) {
	const subs = 1000
	s := open(b, "room-1", session.NewMemStore())
	submit(b, s, joinCmd("c0", "host", "host"))
	ctx := context.Background()
	all := make([]*session.Subscription, subs)
	var perSub float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range all {
			_, sub, err := s.Watch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			all[i] = sub
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSub = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / subs
		for _, sub := range all {
			sub.Close()
		}
		clear(all)
		// A subscription forgets the closed ones.
		if _, sub, err := s.Watch(ctx); err != nil {
			b.Fatal(err)
		} else {
			sub.Close()
		}
	}
	b.ReportMetric(perSub, "B/sub")
}
