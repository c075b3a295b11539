package session

import (
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// planChecker checks each plan the machine gives against the order of the
// package doc, as data, and against the log: a command's record is in the
// store before anything is told of it; the state is installed before the
// events are published; the events are published in log order, each once;
// a caller is answered last, once its command's state is installed and its
// events published. It keeps what the plans did so far: what was
// installed, published and answered.
type planChecker struct {
	st        *MemStore
	installed uint64            // the seq of the state installed last
	published uint64            // the seq of the last event published
	committed map[string]uint64 // command id → the seq after its record, once published
	answers   []gaveltest.Answer
}

// check checks p's actions, in order, and records its answers.
func (c *planChecker) check(p *plan) error {
	logged := map[string]sessionlog.Record{}
	for rec, err := range c.st.Records(testCtx, "s", 1) {
		if err != nil {
			return err
		}
		logged[rec.Command.ID] = rec
	}
	for i, a := range p.acts {
		switch a.kind {
		case actInstall:
			if s := a.state.Seq(); s < c.installed {
				return fmt.Errorf("action %d installs seq %d after seq %d", i, s, c.installed)
			}
			c.installed = a.state.Seq()
		case actCommit:
			o := a.out
			rec, ok := logged[o.id]
			switch {
			case !ok:
				return fmt.Errorf("action %d commits %s, which the log does not hold", i, o.id)
			case string(events.AppendEvents(nil, rec.Events)) != string(events.AppendEvents(nil, o.events)):
				return fmt.Errorf("action %d commits %s with other events than the log's", i, o.id)
			case o.before != c.published:
				return fmt.Errorf("action %d publishes %s after seq %d, but seq %d was published last", i, o.id, o.before, c.published)
			case o.seq > c.installed:
				return fmt.Errorf("action %d publishes %s up to seq %d, but the state installed is at seq %d", i, o.id, o.seq, c.installed)
			}
			c.published = o.seq
			c.committed[o.id] = o.seq
		case actAnswer:
			id := a.req.cmd.ID
			_, rejected := errors.AsType[*core.Error](a.rep.err)
			if a.rep.err == nil || rejected {
				seq, ok := c.committed[id]
				switch {
				case !ok:
					return fmt.Errorf("action %d answers %s, whose record has not been published", i, id)
				case seq > c.installed:
					return fmt.Errorf("action %d answers %s (seq %d) before its state is installed (seq %d)", i, id, seq, c.installed)
				}
			}
			c.answers = append(c.answers, gaveltest.Answer{Command: a.req.cmd, Events: a.rep.res.Events, Err: a.rep.err})
		case actSnapshot:
			if s := a.snap.state.Seq(); s > c.installed {
				return fmt.Errorf("action %d snapshots seq %d, beyond the installed seq %d", i, s, c.installed)
			}
		}
	}
	return nil
}

// TestPlanOrder drives the machine through drawn sessions, with everything
// that can happen between two plans drawn too: batches of commands, ids
// sent again, another writer's records (met as conflicts, delivered by the
// follow stream, again or for the first time), the follow stream failing,
// appends that fail or whose reply is lost. Every plan keeps the order of the package doc (planChecker), and
// at the end the log and every answer agree (gaveltest.CheckRecords,
// CheckAnswers). TestMachine's transcripts say the same of chosen cases,
// line by line.
func TestPlanOrder(t *testing.T) {
	errDisk := errors.New("disk on fire")
	rapid.Check(t, func(t *rapid.T) {
		st := NewMemStore()
		header := sessionlog.Header{Session: "s", Presets: testPresets}
		if err := st.Create(testCtx, header); err != nil {
			t.Fatal(err)
		}
		m := newTestMachine(rapid.Bool().Draw(t, "batches"), rapid.Uint64Range(0, 3).Draw(t, "snapshot interval"))
		c := &planChecker{st: st, committed: map[string]uint64{}}
		step := func(p *plan) *plan {
			if err := c.check(p); err != nil {
				t.Fatalf("%v; plan:\n%v", err, transcript(p))
			}
			return p
		}
		clients := gaveltest.Clients(testPresets, 3, 8).Draw(t, "clients")
		var sent []core.Command
		// next takes the next command of a drawn client, false when all are sent.
		next := func() (core.Command, bool) {
			var left []int
			for i, cmds := range clients {
				if len(cmds) > 0 {
					left = append(left, i)
				}
			}
			if len(left) == 0 {
				return core.Command{}, false
			}
			i := rapid.SampledFrom(left).Draw(t, "client")
			cmd := clients[i][0]
			clients[i] = clients[i][1:]
			return cmd, true
		}
		// otherWriter appends cmd as another writer, on the log's state.
		otherWriter := func(cmd core.Command) {
			other(st, cmd)
			recs := records(st)
			a := gaveltest.Answer{Command: cmd, Events: recs[len(recs)-1].Events}
			if e := recs[len(recs)-1].Err; e != nil {
				a.Err = e
			}
			c.answers = append(c.answers, a)
		}
		for {
			switch rapid.IntRange(0, 9).Draw(t, "input") {
			case 0: // another writer appends
				if cmd, ok := next(); ok {
					otherWriter(cmd)
				}
				continue
			case 1: // the follow stream delivers the log, from the machine's position or before
				recs := records(st)
				from := rapid.IntRange(0, int(m.pos)).Draw(t, "delivered from")
				step(m.deliver(recs[from:]))
				continue
			case 2:
				m.followFailed()
				continue
			}
			var batch []core.Command
			for range rapid.IntRange(1, 3).Draw(t, "batch") {
				if len(sent) > 0 && rapid.IntRange(0, 4).Draw(t, "again") == 0 {
					batch = append(batch, rapid.SampledFrom(sent).Draw(t, "sent again"))
				} else if cmd, ok := next(); ok {
					batch = append(batch, cmd)
					sent = append(sent, cmd)
				}
			}
			if len(batch) == 0 {
				break
			}
			// Carry out the plan and the store calls it asks for, until
			// one asks for none.
			for p := step(m.propose(testNow, reqs(batch...))); p.io.kind != ioNone; {
				switch p.io.kind {
				case ioRead:
					p = step(read(st)(m))
				default:
					if rapid.IntRange(0, 3).Draw(t, "another writer first") == 0 {
						if cmd, ok := next(); ok {
							otherWriter(cmd)
						}
					}
					// The owner appends a batch with one write, or the
					// records one after the other up to the first failure.
					// One drawn write fails, storing nothing or losing its
					// reply.
					writes := [][]sessionlog.Record{p.io.recs}
					if p.io.kind == ioAppendEach {
						writes = nil
						for i := range p.io.recs {
							writes = append(writes, p.io.recs[i:i+1])
						}
					}
					failing := rapid.IntRange(0, 3*len(writes)).Draw(t, "failing write")
					lost := rapid.Bool().Draw(t, "reply lost")
					n, pos := 0, p.io.expected
					var err error
					for w, recs := range writes {
						if w == failing && !lost {
							err = errDisk
							break
						}
						var next sessionlog.Position
						if next, err = st.AppendBatch(testCtx, "s", pos, recs); err != nil {
							break
						}
						if w == failing {
							err = fmt.Errorf("reply lost: %w", errDisk)
							break
						}
						n, pos = n+len(recs), next
					}
					p = step(m.appended(n, pos, err))
				}
			}
		}
		recs := records(st)
		if _, err := gaveltest.CheckRecords(header, recs, DefaultIdempotencyWindow); err != nil {
			t.Fatal(err)
		}
		if err := gaveltest.CheckAnswers(recs, c.answers); err != nil {
			t.Fatal(err)
		}
	})
}

// records returns every record of session "s" in st.
func records(st *MemStore) []sessionlog.Record {
	var out []sessionlog.Record
	for rec, err := range st.Records(testCtx, "s", 1) {
		if err != nil {
			panic(err)
		}
		out = append(out, rec)
	}
	return out
}
