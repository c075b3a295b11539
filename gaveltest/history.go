package gaveltest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// Call is one call of a recorded history: a client sent Command at Start
// and was told its outcome (the Answer) at End, both measured from one
// origin. A call is the whole of a command's submission, retries
// included: its Answer is the last attempt's. An Answer whose Err is
// neither nil nor a *core.Error says the client never learnt the outcome.
type Call struct {
	Answer
	// Client is the caller: its calls are sequential, one ending before
	// its next starts.
	Client     int
	Start, End time.Duration
	// Seq, when not 0, is the session's seq right after an applied
	// command, as its answer gives it (session.Result.Seq, a websocket
	// result's seq): the command must take the place in the order that
	// leaves the session there.
	Seq uint64
	// EventsElsewhere says that an applied answer may not carry the
	// command's events (a websocket result whose events came in the
	// stream before it, a repeat's): its Events are then not checked,
	// and Seq is all there is to check.
	EventsElsewhere bool
}

// HistoryStats says what CheckHistory checked.
type HistoryStats struct {
	// Calls is the number of calls checked.
	Calls int
	// Unanswered is the number of them whose client never learnt the
	// outcome, and whose command the log holds.
	Unanswered int
	// Dropped is the number of calls left out: never answered, and not in
	// the log.
	Dropped int
}

// CheckHistory checks with porcupine (github.com/anishathalye/porcupine)
// that calls, made to the session whose log is h and recs, are
// linearizable against the reducer: every answer is the outcome
// reducer.Apply gives its command on the state the commands ordered before
// it leave, in one sequential order that keeps every call between its
// Start and End. A call never answered counts as decided, at any time
// after its Start and with any outcome, if the log holds its command's id;
// otherwise it is left out (it may never have reached the session).
//
// When the history is not linearizable, the error names an HTML file (in
// os.TempDir, kept) where porcupine draws it. A check that does not finish
// within a minute is an error too.
func CheckHistory(h sessionlog.Header, recs []sessionlog.Record, calls []Call) (HistoryStats, error) {
	logged := make(map[string]bool, len(recs))
	for _, r := range recs {
		logged[r.Command.ID] = true
	}
	var st HistoryStats
	ops := make([]porcupine.Operation, 0, len(calls))
	for _, c := range calls {
		out := toldOf(c.Answer)
		out.seq, out.anyEvents = c.Seq, c.EventsElsewhere
		end := c.End.Nanoseconds()
		if out.unknown {
			if !logged[c.Command.ID] {
				st.Dropped++
				continue
			}
			st.Unanswered++
			end = math.MaxInt64
		}
		ops = append(ops, porcupine.Operation{ClientId: c.Client, Input: c.Command, Call: c.Start.Nanoseconds(), Output: out, Return: end})
	}
	st.Calls = len(ops)
	m := sessionModel(h)
	res, info := porcupine.CheckOperationsVerbose(m, ops, time.Minute)
	switch res {
	case porcupine.Ok:
		return st, nil
	case porcupine.Unknown:
		return st, fmt.Errorf("gaveltest: the check of a history of %d calls did not finish within a minute", len(ops))
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("gavel-history-%d.html", time.Now().UnixNano()))
	if err := porcupine.VisualizePath(m, info, path); err != nil {
		path = "not drawn: " + err.Error()
	}
	return st, fmt.Errorf("gaveltest: the history of %d calls is not linearizable; porcupine's view: %s", len(ops), path)
}

// told is what a client was told of a command: its events (as the log
// writes them), its error code, or nothing (unknown).
type told struct {
	events    string
	anyEvents bool   // events is not to be checked
	seq       uint64 // the seq after the command, when known
	code      core.Code
	unknown   bool
}

func toldOf(a Answer) told {
	if ce, ok := errors.AsType[*core.Error](a.Err); ok {
		return told{code: ce.Code}
	}
	if a.Err != nil {
		return told{unknown: true}
	}
	return told{events: string(events.AppendEvents(nil, a.Events))}
}

func (o told) String() string {
	switch {
	case o.unknown:
		return "?"
	case o.code != 0:
		return outcome(nil, &core.Error{Code: o.code})
	case o.anyEvents:
		return fmt.Sprintf("applied, seq %d", o.seq)
	}
	return o.events
}

// sessionModel is the sequential specification of a session: the reducer.
// A command's outcome must be what reducer.Apply gives on the state the
// commands linearized before it leave; an unknown outcome is any outcome.
func sessionModel(h sessionlog.Header) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return core.NewState(h.Session, h.Presets) },
		Step: func(state, input, output any) (bool, any) {
			st, cmd, out := state.(core.State), input.(core.Command), output.(told)
			next, evs, err := reducer.Apply(st, cmd)
			switch code, _ := core.CodeOf(err); {
			case out.unknown:
				return true, next
			case err != nil:
				return out.code == code, next
			default:
				return out.code == 0 && (out.anyEvents || out.events == string(events.AppendEvents(nil, evs))) &&
					(out.seq == 0 || out.seq == next.Seq()), next
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
			return fmt.Sprintf("%s %s %s %s → %s", c.ID, c.Type, c.Actor, c.Target, output.(told))
		},
		DescribeState: func(state any) string { return string(events.AppendState(nil, state.(core.State))) },
	}
}
