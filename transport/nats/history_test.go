package nats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// outcome is what a client was told of a command: its events (as the log
// writes them), its error code, or nothing (unknown: no answer before the
// client gave up).
type outcome struct {
	events  string
	code    core.Code
	unknown bool
}

func (o outcome) String() string {
	switch {
	case o.unknown:
		return "?"
	case o.code != 0:
		return fmt.Sprintf("%s (%d)", o.code.Name(), int(o.code))
	}
	return o.events
}

// sessionModel is the sequential specification of a session: the reducer.
// A command's outcome must be what reducer.Apply gives on the state the
// commands linearized before it leave; an unknown outcome is any outcome.
var sessionModel = porcupine.Model{
	Init: func() any { return core.NewState(historyRoom, presets) },
	Step: func(state, input, output any) (bool, any) {
		st, cmd, out := state.(core.State), input.(core.Command), output.(outcome)
		next, evs, err := reducer.Apply(st, cmd)
		switch code, _ := core.CodeOf(err); {
		case out.unknown:
			return true, next
		case err != nil:
			return out.code == code, next
		default:
			return out.code == 0 && out.events == jsonOf(evs), next
		}
	},
	Equal: func(a, b any) bool { return a.(core.State).Equal(b.(core.State)) },
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write(events.AppendState(nil, state.(core.State)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		c := input.(core.Command)
		return fmt.Sprintf("%s %s %s %s → %s", c.ID, c.Type, c.Actor, c.Target, output.(outcome))
	},
	DescribeState: func(state any) string { return string(events.AppendState(nil, state.(core.State))) },
}

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
		mu      sync.Mutex
		history []porcupine.Operation
		dups    int // answers marked Duplicate: a retry after the first attempt was decided
		wg      sync.WaitGroup
	)
	var answers []gaveltest.Answer // every attempt's
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
				call := time.Since(start).Nanoseconds()
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				res, err := c.Submit(ctx, historyRoom, cmd)
				cancel()
				ret := time.Since(start).Nanoseconds()
				out := outcome{events: jsonOf(res.Events)}
				if ce, ok := errors.AsType[*core.Error](err); ok {
					out = outcome{code: ce.Code}
				} else if err != nil {
					out, ret = outcome{unknown: true}, math.MaxInt64
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: i, Input: cmd, Call: call, Output: out, Return: ret})
				answers = append(answers, gaveltest.Answer{Command: cmd, Events: res.Events, Err: err})
				if res.Duplicate {
					dups++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	recs := readLog(t, nodes[0].Store(), historyRoom, 1)
	logged := map[string]sessionlog.Record{}
	for _, r := range recs {
		logged[r.Command.ID] = r
	}
	// An unanswered command is in the history only if the log has it.
	kept, unknown := history[:0], 0
	for _, op := range history {
		if out := op.Output.(outcome); out.unknown {
			if _, ok := logged[op.Input.(core.Command).ID]; !ok {
				continue
			}
			unknown++
		}
		kept = append(kept, op)
	}
	history = kept

	res, info := porcupine.CheckOperationsVerbose(sessionModel, history, time.Minute)
	if res != porcupine.Ok {
		// Porcupine's view of it outlives the test, to be looked at.
		path := filepath.Join(os.TempDir(), fmt.Sprintf("gavel-history-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(sessionModel, info, path); err != nil {
			path = err.Error()
		}
		t.Fatalf("the history of %d commands is not linearizable (%s); porcupine's view: %s", len(history), res, path)
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
	h, err := nodes[0].Store().Header(testwait.Context(t), historyRoom)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow); err != nil {
		t.Fatal(err)
	}
	if err := gaveltest.CheckAnswers(recs, answers); err != nil {
		t.Error(err)
	}
	var rejected int
	for _, r := range logged {
		if r.Err != nil {
			rejected++
		}
	}
	t.Logf("%d commands (%d unanswered, in the log), %d rejected, seq %d; the log has %d records; %d duplicates",
		len(history), unknown, rejected, sum.Seq, sum.Commands, dups)
}
