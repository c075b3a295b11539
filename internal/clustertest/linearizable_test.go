package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/clustertest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

const room = "room-1"

// caller is a client of the history: it sends one attempt of a command,
// through node (a connection to it, or to its NATS server), calling sent
// once the attempt is on its way.
type caller interface {
	attempt(ctx context.Context, node int, cmd core.Command, sent func(node int)) (outcome, error)
}

func (n *natsClient) attempt(ctx context.Context, node int, cmd core.Command, sent func(int)) (outcome, error) {
	sent(node)
	return n.submit(ctx, node, cmd)
}

// TestLinearizable runs one session on three gavel nodes of a NATS
// cluster (R3 stream): eight clients, half of them participants on
// websocket and half trusted services on NATS, spread across the nodes,
// send the commands gaveltest.Clients draws (host actions among them),
// each its own one at a time. An attempt without an answer is sent again,
// same id, through another node; a quarter of the answered commands are
// sent again through another node too, and must be answered with their
// first outcome. The session is one whose home is the node whose server
// leads the stream, so every node routes its commands to that node. A
// third of the way in, that node is stopped while a command is on its way to it (subtest stop:
// goodbye shutdown, its service drained), or killed the moment its store
// has appended a record, before its runtime answers (subtest kill: sockets
// cut, its NATS connection closed, the commands in flight there
// unanswered, one of them stored); two thirds in, it comes back.
//
// Then: the history of calls (start, end, command, outcome) is
// linearizable against the reducer (gaveltest.CheckHistory); every answer
// is the log's, and every answered command is in the log once
// (gaveltest.CheckRecords, CheckAnswers): none acknowledged is lost; the
// log, read through a client as replay -verify reads it, verifies
// (sessionlog.Verify); and every client's event stream, across its
// reconnections to other nodes (each a resume from the last seq it had),
// is exactly the log's events: same seqs, same events, none twice, none
// missing (gaveltest.CheckEvents and a diff).
func TestLinearizable(t *testing.T) {
	for _, fault := range []string{"stop", "kill"} {
		t.Run(fault, func(t *testing.T) { runHistory(t, fault) })
	}
}

