package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// The machine's steps are tested as transcripts: each step's plan is
// written one line per action, in order, then its store call. The order is
// the contract of the package doc (append; then the state, the window and
// the subscribers; last the answers), so a plan in another order fails
// these tests.

var (
	testPresets = core.Presets{"host": {DisableParticipantAudio: true, KickParticipant: true}, "attendee": {}}
	testNow     = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
)

func hostJoin(id string) core.Command {
	return core.Command{ID: id, Type: core.Join, Actor: "h", Name: "H", Preset: "host", Audio: true}
}

func mic(id, actor string, on bool) core.Command {
	return core.Command{ID: id, Type: core.SetAudio, Actor: actor, Enabled: on}
}

// newTestMachine is a machine of session "s" on a store that appends
// batches with one write (batches) and keeps snapshots every snapEvery
// events (0: none).
func newTestMachine(batches bool, snapEvery uint64) *machine {
	cfg := defaults()
	cfg.snapshotInterval = snapEvery
	return newMachine("s", sessionlog.Header{Session: "s", Presets: testPresets}, cfg, batches, snapEvery > 0)
}

func reqs(cmds ...core.Command) []*request {
	out := make([]*request, len(cmds))
	for i, c := range cmds {
		out[i] = &request{cmd: c, reply: make(chan reply, 1)}
	}
	return out
}

// transcript writes p, one line an action, then its store call.
func transcript(p *plan) []string {
	var out []string
	for _, a := range p.acts {
		switch a.kind {
		case actInstall:
			out = append(out, fmt.Sprintf("install seq %d", a.state.Seq()))
		case actCommit:
			o := a.out
			if o.err != nil {
				out = append(out, fmt.Sprintf("commit %s rejected %s", o.id, o.err.Name()))
				continue
			}
			var evs []string
			for _, ev := range o.events {
				evs = append(evs, fmt.Sprintf("%s#%d", ev.Type(), ev.Sequence()))
			}
			out = append(out, fmt.Sprintf("commit %s %d→%d [%s]", o.id, o.before, o.seq, strings.Join(evs, " ")))
		case actAnswer:
			out = append(out, "answer "+a.req.cmd.ID+" "+describeReply(a.rep))
		case actSnapshot:
			out = append(out, fmt.Sprintf("snapshot seq %d at %d, window from %d", a.snap.state.Seq(), a.snap.pos, a.snap.windowSeq))
		default:
			out = append(out, fmt.Sprintf("action %d?", a.kind))
		}
	}
	switch io := p.io; io.kind {
	case ioAppendBatch, ioAppendEach:
		var ids []string
		for _, r := range io.recs {
			ids = append(ids, r.Command.ID)
		}
		kind := "each"
		if io.kind == ioAppendBatch {
			kind = "batch"
		}
		out = append(out, fmt.Sprintf("append %s after %d: %s", kind, io.expected, strings.Join(ids, " ")))
	case ioRead:
		out = append(out, fmt.Sprintf("read from seq %d", io.from))
	}
	return out
}

func describeReply(r reply) string {
	dup := ""
	if r.res.Duplicate {
		dup = "duplicate "
	}
	var ce *core.Error
	switch {
	case errors.As(r.err, &ce):
		return dup + ce.Name()
	case errors.Is(r.err, ErrConflict):
		return "failed: conflict"
	case errors.Is(r.err, ErrPermanent):
		return "failed: permanent"
	case r.err != nil:
		return "failed: " + r.err.Error()
	}
	return fmt.Sprintf("%sseq %d", dup, r.res.Seq)
}

// step is one input to the machine and the plan it must give.
type step struct {
	name string
	do   func(m *machine) *plan
	want []string
}

func propose(cmds ...core.Command) func(m *machine) *plan {
	return func(m *machine) *plan { return m.propose(testNow, reqs(cmds...)) }
}

