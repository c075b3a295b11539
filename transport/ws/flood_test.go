package ws_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// floodResult is what one flood did to the server's heap.
type floodResult struct {
	// peak is the largest growth of the live heap sampled while the client
	// flooded; it includes what the collector could not free while the
	// flood allocated during its cycle.
	peak int64
	// stalled is the largest growth sampled while the client's writes did
	// not move and the heap stayed put (the server not reading the client,
	// nothing allocating): what the connection holds.
	stalled int64
	sent    int64 // command frames the client got through
	cut     bool  // the client was cut off as slow
	elapsed time.Duration
}

// flood connects a client that never reads (after the welcome) and writes
// small command frames as fast as its socket takes them, into a quiet
// session, until the server cuts it off or until is over. Meanwhile it
// samples the process's live heap; with fail above 0 it fails the test as
// soon as the growth passes fail.
func flood(tb testing.TB, queue int, writeTimeout, until time.Duration, fail int64) floodResult {
	tb.Helper()
	gone := make(chan ws.Disconnect, 1)
	srv := wstest.New(tb, ws.WithOutboundQueue(queue), ws.WithWriteTimeout(writeTimeout),
		ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))
	c := dial(tb, srv, srv.Token(room, "flood", "attendee"), nil)
	base := liveHeap()

	var sent atomic.Int64
	done := make(chan struct{})
	frame := wire.AppendCommand(nil, core.Command{ID: "flood-1", Type: core.SetAudio, Enabled: true})
	go func() {
		defer close(done)
		for c.c.Write(context.Background(), websocket.MessageText, frame) == nil { // CloseNow ends it
			sent.Add(1)
		}
	}()
	defer func() {
		c.c.CloseNow()
		wstest.Recv(tb, done, "the flooding client's writes")
	}()

	var r floodResult
	t0 := time.Now()
	deadline := time.After(until)
	sample := time.NewTicker(10 * time.Millisecond)
	defer sample.Stop()
	for last, prev := int64(-1), int64(-1<<62); !r.cut; {
		select {
		case d := <-gone:
			if d.Reason != wire.ReasonSlow || d.Err != nil {
				tb.Fatalf("flooding client disconnected: %+v, want goodbye slow", d)
			}
			r.cut = true
		case <-sample.C:
			// Three collections in a row: the least is the closest to
			// what is held, the flood allocating meanwhile.
			g := min(liveHeap(), liveHeap(), liveHeap()) - base
			r.peak = max(r.peak, g)
			// Settled: the client's writes did not move, and the heap
			// stayed put since the last sample.
			if n := sent.Load(); n == last && g-prev < 1<<10 && prev-g < 1<<10 {
				r.stalled = max(r.stalled, g)
			} else {
				last = n
			}
			prev = g
			if fail > 0 && r.peak > fail {
				tb.Fatalf("the server's heap grew by %d KiB under a flooding client (bound %d KiB) after %v and %d frames",
					r.peak>>10, fail>>10, time.Since(t0).Round(time.Millisecond), sent.Load())
			}
		case <-deadline:
			r.elapsed, r.sent = time.Since(t0), sent.Load()
			return r
		}
	}
	r.elapsed, r.sent = time.Since(t0), sent.Load()
	return r
}

// liveHeap is the heap in use after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// floodBound is what a flood may add to the heap: the frames of one
// outbox, counted at 4 KiB each (a result frame takes under 300 bytes),
// and 8 MiB for the rest: a frame being read and what the collector cannot
// free while the flood allocates during its cycle (up to ~4 MiB seen).
func floodBound(queue int) int64 { return int64(queue)<<12 + 8<<20 }

// A client that never reads and streams small command frames into a quiet
// session: the server stops reading it once its outbox is full, so the
// heap stays within a bound derived from the outbox, and the client is cut
// off with goodbye slow (then its writes fail) within the deadline.
func TestFloodQuietSession(t *testing.T) {
	leakcheck.Check(t)
	const queue = 256
	r := flood(t, queue, 200*time.Millisecond, wait, floodBound(queue))
	if !r.cut {
		t.Fatalf("a client flooding without reading was not cut off within %v (%d frames sent)", wait, r.sent)
	}
	if r.stalled > floodBound(queue) {
		t.Errorf("the connection holds %d KiB once the server stopped reading, bound %d KiB", r.stalled>>10, floodBound(queue)>>10)
	}
	t.Logf("cut off after %v and %d frames; live heap +%d KiB at most, +%d KiB while stalled (bound %d KiB)",
		r.elapsed.Round(time.Millisecond), r.sent, r.peak>>10, r.stalled>>10, floodBound(queue)>>10)
}

// BenchmarkFloodHeap: the heap growth under a client that never reads and
// floods command frames into a quiet session, for several outbox sizes
// (write timeout 1 s; the flood gives up after 10 s). Run it with
// -benchtime 1x.
func BenchmarkFloodHeap(b *testing.B) {
	for _, queue := range []int{64, ws.DefaultOutboundQueue, 1024, 4096} {
		b.Run("queue="+strconv.Itoa(queue), func(b *testing.B) {
			var r floodResult
			for b.Loop() {
				r = flood(b, queue, time.Second, 10*time.Second, 0)
			}
			if !r.cut {
				b.Logf("not cut off in %v", r.elapsed.Round(time.Millisecond))
			}
			b.ReportMetric(float64(r.peak), "peak-heap-B")
			b.ReportMetric(float64(r.stalled), "stalled-heap-B")
			b.ReportMetric(float64(r.stalled)/float64(queue), "stalled-B/queued-frame")
			b.ReportMetric(float64(r.sent), "frames-sent")
			b.ReportMetric(r.elapsed.Seconds(), "s-to-cut")
		})
	}
}
