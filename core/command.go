package core

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
