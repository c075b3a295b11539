package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// WebinarTimes are how long the steps of Webinar took.
type WebinarTimes struct {
	Joins      time.Duration // every join, from concurrent submitters
	DisableAll time.Duration // the disable_all_audio: Submit, answered
	Reopen     time.Duration // opening the session again from the store
}

// Report reports the times as metrics of b.
func (t WebinarTimes) Report(b *testing.B) {
	b.ReportMetric(t.Joins.Seconds(), "s-joins")
	b.ReportMetric(float64(t.DisableAll.Microseconds()), "µs-disable-all")
	b.ReportMetric(float64(t.Reopen.Milliseconds()), "ms-reopen")
}

// Webinar runs a session of n participants end to end on a store, as a
// webinar would: n joins (audio on) from concurrent submitters, one-target
// commands (disable_audio, pin, kick), a disable_all_audio, a snapshot, a
// reopen from the store, and a kick_all. It checks that the bulk command is
// one small event that a subscriber gets whole, that a snapshot was taken,
// and that the reopened session is the one that was closed.
//
// open opens the store; after the first session is closed the store is
// closed with done, and open is called again on the same data, as after a
// restart. The store must implement session.Snapshotter.
func Webinar(t testing.TB, n int, open func(t testing.TB) (st session.Store, done func())) WebinarTimes {
	t.Helper()
	var times WebinarTimes
	ctx := context.Background()
	const id = "webinar"
	st, done := open(t)
	if _, ok := st.(session.Snapshotter); !ok {
		t.Fatalf("%T keeps no snapshots", st)
	}
	opts := []session.Option{session.WithPresets(Presets), session.WithSnapshotInterval(uint64(n / 2))}
	s, err := session.Open(ctx, id, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	submit := func(cmd core.Command) session.Result {
		t.Helper()
		res, err := s.Submit(ctx, cmd)
		if err != nil {
			t.Fatalf("%s %s: %v", cmd.Type, cmd.ID, err)
		}
		return res
	}
	submit(core.Command{ID: "j-host", Type: core.Join, Actor: "host", Name: "Host", Preset: "host", Audio: true, Video: true})

	// The joins, from concurrent submitters, so that stores that can group
	// commits do.
	start := time.Now()
	const submitters = 64
	var wg sync.WaitGroup
	errs := make(chan error, submitters)
	for g := range submitters {
		wg.Go(func() {
			for i := 1 + g; i < n; i += submitters {
				p := fmt.Sprintf("attendee-%06d", i)
				cmd := core.Command{ID: "j-" + p, Type: core.Join, Actor: p, Name: "Attendee " + p, Preset: "attendee", Audio: true}
				if _, err := s.Submit(ctx, cmd); err != nil {
					errs <- fmt.Errorf("join %s: %w", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	times.Joins = time.Since(start)
	if st, _ := s.State(ctx); st.Len() != n || st.AudioOn() != n {
		t.Fatalf("after %d joins: %d joined, %d with audio on", n, st.Len(), st.AudioOn())
	}

	// One-target commands.
	submit(core.Command{ID: "mute-1", Type: core.DisableAudio, Actor: "host", Target: "attendee-000001"})
	submit(core.Command{ID: "pin-2", Type: core.Pin, Actor: "host", Target: "attendee-000002"})
	submit(core.Command{ID: "kick-3", Type: core.Kick, Actor: "host", Target: "attendee-000003"})

	// The bulk command: one event, counting the n-2 microphones still on.
	_, sub, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	res := submit(core.Command{ID: "mute-all", Type: core.DisableAllAudio, Actor: "host"})
	times.DisableAll = time.Since(start)
	want := []events.Event{&events.AllAudioDisabled{Seq: res.Seq, Count: uint64(n - 2), By: "host"}}
	if d := cmp.Diff(want, res.Events); d != "" {
		t.Fatalf("disable_all_audio (-want +got):\n%s", d)
	}
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ev, err := sub.Next(nctx)
	cancel()
	if err != nil || !cmp.Equal(want[0], ev) {
		t.Fatalf("the subscriber got %v, %v; want %v", ev, err, want[0])
	}
	sub.Close()
	before, _ := s.State(ctx)
	if before.AudioOn() != 0 {
		t.Fatalf("%d microphones still on", before.AudioOn())
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if snap, err := st.(session.Snapshotter).LatestSnapshot(ctx, id); err != nil || snap.State.Seq < uint64(n/2) {
		t.Fatalf("latest snapshot: seq %d, %v; want one at seq %d or later", snap.State.Seq, err, n/2)
	}
	for rec, err := range st.Records(ctx, id, res.Seq) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Command.ID == "mute-all" {
			if size := len(sessionlog.AppendRecord(nil, rec)); size > 512 {
				t.Errorf("the disable_all_audio record is %d bytes", size)
			}
		}
	}
	done()

	// Reopen, as after a restart, from the snapshot and the records after it.
	st, done = open(t)
	defer done()
	start = time.Now()
	s, err = session.Open(ctx, id, st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	times.Reopen = time.Since(start)
	defer s.Close(ctx)
	if after, _ := s.State(ctx); !after.Equal(before) {
		t.Fatalf("reopened: seq %d, %d joined; closed at seq %d, %d joined", after.Seq(), after.Len(), before.Seq(), before.Len())
	}
	res = submit(core.Command{ID: "end", Type: core.KickAll, Actor: "host"})
	if len(res.Events) != 1 || res.Events[0].Type() != events.TypeSessionEnded {
		t.Fatalf("kick_all: %v", res.Events)
	}
	if after, _ := s.State(ctx); !after.Ended() || after.Len() != 0 {
		t.Fatalf("after kick_all: ended %v, %d joined", after.Ended(), after.Len())
	}
	return times
}
