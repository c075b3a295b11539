package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/gavelrtc/gavel/core"
)

// The decoders split one JSON value into raw fields in one pass (scanObject
// and scanArray for records, commands, events and errors; encoding/json for
// the rest), then convert the fields the value's type needs. Absent and null
// fields read as zero.

// ErrUnknownType is matched (errors.Is) by the error DecodeEvent returns for
// an event type gavel does not define.
var ErrUnknownType = errors.New("events: unknown event type")

type wireEvent struct {
	Seq, Type, Participant, Name, Preset, AudioEnabled, VideoEnabled, Reason, By json.RawMessage
}

func (w *wireEvent) set(name, value []byte) {
	switch {
	case nameIs(name, "seq"):
		w.Seq = value
	case nameIs(name, "type"):
		w.Type = value
	case nameIs(name, "participant"):
		w.Participant = value
	case nameIs(name, "name"):
		w.Name = value
	case nameIs(name, "preset"):
		w.Preset = value
	case nameIs(name, "audio_enabled"):
		w.AudioEnabled = value
	case nameIs(name, "video_enabled"):
		w.VideoEnabled = value
	case nameIs(name, "reason"):
		w.Reason = value
	case nameIs(name, "by"):
		w.By = value
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
	ID, Type, Actor, Target, Name, Preset, Audio, Video, Enabled json.RawMessage
}

func (w *wireCommand) set(name, value []byte) {
	switch {
	case nameIs(name, "id"):
		w.ID = value
	case nameIs(name, "type"):
		w.Type = value
	case nameIs(name, "actor"):
		w.Actor = value
	case nameIs(name, "target"):
		w.Target = value
	case nameIs(name, "name"):
		w.Name = value
	case nameIs(name, "preset"):
		w.Preset = value
	case nameIs(name, "audio"):
		w.Audio = value
	case nameIs(name, "video"):
		w.Video = value
	case nameIs(name, "enabled"):
		w.Enabled = value
	}
}

// DecodeCommand decodes one command. Input that is not a command object, or a
// field the command's type reads that has the wrong JSON type, gives a
// *core.Error with code invalid_command, returned with whatever of the
// command could be read (its id, to answer it). set_audio and set_video
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
	c := core.Command{ID: f.str(w.ID, "id"), Type: core.CommandType(f.str(w.Type, "type")), Actor: f.str(w.Actor, "actor")}
	switch {
	case c.Type == core.Join:
		c.Name = f.str(w.Name, "name")
		c.Preset = f.str(w.Preset, "preset")
		c.Audio = f.bool(w.Audio, "audio")
		c.Video = f.bool(w.Video, "video")
	case c.Type == core.SetAudio || c.Type == core.SetVideo:
		if isAbsent(w.Enabled) && f.err == nil {
			f.err = errors.New(`"enabled" is missing`)
		}
		c.Enabled = f.bool(w.Enabled, "enabled")
	case c.Type.Targeted() || !c.Type.Known():
		c.Target = f.str(w.Target, "target")
	}
	if f.err != nil {
		return c, core.Errorf(core.CodeInvalidCommand, "command: %v", f.err)
	}
	return c, nil
}

type wireError struct {
	Code, Message json.RawMessage
}

func (w *wireError) set(name, value []byte) {
	switch {
	case nameIs(name, "code"):
		w.Code = value
	case nameIs(name, "message"):
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

type wireParticipant struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Preset       string `json:"preset"`
	AudioEnabled bool   `json:"audio_enabled"`
	VideoEnabled bool   `json:"video_enabled"`
}

type wireState struct {
	Session      string            `json:"session"`
	Seq          uint64            `json:"seq"`
	Ended        bool              `json:"ended"`
	Pinned       *string           `json:"pinned"`
	Participants []wireParticipant `json:"participants"`
}

// DecodeSnapshot decodes the SPEC's state JSON. It checks JSON types only;
// core.FromSnapshot checks that the state is one a session can be in.
func DecodeSnapshot(b []byte) (core.Snapshot, error) {
	if err := expectObject(b); err != nil {
		return core.Snapshot{}, fmt.Errorf("state: %w", err)
	}
	var w wireState
	if err := json.Unmarshal(b, &w); err != nil {
		return core.Snapshot{}, fmt.Errorf("state: %w", err)
	}
	s := core.Snapshot{Session: w.Session, Seq: w.Seq, Ended: w.Ended, Participants: make([]core.Participant, len(w.Participants))}
	if w.Pinned != nil {
		s.Pinned = *w.Pinned
	}
	for i, p := range w.Participants {
		s.Participants[i] = core.Participant(p)
	}
	return s, nil
}

type wirePermissions struct {
	DisableParticipantAudio bool `json:"disable_participant_audio"`
	DisableParticipantVideo bool `json:"disable_participant_video"`
	PinParticipant          bool `json:"pin_participant"`
	KickParticipant         bool `json:"kick_participant"`
}

// DecodePresets decodes a JSON object of presets.
func DecodePresets(b []byte) (core.Presets, error) {
	if err := expectObject(b); err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	var w map[string]wirePermissions
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	ps := make(core.Presets, len(w))
	for n, p := range w {
		ps[n] = core.Permissions(p)
	}
	return ps, nil
}

// expectObject rejects anything but a JSON object, before encoding/json
// would quietly accept null for a struct.
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

func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// fields converts raw fields, keeping the first error: decoders read every
// field and check once.
type fields struct{ err error }

func (f *fields) fail(name, want string, raw json.RawMessage) {
	if f.err == nil {
		if len(raw) > 32 {
			raw = append(raw[:29:29], "..."...)
		}
		f.err = fmt.Errorf("%q must be %s, not %s", name, want, raw)
	}
}

func (f *fields) str(raw json.RawMessage, name string) string {
	if isAbsent(raw) {
		return ""
	}
	if raw[0] != '"' {
		f.fail(name, "a string", raw)
		return ""
	}
	// Plain ASCII without escapes, the usual case, needs no decoder.
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail(name, "a string", raw)
	}
	return s
}

func (f *fields) bool(raw json.RawMessage, name string) bool {
	switch string(raw) {
	case "", "null", "false":
		return false
	case "true":
		return true
	}
	f.fail(name, "true or false", raw)
	return false
}

func (f *fields) uint(raw json.RawMessage, name string) uint64 {
	if isAbsent(raw) {
		return 0
	}
	var n uint64
	if err := json.Unmarshal(raw, &n); err != nil {
		f.fail(name, "a non-negative integer", raw)
	}
	return n
}
