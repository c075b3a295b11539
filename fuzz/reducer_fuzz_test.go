package fuzz

import (
	"strconv"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/invariant"
	"github.com/gavelrtc/gavel/reducer"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"cohost":   {DisableParticipantAudio: true, PinParticipant: true},
	"stage":    {DisableParticipantVideo: true, KickParticipant: true},
	"attendee": {},
}

// The pools a command's bytes choose from. Ids p0…p11 and "zoë" are the
// ones seeds join; "ghost" and "nobody" are ids seeds never join, and "" is
// an invalid actor or target.
var (
	seqTypes = [16]core.CommandType{core.Join, core.Leave, core.SetAudio, core.SetVideo, core.DisableAudio,
		core.DisableAllAudio, core.DisableVideo, core.DisableAllVideo, core.Pin, core.Unpin, core.Kick, core.KickAll,
		"mute", "", "JOIN", "kick_all "}
	seqIDs = [16]string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11",
		"zoë", "ghost", "nobody", ""}
	seqPresets = [4]string{"host", "cohost", "attendee", "admin"}
)

// maxCommands bounds a sequence, so that one input stays fast.
const maxCommands = 400

// commandSequence decodes data into commands, three bytes each (a trailing
// partial command is dropped):
//
//	byte 0: bits 0–3 the type (seqTypes), bits 4–7 the actor (seqIDs)
//	byte 1: bits 0–3 the target (seqIDs), bits 4–5 the preset (seqPresets),
//	        bit 6 audio (and enabled), bit 7 video
//	byte 2: 0 in bits 0–3 gives an empty command id
//
// Every field is set whatever the type, as a client might send it.
func commandSequence(data []byte) []core.Command {
	n := min(len(data)/3, maxCommands)
	cmds := make([]core.Command, n)
	for i := range cmds {
		b0, b1, b2 := data[3*i], data[3*i+1], data[3*i+2]
		c := core.Command{
			Type:    seqTypes[b0&0xf],
			Actor:   seqIDs[b0>>4],
			Target:  seqIDs[b1&0xf],
			Preset:  seqPresets[(b1>>4)&3],
			Audio:   b1&0x40 != 0,
			Enabled: b1&0x40 != 0,
			Video:   b1&0x80 != 0,
		}
		if b2&0xf != 0 {
			c.ID = "c" + strconv.Itoa(i)
		}
		if c.Type == core.Join {
			c.Name = "Name of " + c.Actor
		}
		cmds[i] = c
	}
	return cmds
}

// FuzzCommandSequence runs arbitrary sequences of commands through the
// reducer: none may panic, and every step keeps the invariants of package
// internal/invariant (the ones the reducer's model-based test checks).
func FuzzCommandSequence(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		chk := invariant.New(core.NewState("fuzz", presets))
		for i, c := range commandSequence(data) {
			after, evs, err := reducer.Apply(chk.State(), c)
			if err := chk.Step(c, after, evs, err); err != nil {
				t.Fatalf("command %d %+v: %v", i, c, err)
			}
		}
	})
}