// stored stores the records the last plan asked to append in st (the
// first n of them) and steps the outcome in, with err for the rest.
func stored(st *MemStore, n int, err error) func(m *machine) *plan {
	return func(m *machine) *plan {
		io := m.p.io
		pos := io.expected
		for _, r := range io.recs[:n] {
			var e error
			if pos, e = st.Append(testCtx, "s", pos, r); e != nil {
				panic(e)
			}
		}
		return m.appended(n, pos, err)
	}
}

// read reads st as the plan asked and steps the records in.
func read(st *MemStore) func(m *machine) *plan {
	return func(m *machine) *plan {
		from := m.p.io.from
		m.beginRead()
		for rec, err := range st.Records(testCtx, "s", from) {
			if err != nil {
				return m.endRead(err)
			}
			if !m.take(rec) {
				break
			}
		}
		return m.endRead(nil)
	}
}

// other appends cmds to st as another writer would, deciding them on the
// log's state.
func other(st *MemStore, cmds ...core.Command) {
	state := core.NewState("s", testPresets)
	pos := sessionlog.Position(0)
	for rec, err := range st.Records(testCtx, "s", 1) {
		if err != nil {
			panic(err)
		}
		state, pos = reducer.Fold(state, rec.Events), rec.Pos
	}
	for _, c := range cmds {
		next, evs, err := reducer.Apply(state, c)
		rec := sessionlog.Record{At: testNow, Command: c, Events: evs}
		if err != nil {
			rec.Err = asRejection(err)
		}
		if pos, err = st.Append(testCtx, "s", pos, rec); err != nil {
			panic(err)
		}
		state = next
	}
}

var testCtx = context.Background()

