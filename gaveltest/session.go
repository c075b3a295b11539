package gaveltest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// Session is a whole session to run: the presets it starts with and its
// commands in order. It is what a session log's header and its command
// records hold.
//
// Printed with %#v (as rapid prints a failing draw) it is the Go
// expression that builds it, a command a line, to paste into a
// regression test.
type Session struct {
	ID       string
	Presets  core.Presets
	Commands []core.Command
}

// Start is the session's state before its first command.
func (s Session) Start() core.State { return core.NewState(s.ID, s.Presets) }

// Step is one command of a session and what the reducer made of it.
type Step struct {
	Command core.Command
	Before  core.State
	After   core.State     // Before if the command was rejected
	Events  []events.Event // none if rejected
	Err     error          // the *core.Error that rejected the command, or nil
}

// Play runs the session's commands through the reducer, checking every
// step with a Checker. It returns the steps, up to the first that breaks
// an invariant, and that step's error; nil if none does.
func (s Session) Play() ([]Step, error) {
	chk := NewChecker(s.Start())
	steps := make([]Step, 0, len(s.Commands))
	for _, cmd := range s.Commands {
		before := chk.State()
		after, evs, err := reducer.Apply(before, cmd)
		steps = append(steps, Step{Command: cmd, Before: before, After: after, Events: evs, Err: err})
		if err := chk.Step(cmd, after, evs, err); err != nil {
			return steps, err
		}
	}
	return steps, nil
}

// The bounds of a generated session.
const (
	maxDrawn   = 200 // commands a Sessions draw makes at most
	maxDecoded = 400 // and SessionFromBytes
	afterEnd   = 2   // commands after the session has ended
)

// Sessions returns a generator of whole sessions with the given presets,
// or with presets drawn by Presets if presets is nil. A session starts with
// a run of joins (none when shrunk), then mixes commands that are valid
// (as Command draws them, rejoins included), refused on purpose (as
// Refusal draws them) and, now and then, any command at all: any type
// (types that do not exist too) with every field drawn from the pools,
// whether its type reads it or not. A session that has ended runs two
// commands more. Command ids are CommandID(1), CommandID(2), … (now and
// then one of the longest an id may be).
//
// When a property fails, rapid shrinks the session: commands go, choices
// move to the first option (joins, then the first ids of the pool: alice,
// bob, …), and ids stay those of the pool. rapid then prints the session
// with %#v: a short script, as the Go expression that builds it.
func Sessions(presets core.Presets) *rapid.Generator[Session] {
	return rapid.Custom(func(t *rapid.T) Session {
		b := startSession(rapidChooser{t}, presets)
		for len(b.s.Commands) < maxDrawn && !b.over() {
			n := len(b.s.Commands) + 1
			d := rapid.Custom(func(t *rapid.T) drawn {
				ch := rapidChooser{t}
				if moreOptions[ch.choose("more", moreOptions, nil)] == "stop" {
					return drawn{stop: true}
				}
				return drawn{cmd: chooseStep(ch, b.sc, n)}
			}).Draw(t, CommandID(n))
			if d.stop {
				break
			}
			b.add(d.cmd)
		}
		return b.s
	})
}

// SessionFromBytes decodes arbitrary bytes into a session, for a native
// fuzz target: the bytes make the choices Sessions draws (presets, if
// presets is nil, then the opening joins, then each command), one byte a
// choice, until they run out. Every input decodes, into at most 400
// commands; the same bytes always give the same session with the same
// version of this package (a change to the generators makes a corpus
// decode into other sessions, valid ones still).
func SessionFromBytes(presets core.Presets, data []byte) Session {
	ch := &byteChooser{data: data}
	b := startSession(ch, presets)
	for len(ch.data) > 0 && len(b.s.Commands) < maxDecoded && !b.over() {
		c := chooseStep(ch, b.sc, len(b.s.Commands)+1)
		if ch.exhausted() {
			break
		}
		b.add(c)
	}
	return b.s
}

// moreOptions: a session goes on, one command at a time, with a chance of
// about one in 50 of stopping (rapid draws the last of 32 options a little
// less often than one in 32).
var moreOptions = append(slices.Repeat([]string{"go"}, 31), "stop")

// drawn is one draw of Sessions: a command, or the end of the session.
// Each is a draw of its own, so that shrinking can drop it whole.
type drawn struct {
	cmd  core.Command
	stop bool
}

var prologueOptions = func() []string {
	o := make([]string, len(people)+1)
	for i := range o {
		o[i] = strconv.Itoa(i)
	}
	return o
}()

// sessionBuilder makes a session command by command, following its state.
type sessionBuilder struct {
	s     Session
	sc    *scene
	ended int // commands since the session ended
}

// startSession draws the presets (if nil) and the opening joins.
func startSession(ch chooser, presets core.Presets) *sessionBuilder {
	if presets == nil {
		presets = choosePresets(ch)
	}
	b := &sessionBuilder{s: Session{ID: SessionID, Presets: presets}}
	b.sc = newScene(b.s.Start())
	for range ch.choose("opening joins", prologueOptions, nil) {
		if !joinKind.ok(b.sc) {
			break
		}
		c := joinKind.make(b.sc, ch, CommandID(len(b.s.Commands)+1))
		if ch.exhausted() {
			break
		}
		b.add(c)
	}
	return b
}

