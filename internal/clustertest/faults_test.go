package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/clustertest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	gnats "github.com/gavelrtc/gavel/transport/nats"
)

// hookStore is a node's store with hooks around each append: before it
// (an error fails the append, nothing stored) and after it. It embeds the
// JetStream store, so the node still follows. after learns whether the
// append stored the record: one that conflicted did not.
type hookStore struct {
	*gnats.Store
	node   int
	before func(node int, rec sessionlog.Record) error
	after  func(node int, rec sessionlog.Record, err error)
}

func (s *hookStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	if s.before != nil {
		if err := s.before(s.node, rec); err != nil {
			return 0, err
		}
	}
	pos, err := s.Store.Append(ctx, id, expected, rec)
	if s.after != nil {
		s.after(s.node, rec, err)
	}
	return pos, err
}

// TestKilledMidCommand kills the session's home while it decides a
// command, before the command's record is stored and after it, for a
// websocket client and a NATS client each. A client of the home (subtests
// "home") is never answered: it sends the command again, same id, through
// another node. A client of another node (subtests "routed"), whose node
// routed the command to the home, is answered by its own node once the
// home gives no answer (transport/nats.WithForwardTimeout). Either way
// the command has one outcome: applied once (a repeat of the stored one,
// or applied on another node for the lost one: for a NATS command, perhaps
// by the node that had routed an earlier attempt to the home, so that the
// answer the client gets is a repeat), as the log says, the log
// holding the id once; the websocket client's stream, resumed on the
// other node, is the log's.
func TestKilledMidCommand(t *testing.T) {
	if clustertest.Home(room) != clustertest.NodeName(0) {
		t.Fatalf("the home of %s is %s: the test takes it to be node 0", room, clustertest.Home(room))
	}
	for _, at := range []int{0, 1} {
		for _, stored := range []bool{false, true} {
			for _, via := range []string{"websocket", "nats"} {
				name := fmt.Sprintf("%s/%s/stored=%v", []string{"home", "routed"}[at], via, stored)
				t.Run(name, func(t *testing.T) { killMidCommand(t, via, stored, at) })
			}
		}
	}
}

