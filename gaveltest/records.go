package gaveltest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// CheckRecords checks a session's log as a store keeps it: the records a
// runtime appended (or several, sharing the store), read back with
// Store.Records, and h, the session's header. Every record must be of a
// well-formed command (check 1 failures never reach a runtime), and be what
// the reducer decides at its place in the log, applied with its events or
// rejected with its code (so event seqs run on without a gap); and no
// command id may be recorded twice within window records (window is the
// idempotency window of the runtimes that wrote the log, as set with
// session.WithIdempotencyWindow: session.DefaultIdempotencyWindow unless
// set; 0 when it is off). The check runs the log through package
// sessionlog's Replayer: its cost is linear in the log's length.
//
// It returns the state the log folds to, and the first failure, naming
// the record (its index in recs and its position) and its command, with a
// diff of what the record holds against what the reducer decides.
func CheckRecords(h sessionlog.Header, recs []sessionlog.Record, window int) (core.State, error) {
	var buf bytes.Buffer
	lw, err := sessionlog.NewWriter(&buf, h)
	if err != nil {
		return core.State{}, err
	}
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		c := r.Command
		if err := reducer.WellFormed(c); err != nil {
			return core.State{}, recordError(i, r, err)
		}
		if j, ok := last[c.ID]; ok && window > 0 && i-j <= window {
			return core.State{}, recordError(i, r, fmt.Errorf("command %q is recorded again %d records after record %d, "+
				"within the idempotency window of %d: it has two outcomes", c.ID, i-j, j, window))
		}
		last[c.ID] = i
		var rerr error
		if r.Err != nil {
			rerr = r.Err
		}
		if err := lw.WriteCommand("", c, r.Events, rerr); err != nil {
			return core.State{}, recordError(i, r, err)
		}
	}
	if err := lw.Flush(); err != nil {
		return core.State{}, err
	}
	p, err := sessionlog.NewReplayer(&buf)
	if err != nil {
		return core.State{}, err
	}
	for i := 0; ; i++ {
		st, err := p.Next()
		if err == io.EOF {
			return p.State(), nil
		}
		if err != nil {
			return core.State{}, err
		}
		if d := p.Check(st); d != nil {
			return core.State{}, recordError(i, recs[i], diverged{d})
		}
	}
}

// recordError is a failure of recs[i], r.
func recordError(i int, r sessionlog.Record, err error) error {
	return fmt.Errorf("record %d (position %d): %s: %w", i, r.Pos, events.AppendCommand(nil, r.Command), err)
}

// An Answer is what a caller was told of a command it submitted: the
// events of its result (session.Result.Events), or its error.
type Answer struct {
	Command core.Command
	Events  []events.Event
	// Err is the *core.Error that rejected the command (wrapped or not),
	// or another error, after which the command may or may not have been
	// decided; nil when it was applied.
	Err error
}

// CheckAnswers checks what callers were told against a session's log, as
// a store keeps it (see CheckRecords, which checks the log itself): one
// outcome per command id, the one in the log. answers must hold every
// attempt to submit every command of the log (retries too: an answer
// each). Every record must be the command of an answer, with the same id;
// every answer with an outcome must have a record of its command with that
// outcome: the same events (as encoded), or a rejection with the same
// code, but for a command refused invalid_command before the runtime
// (check 1, reducer.WellFormed), which must have none. An answer with
// another error says nothing of its command.
func CheckAnswers(recs []sessionlog.Record, answers []Answer) error {
	logged := make(map[string]sessionlog.Record, len(recs))
	for _, r := range recs {
		logged[r.Command.ID] = r
	}
	sent := make(map[string]bool, len(answers))
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, a := range answers {
		id := a.Command.ID
		sent[id] = true
		r, ok := logged[id]
		ce, rejected := errors.AsType[*core.Error](a.Err)
		switch {
		case a.Err != nil && !rejected:
		case rejected && ce.Code == core.CodeInvalidCommand && reducer.WellFormed(a.Command) != nil:
			if ok {
				fail("%s was refused by check 1 (%v), but the log has it: %s", id, ce, recordOutcome(r))
			}
		case !ok:
			fail("%s was answered %s, but the log does not have it", id, outcome(a.Events, ce))
		case rejected && (r.Err == nil || r.Err.Code != ce.Code), !rejected && r.Err != nil,
			!rejected && !bytes.Equal(events.AppendEvents(nil, a.Events), events.AppendEvents(nil, r.Events)):
			fail("%s was answered %s; the log says %s", id, outcome(a.Events, ce), recordOutcome(r))
		}
		if len(errs) == 10 {
			errs = append(errs, errors.New("…"))
			break
		}
	}
	for _, r := range recs {
		if !sent[r.Command.ID] && len(errs) < 10 {
			fail("the log has %s, which nobody sent: %s", r.Command.ID, recordOutcome(r))
		}
	}
	return errors.Join(errs...)
}

// outcome is a command's outcome as the log writes it: its events, or its
// error's code.
func outcome(evs []events.Event, err *core.Error) string {
	if err != nil {
		return fmt.Sprintf("%s (%d)", err.Code.Name(), int(err.Code))
	}
	return string(events.AppendEvents(nil, evs))
}

func recordOutcome(r sessionlog.Record) string { return outcome(r.Events, r.Err) }

// CheckEvents checks the events a subscriber received after state from (a
// session's state, then every event after it, as Watch or a client's
// welcome and stream give them) against to, the session's state after the
// last of them: they are numbered on from from's seq, each once, with no
// gap; at most one participant is pinned at any point, and only one who is
// joined; and they fold onto from, one at a time and all at once, to to.
// It returns nil, or every way they break that.
func CheckEvents(from core.State, evs []events.Event, to core.State) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	s := from
	for i, e := range evs {
		if want := from.Seq() + uint64(i) + 1; e.Sequence() != want {
			fail("event %d (%s) has seq %d, want %d: events after seq %d are missing, repeated or out of order",
				i, e.Type(), e.Sequence(), want, s.Seq())
			break
		}
		if p, ok := e.(*events.Pinned); ok && s.Pinned() != "" {
			fail("%s pinned at seq %d while %s is still pinned", p.Participant, p.Seq, s.Pinned())
		}
		s = reducer.Evolve(s, e)
		checkState(s, fail)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if d := diff(to, s); d != "" {
		fail("the events, one at a time, do not give the state (-state +evolved):\n%s", d)
	}
	if d := diff(to, reducer.Fold(from, evs)); d != "" {
		fail("the events, folded, do not give the state (-state +folded):\n%s", d)
	}
	return errors.Join(errs...)
}