func runSteps(t *testing.T, m *machine, steps []step) {
	t.Helper()
	for _, s := range steps {
		got := transcript(s.do(m))
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s: plan (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestMachine(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name    string
		batches bool
		snaps   uint64
		steps   func(st *MemStore) []step
	}{{
		name: "applied: append, then state, window and subscribers, then the answer",
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
				{"stored", stored(st, 1, nil), []string{
					"install seq 1",
					"commit c1 0→1 [participant_joined#1]",
					"answer c1 seq 1",
				}},
				{"again", propose(hostJoin("c1")), []string{"answer c1 duplicate seq 1"}},
			}
		},
	}, {
		name: "a rejection is appended before it is answered, and changes no state",
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
				{"stored", stored(st, 1, nil), []string{"install seq 1", "commit c1 0→1 [participant_joined#1]", "answer c1 seq 1"}},
				{"kick", propose(core.Command{ID: "c2", Type: core.Kick, Actor: "x", Target: "h"}), []string{"append each after 1: c2"}},
				{"stored", stored(st, 1, nil), []string{"commit c2 rejected not_joined", "answer c2 not_joined"}},
				{"again", propose(core.Command{ID: "c2", Type: core.Kick, Actor: "x", Target: "h"}), []string{"answer c2 duplicate not_joined"}},
				{"no-op", propose(mic("c3", "h", true)), []string{"append each after 2: c3"}},
				{"stored", stored(st, 1, nil), []string{"commit c3 1→1 []", "answer c3 seq 1"}},
			}
		},
	}, {
		name:    "group commit: one write for a batch, a repeated id answered from its first",
		batches: true,
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1"), mic("c2", "h", false), hostJoin("c1"), mic("c3", "h", false)), []string{
					"append batch after 0: c1 c2 c3",
				}},
				{"stored", stored(st, 3, nil), []string{
					"install seq 2",
					"commit c1 0→1 [participant_joined#1]",
					"commit c2 1→2 [audio_update#2]",
					"commit c3 2→2 []",
					"answer c1 seq 1",
					"answer c2 seq 2",
					"answer c1 duplicate seq 1",
					"answer c3 seq 2",
				}},
			}
		},
	}, {
		name: "conflict: the other writer's records first, then the batch decided again",
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
				{"stored", stored(st, 1, nil), []string{"install seq 1", "commit c1 0→1 [participant_joined#1]", "answer c1 seq 1"}},
				{"propose", propose(mic("c2", "h", false)), []string{"append each after 1: c2"}},
				{"conflict", func(m *machine) *plan {
					other(st, core.Command{ID: "o1", Type: core.Join, Actor: "a", Name: "A", Preset: "attendee"}, mic("c2", "h", false))
					return m.appended(0, 0, ErrConflict)
				}, []string{"read from seq 2"}},
				{"read", read(st), []string{
					"install seq 3",
					"commit o1 1→2 [participant_joined#2]",
					"commit c2 2→3 [audio_update#3]",
					"answer c2 duplicate seq 3",
				}},
			}
		},
	}, {
		name: "conflict retries run out",
		steps: func(st *MemStore) []step {
			steps := []step{{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}}}
			for range DefaultConflictRetries {
				steps = append(steps,
					step{"conflict", func(m *machine) *plan { return m.appended(0, 0, ErrConflict) }, []string{"read from seq 1"}},
					step{"read", read(st), []string{"append each after 0: c1"}})
			}
			return append(steps, step{"conflict", func(m *machine) *plan { return m.appended(0, 0, ErrConflict) },
				[]string{"answer c1 failed: conflict"}})
		},
	}, {
		name:    "a record the store can never hold fails alone",
		batches: true,
		steps: func(st *MemStore) []step {
			tooLarge := fmt.Errorf("100 MiB: %w", ErrTooLarge)
			return []step{
				{"propose", propose(hostJoin("c1"), mic("big", "h", false), mic("c3", "h", false)), []string{"append batch after 0: c1 big c3"}},
				{"batch refused", func(m *machine) *plan { return m.appended(0, 0, tooLarge) }, []string{"append each after 0: c1 big c3"}},
				{"one stored", stored(st, 1, tooLarge), []string{
					"install seq 1",
					"commit c1 0→1 [participant_joined#1]",
					"answer c1 seq 1",
					"answer big failed: permanent",
					"append each after 1: c3",
				}},
				{"stored", stored(st, 1, nil), []string{"install seq 2", "commit c3 1→2 [audio_update#2]", "answer c3 seq 2"}},
			}
		},
	}, {
		name: "an append whose outcome is unknown: the store is read before the next decision",
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
				{"failed", stored(st, 0, errDisk), []string{"answer c1 failed: session \"s\": append: disk on fire"}},
				{"retry", propose(hostJoin("c1")), []string{"read from seq 1"}},
				{"read", func(m *machine) *plan {
					other(st, hostJoin("c1")) // it had landed
					return read(st)(m)
				}, []string{
					"install seq 1",
					"commit c1 0→1 [participant_joined#1]",
					"answer c1 duplicate seq 1",
				}},
				{"next", propose(mic("c2", "h", false)), []string{"append each after 1: c2"}},
			}
		},
	}, {
		name:  "snapshots are asked for every interval, after the answers",
		snaps: 2,
		steps: func(st *MemStore) []step {
			return []step{
				{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
				{"stored", stored(st, 1, nil), []string{"install seq 1", "commit c1 0→1 [participant_joined#1]", "answer c1 seq 1"}},
				{"propose", propose(mic("c2", "h", false)), []string{"append each after 1: c2"}},
				{"stored", stored(st, 1, nil), []string{
					"install seq 2", "commit c2 1→2 [audio_update#2]", "answer c2 seq 2",
					"snapshot seq 2 at 2, window from 0",
				}},
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := NewMemStore()
			if err := st.Create(testCtx, sessionlog.Header{Session: "s", Presets: testPresets}); err != nil {
				t.Fatal(err)
			}
			runSteps(t, newTestMachine(tc.batches, tc.snaps), tc.steps(st))
		})
	}
}

