package replaycmd

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// divergence is the first record the reducer disagrees with.
type divergence struct {
	line    int
	command []byte // the command as written; nil for a checkpoint line
	what    string
	diff    string // cmp.Diff of recorded against replayed, when there is one
}

func (d *divergence) Error() string { return fmt.Sprintf("line %d: %s", d.line, d.what) }

func (d *divergence) report(w io.Writer, name string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay: %s: line %d: divergence: %s\n", name, d.line, d.what)
	if d.command != nil {
		fmt.Fprintf(&b, "command: %s\n", d.command)
	}
	if d.diff != "" {
		fmt.Fprintf(&b, "diff (-recorded +replayed):\n%s", d.diff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// outcome is what a command produced, in the shape the diff shows: its
// events, or its error by code (messages are for people and may change).
type outcome struct {
	Events []events.Event
	Error  string // "permission_denied (1201)"; empty on success
}

func newOutcome(evs []events.Event, err error) outcome {
	o := outcome{Events: evs}
	if len(evs) == 0 {
		o.Events = nil // "events": [] and no events are the same
	}
	if err != nil {
		code, ok := core.CodeOf(err)
		if !ok {
			code = core.CodeInvalidCommand // as events.AppendError records it
		}
		o.Error = fmt.Sprintf("%s (%d)", code.Name(), int(code))
	}
	return o
}

// comparer holds buffers for comparing events by their encoding: the codec
// is deterministic and injective on decoded values, so equal bytes are equal
// events, and cmp.Diff runs only to explain a difference.
type comparer struct{ want, got []byte }

func (c *comparer) sameEvents(want, got []events.Event) bool {
	c.want = events.AppendEvents(c.want[:0], want)
	c.got = events.AppendEvents(c.got[:0], got)
	return bytes.Equal(c.want, c.got)
}

// verifyCommand compares what rec says its command produced with what the
// reducer produced now (evs or err).
func (p *replayer) verifyCommand(rec events.Record, evs []events.Event, err error) error {
	if !rec.Recorded {
		return nil
	}
	wantEvs, wantErr, derr := rec.Outcome()
	if derr != nil {
		return &divergence{line: p.line, command: rec.RawCommand,
			what: fmt.Sprintf("the recorded outcome cannot be decoded: %v", derr)}
	}
	var werr error
	if wantErr != nil {
		werr = wantErr
	}
	want, got := newOutcome(wantEvs, werr), newOutcome(evs, err)
	if want.Error == got.Error && p.cmp.sameEvents(want.Events, got.Events) {
		return nil
	}
	diff := cmp.Diff(want, got)
	if diff == "" {
		return nil
	}
	return &divergence{line: p.line, command: rec.RawCommand, what: "the recorded outcome differs from the reducer's", diff: diff}
}

// verifyCheckpoint compares a recorded checkpoint with the replayed state.
func (p *replayer) verifyCheckpoint(want core.Snapshot) error {
	got := p.state.Snapshot()
	if sameSnapshot(want, got) {
		return nil
	}
	return &divergence{line: p.line, what: "the checkpoint differs from the replayed state", diff: cmp.Diff(want, got)}
}

func sameSnapshot(a, b core.Snapshot) bool {
	return a.Session == b.Session && a.Seq == b.Seq && a.Ended == b.Ended && a.Pinned == b.Pinned &&
		slices.Equal(a.Participants, b.Participants)
}
