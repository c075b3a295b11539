package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/filestore"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// BenchmarkDurable measures durable commands a second through the runtime
// on the file store, at 1, 16 and 256 concurrent submitters on one session,
// next to the raw rate of the same disk: a loop of write + fdatasync of a
// line as long as a record (the syscall the store uses).
//
//	go test -run '^$' -bench BenchmarkDurable -benchmem -count 3 ./session/filestore
func BenchmarkDurable(b *testing.B) {
	b.Run("fsync", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		line := append(sessionlog.AppendRecord(nil, sessionlog.Record{
			At:      time.Now(),
			Command: core.Command{ID: "p123-4567", Type: core.SetAudio, Actor: "p123", Enabled: true},
			Events:  []events.Event{&events.AudioUpdate{Seq: 12345, Participant: "p123", AudioEnabled: true, By: "p123"}},
		}), '\n')
		var off int64
		start := time.Now()
		for b.Loop() {
			if _, err := f.WriteAt(line, off); err != nil {
				b.Fatal(err)
			}
			off += int64(len(line))
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "syncs/s")
	})
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("submitters=%d", n), func(b *testing.B) { durable(b, n, setAudio) })
	}
}

// BenchmarkRejections measures what recording rejections costs: a stream
// of commands the session rejects (attendees trying kick_all: 1201, each a
// record with its error, synced like any other) against a stream of
// applied ones (attendees turning their microphone on and off, one event
// each), through the runtime on the file store, interleaved in one run, at
// 1 and 16 concurrent submitters on one session.
//
//	go test -run '^$' -bench BenchmarkRejections -benchmem -count 3 ./session/filestore
func BenchmarkRejections(b *testing.B) {
	kickAll := func(actor string, i, _ int) core.Command {
		return core.Command{ID: fmt.Sprintf("%s-%d", actor, i), Type: core.KickAll, Actor: actor}
	}
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("applied/submitters=%d", n), func(b *testing.B) { durable(b, n, setAudio) })
		b.Run(fmt.Sprintf("rejected/submitters=%d", n), func(b *testing.B) { durable(b, n, kickAll) })
	}
}

// setAudio is submitter actor's i-th command of a benchmark with n
// submitters: its microphone on and off, one event each.
func setAudio(actor string, i, n int) core.Command {
	return core.Command{ID: fmt.Sprintf("%s-%d", actor, i), Type: core.SetAudio, Actor: actor, Enabled: (i/n)%2 == 0}
}

// durable submits b.N commands made by cmd to one session on a new file
// store, from n goroutines, each an attendee, and reports commands/s. An
// answer other than cmd's own (applied, or rejected as the command asks)
// fails the benchmark.
func durable(b *testing.B, n int, cmd func(actor string, i, n int) core.Command) {
	st, err := filestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	s, err := session.Open(ctx, "bench", st, session.WithPresets(storetest.Presets))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	for g := range n {
		id := fmt.Sprintf("p%d", g)
		if _, err := s.Submit(ctx, core.Command{ID: "j" + id, Type: core.Join, Actor: id, Name: id, Preset: "attendee"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			actor := fmt.Sprintf("p%d", g)
			// Goroutine g submits commands g, g+n, g+2n … below b.N.
			for i := g; i < b.N; i += n {
				c := cmd(actor, i, n)
				_, err := s.Submit(ctx, c)
				if ce, ok := errors.AsType[*core.Error](err); ok && c.Type == core.KickAll && ce.Code == core.CodePermissionDenied {
					continue
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
}

// bigLog is a 1,000,000-event session log with a snapshot at its end, made
// once for BenchmarkReopen.
var bigLog struct {
	once sync.Once
	dir  string
	err  error
}

const bigEvents = 1_000_000

// makeBigLog writes the session "big": 100 participants join, then they
// turn their audio on and off, one event a command, in batches through the
// store; then the runtime opens it once (folding it all) and takes a
// snapshot with the next command.
func makeBigLog(b *testing.B) string {
	bigLog.once.Do(func() {
		bigLog.dir, bigLog.err = os.MkdirTemp("", "gavel-bench-")
		if bigLog.err != nil {
			return
		}
		bigLog.err = writeBigLog(bigLog.dir)
	})
	if bigLog.err != nil {
		b.Fatal(bigLog.err)
	}
	return bigLog.dir
}

func writeBigLog(dir string) error {
	ctx := context.Background()
	st, err := filestore.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Create(ctx, sessionlog.Header{Session: "big", Presets: storetest.Presets}); err != nil {
		return err
	}
	state := core.NewState("big", storetest.Presets)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		batch []sessionlog.Record
		last  sessionlog.Position
	)
	for i := 0; state.Seq() < bigEvents-1; i++ {
		actor := fmt.Sprintf("p%d", i%100)
		cmd := core.Command{ID: fmt.Sprintf("c%d", i), Type: core.SetAudio, Actor: actor, Enabled: (i/100)%2 == 0}
		if i < 100 {
			cmd = core.Command{ID: cmd.ID, Type: core.Join, Actor: actor, Name: actor, Preset: "attendee"}
		}
		var evs []events.Event
		if state, evs, err = reducer.Apply(state, cmd); err != nil {
			return err
		}
		batch = append(batch, sessionlog.Record{At: at.Add(time.Duration(i) * time.Millisecond), Command: cmd, Events: evs})
		if len(batch) == 10_000 {
			if last, err = st.AppendBatch(ctx, "big", last, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if _, err = st.AppendBatch(ctx, "big", last, batch); err != nil {
		return err
	}
	s, err := session.Open(ctx, "big", st, session.WithSnapshotInterval(1))
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	_, err = s.Submit(ctx, core.Command{ID: "last", Type: core.SetAudio, Actor: "p0", Enabled: !state.Snapshot().Participants[0].AudioEnabled})
	return err
}

// BenchmarkReopen reopens a 1,000,000-event session on the file store (the
// store and the session, until it answers): from its snapshot, and without
// (folding the whole log), next to `replay -verify` of the same file.
//
//	go test -run '^$' -bench BenchmarkReopen -benchtime 5x ./session/filestore
func BenchmarkReopen(b *testing.B) {
	dir := makeBigLog(b)
	ctx := context.Background()
	reopen := func(b *testing.B, hide bool) {
		for b.Loop() {
			st, err := filestore.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			var store session.Store = st
			if hide {
				store = struct{ session.Store }{st} // no Snapshotter
			}
			s, err := session.Open(ctx, "big", store)
			if err != nil {
				b.Fatal(err)
			}
			if state, _ := s.State(ctx); state.Seq() != bigEvents {
				b.Fatalf("reopened at seq %d, want %d", state.Seq(), bigEvents)
			}
			s.Close(ctx)
			st.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reopen")
	}
	b.Run("snapshot", func(b *testing.B) { reopen(b, false) })
	b.Run("full", func(b *testing.B) {
		reopen(b, true)
		b.ReportMetric(bigEvents*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("replay-verify", func(b *testing.B) {
		path := filepath.Join(dir, "big.jsonl")
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			_, err = sessionlog.Verify(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(bigEvents*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkWebinar runs storetest.Webinar, 100,000 participants, on the
// file store and reports how long its steps took.
//
//	go test -run '^$' -bench BenchmarkWebinar -benchtime 1x ./session/filestore
func BenchmarkWebinar(b *testing.B) {
	for b.Loop() {
		storetest.Webinar(b, 100_000, openDir(b.TempDir())).Report(b)
	}
}
