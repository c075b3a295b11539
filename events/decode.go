package events

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/gavelrtc/gavel/core"
)

// The decoders split one JSON value into raw fields in one pass (scanObject,
// scanArray), then convert the fields the value's type needs. Member names
// match exactly; absent and null fields read as zero.

// ErrUnknownType is matched (errors.Is) by the error DecodeEvent returns for
// an event type gavel does not define.
var ErrUnknownType = errors.New("events: unknown event type")

type wireEvent struct {
	Seq, Type, Participant, Name, Preset, AudioEnabled, VideoEnabled, Reason, By, Count []byte
}

func (w *wireEvent) set(name, value []byte) {
	switch string(name) {
	case "seq":
		w.Seq = value
	case "type":
		w.Type = value
	case "participant":
		w.Participant = value
	case "name":
		w.Name = value
	case "preset":
		w.Preset = value
	case "audio_enabled":
		w.AudioEnabled = value
	case "video_enabled":
		w.VideoEnabled = value
	case "reason":
		w.Reason = value
	case "by":
		w.By = value
	case "count":
		w.Count = value
	}
}

// DecodeEvent decodes one event. An unknown type is an error naming it that
// matches ErrUnknownType.
func DecodeEvent(b []byte) (Event, error) {
	if err := expectObject(b); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	var w wireEvent
	if err := scanObject(b, w.set); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	f := fields{}
	typ := f.str(w.Type, "type")
	seq := f.uint(w.Seq, "seq")
	if f.err != nil {
		return nil, fmt.Errorf("event: %w", f.err)
	}
	var e Event
	switch Type(typ) {
	case TypeParticipantJoined:
		e = &ParticipantJoined{Seq: seq, Participant: f.str(w.Participant, "participant"), Name: f.str(w.Name, "name"),
			Preset: f.str(w.Preset, "preset"), AudioEnabled: f.bool(w.AudioEnabled, "audio_enabled"),
			VideoEnabled: f.bool(w.VideoEnabled, "video_enabled")}
	case TypeParticipantLeft:
		e = &ParticipantLeft{Seq: seq, Participant: f.str(w.Participant, "participant"),
			Reason: LeaveReason(f.str(w.Reason, "reason")), By: f.str(w.By, "by")}
	case TypeAudioUpdate:
		e = &AudioUpdate{Seq: seq, Participant: f.str(w.Participant, "participant"),
			AudioEnabled: f.bool(w.AudioEnabled, "audio_enabled"), By: f.str(w.By, "by")}
	case TypeVideoUpdate:
		e = &VideoUpdate{Seq: seq, Participant: f.str(w.Participant, "participant"),
			VideoEnabled: f.bool(w.VideoEnabled, "video_enabled"), By: f.str(w.By, "by")}
	case TypePinned:
		e = &Pinned{Seq: seq, Participant: f.str(w.Participant, "participant"), By: f.str(w.By, "by")}
	case TypeUnpinned:
		e = &Unpinned{Seq: seq, Participant: f.str(w.Participant, "participant"), By: f.str(w.By, "by")}
	case TypeAllAudioDisabled:
		e = &AllAudioDisabled{Seq: seq, Count: f.uint(w.Count, "count"), By: f.str(w.By, "by")}
	case TypeAllVideoDisabled:
		e = &AllVideoDisabled{Seq: seq, Count: f.uint(w.Count, "count"), By: f.str(w.By, "by")}
	case TypeSessionEnded:
		e = &SessionEnded{Seq: seq, By: f.str(w.By, "by")}
	default:
		return nil, fmt.Errorf("event: %w %q", ErrUnknownType, typ)
	}
	if f.err != nil {
		return nil, fmt.Errorf("event %s: %w", typ, f.err)
	}
	return e, nil
}