func runHistory(t *testing.T, fault string) {
	const clients, each = 8, 30
	var (
		victim    atomic.Int64 // the node the fault hits: its server leads the stream
		total     = clients * each
		answered  atomic.Int64
		faultOnce sync.Once
		faulted   = make(chan string, 1)
		restart   = make(chan struct{})
		restarted = make(chan struct{})
		c         *clustertest.Cluster
	)
	victim.Store(-1)
	// The fault, once, a third of the way in: stop the victim with a
	// command on its way to it, or kill it as soon as it has stored a
	// record, before it answers; then restart it two thirds in.
	faultAt := func(node int, how string, stop func()) {
		if node != int(victim.Load()) || answered.Load() < int64(total/3) {
			return
		}
		faultOnce.Do(func() {
			go func() {
				stop()
				faulted <- fmt.Sprintf("%s node %d (the stream leader) %s, at %s", fault, node, how, time.Now().Format("15:04:05.000"))
				select {
				case <-restart:
				case <-time.After(testwait.Limit):
				}
				c.Restart(t, node)
				t.Logf("restarted node %d at %s", node, time.Now().Format("15:04:05.000"))
				close(restarted)
			}()
		})
	}
	sent := func(node int) {
		if fault == "stop" {
			faultAt(node, "with a command on its way to it", func() { c.Stop(t, node) })
		}
	}
	var killOnce sync.Once
	workloads := gaveltest.Clients(presets, clients, each).Example(13)
	onWS := map[string]bool{} // the websocket clients' participants
	for i := 0; i < clients; i += 2 {
		onWS[workloads[i][0].Actor] = true
	}
	appended := func(node int, rec sessionlog.Record, err error) {
		// A websocket client's: the NATS client sends again by itself.
		if fault != "kill" || err != nil || node != int(victim.Load()) || answered.Load() < int64(total/3) || !onWS[rec.Command.Actor] {
			return
		}
		killOnce.Do(func() {
			c.Kill(node) // in the runtime's append: stored, not answered
			faultAt(node, "once it had stored a websocket client's record, before it answered", func() {})
		})
	}
	c = clustertest.Start(t, presets, clustertest.WithWSOptions(ws.WithCommandRate(1000, 1000)),
		clustertest.WithStore(func(node int, st *gnats.Store) session.Store {
			return &hookStore{Store: st, node: node, after: appended}
		}))
	victim.Store(int64(leaderNode(t, c)))
	room := homedAt("room", int(victim.Load()))

	var (
		wss   []*wsClient
		natss []*natsClient
		cs    []caller
	)
	for i := range clients {
		if i%2 == 0 {
			w := newWSClient(c, room, "", "", uint64(i))
			wss = append(wss, w)
			cs = append(cs, w)
		} else {
			n := newNATSClient(t, c, room, uint64(i))
			natss = append(natss, n)
			cs = append(cs, n)
		}
	}
	for i, w := range wss {
		first := workloads[2*i][0]
		w.self, w.preset = first.Actor, first.Preset
		if err := w.dial(testwait.Context(t), w.node); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	var (
		mu       sync.Mutex
		calls    []gaveltest.Call
		repeats  []outcome // repeats of answered commands
		retries  int       // attempts after one without an answer
		failures []error
		wg       sync.WaitGroup
	)
	for i, cl := range cs {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		w, _ := cl.(*wsClient)
		wg.Go(func() {
			node := i % clustertest.Size
			for _, cmd := range workloads[i] {
				if w != nil && cmd.Type == core.Join && cmd.Preset != w.preset {
					// The token grants a preset: a join under another
					// needs a token for it (as the service would mint).
					w.preset = cmd.Preset
					w.drop()
				}
				call := time.Since(start)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				var out outcome
				var err error
				for {
					out, err = cl.attempt(ctx, node, cmd, sent)
					if !errors.Is(err, errNoAnswer) || ctx.Err() != nil {
						break
					}
					mu.Lock()
					retries++
					mu.Unlock()
					node = (node + 1 + rng.IntN(clustertest.Size-1)) % clustertest.Size
				}
				end := time.Since(start)
				var again outcome
				var againErr error
				if err == nil && rng.IntN(4) == 0 {
					// The same id through another node: its first outcome.
					node = (node + 1 + rng.IntN(clustertest.Size-1)) % clustertest.Size
					if w != nil {
						w.drop()
					}
					for {
						again, againErr = cl.attempt(ctx, node, cmd, sent)
						if !errors.Is(againErr, errNoAnswer) || ctx.Err() != nil {
							break
						}
						node = (node + 1 + rng.IntN(clustertest.Size-1)) % clustertest.Size
					}
				}
				cancel()
				if err != nil && !errors.Is(err, errNoAnswer) {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
				if err != nil {
					out = outcome{answer: gaveltest.Answer{Command: cmd, Err: err}}
				}
				mu.Lock()
				calls = append(calls, gaveltest.Call{Answer: out.answer, Client: i, Start: call, End: end, Seq: out.seq,
					EventsElsewhere: w != nil && len(out.answer.Events) == 0})
				switch {
				case againErr != nil:
					failures = append(failures, fmt.Errorf("%s sent again: %w", cmd.ID, againErr))
				case again.answer.Command.ID != "":
					repeats = append(repeats, again)
				}
				mu.Unlock()
				if n := answered.Add(1); n == int64(2*total/3) {
					close(restart)
				}
			}
		})
	}
	testwait.Wait(t, "the clients", wg.Wait)
	clientsDone := time.Since(start)
	t.Logf("%s", testwait.Recv(t, faulted, "the fault"))
	testwait.Recv(t, restarted, "the restart")
	restartDone := time.Since(start)
	for _, err := range failures {
		t.Error(err)
	}

	// The log, read from a node that ran throughout.
	other := c.Node((int(victim.Load()) + 1) % clustertest.Size)
	h, err := other.Store.Header(testwait.Context(t), room)
	if err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, other.Store, room)
	final, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]sessionlog.Record{}
	for _, r := range recs {
		logged[r.Command.ID] = r
	}
	folded := foldLog(core.NewState(room, h.Presets), recs)
	seqAfter, logEvents := folded.seqAfter, folded.events

	// Answers without their events (websocket) have the seq after the
	// command: it must be the log's; then the log's events stand for them.
	var answers []gaveltest.Answer
	fill := func(o outcome, elsewhere bool) gaveltest.Answer {
		a := o.answer
		r, ok := logged[a.Command.ID]
		if a.Err != nil || !ok {
			return a
		}
		if o.seq != seqAfter[a.Command.ID] {
			t.Errorf("%s was answered with seq %d; the log has it at seq %d", a.Command.ID, o.seq, seqAfter[a.Command.ID])
		}
		if elsewhere {
			a.Events = r.Events
		}
		return a
	}
	for _, cl := range calls {
		answers = append(answers, fill(outcome{answer: cl.Answer, seq: cl.Seq}, cl.EventsElsewhere))
	}
	dups := 0
	for _, o := range repeats {
		if !o.dup && o.answer.Err == nil {
			t.Errorf("%s sent again was applied again, not answered as a repeat", o.answer.Command.ID)
		}
		dups++
		answers = append(answers, fill(o, len(o.answer.Events) == 0))
	}
	if err := gaveltest.CheckAnswers(recs, answers); err != nil {
		t.Error(err)
	}
	stats, err := gaveltest.CheckHistory(h, recs, calls)
	if err != nil {
		t.Error(err)
	}

	// The log verifies as replay -verify reads it, through a client.
	lr, err := other.Client.ReadLog(testwait.Context(t), room)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := sessionlog.Verify(lr)
	lr.Close()
	if err != nil {
		t.Errorf("the log does not verify: %v", err)
	}

	// Every client's stream is the log's.
	start0 := core.NewState(room, h.Presets)
	for i, w := range wss {
		before := time.Now()
		if err := w.catchUp(testwait.Context(t), final.Seq()); err != nil {
			t.Fatal(err)
		}
		w.drop()
		for _, p := range w.problems {
			t.Error(p)
		}
		checkStream(t, fmt.Sprintf("websocket client %d (%s, %d connections)", i, w.self, w.welcomes), start0, w.events, final, logEvents)
		t.Logf("ws client %d caught up in %v", i, time.Since(before))
	}
	for i, n := range natss {
		before := time.Now()
		checkStream(t, fmt.Sprintf("NATS client %d", i), start0, n.collect(t, final.Seq()), final, logEvents)
		t.Logf("NATS client %d caught up in %v", i, time.Since(before))
	}
	var slowest time.Duration
	for _, w := range wss {
		slowest = max(slowest, w.slowest)
	}
	t.Logf("the clients were done after %v, the restart after %v, the checks after %v; the slowest welcome took %v",
		clientsDone, restartDone, time.Since(start), slowest)
	t.Logf("%d calls (%d unanswered, in the log; %d never answered, not in it), %d attempts sent again after no answer, %d repeats answered with the first outcome; seq %d, %d records",
		stats.Calls, stats.Unanswered, stats.Dropped, retries, dups, sum.Seq, sum.Commands)
}

// checkStream checks a client's events from the start of the session: the
// log's, each once, in order.
func checkStream(t *testing.T, who string, from core.State, got []events.Event, to core.State, logged []events.Event) {
	t.Helper()
	if err := gaveltest.CheckEvents(from, got, to); err != nil {
		t.Errorf("%s: %v", who, err)
	}
	if diff := cmp.Diff(string(events.AppendEvents(nil, logged)), string(events.AppendEvents(nil, got))); diff != "" {
		t.Errorf("%s's events are not the log's (-log +got):\n%s", who, diff)
	}
}
