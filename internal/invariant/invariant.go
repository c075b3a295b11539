// Package invariant checks what must hold after every step of every session,
// whatever the commands: the properties that gavel's model-based tests and
// its fuzz targets share, written once so that they check one definition.
//
// A [Checker] follows one session from its initial state. After each command
// it checks that:
//
//   - a rejected command is a *core.Error with a known code, produces no
//     event and leaves the state equal to before;
//   - the events are numbered on from the previous seq with no gap, and the
//     state's seq is the last event's;
//   - every event with a "by" names the command's actor, and no audio or
//     video update turns media on for anyone but its actor;
//   - a disable-all event counts the participants whose medium was on
//     before it (more than none), and the state's counts of participants
//     with audio and video on match its participants;
//   - folding all events so far from the initial state, one by one with
//     reducer.Evolve and at once with reducer.Fold, gives the current state;
//   - a pinned event never arrives while someone is pinned, so a client never
//     sees two pinned, and the pinned participant is joined;
//   - an ended session has nobody joined and nothing pinned;
//   - the state before the command is unchanged and Decide is deterministic.
//
// Package invariant is internal and only tests import it. It imports core,
// events, reducer and go-cmp (for readable diffs).
package invariant

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// Checker follows one session and checks every step of it. The zero Checker
// is not ready; use New.
type Checker struct {
	initial  core.State
	history  []events.Event
	evolved  core.State // initial with history applied one event at a time
	last     core.State
	lastSnap core.Snapshot
}

// New returns a Checker for a session that starts at initial.
func New(initial core.State) *Checker {
	return &Checker{initial: initial, evolved: initial, last: initial, lastSnap: initial.Snapshot()}
}

// State is the session's state after the last step.
func (c *Checker) State() core.State { return c.last }

// Step checks one step: cmd, applied to State(), gave after and evs, or was
// rejected with err (after should then be the state before). It returns an
// error describing every invariant that failed, or nil; either way the
// Checker moves on to after.
func (c *Checker) Step(cmd core.Command, after core.State, evs []events.Event, err error) error {
	before := c.last
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if now := before.Snapshot(); !sameSnapshot(c.lastSnap, now) {
		fail("the state before the command changed (-then +now):\n%s", cmp.Diff(c.lastSnap, now))
	}
	again, againErr := reducer.Decide(before, cmd)
	if (len(evs)+len(again) > 0 && !reflect.DeepEqual(evs, again)) || !sameCode(err, againErr) {
		fail("Decide is not deterministic (-first +second):\n%s\nerrors %v, %v", cmp.Diff(evs, again), err, againErr)
	}

	if err != nil {
		var cerr *core.Error
		if !errors.As(err, &cerr) || !cerr.Code.Known() {
			fail("rejection %v is not a *core.Error with a known code", err)
		}
		if len(evs) != 0 {
			fail("rejected with %v but produced %d events", err, len(evs))
		}
		if d := diff(before, after); d != "" {
			fail("rejected with %v but the state changed (-before +after):\n%s", err, d)
		}
	}

	seq := before.Seq()
	for _, e := range evs {
		seq++
		if e.Sequence() != seq {
			fail("%s has seq %d, want %d", e.Type(), e.Sequence(), seq)
		}
		checkEvent(cmd, e, fail)
		checkCount(before, e, fail)
	}
	if after.Seq() != seq {
		fail("state seq is %d after the command's events, want %d", after.Seq(), seq)
	}

	// c.evolved is initial with every earlier event evolved one by one, so
	// evolving evs continues that fold; Fold starts from initial each time,
	// so runs of media updates spanning commands take its bulk path.
	for _, e := range evs {
		if p, ok := e.(*events.Pinned); ok && c.evolved.Pinned() != "" {
			fail("pinned %q while %q is still pinned: a client would see two pinned", p.Participant, c.evolved.Pinned())
		}
		if u, ok := e.(*events.Unpinned); ok && c.evolved.Pinned() != u.Participant {
			fail("unpinned %q, but the pinned participant is %q", u.Participant, c.evolved.Pinned())
		}
		c.evolved = reducer.Evolve(c.evolved, e)
	}
	c.history = append(c.history, evs...)
	for i, e := range c.history {
		if want := c.initial.Seq() + uint64(i) + 1; e.Sequence() != want {
			fail("event %d of the session has seq %d, want %d", i, e.Sequence(), want)
			break
		}
	}
	if d := diff(c.evolved, after); d != "" {
		fail("Evolve of all events differs from the state (-evolved +state):\n%s", d)
	}
	if d := diff(reducer.Fold(c.initial, c.history), after); d != "" {
		fail("Fold of all events differs from the state (-folded +state):\n%s", d)
	}

	checkState(after, fail)

	c.last, c.lastSnap = after, after.Snapshot()
	return errors.Join(errs...)
}

