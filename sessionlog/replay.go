package sessionlog

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// Replayer runs a log through the reducer, one entry at a time. It holds
// the session's state and one line, so its memory does not grow with the
// length of the log. A Replayer is not safe for concurrent use.
type Replayer struct {
	r       *Reader
	state   core.Builder // the session, built entry after entry
	cmp     comparer
	line    int  // the line of the last entry run, or of the header
	stop    int  // StopAfter's line; 0: none
	stopped bool // past it
}

// Step is one entry of a log as a Replayer ran it.
type Step struct {
	// Line is the entry's line number.
	Line int
	// Entry is the entry as the log has it.
	Entry Entry
	// Before is the session's seq before the entry's command.
	Before uint64
	// Events are the command's events as the reducer decides them now; Err
	// is its rejection now (a *core.Error; CommandErr for a malformed
	// command). Both are nil for a checkpoint.
	Events []events.Event
	Err    error
}

// NewReplayer reads the log's header from in and returns a Replayer at its
// first entry. Errors about the log are *LineError.
func NewReplayer(in io.Reader) (*Replayer, error) {
	r, err := NewReader(in)
	if err != nil {
		return nil, err
	}
	h := r.Header()
	return &Replayer{r: r, line: r.Line(), state: core.NewBuilder(core.NewState(h.Session, h.Presets))}, nil
}

// Header is the log's header.
func (p *Replayer) Header() Header { return p.r.Header() }

// Line is the number of the line of the last Step, or of the header before
// the first.
func (p *Replayer) Line() int { return p.line }

// State is the session's state after the last Step (its command, then its
// checkpoint, which changes nothing). It is valid until the next call of
// Next, as bytes.Buffer's Bytes is: keep State().Snapshot() beyond it.
func (p *Replayer) State() core.State { return p.state.Current() }

// StopAfter makes the log end, for Next, after the last entry at or before
// line n: an entry after it is not run, and a line after it that is not
// valid is not an error (time travel: replay -until). n ≤ 0 stops nowhere.
func (p *Replayer) StopAfter(n int) { p.stop = n }

// Next runs the next entry and returns what it did, or io.EOF after the
// last. Any other error is a *LineError: the log is invalid from there on,
// and Next returns it again. A command that did not decode is rejected
// with its decode error (invalid_command), without the reducer.
func (p *Replayer) Next() (Step, error) {
	if p.stopped {
		return Step{}, io.EOF
	}
	if p.stop > 0 && p.line >= p.stop {
		p.stopped = true // line n is run: read no further
		return Step{}, io.EOF
	}
	e, err := p.r.Next()
	if p.stop > 0 && p.r.Line() > p.stop {
		p.stopped = true
		return Step{}, io.EOF
	}
	if err != nil {
		return Step{}, err
	}
	p.line = p.r.Line()
	s := Step{Line: p.line, Entry: e, Before: p.state.Current().Seq()}
	if !e.HasCommand {
		return s, nil
	}
	if s.Err = e.CommandErr; s.Err == nil {
		if s.Events, s.Err = reducer.Decide(p.state.Current(), e.Command); s.Err == nil {
			reducer.FoldInto(&p.state, s.Events)
		}
	}
	return s, nil
}

// Check compares what s, the last Step, says was produced (its recorded
// events or error, field by field, and its checkpoint) with what the
// reducer produced, and returns the first difference, or nil. Call it
// before the next Next: a checkpoint is compared with State.
func (p *Replayer) Check(s Step) *Divergence {
	if d := p.CheckCommand(s); d != nil {
		return d
	}
	return p.CheckCheckpoint(s)
}

// CheckCommand is Check for the command of s only: nil when s has none, or
// its outcome is not recorded.
func (p *Replayer) CheckCommand(s Step) *Divergence {
	e := s.Entry
	if !e.HasCommand || !e.Recorded {
		return nil
	}
	if s.Err == nil && e.RawError == nil {
		// A log gavel wrote holds the events as the codec writes them, so
		// equal bytes are the common case, and need no decoding.
		p.cmp.got = events.AppendEvents(p.cmp.got[:0], s.Events)
		if bytes.Equal(e.RawEvents, p.cmp.got) {
			return nil
		}
	}
	wantEvs, wantErr, derr := e.Outcome()
	if derr != nil {
		return &Divergence{Line: s.Line, Command: e.RawCommand,
			What: fmt.Sprintf("the recorded outcome cannot be decoded: %v", derr)}
	}
	var werr error
	if wantErr != nil {
		werr = wantErr
	}
	want, got := newOutcome(wantEvs, werr), newOutcome(s.Events, s.Err)
	if want.code == got.code && p.cmp.sameEvents(want.events, got.events) {
		return nil
	}
	what := "the recorded outcome differs from the reducer's"
	if len(want.events) > 0 {
		what += seqJump(s.Before, want.events[0].Sequence())
	}
	return &Divergence{Line: s.Line, Command: e.RawCommand, What: what, Diff: outcomeDiff(want, got)}
}