// killMidCommand runs a subtest of TestKilledMidCommand whose client is
// on node at.
func killMidCommand(t *testing.T, via string, stored bool, at int) {
	const id = "mid-1"
	var (
		c      *clustertest.Cluster
		once   sync.Once
		killed = make(chan int, 1)
	)
	// One kill: of the node that decides the command first (the one the
	// websocket client is on; the one the NATS queue group gave the
	// request to), before or after it stores it. The runtime may try a
	// failed append again, and the client's retry reaches another node.
	kill := func(node int) (now bool) {
		once.Do(func() {
			c.Kill(node)
			killed <- node
			now = true
		})
		return now
	}
	hook := &hookStore{}
	if stored {
		hook.after = func(node int, rec sessionlog.Record, err error) {
			if rec.Command.ID == id && err == nil { // stored, not a conflict the runtime tries again
				kill(node)
			}
		}
	} else {
		hook.before = func(node int, rec sessionlog.Record) error {
			if rec.Command.ID == id && kill(node) {
				return errors.New("killed")
			}
			return nil
		}
	}
	c = clustertest.Start(t, presets, clustertest.WithStore(func(node int, st *gnats.Store) session.Store {
		return &hookStore{Store: st, node: node, before: hook.before, after: hook.after}
	}))
	ctx := testwait.Context(t)
	w := newWSClient(c, room, "alice", "host", uint64(at)) // on node at
	if err := w.dial(ctx, at); err != nil {
		t.Fatal(err)
	}
	join := core.Command{ID: "a1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true}
	if _, err := w.attempt(ctx, at, join, nil); err != nil {
		t.Fatal(err)
	}
	n := newNATSClient(t, c, room, uint64(at)) // its attempts through server at reach node at
	bob := core.Command{ID: "b1", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true}
	if _, err := n.submit(ctx, at, bob); err != nil {
		t.Fatal(err)
	}

	cmd := core.Command{ID: id, Type: core.DisableAudio, Actor: "alice", Target: "bob"}
	var out outcome
	var err error
	switch {
	case at != 0: // routed to the home, which is killed: answered here
		if via == "websocket" {
			out, err = w.attempt(ctx, at, cmd, nil)
		} else {
			out, err = n.submit(ctx, at, cmd)
		}
	case via == "websocket":
		if _, err = w.attempt(ctx, 0, cmd, nil); !errors.Is(err, errNoAnswer) {
			t.Fatalf("the attempt on the killed node was answered: %v", err)
		}
		out, err = w.attempt(ctx, 1, cmd, nil) // reconnects to node 1, resuming
	default:
		// The client itself sends the command again when an attempt is not
		// answered; its connection moves to another server.
		if out, err = n.submit(ctx, 0, cmd); errors.Is(err, errNoAnswer) {
			out, err = n.submit(ctx, 1, cmd)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	victim := testwait.Recv(t, killed, "the kill")
	if victim != 0 {
		t.Fatalf("node %d was killed, not the home", victim)
	}

	recs := readLog(t, c.Node((victim+1)%clustertest.Size).Store, room)
	folded := foldLog(core.NewState(room, presets), recs)
	var mid []sessionlog.Record
	for _, r := range recs {
		if r.Command.ID == id {
			mid = append(mid, r)
		}
	}
	if len(mid) != 1 {
		t.Fatalf("the log holds %s %d times", id, len(mid))
	}
	if out.answer.Err != nil || out.seq != folded.seqAfter[id] {
		t.Errorf("%s was answered %v at seq %d; the log has it applied at seq %d", id, out.answer.Err, out.seq, folded.seqAfter[id])
	}
	// A repeat when the killed home stored it. When it did not, a NATS
	// command may still have been stored before the answer the client got:
	// by a node the queue group gave an earlier attempt to, which routed it
	// to the killed home and, unanswered, decided it itself (once, as the
	// log says: checked above).
	if out.dup != stored && (via != "nats" || stored) {
		t.Errorf("the answer after the kill is a repeat: %v, want %v (the first attempt stored: %v)", out.dup, stored, stored)
	}
	if len(out.answer.Events) > 0 {
		if err := gaveltest.CheckAnswers(mid, []gaveltest.Answer{out.answer}); err != nil {
			t.Error(err)
		}
	}
	if err := w.catchUp(ctx, folded.final.Seq()); err != nil {
		t.Fatal(err)
	}
	w.drop()
	for _, p := range w.problems {
		t.Error(p)
	}
	checkStream(t, "the websocket client", core.NewState(room, presets), w.events, folded.final, folded.events)
	c.Restart(t, victim)
}

// readLog reads session id's log from st.
func readLog(t *testing.T, st *gnats.Store, id string) []sessionlog.Record {
	t.Helper()
	var recs []sessionlog.Record
	for r, err := range st.Records(testwait.Context(t), id, 1) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// logFold is a session's log folded from the session's start.
type logFold struct {
	final    core.State
	seqAfter map[string]uint64 // the session's seq after each command's record
	events   []events.Event    // every record's, in order
}

// foldLog folds recs, a session's log, from the state from.
func foldLog(from core.State, recs []sessionlog.Record) logFold {
	l := logFold{final: from, seqAfter: map[string]uint64{}}
	for _, r := range recs {
		l.final = reducer.Fold(l.final, r.Events)
		l.seqAfter[r.Command.ID] = l.final.Seq()
		l.events = append(l.events, r.Events...)
	}
	return l
}

// TestResumeOnAnotherNode: a websocket client has events from one node
// and at once resumes on another with the seq it has, twenty times, the
// nodes in turn: each welcome resumes from that seq (the other node, a
// moment behind the log, waits for it), and the client's stream is the
// log's, each event once. A seq beyond the log is taken for none the
// session had: a fresh state, after the wait.
func TestResumeOnAnotherNode(t *testing.T) {
	c := clustertest.Start(t, presets)
	ctx := testwait.Context(t)
	host := core.Command{ID: "h0", Type: core.Join, Actor: "host", Name: "Host", Preset: "host", Audio: true}
	if _, err := c.Node(0).Manager.Submit(ctx, room, host); err != nil {
		t.Fatal(err)
	}
	// Every node has the session open, following the log.
	for i := range clustertest.Size {
		sub, err := c.Node(i).Manager.Subscribe(ctx, room, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	w := newWSClient(c, room, "viewer", "attendee", 0)
	if err := w.dial(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		ctx := testwait.Context(t)
		node := round % clustertest.Size
		// The host's command on the client's node: its event reaches the
		// client there, and the next node a moment later.
		cmd := core.Command{ID: fmt.Sprint("h", round+1), Type: core.SetAudio, Actor: "host", Enabled: round%2 == 1}
		res, err := c.Node(node).Manager.Submit(ctx, room, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.catchUp(ctx, res.Seq); err != nil {
			t.Fatal(err)
		}
		if err := w.dial(ctx, (node+1)%clustertest.Size); err != nil {
			t.Fatal(err)
		}
	}
	folded := foldLog(core.NewState(room, presets), readLog(t, c.Node(0).Store, room))
	s := folded.final
	if err := w.catchUp(ctx, s.Seq()); err != nil {
		t.Fatal(err)
	}
	for _, p := range w.problems {
		t.Error(p)
	}
	checkStream(t, "the client", core.NewState(room, presets), w.events, s, folded.events)

	// A seq the session never had: a fresh state at the session's seq.
	w.seq += 1000
	w.problems = nil
	if err := w.dial(testwait.Context(t), 1); err != nil {
		t.Fatal(err)
	}
	w.drop()
	if want := fmt.Sprintf("at seq %d, resumed false", s.Seq()); len(w.problems) != 1 || !strings.Contains(w.problems[0].Error(), want) {
		t.Errorf("a resume from beyond the log: %v, want a welcome %s", w.problems, want)
	}
}