// checkEvent checks what every event of cmd must satisfy on its own.
func checkEvent(cmd core.Command, e events.Event, fail func(string, ...any)) {
	switch e := e.(type) {
	case *events.ParticipantJoined:
		if e.Participant != cmd.Actor {
			fail("%s joined by a command of %q", e.Participant, cmd.Actor)
		}
		return
	case *events.AudioUpdate:
		if e.AudioEnabled && e.By != e.Participant {
			fail("%q turned on the audio of %q", e.By, e.Participant)
		}
	case *events.VideoUpdate:
		if e.VideoEnabled && e.By != e.Participant {
			fail("%q turned on the video of %q", e.By, e.Participant)
		}
	case *events.ParticipantLeft, *events.Pinned, *events.Unpinned, *events.SessionEnded,
		*events.AllAudioDisabled, *events.AllVideoDisabled:
	default:
		fail("event of unknown Go type %T", e)
		return
	}
	if by := events.By(e); by != cmd.Actor {
		fail("%s has by %q, want the actor %q", e.Type(), by, cmd.Actor)
	}
}

// checkCount checks the count of a disable-all event decided in before:
// the participants whose medium was on, at least one.
func checkCount(before core.State, e events.Event, fail func(string, ...any)) {
	var count uint64
	var on func(core.Participant) bool
	switch e := e.(type) {
	case *events.AllAudioDisabled:
		count, on = e.Count, func(p core.Participant) bool { return p.AudioEnabled }
	case *events.AllVideoDisabled:
		count, on = e.Count, func(p core.Participant) bool { return p.VideoEnabled }
	default:
		return
	}
	want := uint64(0)
	for p := range before.All() {
		if on(p) {
			want++
		}
	}
	if count != want || count == 0 {
		fail("%s counts %d, but %d participants had it on", e.Type(), count, want)
	}
}

// checkState checks what every state a session can be in satisfies.
func checkState(s core.State, fail func(string, ...any)) {
	ps := s.Participants()
	if len(ps) != s.Len() {
		fail("Len is %d but %d participants are listed", s.Len(), len(ps))
	}
	audio, video := 0, 0
	for _, p := range ps {
		if p.AudioEnabled {
			audio++
		}
		if p.VideoEnabled {
			video++
		}
	}
	if audio != s.AudioOn() || video != s.VideoOn() {
		fail("AudioOn, VideoOn are %d, %d but %d, %d participants have them on", s.AudioOn(), s.VideoOn(), audio, video)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if seen[p.ID] {
			fail("participant %q listed twice", p.ID)
		}
		seen[p.ID] = true
		if _, ok := s.Preset(p.Preset); !ok {
			fail("participant %q has unknown preset %q", p.ID, p.Preset)
		}
	}
	if pin := s.Pinned(); pin != "" && !seen[pin] {
		fail("pinned %q is not joined", pin)
	}
	if s.Ended() && (len(ps) != 0 || s.Pinned() != "") {
		fail("the session has ended but %d participants are joined and %q is pinned", len(ps), s.Pinned())
	}
}

// diff is "" when a and b are the same state both by State.Equal and as
// snapshots, else a cmp.Diff of their snapshots (and a note if only Equal
// tells them apart, which is then about presets or Equal itself).
func diff(a, b core.State) string {
	sa, sb := a.Snapshot(), b.Snapshot()
	same := sameSnapshot(sa, sb)
	switch {
	case same && a.Equal(b):
		return ""
	case same:
		return "State.Equal is false for states with equal snapshots"
	}
	d := cmp.Diff(sa, sb)
	if a.Equal(b) {
		d = "State.Equal is true for states whose snapshots differ:\n" + d
	}
	return d
}

// sameSnapshot is cmp.Equal for snapshots, without its cost: the checks run
// after every step of every test and fuzz input.
func sameSnapshot(a, b core.Snapshot) bool {
	return a.Session == b.Session && a.Seq == b.Seq && a.Ended == b.Ended && a.Pinned == b.Pinned &&
		slices.Equal(a.Participants, b.Participants)
}

func sameCode(a, b error) bool {
	ca, _ := core.CodeOf(a)
	cb, _ := core.CodeOf(b)
	return (a == nil) == (b == nil) && ca == cb
}