// CheckCheckpoint is Check for the checkpoint of s only: nil when s has
// none. Call it before the next Next.
func (p *Replayer) CheckCheckpoint(s Step) *Divergence {
	if s.Entry.State == nil {
		return nil
	}
	want, got := *s.Entry.State, p.state.Current().Snapshot()
	if sameSnapshot(want, got) {
		return nil
	}
	what := "the checkpoint differs from the replayed state"
	if want.Seq > got.Seq {
		what += seqJump(got.Seq, want.Seq)
	}
	return &Divergence{Line: s.Line, What: what, Diff: snapshotDiff(want, got)}
}

// WriteStep writes s as the reducer produced it: its command (as written)
// with the outcome it has now, and its checkpoint as state, the Replayer's
// State after s.
func (w *Writer) WriteStep(s Step, state core.State) error {
	if s.Entry.HasCommand {
		if err := w.WriteRawCommand(s.Entry.At, s.Entry.RawCommand, s.Events, s.Err); err != nil {
			return err
		}
	}
	if s.Entry.State != nil {
		return w.WriteCheckpoint(state.Snapshot())
	}
	return nil
}

// Rerecord runs the rest of the log and writes it to w as the reducer
// produces it now (WriteStep), the way `replay -json` turns a script of
// commands into a recorded log. It does not flush w. A line w refuses
// (longer than MaxLineLen with its outcome) is a *LineError.
func (p *Replayer) Rerecord(w *Writer) error {
	for {
		s, err := p.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.WriteStep(s, p.State()); err != nil {
			return &LineError{Line: s.Line, Err: err}
		}
	}
}

// RecordScript reads a log from in, a script of commands or a recorded
// log, and writes to out the log the reducer records of it now: its header,
// then every command with its outcome and every checkpoint with the state
// there. What it writes, Verify accepts.
func RecordScript(in io.Reader, out io.Writer) error {
	p, err := NewReplayer(in)
	if err != nil {
		return err
	}
	w, err := NewWriter(out, p.Header())
	if err == nil {
		err = p.Rerecord(w)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Summary is what Verify checked.
type Summary struct {
	Commands, Checkpoints int
	// Line is the last line run: of the last entry, or of the header.
	Line int
	// Seq is the session's seq at the end.
	Seq uint64
}

// Verify runs the rest of the log and compares every recorded outcome and
// checkpoint with the reducer's (Check), as `replay -verify` does. It stops
// at the first divergence and returns it, a *Divergence; an invalid log is
// a *LineError.
func (p *Replayer) Verify() (Summary, error) {
	var sum Summary
	for {
		s, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
		if d := p.Check(s); d != nil {
			return sum, d
		}
		if s.Entry.HasCommand {
			sum.Commands++
		}
		if s.Entry.State != nil {
			sum.Checkpoints++
		}
	}
	sum.Line, sum.Seq = p.Line(), p.State().Seq()
	return sum, nil
}

// Verify reads a log from in and verifies it (Replayer.Verify), holding one
// line and the session's state: a log of any length is checked in constant
// memory.
func Verify(in io.Reader) (Summary, error) {
	p, err := NewReplayer(in)
	if err != nil {
		return Summary{}, err
	}
	return p.Verify()
}

// Replay runs every command of the log from in through the reducer and
// returns the state at the end. Recorded outcomes and checkpoints are not
// compared (Verify does that); an invalid log is a *LineError.
func Replay(in io.Reader) (core.State, error) {
	p, err := NewReplayer(in)
	if err != nil {
		return core.State{}, err
	}
	for {
		if _, err := p.Next(); err == io.EOF {
			return p.state.State(), nil
		} else if err != nil {
			return core.State{}, err
		}
	}
}
