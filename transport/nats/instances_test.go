package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
)

// race submits the commands of submitters clients of one session
// (gaveltest.Clients, the same every run), each client's in order, through
// c, and returns every answer; halfway (if not nil) is called once, when
// half of them are in.
func race(t *testing.T, c *Client, id string, submitters, each int, halfway func()) []gaveltest.Answer {
	t.Helper()
	return raceWith(t, 7, submitters, each, halfway, func(_ int, cmd core.Command) (session.Result, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		return c.Submit(ctx, id, cmd)
	})
}

// raceWith submits the commands of submitters clients of one session
// (gaveltest.Clients(presets, submitters, each).Example(seed), the same every
// run), client w's in order through submit(w, cmd), and returns every
// answer; halfway (if not nil) is called once, when half of them are in.
func raceWith(t *testing.T, seed, submitters, each int, halfway func(), submit func(w int, cmd core.Command) (session.Result, error)) []gaveltest.Answer {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []gaveltest.Answer
		once    sync.Once
	)
	for w, cmds := range gaveltest.Clients(presets, submitters, each).Example(seed) {
		wg.Go(func() {
			for _, cmd := range cmds {
				res, err := submit(w, cmd)
				mu.Lock()
				answers = append(answers, gaveltest.Answer{Command: cmd, Events: res.Events, Err: err})
				if len(answers) == submitters*each/2 && halfway != nil {
					once.Do(halfway)
				}
				mu.Unlock()
			}
		})
	}
	testwait.Wait(t, "the submitters", wg.Wait)
	return answers
}

// checkLog checks a session's log (gaveltest.CheckRecords) against what its
// submitters were told, every one of them an outcome (gaveltest.CheckAnswers:
// every command once, nobody told of events the log does not hold), and
// returns the state the log folds to.
func checkLog(t *testing.T, st *Store, id string, answers []gaveltest.Answer) core.State {
	t.Helper()
	h, err := st.Header(testwait.Context(t), id)
	if err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, st, id, 1)
	state, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		if _, rejected := errors.AsType[*core.Error](a.Err); a.Err != nil && !rejected {
			t.Errorf("command %s was not answered: %v", a.Command.ID, a.Err)
		}
	}
	if err := gaveltest.CheckAnswers(recs, answers); err != nil {
		t.Error(err)
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

// TestTwoInstances races 1,024 commands at one session through two gavel
// instances on one server: their runtimes contend for the same log subject
// and only the expected-sequence check keeps them apart.
func TestTwoInstances(t *testing.T) {
	srv := startServer(t)
	opts := []NodeOption{WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets))}
	a, b := startNode(t, opts...), startNode(t, opts...)
	c := newClient(t, connect(t, srv.ClientURL()))
	answers := race(t, c, "room-1", 16, 64, nil)
	want := checkLog(t, a.Store(), "room-1", answers)
	for i, n := range []*Node{a, b} {
		// An instance follows the other's commands as they are stored; a
		// command that changes nothing (or is refused: bob may have left),
		// straight to its manager, is decided after every record before
		// it (followed, or read on a conflict), so that after it the
		// state is the log's without waiting for the follow stream.
		bob, _ := want.Participant("bob")
		sync := core.Command{ID: fmt.Sprintf("sync-%d", i), Type: core.SetAudio, Actor: "bob", Enabled: bob.AudioEnabled}
		if _, err := n.Manager().Submit(testwait.Context(t), "room-1", sync); err != nil && !errors.Is(err, core.ErrNotJoined) {
			t.Fatal(err)
		}
		if got := liveState(t, n, "room-1"); !got.Equal(want) {
			t.Errorf("instance %d's state is not the log's:\n%s\nwant\n%s", i, events.AppendState(nil, got), events.AppendState(nil, want))
		}
	}
	t.Logf("%d commands, seq %d, %d wrong-sequence answers", len(answers), want.Seq(),
		a.Store().wrongSeq.Load()+b.Store().wrongSeq.Load())
}
