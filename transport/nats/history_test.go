package nats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

const historyRoom = "room-1"

// historyClients is the number of clients of the history test, each
// sending its own commands one after the other.
const historyClients = 8

// TestHistoryLinearizable records a history of drawn commands
// (gaveltest.Clients), from eight clients each sending its own one after
// the other, to one session served by two gavel instances on one JetStream
// with fsync on. Every attempt of a command reaches both instances, and a
// client sends it again (same id) when an attempt is not answered within 1
// to 3 ms. The test checks with porcupine that the history is linearizable
// against the reducer: every answer a client got is the outcome its command
// has at one point of one sequential history. A command the client never
// saw answered counts as decided, with any outcome, only if its id is in
// the log, and is left out otherwise. Then the log itself must verify, and
// hold every answered command once, with its answer.
//
// A rejection that took no place in the log broke this in every run, even
// under -short: one instance rejected a command, on a state without a
// record the other was appending, and answered; the other then applied the
// same command after that record (issue 11).
func TestHistoryLinearizable(t *testing.T) {
	ops := 2500
	if testing.Short() {
		ops = 300
	}
	srv := startServer(t, natsserver.WithSyncAlways(true))
	nodeOpts := []NodeOption{WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets))}
	// The instances' services are in queue groups of their own, so every
	// attempt reaches both: each command is decided by two runtimes at
	// once, as when a retry reaches one instance while the first attempt
	// waits in the other's pipeline, with no delay between them.
	nodes := []*Node{startNode(t, append(nodeOpts, WithQueue("a"))...), startNode(t, append(nodeOpts, WithQueue("b"))...)}

	start := time.Now()
	var (
		mu    sync.Mutex
		calls []gaveltest.Call
		dups  int // answers marked Duplicate: a retry after the first attempt was decided
		wg    sync.WaitGroup
	)
	for i, cmds := range gaveltest.Clients(presets, historyClients, ops/historyClients).Example(11) {
		// Each client has its own connection: a retry goes out as a new
		// request, which the queue group gives to either instance.
		c, err := NewClient(connect(t, srv.ClientURL()), WithRequestTimeout(time.Duration(1+i%3)*time.Millisecond),
			WithSubmitTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for _, cmd := range cmds {
				call := time.Since(start)
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				res, err := c.Submit(ctx, historyRoom, cmd)
				cancel()
				mu.Lock()
				calls = append(calls, gaveltest.Call{Answer: gaveltest.Answer{Command: cmd, Events: res.Events, Err: err},
					Client: i, Start: call, End: time.Since(start)})
				if res.Duplicate {
					dups++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	recs := readLog(t, nodes[0].Store(), historyRoom, 1)
	h, err := nodes[0].Store().Header(testwait.Context(t), historyRoom)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := gaveltest.CheckHistory(h, recs, calls)
	if err != nil {
		t.Fatal(err)
	}

	// The log agrees: it verifies, as read through a client too, and
	// holds each answered command once, with the answer its client got.
	log, err := nodes[1].Client().ReadLog(testwait.Context(t), historyRoom)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	sum, err := sessionlog.Verify(log)
	if err != nil {
		t.Fatalf("the log does not verify: %v", err)
	}
	if _, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow); err != nil {
		t.Fatal(err)
	}
	var answers []gaveltest.Answer
	for _, c := range calls {
		answers = append(answers, c.Answer)
	}
	if err := gaveltest.CheckAnswers(recs, answers); err != nil {
		t.Error(err)
	}
	var rejected int
	for _, r := range recs {
		if r.Err != nil {
			rejected++
		}
	}
	t.Logf("%d commands (%d unanswered, in the log), %d rejected, seq %d; the log has %d records; %d duplicates",
		stats.Calls, stats.Unanswered, rejected, sum.Seq, sum.Commands, dups)
}
