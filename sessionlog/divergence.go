package sessionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/jsonscan"
)

// Divergence is the first entry of a log whose recorded outcome or
// checkpoint the reducer does not reproduce.
type Divergence struct {
	// Line is the entry's line number.
	Line int
	// Command is the entry's command as written; nil for a checkpoint.
	Command json.RawMessage
	// What says what differs, in a sentence.
	What string
	// Diff shows how, when there is more to show: a line per difference,
	// "-" for what the log recorded and "+" for what the reducer produces
	// now, with the log's own field names and values.
	Diff string
}

// Error is "line N: what".
func (d *Divergence) Error() string { return fmt.Sprintf("line %d: %s", d.Line, d.What) }

// outcome is what a command produced: its events, or its error by code
// (messages are for people and may change).
type outcome struct {
	events []events.Event
	code   core.Code // 0 on success
}

func newOutcome(evs []events.Event, err error) outcome {
	if err == nil {
		return outcome{events: evs}
	}
	code, ok := core.CodeOf(err)
	if !ok {
		code = core.CodeInvalidCommand // as events.AppendError records it
	}
	return outcome{code: code}
}

// comparer holds buffers for comparing events by their encoding: the codec
// is deterministic and injective on decoded values, so equal bytes are equal
// events, and a diff is made only to explain a difference.
type comparer struct{ want, got []byte }

func (c *comparer) sameEvents(want, got []events.Event) bool {
	c.want = events.AppendEvents(c.want[:0], want)
	c.got = events.AppendEvents(c.got[:0], got)
	return bytes.Equal(c.want, c.got)
}

// seqJump says, when the log's next seq is not the one the session is at,
// that records are missing or repeated before the line.
func seqJump(at, next uint64) string {
	switch {
	case next == at+2:
		return fmt.Sprintf(": the seq jumps from %d to %d, so an event is missing before this line "+
			"(a record removed from the log?)", at, next)
	case next > at+2:
		return fmt.Sprintf(": the seq jumps from %d to %d, so %d events are missing before this line "+
			"(a record removed from the log?)", at, next, next-at-1)
	case next <= at:
		return fmt.Sprintf(": the seq goes back from %d to %d (a record repeated?)", at, next)
	}
	return ""
}

func sameSnapshot(a, b core.Snapshot) bool {
	return a.Session == b.Session && a.Seq == b.Seq && a.Ended == b.Ended && a.Pinned == b.Pinned &&
		slices.Equal(a.Participants, b.Participants)
}

// The diffs below speak the log's language: field names and values as the
// log writes them, a line per difference, "-" for what the log recorded and
// "+" for what the reducer produces now. They stop after maxDiffLines.

const maxDiffLines = 40

type diffWriter struct {
	b     strings.Builder
	lines int
	more  int // differences not shown
}

func (d *diffWriter) line(mark byte, format string, args ...any) {
	if d.lines == maxDiffLines {
		d.more++
		return
	}
	d.lines++
	d.b.WriteByte(mark)
	d.b.WriteByte(' ')
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteByte('\n')
}

func (d *diffWriter) String() string {
	if d.more > 0 {
		fmt.Fprintf(&d.b, "  … and %d more lines of differences\n", d.more)
	}
	return d.b.String()
}

// outcomeDiff shows how two outcomes differ: events field by field, or the
// error by code.
func outcomeDiff(want, got outcome) string {
	var d diffWriter
	switch {
	case want.code != 0 && got.code != 0:
		d.line('-', `"error": %s`, errorJSON(want.code))
		d.line('+', `"error": %s`, errorJSON(got.code))
	case want.code != 0:
		d.line('-', `"error": %s`, errorJSON(want.code))
		eventLines(&d, '+', got.events)
	case got.code != 0:
		eventLines(&d, '-', want.events)
		d.line('+', `"error": %s`, errorJSON(got.code))
	default:
		for i := range max(len(want.events), len(got.events)) {
			switch {
			case i >= len(got.events):
				d.line('-', `"events"[%d]: %s`, i, events.AppendEvent(nil, want.events[i]))
			case i >= len(want.events):
				d.line('+', `"events"[%d]: %s`, i, events.AppendEvent(nil, got.events[i]))
			default:
				objectDiff(&d, fmt.Sprintf(`"events"[%d]`, i), events.AppendEvent(nil, want.events[i]),
					events.AppendEvent(nil, got.events[i]))
			}
		}
	}
	return d.String()
}

