package core

// Permissions are the host controls a preset grants. A permission a preset
// does not name is false.
type Permissions struct {
	DisableParticipantAudio bool // disable_audio, disable_all_audio
	DisableParticipantVideo bool // disable_video, disable_all_video
	PinParticipant          bool // pin, unpin
	KickParticipant         bool // kick, kick_all
}

// Allows reports whether p grants the permission command type t needs.
// Commands that need no permission (join, leave, set_audio, set_video) are
// always allowed; an unknown type is not.
func (p Permissions) Allows(t CommandType) bool {
	switch t {
	case Join, Leave, SetAudio, SetVideo:
		return true
	case DisableAudio, DisableAllAudio:
		return p.DisableParticipantAudio
	case DisableVideo, DisableAllVideo:
		return p.DisableParticipantVideo
	case Pin, Unpin:
		return p.PinParticipant
	case Kick, KickAll:
		return p.KickParticipant
	}
	return false
}

// Presets maps a preset name to its permissions. A State holds its presets
// for the whole session; treat a Presets value given to NewState as frozen.
type Presets map[string]Permissions
