package session_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

var presets = storetest.Presets

var equateEmpty = cmpopts.EquateEmpty()

func newClock() *fake.Clock { return fake.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) }

// open opens session id in st, closed when the test ends.
func open(t testing.TB, id string, st session.Store, opts ...session.Option) *session.Session {
	t.Helper()
	s, err := session.Open(testwait.Context(t), id, st, append([]session.Option{session.WithPresets(presets)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { s.Close(ctx) })
	return s
}

func joinCmd(id, actor, preset string) core.Command {
	return core.Command{ID: id, Type: core.Join, Actor: actor, Name: actor, Preset: preset, Audio: true, Video: true}
}

func audioCmd(id, actor string, on bool) core.Command {
	return core.Command{ID: id, Type: core.SetAudio, Actor: actor, Enabled: on}
}

func submit(t testing.TB, s *session.Session, cmd core.Command) session.Result {
	t.Helper()
	res, err := s.Submit(testwait.Context(t), cmd)
	if err != nil {
		t.Fatalf("Submit(%+v): %v", cmd, err)
	}
	return res
}

// smallBuffers sets a subscriber's buffer, the recent events a session
// keeps and the catch-up batch all to n, so that a subscriber resuming after
// a cut-off reads the store.
func smallBuffers(n int, opts ...session.Option) []session.Option {
	return append(opts, session.WithSubscriberBuffer(n), session.WithRecentEvents(n), session.WithCatchUpBatch(n))
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// logOf reads every record of a session from st.
func logOf(t tb, st session.Store, id string) []sessionlog.Record {
	t.Helper()
	var out []sessionlog.Record
	for r, err := range st.Records(context.Background(), id, 1) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// checkLog checks the log of session id, written by runtimes with the
// default idempotency window (gaveltest.CheckRecords), and returns the
// state it folds to.
func checkLog(t tb, id string, recs []sessionlog.Record) core.State {
	t.Helper()
	st, err := gaveltest.CheckRecords(sessionlog.Header{Session: id, Presets: presets}, recs, session.DefaultIdempotencyWindow)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSubmit(t *testing.T) {
	st := session.NewMemStore()
	clk := newClock()
	s := open(t, "room-1", st, session.WithClock(clk.Now))
	res := submit(t, s, joinCmd("c1", "alice", "host"))
	want := session.Result{
		Events: []events.Event{&events.ParticipantJoined{Seq: 1, Participant: "alice", Name: "alice", Preset: "host", AudioEnabled: true, VideoEnabled: true}},
		Seq:    1,
		At:     clk.Now(),
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	clk.Advance(time.Second)
	// A command that changes nothing: no event, but a record.
	res = submit(t, s, audioCmd("c2", "alice", true))
	if diff := cmp.Diff(session.Result{Seq: 1, At: clk.Now()}, res, equateEmpty); diff != "" {
		t.Errorf("Result of a command changing nothing (-want +got):\n%s", diff)
	}
	recs := logOf(t, st, "room-1")
	wantLog := []sessionlog.Record{
		{Pos: 1, At: clk.Now().Add(-time.Second), Command: joinCmd("c1", "alice", "host"), Events: want.Events},
		{Pos: 2, At: clk.Now(), Command: audioCmd("c2", "alice", true)},
	}
	if diff := cmp.Diff(wantLog, recs, equateEmpty); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	got, err := s.State(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if folded := checkLog(t, "room-1", recs); !got.Equal(folded) {
		t.Errorf("State is %+v, the log folds to %+v", got.Snapshot(), folded.Snapshot())
	}
}

func TestRejection(t *testing.T) {
	st := session.NewMemStore()
	s := open(t, "room-1", st)
	submit(t, s, joinCmd("c1", "host", "host"))
	submit(t, s, joinCmd("c2", "bob", "attendee"))
	res, err := s.Submit(testwait.Context(t), core.Command{ID: "c3", Type: core.Kick, Actor: "bob", Target: "host"})
	if !errors.Is(err, core.ErrPermissionDenied) {
		t.Fatalf("an attendee's kick: err = %v, want permission_denied", err)
	}
	if _, ok := errors.AsType[*core.Error](err); !ok {
		t.Errorf("a rejection is %T, want *core.Error", err)
	}
	if diff := cmp.Diff(session.Result{}, res, equateEmpty); diff != "" {
		t.Errorf("Result of a rejection (-want +got):\n%s", diff)
	}
	// The rejection is in the log, with its error and no event.
	recs := logOf(t, st, "room-1")
	if len(recs) != 3 || recs[2].Command.ID != "c3" || recs[2].Err == nil || recs[2].Err.Code != core.CodePermissionDenied ||
		len(recs[2].Events) != 0 || recs[2].At.IsZero() {
		t.Errorf("the log after a rejection: %+v, want the rejection last, with its error", recs)
	}
	if got, _ := s.State(testwait.Context(t)); !got.Equal(checkLog(t, "room-1", recs)) || got.Seq() != 2 {
		t.Errorf("a rejection changed the state: seq %d", got.Seq())
	}
	// A malformed command (check 1) is answered before the runtime decides
	// anything, as on the wire: it is not in the log.
	if _, err := s.Submit(testwait.Context(t), core.Command{ID: "c4", Type: "shout", Actor: "bob"}); !errors.Is(err, core.ErrInvalidCommand) {
		t.Errorf("a command of unknown type: err = %v, want invalid_command", err)
	}
	if n := len(logOf(t, st, "room-1")); n != 3 {
		t.Errorf("the log has %d records after a malformed command, want 3", n)
	}
	// An infrastructure error is never a *core.Error.
	s.Close(testwait.Context(t))
	_, err = s.Submit(testwait.Context(t), joinCmd("c5", "carol", "attendee"))
	if !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Submit after Close: err = %v, want ErrClosed", err)
	}
	if _, ok := errors.AsType[*core.Error](err); ok {
		t.Errorf("ErrClosed is a *core.Error")
	}
}

func TestIdempotency(t *testing.T) {
	st := session.NewMemStore()
	s := open(t, "room-1", st)
	first := submit(t, s, joinCmd("c1", "host", "host"))
	submit(t, s, audioCmd("c2", "host", false))
	// The same id again, even with another command: the original outcome.
	again := submit(t, s, audioCmd("c1", "host", true))
	first.Duplicate = true
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("resubmitted command (-first +again):\n%s", diff)
	}
	_, err1 := s.Submit(testwait.Context(t), core.Command{ID: "c3", Type: core.Pin, Actor: "nobody", Target: "host"})
	submit(t, s, joinCmd("c4", "nobody", "host"))
	res, err2 := s.Submit(testwait.Context(t), core.Command{ID: "c3", Type: core.Pin, Actor: "nobody", Target: "host"})
	if !errors.Is(err1, core.ErrNotJoined) || !cmp.Equal(err1, err2) || !res.Duplicate {
		t.Errorf("resubmitted rejection: first %v, again %v (duplicate %v)", err1, err2, res.Duplicate)
	}
	recs := logOf(t, st, "room-1")
	checkLog(t, "room-1", recs)
	if len(recs) != 4 || recs[2].Err == nil {
		t.Errorf("the log has %d records (%q), want 4, the rejection third", len(recs), commandIDs(recs))
	}
}

// TestIdempotencyConcurrent submits the same command from many goroutines
// at once: it is applied once, and all get its outcome.
func TestIdempotencyConcurrent(t *testing.T) {
	st := session.NewMemStore()
	s := open(t, "room-1", st)
	submit(t, s, joinCmd("c0", "host", "host"))
	var wg sync.WaitGroup
	results := make([]session.Result, 32)
	ctx := testwait.Context(t)
	for i := range results {
		wg.Go(func() {
			res, err := s.Submit(ctx, audioCmd("same", "host", false))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	originals := 0
	for _, r := range results {
		if !r.Duplicate {
			originals++
		}
		if r.Seq != 2 || len(r.Events) != 1 {
			t.Errorf("result %+v, want the event of seq 2", r)
		}
	}
	if originals != 1 {
		t.Errorf("%d results are not duplicates, want 1", originals)
	}
	if n := len(logOf(t, st, "room-1")); n != 2 {
		t.Errorf("the log has %d records, want 2", n)
	}
}

func TestIdempotencyWindow(t *testing.T) {
	st := session.NewMemStore()
	s := open(t, "room-1", st, session.WithIdempotencyWindow(3))
	submit(t, s, joinCmd("c0", "host", "host"))
	submit(t, s, audioCmd("c1", "host", false))
	for i := range 3 {
		submit(t, s, audioCmd(fmt.Sprintf("x%d", i), "host", i%2 == 0))
	}
	// c1 has left the window: it is applied again.
	if res := submit(t, s, audioCmd("c1", "host", false)); res.Duplicate || len(res.Events) != 1 {
		t.Errorf("a command out of the window: %+v, want applied anew", res)
	}
	if res := submit(t, s, audioCmd("x2", "host", true)); !res.Duplicate {
		t.Errorf("a command in the window: %+v, want a duplicate", res)
	}
}

// TestIdempotencyAcrossRestart reopens the session on the same store: the
// window is rebuilt from the log, rejections included, with and without a
// snapshot.
func TestIdempotencyAcrossRestart(t *testing.T) {
	for _, interval := range []uint64{0, 1, 3, 1000} {
		t.Run(fmt.Sprintf("snapshot=%d", interval), func(t *testing.T) {
			st := session.NewMemStore()
			opts := []session.Option{session.WithSnapshotInterval(interval), session.WithPresets(presets)}
			s, err := session.Open(testwait.Context(t), "room-1", st, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var cmds []core.Command
			var results []session.Result
			var errs []error
			for i := range 20 {
				cmd := audioCmd(fmt.Sprintf("c%d", i), "host", i%3 == 0) // some change nothing
				switch {
				case i == 0:
					cmd = joinCmd("c0", "host", "host")
				case i%5 == 2:
					cmd = core.Command{ID: cmd.ID, Type: core.Kick, Actor: "host", Target: "nobody"} // participant_not_found
				}
				res, err := s.Submit(testwait.Context(t), cmd)
				if err != nil && !errors.Is(err, core.ErrParticipantNotFound) {
					t.Fatal(err)
				}
				cmds, results, errs = append(cmds, cmd), append(results, res), append(errs, err)
			}
			if err := s.Close(testwait.Context(t)); err != nil {
				t.Fatal(err)
			}
			s = open(t, "room-1", st, opts...)
			// "nobody" joins: the rejections, sent again, keep their outcome.
			submit(t, s, joinCmd("j-nobody", "nobody", "attendee"))
			for i, cmd := range cmds {
				res, err := s.Submit(testwait.Context(t), cmd)
				want := results[i]
				want.Duplicate = true
				if diff := cmp.Diff(want, res, equateEmpty); diff != "" || !cmp.Equal(errs[i], err) {
					t.Fatalf("command %q after the restart: %v, then %v (-first +again):\n%s", cmd.ID, errs[i], err, diff)
				}
			}
			cmds = append(cmds, joinCmd("j-nobody", "nobody", "attendee"))
			recs := logOf(t, st, "room-1")
			checkLog(t, "room-1", recs)
			if len(recs) != len(cmds) {
				t.Errorf("the log has %d records, want %d", len(recs), len(cmds))
			}
		})
	}
}

func TestSubscribe(t *testing.T) {
	s := open(t, "room-1", session.NewMemStore())
	var all []events.Event
	for i := range 10 {
		cmd := audioCmd(fmt.Sprintf("c%d", i), "host", i%2 == 0)
		if i == 0 {
			cmd = joinCmd("c0", "host", "host")
		}
		all = append(all, submit(t, s, cmd).Events...)
	}
	for after := range uint64(len(all) + 1) {
		sub, err := s.Subscribe(testwait.Context(t), after)
		if err != nil {
			t.Fatal(err)
		}
		got := next(t, sub, len(all)-int(after))
		if diff := cmp.Diff(all[after:], got, equateEmpty); diff != "" {
			t.Errorf("Subscribe(%d) (-want +got):\n%s", after, diff)
		}
		sub.Close()
	}
	// Live events, after a subscription from the future.
	sub, err := s.Subscribe(testwait.Context(t), 12)
	if err != nil {
		t.Fatal(err)
	}
	var live []events.Event
	for i := range 4 {
		live = append(live, submit(t, s, audioCmd(fmt.Sprintf("d%d", i), "host", i%2 == 0)).Events...)
	}
	if diff := cmp.Diff(live[2:], next(t, sub, 2)); diff != "" {
		t.Errorf("Subscribe(12) (-want +got):\n%s", diff)
	}
}

// next reads n events from sub.
func next(t testing.TB, sub *session.Subscription, n int) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out []events.Event
	for range n {
		ev, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
	return out
}

// TestWatch takes a state and a subscription while commands run: the state
// plus the events that follow is the present state.
func TestWatch(t *testing.T) {
	s := open(t, "room-1", session.NewMemStore())
	submit(t, s, joinCmd("c0", "host", "host"))
	var wg sync.WaitGroup
	ctx := testwait.Context(t)
	wg.Go(func() {
		for i := range 200 {
			if _, err := s.Submit(ctx, audioCmd(fmt.Sprintf("c%d", i+1), "host", i%2 == 0)); err != nil {
				t.Error(err)
			}
		}
	})
	type watch struct {
		st  core.State
		sub *session.Subscription
	}
	var watches []watch
	for range 20 {
		st, sub, err := s.Watch(testwait.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		watches = append(watches, watch{st, sub})
	}
	wg.Wait()
	final, _ := s.State(testwait.Context(t))
	for _, w := range watches {
		evs := next(t, w.sub, int(final.Seq()-w.st.Seq()))
		if err := gaveltest.CheckEvents(w.st, evs, final); err != nil {
			t.Errorf("watch at seq %d: %v", w.st.Seq(), err)
		}
	}
}

// TestSlowSubscriber lets one subscriber fall behind: it is cut off after
// its queued events, the session and the other subscriber go on, and it
// resumes from its last seq with nothing missing or doubled.
func TestSlowSubscriber(t *testing.T) {
	s := open(t, "room-1", session.NewMemStore(), smallBuffers(4)...)
	submit(t, s, joinCmd("c0", "host", "host"))
	slow, err := s.Subscribe(testwait.Context(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Subscribe(testwait.Context(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	var want []events.Event
	for i := range 20 {
		evs := submit(t, s, audioCmd(fmt.Sprintf("c%d", i+1), "host", i%2 == 1)).Events
		want = append(want, evs...)
		// The fast one keeps up.
		if diff := cmp.Diff(evs, next(t, fast, len(evs))); diff != "" {
			t.Fatalf("fast subscriber (-want +got):\n%s", diff)
		}
	}
	var got []events.Event
	for {
		ev, err := slow.Next(testwait.Context(t))
		if errors.Is(err, session.ErrSlowSubscriber) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	// One command an event: the one it was at, and its buffer's 4 behind.
	if len(got) != 5 {
		t.Errorf("the slow subscriber got %d events before the cut-off, want 1+4", len(got))
	}
	if _, err := slow.Next(testwait.Context(t)); !errors.Is(err, session.ErrSlowSubscriber) {
		t.Errorf("Next after the cut-off: %v, want ErrSlowSubscriber again", err)
	}
	// Resume, reading what the buffer could not hold from the store.
	resumed, err := s.Subscribe(testwait.Context(t), slow.Seq())
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, next(t, resumed, len(want)-len(got))...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events before and after resuming (-want +got):\n%s", diff)
	}
}

func TestCloseEndsSubscriptions(t *testing.T) {
	s := open(t, "room-1", session.NewMemStore())
	submit(t, s, joinCmd("c0", "host", "host"))
	sub, err := s.Subscribe(testwait.Context(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	if evs := next(t, sub, 1); evs[0].Sequence() != 1 {
		t.Errorf("the buffered event: %+v", evs)
	}
	if _, err := sub.Next(testwait.Context(t)); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Subscribe(testwait.Context(t), 0); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	testwait.Recv(t, s.Done(), "the session to be done")
}

func TestSubscriptionClose(t *testing.T) {
	s := open(t, "room-1", session.NewMemStore())
	sub, err := s.Subscribe(testwait.Context(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if _, err := sub.Next(testwait.Context(t)); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	submit(t, s, joinCmd("c0", "host", "host")) // publishing skips it
}

// TestConcurrency has 64 goroutines submit to one session: every answered
// command is in the log once, the seqs have no gap, and every result is
// what the log says.
func TestConcurrency(t *testing.T) {
	st := session.NewMemStore()
	s := open(t, "room-1", st)
	hammer(t, st, []*session.Session{s}, 64, 50)
}

// hammer has goroutines submit cmds each to the sessions in turn, then
// checks every session's log against the answers.
func hammer(t *testing.T, st session.Store, ss []*session.Session, goroutines, cmds int) {
	t.Helper()
	type answer struct {
		session string
		cmd     core.Command
		res     session.Result
	}
	answers := make(chan answer, goroutines*cmds)
	// One runtime per session id, for the joins.
	var distinct []*session.Session
	for _, s := range ss {
		if !slices.ContainsFunc(distinct, func(d *session.Session) bool { return d.ID() == s.ID() }) {
			distinct = append(distinct, s)
		}
	}
	var wg sync.WaitGroup
	ctx := testwait.Context(t)
	for g := range goroutines {
		wg.Go(func() {
			actor := fmt.Sprintf("p%d", g)
			for i := range cmds {
				s := ss[(g+i)%len(ss)]
				cmd := audioCmd(fmt.Sprintf("%s-%d", actor, i), actor, i%2 == 0)
				if i < len(distinct) {
					s = distinct[i]
					cmd = joinCmd(fmt.Sprintf("%s-%d", actor, i), actor, "attendee")
				}
				res, err := s.Submit(ctx, cmd)
				if err != nil {
					t.Errorf("%s: %v", cmd.ID, err)
					return
				}
				answers <- answer{s.ID(), cmd, res}
			}
		})
	}
	wg.Wait()
	close(answers)
	byID := map[string]answer{}
	for a := range answers {
		byID[a.cmd.ID] = a
	}
	for _, s := range distinct {
		recs := logOf(t, st, s.ID())
		checkLog(t, s.ID(), recs)
		var answered []gaveltest.Answer
		seq := uint64(0)
		for _, r := range recs {
			seq = r.LastSeq(seq)
			if a, ok := byID[r.Command.ID]; ok && a.session == s.ID() {
				if a.res.Seq != seq {
					t.Fatalf("answer %+v, log %+v", a.res, r)
				}
				answered = append(answered, gaveltest.Answer{Command: a.cmd, Events: a.res.Events})
				delete(byID, r.Command.ID)
			}
		}
		if err := gaveltest.CheckAnswers(recs, answered); err != nil {
			t.Fatalf("session %s: %v", s.ID(), err)
		}
		// A runtime knows the log up to its last command (another writer
		// may have gone further).
		final, _ := s.State(testwait.Context(t))
		known := slices.IndexFunc(recs, func(r sessionlog.Record) bool { return len(r.Events) > 0 && r.Events[0].Sequence() > final.Seq() })
		if known < 0 {
			known = len(recs)
		}
		if !final.Equal(checkLog(t, s.ID(), recs[:known])) {
			t.Errorf("session %s: State differs from its log's fold", s.ID())
		}
	}
	for id := range byID {
		t.Errorf("answered command %q is not in the log", id)
	}
}

// TestConcurrencyManySessions has 64 goroutines submit over 8 sessions.
func TestConcurrencyManySessions(t *testing.T) {
	st := session.NewMemStore()
	var ss []*session.Session
	for i := range 8 {
		ss = append(ss, open(t, fmt.Sprintf("room-%d", i), st))
	}
	hammer(t, st, ss, 64, 40)
}

// TestTwoWriters has two runtimes serve one session on one store, as two
// gavel instances would: conflicts are retried, the log never forks, and
// each runtime's subscribers see the other's events. Each runtime has 16
// submitters, so one can lose more than 8 rounds in a row to the other
// (3 runs in 40 did, before the pause after a conflict): the test allows 64, and what it checks is
// the log, not how a runtime shares a session under such contention.
func TestTwoWriters(t *testing.T) {
	mem := session.NewMemStore()
	// plain hides the optional interfaces: one Append a record.
	plain := plainStore{session.NewMemStore()}
	for name, st := range map[string]session.Store{"mem": mem, "plain": plain} {
		t.Run(name, func(t *testing.T) {
			a := open(t, "room-1", st, session.WithConflictRetries(64))
			b := open(t, "room-1", st, session.WithConflictRetries(64))
			sub, err := a.Subscribe(testwait.Context(t), 0)
			if err != nil {
				t.Fatal(err)
			}
			hammer(t, st, []*session.Session{a, b}, 16, 30)
			recs := logOf(t, st, "room-1")
			var want []events.Event
			for _, r := range recs {
				want = append(want, r.Events...)
			}
			// a's subscriber sees everything a learnt, which is the log up
			// to a's last answer; a's next command brings it to the end.
			submit(t, a, joinCmd("last", "last", "attendee"))
			want = append(want, logOf(t, st, "room-1")[len(recs)].Events...)
			if diff := cmp.Diff(want, next(t, sub, len(want))); diff != "" {
				t.Errorf("a's subscriber (-log +got):\n%s", diff)
			}
		})
	}
}

// gateStore holds the first Append of command gate until release is
// closed; held is closed when that Append arrives.
type gateStore struct {
	session.Store
	gate          string
	once          sync.Once
	held, release chan struct{}
}

func (g *gateStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	if rec.Command.ID == g.gate {
		g.once.Do(func() {
			close(g.held)
			select {
			case <-g.release:
			case <-ctx.Done():
			}
		})
	}
	return g.Store.Append(ctx, id, expected, rec)
}

// TestOneOutcomeAcrossWriters: a command sent to one runtime, and sent
// again (same id) to a second runtime on the same log while the first is
// busy appending the record before it, has one outcome. The second runtime
// rejects it (already_joined: it has not seen the leave being appended).
// That rejection is a record, at the position the leave is being appended
// to: it wins, the leave conflicts and is decided again after it, and the
// first runtime answers the command with the rejection in the log. (Were
// a rejection not recorded, the first runtime would apply the command
// after the leave, and the log would contradict the answer given.)
func TestOneOutcomeAcrossWriters(t *testing.T) {
	mem := session.NewMemStore()
	gate := &gateStore{Store: plainStore{mem}, gate: "l1", held: make(chan struct{}), release: make(chan struct{})}
	a := open(t, "room-1", gate)
	submit(t, a, joinCmd("j1", "a2", "attendee"))
	b := open(t, "room-1", mem) // b knows j1

	type answer struct {
		res session.Result
		err error
	}
	leave, first := make(chan answer, 1), make(chan answer, 1)
	go func() {
		res, err := a.Submit(testwait.Context(t), core.Command{ID: "l1", Type: core.Leave, Actor: "a2"})
		leave <- answer{res, err}
	}()
	testwait.Recv(t, gate.held, "a's append of l1")
	x := joinCmd("x", "a2", "attendee")
	go func() {
		res, err := a.Submit(testwait.Context(t), x) // waits behind l1
		first <- answer{res, err}
	}()
	_, err := b.Submit(testwait.Context(t), x)
	if !errors.Is(err, core.ErrAlreadyJoined) {
		t.Fatalf("x through b: %v, want already_joined", err)
	}
	close(gate.release)
	if got := testwait.Recv(t, leave, "l1's answer"); got.err != nil || len(got.res.Events) != 1 {
		t.Errorf("l1: %+v, %v; want it applied", got.res, got.err)
	}
	if got := testwait.Recv(t, first, "a's answer to x"); !got.res.Duplicate || !errors.Is(got.err, core.ErrAlreadyJoined) {
		t.Errorf("x through a: %+v, %v; want b's answer, %v, as a duplicate", got.res, got.err, err)
	}
	recs := logOf(t, mem, "room-1")
	checkLog(t, "room-1", recs)
	if diff := cmp.Diff([]string{"j1", "x", "l1"}, commandIDs(recs)); diff != "" {
		t.Errorf("the log (-want +got):\n%s", diff)
	}
	if len(recs) == 3 && (recs[1].Err == nil || recs[1].Err.Code != core.CodeAlreadyJoined) {
		t.Errorf("x in the log: %+v, want already_joined", recs[1])
	}
}

// plainStore hides a store's optional interfaces.
type plainStore struct{ session.Store }

// conflictStore always answers ErrConflict.
type conflictStore struct{ session.Store }

func (conflictStore) Append(context.Context, string, sessionlog.Position, sessionlog.Record) (sessionlog.Position, error) {
	return 0, session.ErrConflict
}

func TestConflictRetriesExhausted(t *testing.T) {
	s := open(t, "room-1", conflictStore{session.NewMemStore()}, session.WithConflictRetries(3))
	_, err := s.Submit(testwait.Context(t), joinCmd("c0", "host", "host"))
	if !errors.Is(err, session.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, ok := errors.AsType[*core.Error](err); ok {
		t.Errorf("a conflict is a *core.Error")
	}
}

// flakyStore fails the next Append after storing its record, or before.
type flakyStore struct {
	session.Store
	mu         sync.Mutex
	failAfter  bool // store, then fail
	failBefore bool // fail without storing
}

var errDisk = errors.New("disk on fire")

func (f *flakyStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	f.mu.Lock()
	after, before := f.failAfter, f.failBefore
	f.failAfter, f.failBefore = false, false
	f.mu.Unlock()
	if before {
		return 0, errDisk
	}
	pos, err := f.Store.Append(ctx, id, expected, rec)
	if after && err == nil {
		return 0, errDisk
	}
	return pos, err
}

// TestAppendFailure: after an append error the runtime reloads from the
// store, so a retry finds a record that landed and applies one that did not.
func TestAppendFailure(t *testing.T) {
	fs := &flakyStore{Store: session.NewMemStore()}
	s := open(t, "room-1", fs)
	submit(t, s, joinCmd("c0", "host", "host"))

	fs.failAfter = true
	if _, err := s.Submit(testwait.Context(t), audioCmd("c1", "host", false)); !errors.Is(err, errDisk) {
		t.Fatalf("err = %v, want the store's", err)
	}
	if res := submit(t, s, audioCmd("c1", "host", false)); !res.Duplicate || res.Seq != 2 {
		t.Errorf("retry of a command that landed: %+v, want the duplicate of seq 2", res)
	}
	fs.failBefore = true
	if _, err := s.Submit(testwait.Context(t), audioCmd("c2", "host", true)); !errors.Is(err, errDisk) {
		t.Fatalf("err = %v, want the store's", err)
	}
	if res := submit(t, s, audioCmd("c2", "host", true)); res.Duplicate || res.Seq != 3 {
		t.Errorf("retry of a command that did not land: %+v, want applied at seq 3", res)
	}
	checkLog(t, "room-1", logOf(t, fs, "room-1"))
}

// TestSnapshotEqualsFold reopens sessions from snapshots taken at every
// interval: the state always equals the full fold of the log, and the
// reopened session goes on as the original would.
func TestSnapshotEqualsFold(t *testing.T) {
	for _, interval := range []uint64{1, 2, 7, 25} {
		t.Run(fmt.Sprintf("interval=%d", interval), func(t *testing.T) {
			st := session.NewMemStore()
			s := open(t, "room-1", st, session.WithSnapshotInterval(interval))
			cmds := storetest.Records(60)
			for i, r := range cmds {
				if _, err := s.Submit(testwait.Context(t), r.Command); (err == nil) != (r.Err == nil) {
					t.Fatalf("Submit(%+v): %v, want %v", r.Command, err, r.Err)
				}
				if i%9 != 0 {
					continue
				}
				recs := logOf(t, st, "room-1")
				withSnap := open(t, "room-1", st, session.WithSnapshotInterval(interval))
				without := open(t, "room-1", plainStore{st})
				a, _ := withSnap.State(testwait.Context(t))
				b, _ := without.State(testwait.Context(t))
				full := checkLog(t, "room-1", recs)
				if !a.Equal(full) || !b.Equal(full) {
					t.Fatalf("after %d commands: from the snapshot %+v, without %+v, fold %+v", i+1, a.Snapshot(), b.Snapshot(), full.Snapshot())
				}
				withSnap.Close(testwait.Context(t))
				without.Close(testwait.Context(t))
			}
			// Snapshots are saved beside the owner; Close waits for the last.
			if err := s.Close(testwait.Context(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := st.LatestSnapshot(testwait.Context(t), "room-1"); err != nil {
				t.Errorf("no snapshot was taken: %v", err)
			}
		})
	}
}

func TestManager(t *testing.T) {
	leakcheck.Check(t)
	st := session.NewMemStore()
	clk := newClock()
	m, err := session.NewManager(st, session.WithPresets(presets),
		session.WithClock(clk.Now), session.WithIdleTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	// Open on first use, with the configured presets.
	if _, err := m.Submit(ctx, "room-1", joinCmd("c0", "host", "host")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Submit(ctx, "room-2", joinCmd("c0", "host", "host")); err != nil {
		t.Fatal(err)
	}
	h, err := st.Header(ctx, "room-1")
	if err != nil || !cmp.Equal(h.Presets, presets) {
		t.Fatalf("header %+v, %v", h, err)
	}
	s1, _ := m.Session(ctx, "room-1")
	s2, _ := m.Session(ctx, "room-2")
	sub, err := m.Subscribe(ctx, "room-2", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Not idle yet.
	if err := m.CloseIdle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s1.Done():
		t.Fatal("a session closed before its idle timeout")
	default:
	}
	clk.Advance(2 * time.Minute)
	if err := m.CloseIdle(ctx); err != nil {
		t.Fatal(err)
	}
	<-s1.Done() // idle: closed
	select {
	case <-s2.Done():
		t.Fatal("a session with a subscriber was closed as idle")
	default:
	}
	// The closed one reopens on use, where it was.
	res, err := m.Submit(ctx, "room-1", audioCmd("c1", "host", false))
	if err != nil || res.Seq != 2 {
		t.Fatalf("after reopening: %+v, %v", res, err)
	}
	if res, err := m.Submit(ctx, "room-1", joinCmd("c0", "host", "host")); err != nil || !res.Duplicate {
		t.Errorf("after reopening, an old command: %+v, %v; want a duplicate", res, err)
	}
	sub.Close()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	<-s2.Done()
	if _, err := m.Submit(ctx, "room-1", audioCmd("c2", "host", true)); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

// TestManagerJanitor: the manager closes idle sessions by itself.
func TestManagerJanitor(t *testing.T) {
	leakcheck.Check(t)
	clk := newClock()
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(presets), session.WithClock(clk.Now), session.WithIdleTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(testwait.Context(t))
	s, err := m.Session(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	// A deadline against a hang only: the janitor ticks every 10ms.
	testwait.Recv(t, s.Done(), "the janitor to close the idle session")
}

// TestManagerShutdown closes a manager while 64 goroutines submit to many
// sessions and subscribers wait: Close returns, every call ends, and no
// goroutine is left.
func TestManagerShutdown(t *testing.T) {
	leakcheck.Check(t)
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(presets), session.WithIdleTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	started := make(chan struct{}, 64)
	ctx := testwait.Context(t)
	for g := range 64 {
		wg.Go(func() {
			id := fmt.Sprintf("room-%d", g%10)
			actor := fmt.Sprintf("p%d", g)
			sub, err := m.Subscribe(ctx, id, 0)
			if err == nil {
				defer sub.Close()
			}
			started <- struct{}{}
			for i := 0; ; i++ {
				cmd := audioCmd(fmt.Sprintf("%s-%d", actor, i), actor, i%2 == 0)
				if i == 0 {
					cmd = joinCmd(cmd.ID, actor, "attendee")
				}
				if _, err := m.Submit(ctx, id, cmd); errors.Is(err, session.ErrClosed) {
					return
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 64 {
		testwait.Recv(t, started, "the submitters to start")
	}
	if err := m.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestOptions(t *testing.T) {
	for name, opt := range map[string]session.Option{
		"window":   session.WithIdempotencyWindow(-1),
		"buffer":   session.WithSubscriberBuffer(0),
		"recent":   session.WithRecentEvents(0),
		"catch-up": session.WithCatchUpBatch(0),
		"idle":     session.WithIdleTimeout(-time.Second),
		"clock":    session.WithClock(nil),
		"retries":  session.WithConflictRetries(-1),
		"batch":    session.WithMaxBatch(0),
	} {
		if _, err := session.Open(testwait.Context(t), "x", session.NewMemStore(), opt); !errors.Is(err, session.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := session.Open(testwait.Context(t), "x", session.NewMemStore(), nil); err != nil {
		t.Errorf("a nil option: %v", err)
	}
	// The store is an argument: there is no default, and nil is refused.
	if _, err := session.Open(testwait.Context(t), "x", nil); err == nil {
		t.Errorf("Open with a nil store: no error")
	}
	if _, err := session.NewManager(nil); err == nil {
		t.Errorf("NewManager with a nil store: no error")
	}
}

// tooLargeStore can never hold a record whose command id starts with "big":
// it says so with ErrTooLarge and stores nothing of the call. The first
// append after gate is set waits for the gate to close, and the sizes of
// the batches it was asked to append are noted.
type tooLargeStore struct {
	*session.MemStore
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
	batches []int
	mixed   bool // a batch of several held one it can never hold
}

func (s *tooLargeStore) wait(recs []sessionlog.Record) error {
	s.mu.Lock()
	gate := s.gate
	s.gate = nil
	s.batches = append(s.batches, len(recs))
	s.mu.Unlock()
	if gate != nil {
		close(s.entered)
		<-gate
	}
	for _, r := range recs {
		if strings.HasPrefix(r.Command.ID, "big") {
			s.mu.Lock()
			s.mixed = s.mixed || len(recs) > 1
			s.mu.Unlock()
			return fmt.Errorf("record of %q, %d MiB: %w", r.Command.ID, 100, session.ErrTooLarge)
		}
	}
	return nil
}

func (s *tooLargeStore) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	if err := s.wait([]sessionlog.Record{rec}); err != nil {
		return 0, err
	}
	return s.MemStore.Append(ctx, id, expected, rec)
}

func (s *tooLargeStore) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	if err := s.wait(recs); err != nil {
		return 0, err
	}
	return s.MemStore.AppendBatch(ctx, id, expected, recs)
}

// TestTooLarge: a command whose record the store can never hold fails at
// once, alone, with a permanent error (ErrTooLarge, ErrPermanent), not a
// rejection; it is not retried, changes nothing, and the session goes on.
// Sent again, it fails the same way.
func TestTooLarge(t *testing.T) {
	st := &tooLargeStore{MemStore: session.NewMemStore()}
	s := open(t, "room-1", st)
	submit(t, s, joinCmd("c0", "host", "host"))
	before, _ := s.State(t.Context())
	for range 2 {
		st.mu.Lock()
		asked := len(st.batches)
		st.mu.Unlock()
		_, err := s.Submit(t.Context(), audioCmd("big1", "host", false))
		if !errors.Is(err, session.ErrTooLarge) || !errors.Is(err, session.ErrPermanent) || errors.Is(err, session.ErrConflict) {
			t.Fatalf("err = %v, want ErrTooLarge and ErrPermanent", err)
		}
		if _, ok := errors.AsType[*core.Error](err); ok {
			t.Errorf("a record too large is a *core.Error: %v", err)
		}
		if st.mu.Lock(); len(st.batches) != asked+1 {
			t.Errorf("the store was asked %d times, want once", len(st.batches)-asked)
		}
		st.mu.Unlock()
		if now, _ := s.State(t.Context()); !now.Equal(before) {
			t.Errorf("the failed command changed the state: %+v", now.Snapshot())
		}
	}
	if res := submit(t, s, audioCmd("c2", "host", false)); res.Seq != 2 || res.Duplicate {
		t.Errorf("the next command: %+v, want applied at seq 2", res)
	}
	if ids := commandIDs(logOf(t, st, "room-1")); !slices.Equal(ids, []string{"c0", "c2"}) {
		t.Errorf("the log holds %v", ids)
	}
}

// TestTooLargeInABatch: when one command of a batch can never be stored,
// the others before and after it are stored, in order, and answered.
func TestTooLargeInABatch(t *testing.T) {
	st := &tooLargeStore{MemStore: session.NewMemStore()}
	s := open(t, "room-1", st)
	submit(t, s, joinCmd("c0", "host", "host"))
	gate := make(chan struct{})
	st.mu.Lock()
	st.gate, st.entered = gate, make(chan struct{})
	st.mu.Unlock()
	first := make(chan error, 1)
	go func() {
		_, err := s.Submit(t.Context(), audioCmd("first", "host", false))
		first <- err
	}()
	testwait.Recv(t, st.entered, "the first append")
	// While the owner waits on the store, queue commands: the owner
	// takes them as one batch.
	cmds := []core.Command{joinCmd("a", "ann", "attendee"), audioCmd("big-mid", "host", true),
		joinCmd("b", "bob", "attendee"), joinCmd("big-c", "cy", "attendee"), audioCmd("c", "host", true)}
	errs := make([]error, len(cmds))
	var done sync.WaitGroup
	for i, cmd := range cmds {
		done.Go(func() {
			_, errs[i] = s.Submit(t.Context(), cmd)
		})
	}
	testwait.Wait(t, "the commands to be queued", func() {
		for session.Queued(s) < len(cmds) {
			time.Sleep(time.Millisecond)
		}
	})
	close(gate)
	testwait.Wait(t, "the commands' answers", done.Wait)
	if err := testwait.Recv(t, first, "the first command's answer"); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if big := strings.HasPrefix(cmd.ID, "big"); big != errors.Is(errs[i], session.ErrTooLarge) || !big && errs[i] != nil {
			t.Errorf("%s: %v", cmd.ID, errs[i])
		}
	}
	recs := logOf(t, st, "room-1")
	checkLog(t, "room-1", recs)
	if ids := commandIDs(recs); len(ids) != 5 || slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "big") }) {
		t.Errorf("the log holds %v", ids)
	}
	s.Close(testwait.Context(t))
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.mixed {
		t.Fatalf("the runtime never appended a batch with the record too large: %v", st.batches)
	}
}

func commandIDs(recs []sessionlog.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.Command.ID
	}
	return ids
}

// TestWebinar: a session of 100,000 participants end to end on the memory
// store (storetest.Webinar).
func TestWebinar(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 participants")
	}
	st := session.NewMemStore()
	times := storetest.Webinar(t, 100_000, func(testing.TB) (session.Store, func()) { return st, func() {} })
	t.Logf("%+v", times)
}