// TestMachineFollow: records the follow stream delivers are folded in log
// order; the machine's own appends, and records it has read already, are
// skipped by position; a delivery that does not continue the state makes
// the machine read the store before its next decision.
func TestMachineFollow(t *testing.T) {
	st := NewMemStore()
	if err := st.Create(testCtx, sessionlog.Header{Session: "s", Presets: testPresets}); err != nil {
		t.Fatal(err)
	}
	m := newTestMachine(false, 0)
	log := func(from int) []sessionlog.Record {
		var out []sessionlog.Record
		for rec, err := range st.Records(testCtx, "s", 1) {
			if err != nil {
				t.Fatal(err)
			}
			if int(rec.Pos) >= from {
				out = append(out, rec)
			}
		}
		return out
	}
	deliver := func(recs func() []sessionlog.Record) func(m *machine) *plan {
		return func(m *machine) *plan { return m.deliver(recs()) }
	}
	runSteps(t, m, []step{
		{"propose", propose(hostJoin("c1")), []string{"append each after 0: c1"}},
		{"stored", stored(st, 1, nil), []string{"install seq 1", "commit c1 0→1 [participant_joined#1]", "answer c1 seq 1"}},
		{"own record and another writer's", deliver(func() []sessionlog.Record {
			other(st, core.Command{ID: "o1", Type: core.Join, Actor: "a", Name: "A", Preset: "attendee"}, mic("o2", "a", true))
			return log(1)
		}), []string{
			"install seq 3",
			"commit o1 1→2 [participant_joined#2]",
			"commit o2 2→3 [audio_update#3]",
		}},
		{"delivered twice", deliver(func() []sessionlog.Record { return log(2) }), nil},
		{"the window has them", propose(mic("o2", "a", true)), []string{"answer o2 duplicate seq 3"}},
		{"a gap", deliver(func() []sessionlog.Record {
			other(st, mic("o3", "a", false), mic("o4", "a", true))
			return log(5) // o3, at 4, is missed
		}), nil},
		{"stale: read first", propose(mic("c2", "h", false)), []string{"read from seq 4"}},
		{"read", read(st), []string{
			"install seq 5",
			"commit o3 3→4 [audio_update#4]",
			"commit o4 4→5 [audio_update#5]",
			"append each after 5: c2",
		}},
	})
	m.followFailed()
	if got := transcript(m.propose(testNow, reqs(mic("c3", "h", true)))); !cmp.Equal(got, []string{"read from seq 6"}) {
		t.Errorf("after the follow stream failed, a decision starts with %q, want a read of the store", got)
	}
}

// TestMachineOpen: a session opened from a snapshot refills its window
// from the records before it, folds the ones after it, and decides a
// repeated command from before the snapshot as a duplicate.
func TestMachineOpen(t *testing.T) {
	st := NewMemStore()
	if err := st.Create(testCtx, sessionlog.Header{Session: "s", Presets: testPresets}); err != nil {
		t.Fatal(err)
	}
	other(st, hostJoin("c1"), mic("c2", "h", true), mic("c3", "h", false))
	snap := newTestMachine(false, 0)
	runSteps(t, snap, []step{{"open", func(m *machine) *plan { m.open(1); return read(st)(m) }, []string{
		"install seq 2",
		"commit c1 0→1 [participant_joined#1]",
		"commit c2 1→1 []",
		"commit c3 1→2 [audio_update#2]",
	}}})
	m := newTestMachine(false, 0)
	// A snapshot after c2 (position 2, seq 1), with the window from 0.
	before := reducer.Fold(core.NewState("s", testPresets), log1(t, st)[0].Events)
	runSteps(t, m, []step{
		{"open", func(m *machine) *plan { m.open(m.restore(before, 2, 0)); return read(st)(m) }, []string{
			"install seq 2",
			"commit c3 1→2 [audio_update#2]",
		}},
		{"c2 again", propose(mic("c2", "h", true)), []string{"answer c2 duplicate seq 1"}},
		{"c1 again", propose(hostJoin("c1")), []string{"answer c1 duplicate seq 1"}},
	})
}

func log1(t *testing.T, st *MemStore) []sessionlog.Record {
	var out []sessionlog.Record
	for rec, err := range st.Records(testCtx, "s", 1) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}
