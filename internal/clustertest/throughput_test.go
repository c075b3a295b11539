package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/clustertest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	gnats "github.com/gavelrtc/gavel/transport/nats"
)

// countingStore is a node's store that counts its appends (a batch's
// AppendBatch is one), the conflicts among them and its reads of the log (a conflict's reload, a session's
// open). It embeds the JetStream store, so the node still follows.
type countingStore struct {
	*gnats.Store
	appends, conflicts, reads          atomic.Int64
	appendTime, conflictTime, readTime atomic.Int64 // nanoseconds
}

func (s *countingStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	began := time.Now()
	pos, err := s.Store.Append(ctx, id, expected, rec)
	s.counted(began, err)
	return pos, err
}

// AppendBatch counts as one append: one write to the store.
func (s *countingStore) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	began := time.Now()
	pos, err := s.Store.AppendBatch(ctx, id, expected, recs)
	s.counted(began, err)
	return pos, err
}

// counted counts an append that began at began and ended with err.
func (s *countingStore) counted(began time.Time, err error) {
	s.appends.Add(1)
	s.appendTime.Add(int64(time.Since(began)))
	if errors.Is(err, session.ErrConflict) {
		s.conflicts.Add(1)
		s.conflictTime.Add(int64(time.Since(began)))
	}
}

func (s *countingStore) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		s.reads.Add(1)
		began := time.Now()
		defer func() { s.readTime.Add(int64(time.Since(began))) }()
		s.Store.Records(ctx, id, from)(yield)
	}
}

// counts is what a cluster's counting stores counted, summed over the
// nodes.
type counts struct {
	appends, conflicts, reads          int64
	appendTime, conflictTime, readTime time.Duration
}

// minus is what c counted since b.
func (c counts) minus(b counts) counts {
	return counts{
		appends: c.appends - b.appends, conflicts: c.conflicts - b.conflicts, reads: c.reads - b.reads,
		appendTime: c.appendTime - b.appendTime, conflictTime: c.conflictTime - b.conflictTime, readTime: c.readTime - b.readTime,
	}
}

func countAll(stores []*countingStore) counts {
	var c counts
	for _, s := range stores {
		c.appends += s.appends.Load()
		c.conflicts += s.conflicts.Load()
		c.reads += s.reads.Load()
		c.appendTime += time.Duration(s.appendTime.Load())
		c.conflictTime += time.Duration(s.conflictTime.Load())
		c.readTime += time.Duration(s.readTime.Load())
	}
	return c
}

// TestFigureThroughput measures issue 13's throughput figure: one
// session's committed commands per second with n concurrent submitters
// (each its own participant, toggling its microphone, one command at a
// time) all through one node, against the same submitters spread over the
// three nodes (a third each), on the same three-node cluster (R3 stream)
// in one run, the nodes routing each command to the session's home. The
// one node of a 1-node round is the session's home (the session is chosen
// so), the best a single node can do: its commands are decided where they
// are submitted; spread, two thirds of them cross to the home. Submitters
// go through the node's Manager ("manager"), through a NATS Client on the
// node's server, whose command the node's service takes ("nats"), or
// through such a Client WithDirectToHome ("nats-direct"). In all, every
// node has a subscriber to the session (as websocket clients on every
// node would), so every node follows it. Rounds alternate the two
// spreads (the order flipped every round), each on a fresh session whose
// participants join before the clock starts; the home goes round the
// three nodes. It reports commands/s, the process's CPU time per command
// (the NATS servers run in it), the conflicts (appends refused for a
// wrong expected sequence), the appends and log reads per command and the
// time spent in them, and the ratio 3-node ÷ 1-node. A figure: no time
// decides anything, but every round's log must hold every command once,
// as its submitter was told (gaveltest.CheckRecords, CheckAnswers), and
// every node's subscriber must have had the log's events, each once
// (gaveltest.CheckEvents). Runs only with GAVEL_FIGURES=1; with
// GAVEL_ROUTING=off the nodes do not route (each decides what it is
// given, as before routing):
//
//	GAVEL_FIGURES=1 go test -run TestFigureThroughput -v ./internal/clustertest/
func TestFigureThroughput(t *testing.T) {
	if os.Getenv("GAVEL_FIGURES") != "1" {
		t.Skip("a figure: run with GAVEL_FIGURES=1")
	}
	const rounds, commands = 12, 3072 // timed commands per round

	var stores []*countingStore
	var mu sync.Mutex
	opts := []clustertest.Option{clustertest.WithStore(func(node int, st *gnats.Store) session.Store {
		cs := &countingStore{Store: st}
		mu.Lock()
		stores = append(stores, cs)
		mu.Unlock()
		return cs
	})}
	if os.Getenv("GAVEL_ROUTING") == "off" { // the deciders of before, for comparison
		opts = append(opts, clustertest.WithoutRouting())
	}
	c := clustertest.Start(t, presets, opts...)
	t.Logf("the stream's leader is node %d's server", leaderNode(t, c))
	for _, via := range []string{"manager", "nats", "nats-direct"} {
		for _, n := range []int{16, 64} {
			throughputRounds(t, c, stores, via, n, rounds, commands)
		}
	}
}

