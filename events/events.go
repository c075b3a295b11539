// Package events defines gavel's typed events, one Go type per event of the
// SPEC, and the JSON wire codec of gavel's vocabulary: events, commands,
// errors, session state and presets. Envelopes around them have their own
// package: the session log's lines (header, command record, checkpoint) are
// package sessionlog's, the websocket frames package wire's; they build on
// this codec (the Append functions) and on the scanner it decodes with
// (internal/jsonscan).
//
// Events are facts about a change: a command that changes nothing produces
// none. Each event carries the seq the reducer gave it (1, 2, 3 … per
// session, no gaps) and, where a participant acted, By: the actor of the
// command that produced it.
//
// Events are pointers (*AudioUpdate, …) so that a batch of them can share one
// allocation; treat an event as immutable once made.
//
// Encoding is deterministic: the same value always gives the same bytes
// (fields in a fixed order, preset names sorted). Decoding reads the "type"
// first and then that type's payload; unknown fields are ignored and an
// unknown type is an error naming it.
//
// Decoding is strict where JSON readers commonly disagree, so that gavel and
// anything inspecting the same bytes (a proxy, a log tool) read them alike:
// member names match exactly ("Type" is an unknown field, not "type"), and
// an object that names a member twice, at any depth, is malformed
// (ErrRepeatedMember). A command's strings must also be valid UTF-8 within
// their limits (core.Command.CheckStrings). Everything else encoding/json
// accepts is read as encoding/json reads it.
//
// Package events imports core, internal/jsonscan and the standard library
// only.
package events

// Type names an event, as on the wire.
type Type string

// The event types of the SPEC.
const (
	TypeParticipantJoined Type = "participant_joined"
	TypeParticipantLeft   Type = "participant_left"
	TypeAudioUpdate       Type = "audio_update"
	TypeVideoUpdate       Type = "video_update"
	TypePinned            Type = "pinned"
	TypeUnpinned          Type = "unpinned"
	TypeAllAudioDisabled  Type = "all_audio_disabled"
	TypeAllVideoDisabled  Type = "all_video_disabled"
	TypeSessionEnded      Type = "session_ended"
)

// Event is one of *ParticipantJoined, *ParticipantLeft, *AudioUpdate,
// *VideoUpdate, *Pinned, *Unpinned, *AllAudioDisabled, *AllVideoDisabled and
// *SessionEnded. Use a type switch.
type Event interface {
	// Type is the event's wire type.
	Type() Type
	// Sequence is the event's seq.
	Sequence() uint64
	isEvent()
}

// LeaveReason says why a participant left.
type LeaveReason string

// The reasons a participant leaves.
const (
	ReasonLeft   LeaveReason = "left"
	ReasonKicked LeaveReason = "kicked"
)

// ParticipantJoined: a participant joined with the given name, preset and media.
type ParticipantJoined struct {
	Seq          uint64
	Participant  string
	Name         string
	Preset       string
	AudioEnabled bool
	VideoEnabled bool
}

// ParticipantLeft: a participant left by itself or was kicked by By.
type ParticipantLeft struct {
	Seq         uint64
	Participant string
	Reason      LeaveReason
	By          string
}

// AudioUpdate: a participant's audio was turned on or off by By.
type AudioUpdate struct {
	Seq          uint64
	Participant  string
	AudioEnabled bool
	By           string
}

// VideoUpdate: a participant's video was turned on or off by By.
type VideoUpdate struct {
	Seq          uint64
	Participant  string
	VideoEnabled bool
	By           string
}

// Pinned: By pinned a participant for everyone.
type Pinned struct {
	Seq         uint64
	Participant string
	By          string
}

// Unpinned: By unpinned a participant, directly or by pinning another.
type Unpinned struct {
	Seq         uint64
	Participant string
	By          string
}

// AllAudioDisabled: By turned everyone's audio off with disable_all_audio.
// Count is the number of participants whose audio was on (By's included),
// always above 0: a disable-all that changes nothing has no event. One event
// whatever the size of the session: whoever holds the state works out who
// changed.
type AllAudioDisabled struct {
	Seq   uint64
	Count uint64
	By    string
}

// AllVideoDisabled: By turned everyone's video off with disable_all_video,
// as AllAudioDisabled.
type AllVideoDisabled struct {
	Seq   uint64
	Count uint64
	By    string
}

// SessionEnded: By ended the session with kick_all.
type SessionEnded struct {
	Seq uint64
	By  string
}

// Type implements Event.
func (*ParticipantJoined) Type() Type { return TypeParticipantJoined }

// Type implements Event.
func (*ParticipantLeft) Type() Type { return TypeParticipantLeft }

// Type implements Event.
func (*AudioUpdate) Type() Type { return TypeAudioUpdate }

// Type implements Event.
func (*VideoUpdate) Type() Type { return TypeVideoUpdate }

// Type implements Event.
func (*Pinned) Type() Type { return TypePinned }

// Type implements Event.
func (*Unpinned) Type() Type { return TypeUnpinned }

// Type implements Event.
func (*AllAudioDisabled) Type() Type { return TypeAllAudioDisabled }

// Type implements Event.
func (*AllVideoDisabled) Type() Type { return TypeAllVideoDisabled }

// Type implements Event.
func (*SessionEnded) Type() Type { return TypeSessionEnded }

// Sequence implements Event.
func (e *ParticipantJoined) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *ParticipantLeft) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *AudioUpdate) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *VideoUpdate) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *Pinned) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *Unpinned) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *AllAudioDisabled) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *AllVideoDisabled) Sequence() uint64 { return e.Seq }

// Sequence implements Event.
func (e *SessionEnded) Sequence() uint64 { return e.Seq }

func (*ParticipantJoined) isEvent() {}
func (*ParticipantLeft) isEvent()   {}
func (*AudioUpdate) isEvent()       {}
func (*VideoUpdate) isEvent()       {}
func (*Pinned) isEvent()            {}
func (*Unpinned) isEvent()          {}
func (*AllAudioDisabled) isEvent()  {}
func (*AllVideoDisabled) isEvent()  {}
func (*SessionEnded) isEvent()      {}

// Participant returns the participant an event is about, and "" for the
// events about everyone: all_audio_disabled, all_video_disabled and
// session_ended.
func Participant(e Event) string {
	switch e := e.(type) {
	case *ParticipantJoined:
		return e.Participant
	case *ParticipantLeft:
		return e.Participant
	case *AudioUpdate:
		return e.Participant
	case *VideoUpdate:
		return e.Participant
	case *Pinned:
		return e.Participant
	case *Unpinned:
		return e.Participant
	}
	return ""
}

// By returns the actor of the command that produced an event, and "" for
// participant_joined, which has none.
func By(e Event) string {
	switch e := e.(type) {
	case *ParticipantLeft:
		return e.By
	case *AudioUpdate:
		return e.By
	case *VideoUpdate:
		return e.By
	case *Pinned:
		return e.By
	case *Unpinned:
		return e.By
	case *AllAudioDisabled:
		return e.By
	case *AllVideoDisabled:
		return e.By
	case *SessionEnded:
		return e.By
	}
	return ""
}
