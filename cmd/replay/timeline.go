package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/sessionlog"
)

// A timeline row: line, time, command id, type, actor → target, outcome.
// Widths fit the usual values (an SDK's command id is 18 to 20 characters);
// an id longer than its column is shortened in the middle, and a longer
// value of another column pushes its row out of line rather than being cut.
const (
	rowFormat = "%5s  %-8s  %-20s  %-17s  %-24s  %s\n"
	idWidth   = 20
)

// timeline prints the log as a person reads it: the header, then a row per
// command (a row per event, at most two: a bulk command is one event) and
// per checkpoint, each with its verdict.
func (p *printer) timeline() error {
	r := p.p
	p.printHeader(r.Header())
	for {
		s, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if s.Entry.HasCommand {
			p.printCommand(s)
		}
		if s.Entry.State != nil {
			p.printCheckpoint(s)
		}
	}
}

func (p *printer) printHeader(h sessionlog.Header) {
	p.printf("session %s, presets %s\n", text(h.Session), events.AppendPresets(nil, h.Presets))
	p.printf("#N is an event's seq; \"differs\" marks a recorded outcome or checkpoint the reducer does not reproduce\n\n")
	p.printf(rowFormat, "line", "at", "id", "command", "actor → target", "outcome")
}

// printCommand prints a command's rows: a rejection (a refused host
// action, in a log a runtime wrote) names who tried what and the code it
// was refused with.
func (p *printer) printCommand(s sessionlog.Step) {
	c := s.Entry.Command
	who := text(c.Actor)
	if c.Target != "" || c.Type.Targeted() {
		who += " → " + text(c.Target)
	}
	line, at, id, typ := strconv.Itoa(s.Line), clock(s.Entry.At), shorten(text(c.ID), idWidth), text(string(c.Type))
	switch {
	case s.Err != nil:
		p.printf(rowFormat, line, at, id, typ, who, errorText(s.Err))
	case len(s.Events) == 0:
		p.printf(rowFormat, line, at, id, typ, who, "ok, no change")
	}
	for _, e := range s.Events { // at most two: a bulk command is one event
		p.printf(rowFormat, line, at, id, typ, who, eventText(e))
		line, at, id, typ, who = "", "", "", "", ""
	}
	if p.p.CheckCommand(s) != nil {
		p.printf(rowFormat, "", "", "", "", "", "the recorded outcome differs (see -verify)")
	}
}

func (p *printer) printCheckpoint(s sessionlog.Step) {
	verdict := "as recorded"
	if p.p.CheckCheckpoint(s) != nil {
		verdict = "the recorded checkpoint differs (see -verify)"
	}
	p.printf(rowFormat, strconv.Itoa(s.Line), "", "", "checkpoint", "", summary(p.p.State())+", "+verdict)
}

// printState prints the state, one participant a line, for -until.
func (p *printer) printState() {
	st := p.p.State()
	p.printf("\nstate after line %d: session %s, %s\n", p.p.Line(), text(st.Session()), summary(st))
	for q := range st.All() {
		p.printf("  %-12s %-20s preset %-10s audio %-3s video %s\n",
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

// shorten cuts s to width characters in the middle, keeping its start and
// its end (where an SDK's id has its counter): the line column finds the
// record.
func shorten(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	head := (width - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(width-1-head):])
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
