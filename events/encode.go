package events

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gavelrtc/gavel/core"
)

// The encoders append to dst, like strconv's Append functions, so a caller
// writing many values reuses one buffer. Field order is fixed.

// AppendEvent appends e's JSON encoding to dst.
func AppendEvent(dst []byte, e Event) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Sequence(), 10)
	dst = appendField(dst, "type", string(e.Type()))
	switch e := e.(type) {
	case *ParticipantJoined:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendField(dst, "name", e.Name)
		dst = appendField(dst, "preset", e.Preset)
		dst = appendBoolField(dst, "audio_enabled", e.AudioEnabled)
		dst = appendBoolField(dst, "video_enabled", e.VideoEnabled)
	case *ParticipantLeft:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendField(dst, "reason", string(e.Reason))
		dst = appendField(dst, "by", e.By)
	case *AudioUpdate:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendBoolField(dst, "audio_enabled", e.AudioEnabled)
		dst = appendField(dst, "by", e.By)
	case *VideoUpdate:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendBoolField(dst, "video_enabled", e.VideoEnabled)
		dst = appendField(dst, "by", e.By)
	case *Pinned:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendField(dst, "by", e.By)
	case *Unpinned:
		dst = appendField(dst, "participant", e.Participant)
		dst = appendField(dst, "by", e.By)
	case *AllAudioDisabled:
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, e.Count, 10)
		dst = appendField(dst, "by", e.By)
	case *AllVideoDisabled:
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, e.Count, 10)
		dst = appendField(dst, "by", e.By)
	case *SessionEnded:
		dst = appendField(dst, "by", e.By)
	}
	return append(dst, '}')
}

// AppendEvents appends a JSON array of events to dst.
func AppendEvents(dst []byte, evs []Event) []byte {
	dst = append(dst, '[')
	for i, e := range evs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendEvent(dst, e)
	}
	return append(dst, ']')
}

// AppendCommand appends c's JSON encoding to dst: id, type and actor, then
// the fields c's type reads. A command of unknown type keeps its target.
func AppendCommand(dst []byte, c core.Command) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, c.ID)
	dst = appendField(dst, "type", string(c.Type))
	dst = appendField(dst, "actor", c.Actor)
	switch {
	case c.Type == core.Join:
		dst = appendField(dst, "name", c.Name)
		dst = appendField(dst, "preset", c.Preset)
		dst = appendBoolField(dst, "audio", c.Audio)
		dst = appendBoolField(dst, "video", c.Video)
	case c.Type == core.SetAudio || c.Type == core.SetVideo:
		dst = appendBoolField(dst, "enabled", c.Enabled)
	case c.Type.Targeted() || (!c.Type.Known() && c.Target != ""):
		dst = appendField(dst, "target", c.Target)
	}
	return append(dst, '}')
}

// AppendError appends the JSON form of err: {"code":…,"name":…,"message":…}.
// An error that is not a *core.Error is encoded as invalid_command.
func AppendError(dst []byte, err error) []byte {
	e := asCoreError(err)
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = appendField(dst, "name", e.Code.Name())
	dst = appendField(dst, "message", e.Message)
	return append(dst, '}')
}

func asCoreError(err error) *core.Error {
	if code, ok := core.CodeOf(err); ok {
		var msg string
		if e, ok := err.(*core.Error); ok {
			msg = e.Message
		} else {
			msg = err.Error()
		}
		return &core.Error{Code: code, Message: msg}
	}
	return &core.Error{Code: core.CodeInvalidCommand, Message: err.Error()}
}

// AppendSnapshot appends the SPEC's state JSON for snap to dst.
func AppendSnapshot(dst []byte, snap core.Snapshot) []byte {
	dst = append(dst, `{"session":`...)
	dst = AppendString(dst, snap.Session)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, snap.Seq, 10)
	dst = appendBoolField(dst, "ended", snap.Ended)
	if snap.Pinned == "" {
		dst = append(dst, `,"pinned":null`...)
	} else {
		dst = appendField(dst, "pinned", snap.Pinned)
	}
	dst = append(dst, `,"participants":[`...)
	for i, p := range snap.Participants {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendParticipant(dst, p)
	}
	return append(dst, "]}"...)
}

// AppendParticipant appends a participant as the state JSON lists it:
// {"id":…,"name":…,"preset":…,"audio_enabled":…,"video_enabled":…}.
func AppendParticipant(dst []byte, p core.Participant) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, p.ID)
	dst = appendField(dst, "name", p.Name)
	dst = appendField(dst, "preset", p.Preset)
	dst = appendBoolField(dst, "audio_enabled", p.AudioEnabled)
	dst = appendBoolField(dst, "video_enabled", p.VideoEnabled)
	return append(dst, '}')
}

// AppendState appends the SPEC's state JSON for s to dst.
func AppendState(dst []byte, s core.State) []byte { return AppendSnapshot(dst, s.Snapshot()) }

// AppendPresets appends presets as a JSON object: names sorted, and in each
// preset only the permissions it grants.
func AppendPresets(dst []byte, presets core.Presets) []byte {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	dst = append(dst, '{')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, n)
		dst = append(dst, ':')
		dst = AppendPermissions(dst, presets[n])
	}
	return append(dst, '}')
}

type permissionField struct {
	name    string
	granted bool
}

func permissionFields(p core.Permissions) [4]permissionField {
	return [4]permissionField{
		{"disable_participant_audio", p.DisableParticipantAudio},
		{"disable_participant_video", p.DisableParticipantVideo},
		{"pin_participant", p.PinParticipant},
		{"kick_participant", p.KickParticipant},
	}
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendString(dst, value)
}

func appendBoolField(dst []byte, name string, value bool) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendBool(dst, value)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript parsers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
