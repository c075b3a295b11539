package replaycmd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// A timeline row: line, time, command id, type, actor → target, outcome.
// Widths fit the usual values; a longer value pushes its row out of line
// rather than being cut.
const rowFormat = "%5s  %-8s  %-10s  %-17s  %-24s  %s\n"

func (p *replayer) printHeader(h events.Header) {
	fmt.Fprintf(p.out, "session %s, presets %s\n\n", text(h.Session), events.AppendPresets(nil, h.Presets))
	fmt.Fprintf(p.out, rowFormat, "line", "at", "id", "command", "actor → target", "outcome")
}

func (p *replayer) printCommand(rec events.Record, evs []events.Event, err error) {
	c := rec.Command
	who := text(c.Actor)
	if c.Target != "" || c.Type.Targeted() {
		who += " → " + text(c.Target)
	}
	line, at, id, typ := strconv.Itoa(p.line), clock(rec.At), text(c.ID), text(string(c.Type))
	switch {
	case err != nil:
		fmt.Fprintf(p.out, rowFormat, line, at, id, typ, who, errorText(err))
		return
	case len(evs) == 0:
		fmt.Fprintf(p.out, rowFormat, line, at, id, typ, who, "ok, no change")
		return
	}
	for _, e := range evs { // at most two: a bulk command is one event
		fmt.Fprintf(p.out, rowFormat, line, at, id, typ, who, eventText(e))
		line, at, id, typ, who = "", "", "", "", ""
	}
}

func (p *replayer) printCheckpoint(want core.Snapshot) {
	verdict := "as recorded"
	if !sameSnapshot(want, p.state.Current().Snapshot()) {
		verdict = "the recorded checkpoint differs (see -verify)"
	}
	fmt.Fprintf(p.out, rowFormat, strconv.Itoa(p.line), "", "", "checkpoint", "", summary(p.state.Current())+", "+verdict)
}

// printState prints the state, one participant a line, for -until.
func (p *replayer) printState() {
	fmt.Fprintf(p.out, "\nstate after line %d: session %s, %s\n", p.line, text(p.state.Current().Session()), summary(p.state.Current()))
	for q := range p.state.Current().All() {
		fmt.Fprintf(p.out, "  %-12s %-20s preset %-10s audio %-3s video %s\n",
			text(q.ID), strconv.Quote(q.Name), text(q.Preset), onOff(q.AudioEnabled), onOff(q.VideoEnabled))
	}
}

func summary(s core.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d, ", s.Seq())
	if s.Ended() {
		b.WriteString("ended")
		return b.String()
	}
	fmt.Fprintf(&b, "%d joined, ", s.Len())
	if s.Pinned() == "" {
		b.WriteString("nobody pinned")
	} else {
		b.WriteString("pinned " + text(s.Pinned()))
	}
	return b.String()
}

func eventText(e events.Event) string {
	head := fmt.Sprintf("#%d %s", e.Sequence(), e.Type())
	switch e := e.(type) {
	case *events.ParticipantJoined:
		return fmt.Sprintf("%s %s %s preset %s, audio %s, video %s", head, text(e.Participant), strconv.Quote(e.Name),
			text(e.Preset), onOff(e.AudioEnabled), onOff(e.VideoEnabled))
	case *events.ParticipantLeft:
		return fmt.Sprintf("%s %s %s by %s", head, text(e.Participant), text(string(e.Reason)), text(e.By))
	case *events.AudioUpdate:
		return fmt.Sprintf("%s %s audio %s by %s", head, text(e.Participant), onOff(e.AudioEnabled), text(e.By))
	case *events.VideoUpdate:
		return fmt.Sprintf("%s %s video %s by %s", head, text(e.Participant), onOff(e.VideoEnabled), text(e.By))
	case *events.Pinned:
		return fmt.Sprintf("%s %s by %s", head, text(e.Participant), text(e.By))
	case *events.Unpinned:
		return fmt.Sprintf("%s %s by %s", head, text(e.Participant), text(e.By))
	case *events.AllAudioDisabled:
		return fmt.Sprintf("%s %s audio off by %s", head, participants(e.Count), text(e.By))
	case *events.AllVideoDisabled:
		return fmt.Sprintf("%s %s video off by %s", head, participants(e.Count), text(e.By))
	case *events.SessionEnded:
		return fmt.Sprintf("%s by %s", head, text(e.By))
	}
	return head
}

func participants(n uint64) string {
	if n == 1 {
		return "1 participant"
	}
	return fmt.Sprintf("%d participants", n)
}

// errorText is a rejection as the timeline shows it: name, code and message.
func errorText(err error) string {
	code, ok := core.CodeOf(err)
	if !ok {
		code = core.CodeInvalidCommand
	}
	msg := err.Error()
	if e, ok := err.(*core.Error); ok {
		msg = e.Message
	}
	return fmt.Sprintf("error %s (%d): %s", code.Name(), int(code), oneLine(msg))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// clock shortens an RFC 3339 time to its time of day; anything else is shown
// as written.
func clock(at string) string {
	if at == "" {
		return ""
	}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		return t.Format(time.TimeOnly)
	}
	return text(at)
}

// text is a value from the log as the timeline shows it: as is when it is
// plain, quoted when it is empty or holds spaces, quotes or characters a
// terminal would not print as themselves.
func text(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '"' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