// throughputRounds runs TestFigureThroughput's rounds for n submitters
// through via and reports them.
func throughputRounds(t *testing.T, c *clustertest.Cluster, stores []*countingStore, via string, n, rounds, commands int) {
	var one, three []float64
	var ratios []float64
	for r := range rounds {
		var rate [2]float64
		for k := range 2 {
			spread := []int{1, 3}[(r+k)%2]
			nodes := []int{r % clustertest.Size}
			if spread == 3 {
				nodes = []int{0, 1, 2}
			}
			id := homedAt(fmt.Sprintf("tput-%s-%d-%d-%d", via, n, r, spread), r%clustertest.Size)
			before := countAll(stores)
			res := throughputRound(t, c, id, n, commands/n, nodes, via)
			d := countAll(stores).minus(before)
			cps := float64(commands) / res.elapsed.Seconds()
			t.Logf("%s n=%2d round %d  %d node(s) %v (home %s): %6.0f commands/s  %4.0f µs CPU per command  %4d conflicts  %.2f appends and %.3f reads per command  %d sent again (%d gave up on conflicts)",
				via, n, r, spread, nodes, clustertest.Home(id), cps, float64(res.cpu.Microseconds())/float64(commands), d.conflicts,
				float64(d.appends)/float64(res.answers), float64(d.reads)/float64(res.answers), res.again, res.gaveUp)
			t.Logf("        wall %v; in appends %v (%v per append), in conflicting ones %v, in reads %v (%v per read)",
				res.elapsed.Round(time.Millisecond), d.appendTime.Round(time.Millisecond), (d.appendTime / time.Duration(max(d.appends, 1))).Round(time.Microsecond),
				d.conflictTime.Round(time.Millisecond), d.readTime.Round(time.Millisecond), (d.readTime / time.Duration(max(d.reads, 1))).Round(time.Microsecond))
			if spread == 1 {
				one, rate[0] = append(one, cps), cps
			} else {
				three, rate[1] = append(three, cps), cps
			}
		}
		ratios = append(ratios, rate[1]/rate[0])
	}
	t.Logf("%s n=%d: 1 node median %.0f commands/s, 3 nodes median %.0f: ratio of medians %.2f, median of the rounds' ratios %.2f (range %.2f–%.2f)",
		via, n, median(one), median(three), median(three)/median(one), median(ratios), slices.Min(ratios), slices.Max(ratios))
}

// homedAt returns the first of prefix-0, prefix-1, … whose home is node
// i.
func homedAt(prefix string, i int) string {
	for k := 0; ; k++ {
		if id := prefix + "-" + strconv.Itoa(k); clustertest.Home(id) == clustertest.NodeName(i) {
			return id
		}
	}
}

