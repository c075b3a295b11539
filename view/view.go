// Package view is a gavel session as one participant's client sees it: a
// pure projection of the event stream onto the shape of RealtimeKit's
// meeting object. It says which of the SDK's events fire, and on what, for
// each event of the session, and keeps the maps a client shows: the joined
// participants other than self, the pinned one, and self.
//
// A [View] is an immutable value, like core.State, which it holds and folds
// with reducer.Evolve: the rules of the session live in the reducer only.
// [View.Apply] takes one event and returns the next View and the
// [Notification]s the event means for self, in the order they fire. The Go
// client SDK dispatches them to its handlers; a UI can rebuild every list it
// shows from them alone.
//
// # What fires, and where
//
// A notification names the SDK event (roomJoined, participantJoined,
// audioUpdate, videoUpdate, pinned, unpinned, participantLeft, roomLeft) and
// the object that emits it: self, a remote participant, the joined map or
// the pinned map. As in the SDK, the maps hold remote participants only
// (never self), a map emits participantJoined when it gains a participant
// and participantLeft when it loses one, and it re-emits the events of the
// participants it holds. So, for an event about:
//
//   - self: roomJoined, audioUpdate, videoUpdate, pinned, unpinned or
//     roomLeft (state left, kicked or ended) on self, and nothing else;
//   - another participant joining: participantJoined on the joined map;
//   - another participant's media or pin: the event on the participant, then
//     on the joined map; all_audio_disabled and all_video_disabled are an
//     audioUpdate or videoUpdate (enabled false, the same By) for every
//     participant, self included, whose medium was on, in join order;
//     pinned and unpinned are followed by
//     participantJoined or participantLeft on the pinned map, and media
//     updates of the pinned participant are re-emitted on the pinned map;
//   - another participant leaving or kicked: participantLeft on the joined
//     map, and on the pinned map if it was pinned (its pin goes with it).
//
// session_ended is roomLeft with state ended on self only: the session is
// over for everyone at once, so nobody is reported leaving.
//
// # A view's life
//
// A view starts from a state, at any seq (the snapshot a transport's welcome
// gives, or core.NewState for a whole session): [New]. Until self joins
// (room state init) the view folds events silently; the event that joins
// self fires roomJoined, and from then on every event notifies. A view that
// starts from a state where self is joined is joined already, with no
// roomJoined. The event that removes self (leave, kick, kick_all) fires
// roomLeft and ends the view: later events are ignored, since the client has
// left the room; joining again is a new view.
//
// Events at or below the view's seq are ignored, so a stream resumed with
// some overlap is applied once; Apply does not look for gaps (compare an
// event's seq with Seq()+1). The view trusts its events as Evolve does: the
// maps always follow the state, and notifications say only what actually
// changed (a repeated event fires nothing). After a gap too large to
// replay, [View.Resync] moves the view to a fresh state and fires what
// differs.
//
// Package view imports core, events and reducer. It has no goroutines and
// performs no IO.
package view