func eventLines(d *diffWriter, mark byte, evs []events.Event) {
	if len(evs) == 0 {
		d.line(mark, `"events": []`)
	}
	for i, e := range evs {
		d.line(mark, `"events"[%d]: %s`, i, events.AppendEvent(nil, e))
	}
}

// errorJSON is an error as the log writes it, less its message.
func errorJSON(c core.Code) string {
	return fmt.Sprintf(`{"code":%d,"name":%q}`, int(c), c.Name())
}

// objectDiff shows how two JSON objects of the log, want and got, differ:
// nothing if they are equal; the fields that differ, under a heading, if
// they are of one kind (the same "type", or no type); else both whole.
func objectDiff(d *diffWriter, heading string, want, got []byte) {
	if bytes.Equal(want, got) {
		return
	}
	wf, gf := members(want), members(got)
	if wt, gt := wf.get("type"), gf.get("type"); string(wt) != string(gt) {
		d.line('-', "%s: %s", heading, want)
		d.line('+', "%s: %s", heading, got)
		return
	}
	d.line(' ', "%s:", heading)
	for _, m := range wf {
		if v := gf.get(m.name); !bytes.Equal(v, m.value) {
			d.line('-', "  %q: %s", m.name, m.value)
			if v != nil {
				d.line('+', "  %q: %s", m.name, v)
			}
		}
	}
	for _, m := range gf {
		if wf.get(m.name) == nil {
			d.line('+', "  %q: %s", m.name, m.value)
		}
	}
}

type member struct {
	name  string
	value []byte
}

type memberList []member

func (ms memberList) get(name string) []byte {
	for _, m := range ms {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

// members splits a JSON object the codec wrote into its members, in order.
func members(b []byte) memberList {
	var ms memberList
	_ = jsonscan.Object(b, func(name, value []byte) { ms = append(ms, member{string(name), value}) })
	return ms
}

// snapshotDiff shows how two states differ: the top-level fields, then the
// participants, matched by id.
func snapshotDiff(want, got core.Snapshot) string {
	var d diffWriter
	for _, f := range []struct {
		name      string
		want, got string
	}{
		{"session", string(events.AppendString(nil, want.Session)), string(events.AppendString(nil, got.Session))},
		{"seq", strconv.FormatUint(want.Seq, 10), strconv.FormatUint(got.Seq, 10)},
		{"ended", strconv.FormatBool(want.Ended), strconv.FormatBool(got.Ended)},
		{"pinned", pinnedJSON(want.Pinned), pinnedJSON(got.Pinned)},
	} {
		if f.want != f.got {
			d.line('-', "%q: %s", f.name, f.want)
			d.line('+', "%q: %s", f.name, f.got)
		}
	}
	index := func(ps []core.Participant) map[string]int {
		m := make(map[string]int, len(ps))
		for i, p := range ps {
			m[p.ID] = i
		}
		return m
	}
	wi, gi := index(want.Participants), index(got.Participants)
	participant := func(p core.Participant) []byte { return events.AppendParticipant(nil, p) }
	for i, p := range want.Participants {
		j, ok := gi[p.ID]
		if !ok {
			d.line('-', `"participants"[%d]: %s`, i, participant(p))
			continue
		}
		objectDiff(&d, fmt.Sprintf(`"participants"[%d] %s`, i, events.AppendString(nil, p.ID)), participant(p), participant(got.Participants[j]))
	}
	for j, p := range got.Participants {
		if _, ok := wi[p.ID]; !ok {
			d.line('+', `"participants"[%d]: %s`, j, participant(p))
		}
	}
	if d.lines == 0 { // the same participants, in another order
		for i := range want.Participants {
			if want.Participants[i].ID != got.Participants[i].ID {
				d.line('-', `"participants"[%d]: %s`, i, participant(want.Participants[i]))
				d.line('+', `"participants"[%d]: %s`, i, participant(got.Participants[i]))
				break
			}
		}
	}
	return d.String()
}

func pinnedJSON(id string) string {
	if id == "" {
		return "null"
	}
	return string(events.AppendString(nil, id))
}
