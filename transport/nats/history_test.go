package nats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
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

// historyActors are the participants of the history test, each a client
// issuing its commands one after the other.
var historyActors = []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}

// randomCommand is a command of actor: joins (as host or attendee),
// leaves, its own media, and host actions on random targets, which the
// session applies or rejects depending on what came before. No kick_all:
// it would end the session, and every later command with it.
func randomCommand(rng *rand.Rand, id, actor string) core.Command {
	target := historyActors[rng.IntN(len(historyActors))]
	c := core.Command{ID: id, Actor: actor}
	switch n := rng.IntN(20); {
	case n < 4:
		c.Type, c.Name, c.Preset = core.Join, actor, []string{"host", "attendee"}[rng.IntN(2)]
		c.Audio, c.Video = rng.IntN(2) == 0, rng.IntN(2) == 0
	case n < 5:
		c.Type = core.Leave
	case n < 8:
		c.Type, c.Enabled = core.SetAudio, rng.IntN(2) == 0
	case n < 10:
		c.Type, c.Enabled = core.SetVideo, rng.IntN(2) == 0
	case n < 12:
		c.Type, c.Target = core.DisableAudio, target
	case n < 13:
		c.Type, c.Target = core.DisableVideo, target
	case n < 14:
		c.Type = core.DisableAllAudio
	case n < 15:
		c.Type = core.DisableAllVideo
	case n < 17:
		c.Type, c.Target = core.Pin, target
	case n < 18:
		c.Type, c.Target = core.Unpin, target
	default:
		c.Type, c.Target = core.Kick, target
	}
	return c
}

// TestHistoryLinearizable records a history of random commands, from
// eight clients each sending its own one after the other, to one session
// served by two gavel instances on one JetStream with fsync on. Every
// attempt of a command reaches both instances, and a client sends it again
// (same id) when an attempt is not answered within 1 to 3 ms. The test
// checks with porcupine that the history is linearizable against the
// reducer: every answer a client got is the outcome its command has at one
// point of one sequential history. A command the client never saw answered
// counts as decided, with any outcome, only if its id is in the log, and is
// left out otherwise. Then the log itself must verify, and hold every
// answered command once, with its answer.
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
	each := ops / len(historyActors)
	for i, actor := range historyActors {
		// Each client has its own connection: a retry goes out as a new
		// request, which the queue group gives to either instance.
		c, err := NewClient(connect(t, srv.ClientURL()), WithRequestTimeout(time.Duration(1+i%3)*time.Millisecond),
			WithSubmitTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(i), 11))
		wg.Go(func() {
			for n := range each {
				cmd := randomCommand(rng, fmt.Sprintf("%s-%d", actor, n), actor)
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
				if res.Duplicate {
					dups++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	logged := map[string]sessionlog.Record{}
	for _, r := range readLog(t, nodes[0].Store(), historyRoom, 1) {
		if _, dup := logged[r.Command.ID]; dup {
			t.Fatalf("command %s is in the log twice", r.Command.ID)
		}
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

	// The log agrees: it verifies, and holds each answered command once,
	// with the answer its client got.
	log, err := nodes[1].Client().ReadLog(testwait.Context(t), historyRoom)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	sum, err := sessionlog.Verify(log)
	if err != nil {
		t.Fatalf("the log does not verify: %v", err)
	}
	for _, op := range history {
		cmd, out := op.Input.(core.Command), op.Output.(outcome)
		r, ok := logged[cmd.ID]
		switch {
		case !ok:
			t.Errorf("%s was answered %s but is not in the log", cmd.ID, out)
		case out.unknown:
		case r.Err != nil && r.Err.Code != out.code, r.Err == nil && (out.code != 0 || out.events != jsonOf(r.Events)):
			t.Errorf("%s was answered %s; the log says %s", cmd.ID, out, recordOutcome(r))
		}
	}
	var rejected int
	for _, r := range logged {
		if r.Err != nil {
			rejected++
		}
	}
	t.Logf("%d commands (%d unanswered, in the log), %d rejected, seq %d; the log has %d records; %d duplicates",
		len(history), unknown, rejected, sum.Seq, sum.Commands, dups)
	if len(logged) != len(history) {
		t.Errorf("the log has %d commands, the history %d", len(logged), len(history))
	}
}

func recordOutcome(r sessionlog.Record) outcome {
	if r.Err != nil {
		return outcome{code: r.Err.Code}
	}
	return outcome{events: jsonOf(r.Events)}
}