// DecodeEvents decodes a JSON array of events (null, as encoding/json
// reads it, is none).
func DecodeEvents(b []byte) ([]Event, error) {
	evs := []Event{}
	if string(bytes.Trim(b, " \t\r\n")) == "null" {
		return evs, nil
	}
	var evErr error // the first element's error: a syntax error anywhere comes first
	err := scanArray(b, func(raw []byte) {
		if evErr != nil {
			return
		}
		e, err := DecodeEvent(raw)
		if err != nil {
			evErr = fmt.Errorf("events[%d]: %w", len(evs), err)
			return
		}
		evs = append(evs, e)
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if evErr != nil {
		return nil, evErr
	}
	return evs, nil
}

type wireCommand struct {
	ID, Type, Actor, Target, Name, Preset, Audio, Video, Enabled []byte
}

func (w *wireCommand) set(name, value []byte) {
	switch string(name) {
	case "id":
		w.ID = value
	case "type":
		w.Type = value
	case "actor":
		w.Actor = value
	case "target":
		w.Target = value
	case "name":
		w.Name = value
	case "preset":
		w.Preset = value
	case "audio":
		w.Audio = value
	case "video":
		w.Video = value
	case "enabled":
		w.Enabled = value
	}
}

// DecodeCommand decodes one command. Input that is not a command object (a
// member named twice among them), or a field the command's type reads that
// has the wrong JSON type, is not valid UTF-8 or is too long
// (core.Command.CheckStrings), gives a *core.Error with code
// invalid_command, returned with whatever of the command could be read: its
// id, to answer it, unless the id itself is not valid UTF-8 (then it is
// empty: it could not be echoed as it came). set_audio and set_video
// without "enabled" are invalid too: they would mean nothing. The rest of
// check 1 (known type, non-empty id and actor, target present) is the
// reducer's, so that it holds for commands built in Go as well.
func DecodeCommand(b []byte) (core.Command, error) {
	if err := expectObject(b); err != nil {
		return core.Command{}, core.Errorf(core.CodeInvalidCommand, "command: %v", err)
	}
	var w wireCommand
	if err := scanObject(b, w.set); err != nil {
		return core.Command{}, core.Errorf(core.CodeInvalidCommand, "command: %v", err)
	}
	f := fields{}
	c := core.Command{ID: f.text(w.ID, "id"), Type: core.CommandType(f.text(w.Type, "type")), Actor: f.text(w.Actor, "actor")}
	switch {
	case c.Type == core.Join:
		c.Name = f.text(w.Name, "name")
		c.Preset = f.text(w.Preset, "preset")
		c.Audio = f.bool(w.Audio, "audio")
		c.Video = f.bool(w.Video, "video")
	case c.Type == core.SetAudio || c.Type == core.SetVideo:
		if isAbsent(w.Enabled) && f.err == nil {
			f.err = errors.New(`"enabled" is missing`)
		}
		c.Enabled = f.bool(w.Enabled, "enabled")
	case c.Type.Targeted() || !c.Type.Known():
		c.Target = f.text(w.Target, "target")
	}
	if f.err != nil {
		return c, core.Errorf(core.CodeInvalidCommand, "command: %v", f.err)
	}
	if err := c.CheckStrings(); err != nil {
		return c, err
	}
	return c, nil
}

type wireError struct {
	Code, Message []byte
}

func (w *wireError) set(name, value []byte) {
	switch string(name) {
	case "code":
		w.Code = value
	case "message":
		w.Message = value
	}
}

// DecodeError decodes {"code":…,"name":…,"message":…}. The code decides; the
// name is not read, so a log stays valid if a name is ever respelled.
func DecodeError(b []byte) (*core.Error, error) {
	if err := expectObject(b); err != nil {
		return nil, fmt.Errorf("error: %w", err)
	}
	var w wireError
	if err := scanObject(b, w.set); err != nil {
		return nil, fmt.Errorf("error: %w", err)
	}
	f := fields{}
	if isAbsent(w.Code) {
		return nil, errors.New(`error: "code" is missing`)
	}
	e := &core.Error{Code: core.Code(f.uint(w.Code, "code")), Message: f.str(w.Message, "message")}
	if f.err != nil {
		return nil, fmt.Errorf("error: %w", f.err)
	}
	return e, nil
}

// DecodeSnapshot decodes the SPEC's state JSON. It checks JSON types only;
// core.FromSnapshot checks that the state is one a session can be in.
func DecodeSnapshot(b []byte) (core.Snapshot, error) {
	s, err := decodeSnapshot(b)
	if err != nil {
		return core.Snapshot{}, fmt.Errorf("state: %w", err)
	}
	return s, nil
}

func decodeSnapshot(b []byte) (core.Snapshot, error) {
	if err := expectObject(b); err != nil {
		return core.Snapshot{}, err
	}
	var session, seq, ended, pinned, participants []byte
	err := scanObject(b, func(name, value []byte) {
		switch string(name) {
		case "session":
			session = value
		case "seq":
			seq = value
		case "ended":
			ended = value
		case "pinned":
			pinned = value
		case "participants":
			participants = value
		}
	})
	if err != nil {
		return core.Snapshot{}, err
	}
	f := fields{}
	s := core.Snapshot{Session: f.str(session, "session"), Seq: f.uint(seq, "seq"), Ended: f.bool(ended, "ended"),
		Pinned: f.str(pinned, "pinned"), Participants: []core.Participant{}}
	if f.err != nil {
		return core.Snapshot{}, f.err
	}
	if isAbsent(participants) {
		return s, nil
	}
	if participants[0] != '[' {
		f.fail("participants", "an array", participants)
		return core.Snapshot{}, f.err
	}
	var perr error
	err = scanArray(participants, func(raw []byte) {
		if perr != nil {
			return
		}
		p, err := decodeParticipant(raw)
		if err != nil {
			perr = fmt.Errorf("participants[%d]: %w", len(s.Participants), err)
			return
		}
		s.Participants = append(s.Participants, p)
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return core.Snapshot{}, err
	}
	return s, nil
}

func decodeParticipant(b []byte) (core.Participant, error) {
	if isAbsent(b) {
		return core.Participant{}, nil // as encoding/json leaves a null element
	}
	if err := expectObject(b); err != nil {
		return core.Participant{}, err
	}
	var id, name, preset, audio, video []byte
	err := scanObject(b, func(n, value []byte) {
		switch string(n) {
		case "id":
			id = value
		case "name":
			name = value
		case "preset":
			preset = value
		case "audio_enabled":
			audio = value
		case "video_enabled":
			video = value
		}
	})
	if err != nil {
		return core.Participant{}, err
	}
	f := fields{}
	p := core.Participant{ID: f.str(id, "id"), Name: f.str(name, "name"), Preset: f.str(preset, "preset"),
		AudioEnabled: f.bool(audio, "audio_enabled"), VideoEnabled: f.bool(video, "video_enabled")}
	return p, f.err
}

// DecodePresets decodes a JSON object of presets.
func DecodePresets(b []byte) (core.Presets, error) {
	if err := expectObject(b); err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	ps := core.Presets{}
	var perr error
	err := scanObject(b, func(name, value []byte) {
		if perr != nil {
			return
		}
		p, err := decodePermissions(value)
		if err != nil {
			perr = fmt.Errorf("%q: %w", name, err)
			return
		}
		ps[string(name)] = p
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	return ps, nil
}

// decodePermissions decodes one preset's permissions; null is none, as
// encoding/json reads it.
func decodePermissions(b []byte) (core.Permissions, error) {
	if isAbsent(b) {
		return core.Permissions{}, nil
	}
	if err := expectObject(b); err != nil {
		return core.Permissions{}, err
	}
	var audio, video, pin, kick []byte
	err := scanObject(b, func(name, value []byte) {
		switch string(name) {
		case "disable_participant_audio":
			audio = value
		case "disable_participant_video":
			video = value
		case "pin_participant":
			pin = value
		case "kick_participant":
			kick = value
		}
	})
	if err != nil {
		return core.Permissions{}, err
	}
	f := fields{}
	p := core.Permissions{DisableParticipantAudio: f.bool(audio, "disable_participant_audio"),
		DisableParticipantVideo: f.bool(video, "disable_participant_video"),
		PinParticipant:          f.bool(pin, "pin_participant"), KickParticipant: f.bool(kick, "kick_participant")}
	return p, f.err
}

// expectObject rejects anything but a JSON object, before a decoder would
// quietly read null as an empty one.
func expectObject(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return errors.New("empty input")
	}
	if b[0] != '{' {
		return fmt.Errorf("not a JSON object (starts with %s)", quoteByte(b[0]))
	}
	return nil
}

func quoteByte(b byte) string {
	if b < utf8.RuneSelf && b >= 0x20 {
		return fmt.Sprintf("%q", string(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}

func isAbsent(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// fields converts raw fields (each one JSON value the scanner accepted),
// keeping the first error: decoders read every field and check once.
type fields struct{ err error }

func (f *fields) fail(name, want string, raw []byte) {
	if f.err == nil {
		if len(raw) > 32 {
			raw = append(raw[:29:29], "..."...)
		}
		f.err = fmt.Errorf("%q must be %s, not %s", name, want, raw)
	}
}

// str converts a string field; invalid UTF-8 decodes to U+FFFD, as in
// encoding/json.
func (f *fields) str(raw []byte, name string) string {
	if isAbsent(raw) {
		return ""
	}
	if raw[0] != '"' {
		f.fail(name, "a string", raw)
		return ""
	}
	s, _ := unquote(raw)
	return s
}

// text converts a string field of a command, which must be valid Unicode
// (SPEC check 1): else it fails, and the field reads as "".
func (f *fields) text(raw []byte, name string) string {
	if isAbsent(raw) {
		return ""
	}
	if raw[0] != '"' {
		f.fail(name, "a string", raw)
		return ""
	}
	s, ok := unquote(raw)
	if !ok {
		f.fail(name, "valid UTF-8", raw)
		return ""
	}
	return s
}

func (f *fields) bool(raw []byte, name string) bool {
	switch string(raw) {
	case "", "null", "false":
		return false
	case "true":
		return true
	}
	f.fail(name, "true or false", raw)
	return false
}

// uint converts a non-negative integer field: digits only, as encoding/json
// reads a number into a uint64.
func (f *fields) uint(raw []byte, name string) uint64 {
	if isAbsent(raw) {
		return 0
	}
	var n uint64
	for _, c := range raw {
		d := uint64(c - '0')
		if c < '0' || c > '9' || n > (1<<64-1-d)/10 {
			f.fail(name, "a non-negative integer", raw)
			return 0
		}
		n = n*10 + d
	}
	return n
}