func (b *sessionBuilder) add(c core.Command) {
	if b.sc.s.Ended() {
		b.ended++
	}
	b.s.Commands = append(b.s.Commands, c)
	if after, evs, err := reducer.Apply(b.sc.s, c); err == nil {
		b.sc.apply(after, evs)
	}
}

func (b *sessionBuilder) over() bool { return b.ended >= afterEnd }

var (
	whatOptions  = []string{"command", "command", "command", "command", "command", "command", "refusal", "any"}
	idOptions    = append(slices.Repeat([]string{"numbered"}, 15), "longest")
	anyIDOptions = append(slices.Repeat([]string{"numbered"}, 7), "empty")
	anyTypes     = append(slices.Clone(core.CommandTypes), bogusTypes...)
)

// chooseStep chooses the n-th command of a session in sc.
func chooseStep(ch chooser, sc *scene, n int) core.Command {
	feasible := valid.feasible(sc)
	what := whatOptions[ch.choose("what", whatOptions, func(i int) bool { return feasible || whatOptions[i] != "command" })]
	if what == "any" {
		return anyCommand(sc, ch, n)
	}
	id := CommandID(n)
	if idOptions[ch.choose("id", idOptions, nil)] == "longest" {
		id = padTo(id+"-", core.MaxIDLen)
	}
	if what == "refusal" {
		return refusals.choose(ch, sc).make(sc, ch, id)
	}
	return valid.choose(ch, sc).make(sc, ch, id)
}

// anyCommand is a command of any type, every field drawn whatever its type
// reads: what a careless or hostile client sends.
func anyCommand(sc *scene, ch chooser, n int) core.Command {
	ids := append(slices.Clone(sc.all), "")
	c := core.Command{
		ID:      CommandID(n),
		Type:    pickType(ch, anyTypes, nil),
		Actor:   pickString(ch, "actor", ids, nil),
		Target:  pickString(ch, "target", ids, nil),
		Preset:  sc.pickPreset(ch, unknownPreset(sc.s), ""),
		Audio:   flag(ch, "audio"),
		Video:   flag(ch, "video"),
		Enabled: flag(ch, "enabled"),
	}
	if flag(ch, "named") {
		c.Name = displayName(c.Actor)
	}
	if anyIDOptions[ch.choose("id", anyIDOptions, nil)] == "empty" {
		c.ID = ""
	}
	return c
}

// command prints as a Go composite literal of core.Command, with the
// fields that are set, and long runs of a byte as strings.Repeat.
type command core.Command

func (c command) GoString() string {
	var b strings.Builder
	b.WriteString("{")
	field := func(name, value string) {
		if b.Len() > 1 {
			b.WriteString(", ")
		}
		b.WriteString(name + ": " + value)
	}
	for _, f := range []struct{ name, value string }{
		{"ID", c.ID}, {"Type", string(c.Type)}, {"Actor", c.Actor}, {"Target", c.Target}, {"Name", c.Name}, {"Preset", c.Preset},
	} {
		if f.value != "" {
			field(f.name, goString(f.value))
		}
	}
	for _, f := range []struct {
		name  string
		value bool
	}{{"Audio", c.Audio}, {"Video", c.Video}, {"Enabled", c.Enabled}} {
		if f.value {
			field(f.name, "true")
		}
	}
	b.WriteString("}")
	return b.String()
}

// GoString returns the Go expression of s (see Session).
func (s Session) GoString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gaveltest.Session{ID: %s, Presets: %s", goString(s.ID), presetsGoString(s.Presets))
	if s.Commands != nil {
		b.WriteString(", Commands: []core.Command{\n")
		for _, c := range s.Commands {
			b.WriteString("\t" + command(c).GoString() + ",\n")
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

func presetsGoString(ps core.Presets) string {
	if ps == nil {
		return "nil"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(ps)) {
		p := ps[name]
		var fields []string
		for _, f := range []struct {
			name string
			on   bool
		}{{"DisableParticipantAudio", p.DisableParticipantAudio}, {"DisableParticipantVideo", p.DisableParticipantVideo},
			{"PinParticipant", p.PinParticipant}, {"KickParticipant", p.KickParticipant}} {
			if f.on {
				fields = append(fields, f.name+": true")
			}
		}
		parts = append(parts, goString(name)+": {"+strings.Join(fields, ", ")+"}")
	}
	return "core.Presets{" + strings.Join(parts, ", ") + "}"
}

// goString quotes s as Go source, a run of 16 or more of one byte as
// strings.Repeat: "c7-" + strings.Repeat("x", 253).
func goString(s string) string {
	const minRun = 16
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i >= minRun {
			var parts []string
			if i > 0 {
				parts = append(parts, strconv.Quote(s[:i]))
			}
			parts = append(parts, fmt.Sprintf("strings.Repeat(%s, %d)", strconv.Quote(s[i:i+1]), j-i))
			if j < len(s) {
				parts = append(parts, goString(s[j:]))
			}
			return strings.Join(parts, " + ")
		}
		i = j
	}
	return strconv.Quote(s)
}