import (
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// EventName is the name of an SDK event, as RealtimeKit spells it.
type EventName string

// The SDK events a view fires.
const (
	RoomJoined        EventName = "roomJoined"
	ParticipantJoined EventName = "participantJoined"
	AudioUpdate       EventName = "audioUpdate"
	VideoUpdate       EventName = "videoUpdate"
	Pinned            EventName = "pinned"
	Unpinned          EventName = "unpinned"
	ParticipantLeft   EventName = "participantLeft"
	RoomLeft          EventName = "roomLeft"
)

// Emitter is the object an SDK event fires on.
type Emitter string

// The emitters of a client.
const (
	OnSelf        Emitter = "self"        // meeting.self
	OnParticipant Emitter = "participant" // the remote participant's own object
	OnJoined      Emitter = "joined"      // meeting.participants.joined
	OnPinned      Emitter = "pinned"      // meeting.participants.pinned
)

// RoomState is where self stands in the room, as the SDK's
// meeting.self.roomState; left, kicked and ended are also roomLeft's state.
type RoomState string

// The room states of a view.
const (
	StateInit   RoomState = "init"   // self has not joined yet
	StateJoined RoomState = "joined" // self is in the room
	StateLeft   RoomState = "left"   // self left (leave)
	StateKicked RoomState = "kicked" // self was removed (kick)
	StateEnded  RoomState = "ended"  // the session ended (kick_all)
)

// Participant is a participant as a client sees it.
type Participant struct {
	core.Participant
	IsPinned bool
}

// Self is the local participant, meeting.self. Until self joins only ID and
// RoomState are set; after it has left, Self is as it was last.
type Self struct {
	Participant
	// Permissions are those of self's preset: the SDK's
	// canDisableParticipantAudio, canDisableParticipantVideo,
	// pinParticipant and kickParticipant.
	Permissions core.Permissions
	RoomState   RoomState
}

// Notification is one SDK event firing on one emitter. One struct serves all
// events; each reads only its own payload fields:
//
//	audioUpdate      AudioEnabled, By
//	videoUpdate      VideoEnabled, By
//	pinned, unpinned By
//	participantLeft  State (left or kicked; "" after a Resync), By
//	roomLeft         State (left, kicked or ended), By
//
// A pin or unpin moves a participant in or out of the pinned map with
// participantJoined or participantLeft there (State empty); a pinned
// participant who leaves the session leaves the pinned map with the same
// participantLeft as on the joined map. By is the participant whose command caused the event: "" for a join,
// which has none, and after a Resync, which cannot know.
type Notification struct {
	Seq   uint64 // the seq of the event (or state) that caused it
	Event EventName
	On    Emitter
	// Participant is the participant concerned (self on OnSelf) as it is
	// after the event; for participantLeft and roomLeft, as it was last.
	Participant  Participant
	AudioEnabled bool
	VideoEnabled bool
	By           string
	State        RoomState
}

// View is the session seen by one participant, self: an immutable value
// (see the package doc). The zero View ignores every event; use New.
type View struct {
	self  string
	state core.State
	room  RoomState
	last  Participant // self as it was when it left
}

// New returns self's view of a session at state s: joined if self is joined
// in s, else waiting for self's participant_joined.
func New(self string, s core.State) View {
	room := StateInit
	if s.Joined(self) {
		room = StateJoined
	}
	return View{self: self, state: s, room: room}
}

// State is the session state the view has folded so far.
func (v View) State() core.State { return v.state }

// Seq is the seq of the last event applied.
func (v View) Seq() uint64 { return v.state.Seq() }

// Self returns the local participant.
func (v View) Self() Self {
	me := Self{Participant: Participant{Participant: core.Participant{ID: v.self}}, RoomState: v.room}
	switch p, joined := v.state.Participant(v.self); {
	case joined:
		me.Participant = seen(v.state, p)
	case v.over():
		me.Participant = v.last
	default:
		return me
	}
	me.Permissions, _ = v.state.Preset(me.Preset)
	return me
}

// Joined returns the joined participants other than self, in join order:
// meeting.participants.joined.
func (v View) Joined() []Participant {
	ps := make([]Participant, 0, v.state.Len())
	for p := range v.state.All() {
		if p.ID != v.self {
			ps = append(ps, seen(v.state, p))
		}
	}
	return ps
}

// Participant returns the joined participant id if it is not self: a lookup
// in the joined map.
func (v View) Participant(id string) (Participant, bool) {
	p, ok := v.state.Participant(id)
	if !ok || id == v.self {
		return Participant{}, false
	}
	return seen(v.state, p), true
}

// Pinned returns the pinned participant if it is not self: the one entry
// of meeting.participants.pinned. A pinned self is Self().IsPinned.
func (v View) Pinned() (Participant, bool) { return v.Participant(v.state.Pinned()) }

// seen is p as a client sees it in s.
func seen(s core.State, p core.Participant) Participant {
	return Participant{Participant: p, IsPinned: p.ID != "" && s.Pinned() == p.ID}
}

// over reports whether the view has ended (or is the zero View).
func (v View) over() bool { return v.room != StateInit && v.room != StateJoined }

// Apply returns the view after e and the notifications e fires, in order.
// It ignores e when the view has ended or e's seq is not above the view's.
func (v View) Apply(e events.Event) (View, []Notification) {
	if e == nil || v.over() || e.Sequence() <= v.state.Seq() {
		return v, nil
	}
	c := cause{seq: e.Sequence(), by: events.By(e)}
	id := events.Participant(e)
	switch e := e.(type) {
	case *events.ParticipantLeft:
		c.left = StateLeft
		if e.Reason == events.ReasonKicked {
			c.left = StateKicked
		}
	case *events.SessionEnded:
		id = v.self
	}
	prev := v.state
	v.state = reducer.Evolve(prev, e)
	var ns []Notification
	switch e.(type) {
	case *events.AllAudioDisabled, *events.AllVideoDisabled:
		// One event for everyone: as an update for each participant whose
		// medium it turned off, in join order.
		for p := range prev.All() {
			ns = v.change(ns, prev, p.ID, c)
		}
	default:
		ns = v.change(nil, prev, id, c)
	}
	return v, v.pinChange(ns, prev, c)
}

// Resync moves the view to s, a later state of the same session (a fresh
// snapshot after a gap), and returns the notifications for what differs, as
// if the missed events had been folded into one change: departures (in the
// old join order), then arrivals and media changes (in the new join order),
// then the pin. By and participantLeft's State are empty, since Resync
// cannot know them, and a self no longer in a session that has not ended
// is taken to be kicked: a client that leaves stops its view. Someone who
// left and came back during the gap shows only through what differs (media,
// pin); a new name, preset or place in join order, which no SDK event
// reports, is read from the maps. Resync ignores a state not above the
// view's seq, and an ended view.
func (v View) Resync(s core.State) (View, []Notification) {
	if v.over() || s.Seq() <= v.state.Seq() {
		return v, nil
	}
	prev := v.state
	v.state = s
	c := cause{seq: s.Seq()}
	if v.room == StateInit || !s.Joined(v.self) {
		return v, v.change(nil, prev, v.self, c)
	}
	var ns []Notification
	for p := range prev.All() {
		if !s.Joined(p.ID) {
			ns = v.change(ns, prev, p.ID, c)
		}
	}
	for p := range s.All() {
		ns = v.change(ns, prev, p.ID, c)
	}
	return v, v.pinChange(ns, prev, c)
}

// cause is what the notifications of one change share.
type cause struct {
	seq  uint64
	by   string
	left RoomState // how a departure happened: StateLeft, StateKicked, or "" if unknown
}

// change appends what participant id's change from prev to v.state fires
// (pins apart, see pinChange), and moves v's room state when id is self.
func (v *View) change(ns []Notification, prev core.State, id string, c cause) []Notification {
	next := v.state
	before, was := prev.Participant(id)
	after, is := next.Participant(id)
	self := id == v.self
	switch {
	case self && !was && is && v.room == StateInit:
		v.room = StateJoined
		n := notify(c, RoomJoined, seen(next, after))
		n.On = OnSelf
		return append(ns, n)
	case v.room != StateJoined:
		return ns
	case was && !is:
		gone := seen(prev, before)
		if self {
			switch {
			case next.Ended():
				v.room = StateEnded
			case c.left == "": // Resync: see there why
				v.room = StateKicked
			default:
				v.room = c.left
			}
			v.last = gone
			n := notify(c, RoomLeft, gone)
			n.On, n.State = OnSelf, v.room
			return append(ns, n)
		}
		n := notify(c, ParticipantLeft, gone)
		n.On, n.State = OnJoined, c.left
		ns = append(ns, n)
		if gone.IsPinned {
			n.On = OnPinned
			ns = append(ns, n)
		}
		return ns
	case !was && is:
		if self {
			return ns
		}
		n := notify(c, ParticipantJoined, seen(next, after))
		n.On = OnJoined
		return append(ns, n)
	case !is:
		return ns
	}
	// The pinned map re-emits the update if it holds the participant: as
	// before any pin change, which comes after (pinChange).
	now, held := seen(next, after), prev.Pinned() == id
	if before.AudioEnabled != after.AudioEnabled {
		n := notify(c, AudioUpdate, now)
		n.AudioEnabled = after.AudioEnabled
		ns = v.fire(ns, n, held)
	}
	if before.VideoEnabled != after.VideoEnabled {
		n := notify(c, VideoUpdate, now)
		n.VideoEnabled = after.VideoEnabled
		ns = v.fire(ns, n, held)
	}
	return ns
}

// pinChange appends what a change of the pinned participant from prev to
// v.state fires: unpinned for the one unpinned if it is still joined (a
// departure has said it already), then pinned for the one pinned.
func (v View) pinChange(ns []Notification, prev core.State, c cause) []Notification {
	old, now := prev.Pinned(), v.state.Pinned()
	if v.room != StateJoined || old == now {
		return ns
	}
	if p, ok := v.state.Participant(old); ok {
		ns = v.fire(ns, notify(c, Unpinned, seen(v.state, p)), true)
	}
	if p, ok := v.state.Participant(now); ok {
		ns = v.fire(ns, notify(c, Pinned, seen(v.state, p)), true)
	}
	return ns
}

// notify is the notification of event name about p, before its emitter is
// chosen.
func notify(c cause, name EventName, p Participant) Notification {
	return Notification{Seq: c.seq, Event: name, Participant: p, By: c.by}
}

// fire appends n, an event about n.Participant, where the SDK emits it: on
// self for self; else on the participant and the joined map, and then on
// the pinned map if pinned says it is concerned: the pinned map re-emits the
// events of the participant it holds and announces its own gains and losses
// (pinned, unpinned: always its concern) as participantJoined and
// participantLeft.
func (v View) fire(ns []Notification, n Notification, pinned bool) []Notification {
	if n.Participant.ID == v.self {
		n.On = OnSelf
		return append(ns, n)
	}
	n.On = OnParticipant
	ns = append(ns, n)
	n.On = OnJoined
	ns = append(ns, n)
	if !pinned {
		return ns
	}
	switch n.Event {
	case Pinned:
		n.Event = ParticipantJoined
	case Unpinned:
		n.Event = ParticipantLeft
	}
	n.On = OnPinned
	return append(ns, n)
}
