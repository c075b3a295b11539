package core

import "unicode/utf8"

// CommandType names a command, as on the wire.
type CommandType string

// The command types of the SPEC.
const (
	Join            CommandType = "join"
	Leave           CommandType = "leave"
	SetAudio        CommandType = "set_audio"
	SetVideo        CommandType = "set_video"
	DisableAudio    CommandType = "disable_audio"
	DisableAllAudio CommandType = "disable_all_audio"
	DisableVideo    CommandType = "disable_video"
	DisableAllVideo CommandType = "disable_all_video"
	Pin             CommandType = "pin"
	Unpin           CommandType = "unpin"
	Kick            CommandType = "kick"
	KickAll         CommandType = "kick_all"
)

// CommandTypes lists every command type, in the SPEC's order.
var CommandTypes = []CommandType{Join, Leave, SetAudio, SetVideo, DisableAudio, DisableAllAudio,
	DisableVideo, DisableAllVideo, Pin, Unpin, Kick, KickAll}

// Known reports whether t is a command type gavel defines.
func (t CommandType) Known() bool {
	switch t {
	case Join, Leave, SetAudio, SetVideo, DisableAudio, DisableAllAudio,
		DisableVideo, DisableAllVideo, Pin, Unpin, Kick, KickAll:
		return true
	}
	return false
}

// Targeted reports whether commands of type t name a target.
func (t CommandType) Targeted() bool {
	switch t {
	case DisableAudio, DisableVideo, Pin, Unpin, Kick:
		return true
	}
	return false
}

// Command is a request from a participant (the actor). One struct serves all
// types; each type reads only its own fields:
//
//	join                  Name, Preset, Audio, Video
//	set_audio, set_video  Enabled
//	disable_audio, disable_video, pin, unpin, kick   Target
//
// The other fields are ignored for that type.
type Command struct {
	ID     string
	Type   CommandType
	Actor  string
	Target string

	Name   string
	Preset string
	Audio  bool
	Video  bool

	Enabled bool
}

// The longest strings a command may carry, in bytes (SPEC check 1).
const (
	MaxIDLen   = 256  // id, actor, target and preset
	MaxNameLen = 1024 // name
)

// CheckStrings returns the invalid_command error of a command whose strings
// fail check 1: one that its type reads (see Command) is not valid UTF-8,
// or is longer than its limit. It returns nil otherwise. reducer.WellFormed
// runs it; the decoders run it too, so that a command refused on the wire
// and one refused by the reducer are refused alike.
func (c Command) CheckStrings() error {
	fields := [...]struct {
		name, value string
		max         int
		read        bool
	}{
		{"id", c.ID, MaxIDLen, true},
		{"actor", c.Actor, MaxIDLen, true},
		{"target", c.Target, MaxIDLen, c.Type.Targeted()},
		{"name", c.Name, MaxNameLen, c.Type == Join},
		{"preset", c.Preset, MaxIDLen, c.Type == Join},
	}
	for _, f := range fields {
		switch {
		case !f.read:
		case !utf8.ValidString(f.value):
			return Errorf(CodeInvalidCommand, "%s: %.40q is not valid UTF-8", f.name, f.value)
		case len(f.value) > f.max:
			return Errorf(CodeInvalidCommand, "%s: %d bytes, more than %d", f.name, len(f.value), f.max)
		}
	}
	return nil
}