// roundResult is what a round of TestFigureThroughput measured.
type roundResult struct {
	elapsed time.Duration // of the timed commands
	answers int           // attempts, joins included
	cpu     time.Duration // the process's CPU time meanwhile (the NATS servers' too)
	again   int           // attempts sent again after an error that was no outcome
	gaveUp  int           // of them, the runtime gave up after its conflict retries
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// throughputRound runs one round on session id: n submitters, submitter w
// through node nodes[w%len(nodes)]'s Manager, join (untimed), then each
// sends each toggles of its microphone, one at a time; it returns the
// time from the first toggle to the last answer, once the session's log
// has been checked against the answers.
func throughputRound(t *testing.T, c *clustertest.Cluster, id string, n, each int, nodes []int, via string) roundResult {
	t.Helper()
	var (
		mu      sync.Mutex
		answers []gaveltest.Answer
		again   int
		gaveUp  int
	)
	type submitter func(ctx context.Context, id string, cmd core.Command) (session.Result, error)
	direct := make([]*gnats.Client, clustertest.Size)
	for i := range direct {
		var err error
		if direct[i], err = gnats.NewClient(c.Node(i).Conn, gnats.WithDirectToHome()); err != nil {
			t.Fatal(err)
		}
	}
	through := func(w int) submitter {
		i := nodes[w%len(nodes)]
		switch via {
		case "nats":
			return c.Node(i).Client.Submit
		case "nats-direct":
			return direct[i].Submit
		}
		return c.Node(i).Manager.Submit
	}
	submit := func(m submitter, cmd core.Command) {
		for {
			res, err := m(testwait.Context(t), id, cmd)
			mu.Lock()
			answers = append(answers, gaveltest.Answer{Command: cmd, Events: res.Events, Err: err})
			_, rejected := errors.AsType[*core.Error](err)
			retry := err != nil && !rejected && !errors.Is(err, session.ErrPermanent) && t.Context().Err() == nil
			if retry {
				again++
				if errors.Is(err, session.ErrConflict) {
					gaveUp++
				}
			}
			mu.Unlock()
			if !retry {
				if err != nil && !rejected {
					t.Errorf("%s: %v", cmd.ID, err)
				}
				return
			}
		}
	}
	actor := func(w int) string { return "p" + strconv.Itoa(w) }
	var wg sync.WaitGroup
	for w := range n {
		m := through(w)
		wg.Go(func() {
			submit(m, core.Command{ID: actor(w) + "-join", Type: core.Join, Actor: actor(w), Name: actor(w), Preset: "host"})
		})
	}
	testwait.Wait(t, "the joins", wg.Wait)
	watchers := make([]*watcher, clustertest.Size)
	for i := range watchers {
		watchers[i] = watch(t, c.Node(i).Manager, id)
	}
	start := make(chan struct{})
	for w := range n {
		m := through(w)
		wg.Go(func() {
			<-start
			for i := 1; i <= each; i++ {
				submit(m, core.Command{ID: actor(w) + "-" + strconv.Itoa(i), Type: core.SetAudio, Actor: actor(w), Enabled: i%2 == 1})
			}
		})
	}
	runtime.GC() // the last round's garbage is not this round's work
	began, cpu := time.Now(), cpuTime(t)
	close(start)
	testwait.Wait(t, "the submitters", wg.Wait)
	elapsed, cpu := time.Since(began), cpuTime(t)-cpu

	st := c.Node(nodes[0]).Store
	h, err := st.Header(testwait.Context(t), id)
	if err != nil {
		t.Fatal(err)
	}
	recs := readLog(t, st, id)
	final, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow)
	if err != nil {
		t.Fatalf("session %s: %v", id, err)
	}
	if err := gaveltest.CheckAnswers(recs, answers); err != nil {
		t.Fatalf("session %s: %v", id, err)
	}
	if want := n * (each + 1); len(recs) != want {
		t.Fatalf("session %s: %d records, want %d (a command each)", id, len(recs), want)
	}
	for i, w := range watchers {
		if err := w.check(t, final); err != nil {
			t.Fatalf("session %s: node %d's subscriber: %v", id, i, err)
		}
	}
	return roundResult{elapsed: elapsed, cpu: cpu, answers: len(answers), again: again, gaveUp: gaveUp}
}

// watcher is a subscriber of a session on one node, as a websocket
// client there has one: so every node follows the session, whichever
// nodes the commands go through.
type watcher struct {
	from     core.State
	events   []events.Event
	err      error
	seq      atomic.Uint64
	progress chan struct{} // a value after seq moved on
	stop     context.CancelFunc
	done     chan struct{}
}

func watch(t *testing.T, m *session.Manager, id string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	from, sub, err := m.Watch(testwait.Context(t), id)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &watcher{from: from, stop: cancel, done: make(chan struct{}), progress: make(chan struct{}, 1)}
	w.seq.Store(from.Seq())
	go func() {
		defer close(w.done)
		defer sub.Close()
		for {
			ev, err := sub.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.err = err
				}
				return
			}
			w.events = append(w.events, ev)
			w.seq.Store(ev.Sequence())
			select {
			case w.progress <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

// check waits for the watcher to reach final's seq, stops it and checks
// its events: final's, after its watch's state, each once, none missing.
func (w *watcher) check(t *testing.T, final core.State) error {
	t.Helper()
	ctx := testwait.Context(t)
wait:
	for w.seq.Load() < final.Seq() {
		select {
		case <-w.progress:
		case <-w.done:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	w.stop()
	<-w.done
	if w.err != nil {
		return w.err
	}
	return gaveltest.CheckEvents(w.from, w.events, final)
}

// leaderNode waits until the stream has a leader and two current
// followers (NATS.StreamLeader), and returns the node whose server leads
// it.
func leaderNode(t *testing.T, c *clustertest.Cluster) int {
	t.Helper()
	leader := c.NATS.StreamLeader(t, c.Node(0).Conn, gnats.DefaultStream, 2)
	for i, s := range c.NATS.Servers() {
		if s == leader {
			return i
		}
	}
	return -1
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
