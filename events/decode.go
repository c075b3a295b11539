package events

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/jsonscan"
)

// The decoders split one JSON value into raw fields in one pass
// (jsonscan.Object, jsonscan.Array), then convert the fields the value's
// type needs (jsonscan.Fields). Member names match exactly; absent and null
// fields read as zero.

// ErrRepeatedMember is matched (errors.Is) by the error of every decoder for
// JSON with an object that names the same member twice: a reader that keeps
// the first and one that keeps the last would disagree about what it says.
var ErrRepeatedMember = jsonscan.ErrRepeatedMember

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
	var w wireEvent
	if err := jsonscan.Object(b, w.set); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	var f jsonscan.Fields
	typ := f.Str(w.Type, "type")
	seq := f.Uint(w.Seq, "seq")
	if f.Err != nil {
		return nil, fmt.Errorf("event: %w", f.Err)
	}
	var e Event
	switch Type(typ) {
	case TypeParticipantJoined:
		e = &ParticipantJoined{Seq: seq, Participant: f.Str(w.Participant, "participant"), Name: f.Str(w.Name, "name"),
			Preset: f.Str(w.Preset, "preset"), AudioEnabled: f.Bool(w.AudioEnabled, "audio_enabled"),
			VideoEnabled: f.Bool(w.VideoEnabled, "video_enabled")}
	case TypeParticipantLeft:
		e = &ParticipantLeft{Seq: seq, Participant: f.Str(w.Participant, "participant"),
			Reason: LeaveReason(f.Str(w.Reason, "reason")), By: f.Str(w.By, "by")}
	case TypeAudioUpdate:
		e = &AudioUpdate{Seq: seq, Participant: f.Str(w.Participant, "participant"),
			AudioEnabled: f.Bool(w.AudioEnabled, "audio_enabled"), By: f.Str(w.By, "by")}
	case TypeVideoUpdate:
		e = &VideoUpdate{Seq: seq, Participant: f.Str(w.Participant, "participant"),
			VideoEnabled: f.Bool(w.VideoEnabled, "video_enabled"), By: f.Str(w.By, "by")}
	case TypePinned:
		e = &Pinned{Seq: seq, Participant: f.Str(w.Participant, "participant"), By: f.Str(w.By, "by")}
	case TypeUnpinned:
		e = &Unpinned{Seq: seq, Participant: f.Str(w.Participant, "participant"), By: f.Str(w.By, "by")}
	case TypeAllAudioDisabled:
		e = &AllAudioDisabled{Seq: seq, Count: f.Uint(w.Count, "count"), By: f.Str(w.By, "by")}
	case TypeAllVideoDisabled:
		e = &AllVideoDisabled{Seq: seq, Count: f.Uint(w.Count, "count"), By: f.Str(w.By, "by")}
	case TypeSessionEnded:
		e = &SessionEnded{Seq: seq, By: f.Str(w.By, "by")}
	default:
		return nil, fmt.Errorf("event: %w %q", ErrUnknownType, typ)
	}
	if f.Err != nil {
		return nil, fmt.Errorf("event %s: %w", typ, f.Err)
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
	err := jsonscan.Array(b, func(raw []byte) {
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
	var w wireCommand
	if err := jsonscan.Object(b, w.set); err != nil {
		return core.Command{}, core.Errorf(core.CodeInvalidCommand, "command: %v", err)
	}
	var f jsonscan.Fields
	c := core.Command{ID: f.Text(w.ID, "id"), Type: core.CommandType(f.Text(w.Type, "type")), Actor: f.Text(w.Actor, "actor")}
	switch {
	case c.Type == core.Join:
		c.Name = f.Text(w.Name, "name")
		c.Preset = f.Text(w.Preset, "preset")
		c.Audio = f.Bool(w.Audio, "audio")
		c.Video = f.Bool(w.Video, "video")
	case c.Type == core.SetAudio || c.Type == core.SetVideo:
		if jsonscan.Absent(w.Enabled) && f.Err == nil {
			f.Err = errors.New(`"enabled" is missing`)
		}
		c.Enabled = f.Bool(w.Enabled, "enabled")
	case c.Type.Targeted() || !c.Type.Known():
		c.Target = f.Text(w.Target, "target")
	}
	if f.Err != nil {
		return c, core.Errorf(core.CodeInvalidCommand, "command: %v", f.Err)
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
	var w wireError
	if err := jsonscan.Object(b, w.set); err != nil {
		return nil, fmt.Errorf("error: %w", err)
	}
	var f jsonscan.Fields
	if jsonscan.Absent(w.Code) {
		return nil, errors.New(`error: "code" is missing`)
	}
	e := &core.Error{Code: core.Code(f.Uint(w.Code, "code")), Message: f.Str(w.Message, "message")}
	if f.Err != nil {
		return nil, fmt.Errorf("error: %w", f.Err)
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
	var session, seq, ended, pinned, participants []byte
	err := jsonscan.Object(b, func(name, value []byte) {
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
	var f jsonscan.Fields
	s := core.Snapshot{Session: f.Str(session, "session"), Seq: f.Uint(seq, "seq"), Ended: f.Bool(ended, "ended"),
		Pinned: f.Str(pinned, "pinned"), Participants: []core.Participant{}}
	if f.Err != nil {
		return core.Snapshot{}, f.Err
	}
	if jsonscan.Absent(participants) {
		return s, nil
	}
	if participants[0] != '[' {
		f.Fail("participants", "an array", participants)
		return core.Snapshot{}, f.Err
	}
	var perr error
	err = jsonscan.Array(participants, func(raw []byte) {
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
	if jsonscan.Absent(b) {
		return core.Participant{}, nil // as encoding/json leaves a null element
	}
	var id, name, preset, audio, video []byte
	err := jsonscan.Object(b, func(n, value []byte) {
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
	var f jsonscan.Fields
	p := core.Participant{ID: f.Str(id, "id"), Name: f.Str(name, "name"), Preset: f.Str(preset, "preset"),
		AudioEnabled: f.Bool(audio, "audio_enabled"), VideoEnabled: f.Bool(video, "video_enabled")}
	return p, f.Err
}

// DecodePresets decodes a JSON object of presets.
func DecodePresets(b []byte) (core.Presets, error) {
	ps := core.Presets{}
	var perr error
	err := jsonscan.Object(b, func(name, value []byte) {
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
	if jsonscan.Absent(b) {
		return core.Permissions{}, nil
	}
	return permissionsObject(b)
}

// permissionsObject decodes one preset's permissions object.
func permissionsObject(b []byte) (core.Permissions, error) {
	var audio, video, pin, kick []byte
	err := jsonscan.Object(b, func(name, value []byte) {
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
	var f jsonscan.Fields
	p := core.Permissions{DisableParticipantAudio: f.Bool(audio, "disable_participant_audio"),
		DisableParticipantVideo: f.Bool(video, "disable_participant_video"),
		PinParticipant:          f.Bool(pin, "pin_participant"), KickParticipant: f.Bool(kick, "kick_participant")}
	return p, f.Err
}
