package gaveltest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

// Checker follows one session and checks every step of it against what
// the SPEC says must hold whatever the commands (see the package doc for
// the list). The zero Checker is not ready; use NewChecker.
type Checker struct {
	initial  core.State
	history  []events.Event
	evolved  core.State // initial with history applied one event at a time
	last     core.State
	lastSnap core.Snapshot
	steps    int
	// views are the clients of the session: one per participant who has
	// joined, each a new view.View from its join on (a client that leaves
	// stops its view; joining again is a new one).
	views map[string]view.View
}

// NewChecker returns a Checker for a session that starts at initial: a new
// session (core.NewState) or any state of one, such as a snapshot.
func NewChecker(initial core.State) *Checker {
	c := &Checker{initial: initial, evolved: initial, last: initial, lastSnap: initial.Snapshot(),
		views: make(map[string]view.View)}
	for p := range initial.All() {
		c.views[p.ID] = view.New(p.ID, initial)
	}
	return c
}

// State is the session's state after the last step.
func (c *Checker) State() core.State { return c.last }

// Step checks one step of the session: cmd, applied to State(), gave the
// state after and the events evs, or was rejected with err (and after
// should then be the state before). It returns an error that lists every
// invariant the step breaks, a line each with details indented, or nil;
// either way the Checker moves on to after.
//
// The outcome must be the reducer's (reducer.Decide), so a system under
// test that decides otherwise fails here. Each step folds the session's
// whole history again: the cost grows with the square of the session's
// length, which is nothing for the hundreds of commands a generated
// session has.
func (c *Checker) Step(cmd core.Command, after core.State, evs []events.Event, err error) error {
	before := c.last
	c.steps++
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if now := before.Snapshot(); !sameSnapshot(c.lastSnap, now) {
		fail("the state before the command changed (-then +now):\n%s", cmp.Diff(c.lastSnap, now))
	}
	again, againErr := reducer.Decide(before, cmd)
	if (len(evs)+len(again) > 0 && !reflect.DeepEqual(evs, again)) || !sameCode(err, againErr) {
		fail("the outcome is not the reducer's, or Decide is not deterministic: errors %v and %v, events (-step +Decide):\n%s",
			err, againErr, cmp.Diff(evs, again))
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
		c.follow(cmd, e, fail)
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
	afterSnap := after.Snapshot()
	for _, self := range slices.Sorted(maps.Keys(c.views)) {
		v := c.views[self]
		if err := checkView(v, after, afterSnap); err != nil {
			fail("%s's view: %v", self, err)
		}
		if room := v.Self().RoomState; room != view.StateInit && room != view.StateJoined {
			delete(c.views, self)
		}
	}

	c.last, c.lastSnap = after, afterSnap
	if len(errs) == 0 {
		return nil
	}
	return &stepError{step: c.steps, cmd: cmd, errs: errs}
}

// stepError lists what one step broke: a line each, details indented.
type stepError struct {
	step int
	cmd  core.Command
	errs []error
}

func (e *stepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gaveltest: step %d, %#v:", e.step, command(e.cmd))
	for _, err := range e.errs {
		b.WriteString("\n" + strings.ReplaceAll(strings.TrimRight(err.Error(), "\n"), "\n", "\n\t"))
	}
	return b.String()
}

func (e *stepError) Unwrap() []error { return e.errs }

// follow applies e, an event of cmd, to every client's view, and checks
// what each view says of it: the SDK events all name the actor as "by"
// (but for a join, which has none), nobody turns on another's media, a
// bulk event is an update for as many participants as it counts, and a
// client removed learns why. e joins a participant without a view: its
// view starts here.
func (c *Checker) follow(cmd core.Command, e events.Event, fail func(string, ...any)) {
	if j, ok := e.(*events.ParticipantJoined); ok {
		if _, ok := c.views[j.Participant]; !ok {
			c.views[j.Participant] = view.New(j.Participant, c.evolved)
		}
	}
	for _, self := range slices.Sorted(maps.Keys(c.views)) {
		v := c.views[self]
		wasJoined := v.Self().RoomState == view.StateJoined
		v, ns := v.Apply(e)
		c.views[self] = v
		updated := map[string]bool{}
		for _, n := range ns {
			wantBy := cmd.Actor
			if _, ok := e.(*events.ParticipantJoined); ok {
				wantBy = ""
			}
			switch {
			case n.Seq != e.Sequence():
				fail("%s's view: %s has seq %d, the event %d", self, n.Event, n.Seq, e.Sequence())
			case n.By != wantBy:
				fail("%s's view: %s on %s by %q, want %q", self, n.Event, n.On, n.By, wantBy)
			case (n.Event == view.AudioUpdate && n.AudioEnabled || n.Event == view.VideoUpdate && n.VideoEnabled) &&
				n.Participant.ID != n.By:
				fail("%s's view: %q turned on the media of %q", self, n.By, n.Participant.ID)
			case n.Event == view.RoomLeft && n.State != roomLeft(e):
				fail("%s's view: roomLeft with state %s after %s", self, n.State, e.Type())
			}
			if n.Event == view.AudioUpdate && !n.AudioEnabled || n.Event == view.VideoUpdate && !n.VideoEnabled {
				updated[n.Participant.ID] = true
			}
		}
		var count uint64
		switch e := e.(type) {
		case *events.AllAudioDisabled:
			count = e.Count
		case *events.AllVideoDisabled:
			count = e.Count
		default:
			continue
		}
		if wasJoined && uint64(len(updated)) != count {
			fail("%s's view: %s counts %d, the view updates %d participants", self, e.Type(), count, len(updated))
		}
	}
}

// roomLeft is the room state a client removed by e learns.
func roomLeft(e events.Event) view.RoomState {
	switch e := e.(type) {
	case *events.SessionEnded:
		return view.StateEnded
	case *events.ParticipantLeft:
		if e.Reason == events.ReasonKicked {
			return view.StateKicked
		}
		return view.StateLeft
	}
	return ""
}

// CheckView reports how v, a client's view, disagrees with s, the session
// state it should show, or returns nil. A view that has ended (its self
// left, was kicked or saw the session end) shows nothing more, and s must
// not have its self joined. A live view is at s's seq; its self is joined
// exactly when it says so and is then the participant of s (pinned or not,
// with its preset's permissions); its joined map is every participant of s
// but self, in join order; its pinned map holds the pinned one unless that
// is self.
//
// Checker.Step checks the view of every participant this way after each
// step; CheckView serves views built otherwise (resynced, or a client
// SDK's).
func CheckView(v view.View, s core.State) error { return checkView(v, s, s.Snapshot()) }

// checkView is CheckView given snap, the snapshot of s.
func checkView(v view.View, s core.State, snap core.Snapshot) error {
	self := v.Self()
	switch self.RoomState {
	case view.StateInit, view.StateJoined:
	default:
		if s.Joined(self.ID) {
			return fmt.Errorf("room state %s, but %s is joined", self.RoomState, self.ID)
		}
		return nil
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// The participants are compared below, through self and the maps.
	if vs := v.State(); vs.Session() != snap.Session || vs.Seq() != snap.Seq || vs.Ended() != snap.Ended {
		fail("the view is at session %q seq %d (ended %v), the state at %q seq %d (ended %v)",
			vs.Session(), vs.Seq(), vs.Ended(), snap.Session, snap.Seq, snap.Ended)
	}
	if joined := s.Joined(self.ID); joined != (self.RoomState == view.StateJoined) {
		fail("room state %s, but joined is %v", self.RoomState, joined)
	}
	if self.RoomState == view.StateJoined {
		p, _ := s.Participant(self.ID)
		perms, _ := s.Preset(p.Preset)
		want := view.Self{Participant: view.Participant{Participant: p, IsPinned: s.Pinned() == p.ID},
			Permissions: perms, RoomState: view.StateJoined}
		if self != want {
			fail("self differs (-session +view):\n%s", cmp.Diff(want, self))
		}
	}
	var joined []view.Participant
	for _, p := range snap.Participants {
		if p.ID != self.ID {
			joined = append(joined, view.Participant{Participant: p, IsPinned: s.Pinned() == p.ID})
		}
	}
	if got := v.Joined(); !slices.Equal(joined, got) {
		fail("the joined map is not the other participants (-session +view):\n%s", cmp.Diff(joined, got))
	}
	pinned, ok := v.Pinned()
	if want := s.Pinned() != "" && s.Pinned() != self.ID; ok != want || ok && pinned.ID != s.Pinned() {
		fail("the pinned map holds %q (%v) with %q pinned", pinned.ID, ok, s.Pinned())
	}
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
