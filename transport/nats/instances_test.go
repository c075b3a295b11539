package nats

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// workload is the commands of one racing submitter: its actor joins, then
// turns its microphone on and off at random (some changes nothing), and, for
// the host, mutes everyone now and then. Outcomes depend on the order in
// which the session applies them, so a fork would show.
func workload(w, n int, rng *rand.Rand) []core.Command {
	actor := fmt.Sprintf("p%d", w)
	preset := "attendee"
	if w == 0 {
		preset = "host"
	}
	cmds := []core.Command{{ID: fmt.Sprintf("%s-0", actor), Type: core.Join, Actor: actor, Name: actor, Preset: preset, Audio: true}}
	for i := 1; i < n; i++ {
		c := core.Command{ID: fmt.Sprintf("%s-%d", actor, i), Type: core.SetAudio, Actor: actor, Enabled: rng.IntN(2) == 0}
		if w == 0 && i%4 == 0 {
			c = core.Command{ID: c.ID, Type: core.DisableAllAudio, Actor: actor}
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// answer is a command's outcome as its submitter heard it.
type answer struct {
	cmd core.Command
	res session.Result
	err error
}

// race submits the workloads of submitters goroutines to one session, each
// submitter's commands in order, and returns every answer; stop (if not
// nil) is called once, when half of them are in.
func race(t *testing.T, c *Client, id string, submitters, each int, halfway func()) []answer {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []answer
		once    sync.Once
	)
	for w := range submitters {
		cmds := workload(w, each, rand.New(rand.NewPCG(uint64(w), 7)))
		wg.Go(func() {
			for _, cmd := range cmds {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				res, err := c.Submit(ctx, id, cmd)
				cancel()
				mu.Lock()
				answers = append(answers, answer{cmd, res, err})
				if len(answers) == submitters*each/2 && halfway != nil {
					once.Do(halfway)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return answers
}

// checkLog checks a session's log against what its submitters were told:
// event seqs from 1 without a gap, every command once, and every answered
// command's events exactly those of its record (no fork: nobody was told
// of events the log does not hold). It returns the state the log folds to.
func checkLog(t *testing.T, st *Store, id string, answers []answer) core.State {
	t.Helper()
	h, err := st.Header(testwait.Context(t), id)
	if err != nil {
		t.Fatal(err)
	}
	state := core.NewState(id, h.Presets)
	logged := map[string]sessionlog.Record{}
	for _, r := range readLog(t, st, id, 1) {
		if _, dup := logged[r.Command.ID]; dup {
			t.Fatalf("command %s is in the log twice", r.Command.ID)
		}
		logged[r.Command.ID] = r
		// The record is what the reducer decides at this point of the log.
		evs, err := reducer.Decide(state, r.Command)
		if code, _ := core.CodeOf(err); r.Err != nil && code == r.Err.Code {
			continue // rejected, as recorded
		}
		if err != nil || r.Err != nil {
			t.Fatalf("record of command %s (error %v): the reducer decides %v here", r.Command.ID, r.Err, err)
		}
		if diff := cmp.Diff(jsonOf(evs), jsonOf(r.Events)); diff != "" {
			t.Fatalf("record of command %s (-decided +logged):\n%s", r.Command.ID, diff)
		}
		state = reducer.Fold(state, r.Events)
	}
	for _, a := range answers {
		r, ok := logged[a.cmd.ID]
		if ce, rejected := errors.AsType[*core.Error](a.err); rejected {
			if !ok || r.Err == nil || r.Err.Code != ce.Code {
				t.Errorf("command %s was answered %v; the log has %+v", a.cmd.ID, ce, r)
			}
			continue
		}
		if a.err != nil {
			t.Errorf("command %s was not answered: %v", a.cmd.ID, a.err)
			continue
		}
		if !ok || r.Err != nil {
			t.Errorf("command %s was answered %s; the log has %+v", a.cmd.ID, jsonOf(a.res.Events), r)
			continue
		}
		if diff := cmp.Diff(jsonOf(r.Events), jsonOf(a.res.Events)); diff != "" {
			t.Errorf("command %s: answer and log differ (-logged +answered):\n%s", a.cmd.ID, diff)
		}
	}
	if len(logged) != len(answers) {
		t.Errorf("the log holds %d commands, %d were submitted", len(logged), len(answers))
	}
	return state
}

// liveState is the state of session id in node n.
func liveState(t *testing.T, n *Node, id string) core.State {
	t.Helper()
	s, err := n.Manager().Session(testwait.Context(t), id)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.State(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTwoInstances races 1,000 commands at one session through two gavel
// instances on one server: their runtimes contend for the same log subject
// and only the expected-sequence check keeps them apart.
func TestTwoInstances(t *testing.T) {
	srv := startServer(t)
	opts := []NodeOption{WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets))}
	a, b := startNode(t, opts...), startNode(t, opts...)
	c := newClient(t, connect(t, srv.ClientURL()))
	answers := race(t, c, "room-1", 25, 40, nil)
	want := checkLog(t, a.Store(), "room-1", answers)
	for i, n := range []*Node{a, b} {
		// An instance learns of the other's commands at its next append:
		// a command that changes nothing, straight to its manager, makes
		// each catch up.
		p1, _ := want.Participant("p1")
		sync := core.Command{ID: fmt.Sprintf("sync-%d", i), Type: core.SetAudio, Actor: "p1", Enabled: p1.AudioEnabled}
		if _, err := n.Manager().Submit(testwait.Context(t), "room-1", sync); err != nil {
			t.Fatal(err)
		}
		if got := liveState(t, n, "room-1"); !got.Equal(want) {
			t.Errorf("instance %d's state is not the log's:\n%s\nwant\n%s", i, events.AppendState(nil, got), events.AppendState(nil, want))
		}
	}
	t.Logf("%d commands, seq %d, %d wrong-sequence answers", len(answers), want.Seq(),
		a.Store().wrongSeq.Load()+b.Store().wrongSeq.Load())
}
