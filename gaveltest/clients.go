package gaveltest

import (
	"maps"
	"slices"
	"strconv"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
)

// Clients returns a generator of what n clients of one session send at the
// same time, for tests of concurrency (submitters racing, instances sharing
// a log, retries): one list of each commands per client, in the order the
// client sends them. Client i is the i-th participant of the pool (alice,
// bob, …; at most sixteen) and sends only commands of its own.
//
// Which of them succeed depends on the order the session takes them in, so
// they are drawn without a state, among what a client may ask: a join first
// (client 0 under the preset that grants the most, the others under one
// drawn among presets), then its own audio and video, host actions
// (disable one or all, pin, unpin, kick) on any client, itself included,
// leaves and joins again. There is no kick_all: it would end the session
// and refuse everything after it. Command ids are "alice-1", "alice-2", …
//
// Outside a rapid property, Example(seed) draws the same lists for the same
// seed, as a fixed workload.
func Clients(presets core.Presets, n, each int) *rapid.Generator[[][]core.Command] {
	if n > len(people) || len(presets) == 0 {
		panic("gaveltest: Clients needs presets and at most " + strconv.Itoa(len(people)) + " clients")
	}
	names := slices.Sorted(maps.Keys(presets))
	return rapid.Custom(func(t *rapid.T) [][]core.Command {
		ch := rapidChooser{t}
		ids := people[:n]
		cmds := make([][]core.Command, n)
		for i, self := range ids {
			cmds[i] = make([]core.Command, 0, each)
			for k := range each {
				id := self + "-" + strconv.Itoa(k+1)
				switch {
				case k > 0:
					cmds[i] = append(cmds[i], clientCommand(ch, ids, self, names, id))
				case i == 0:
					cmds[i] = append(cmds[i], joinCommand(ch, id, self, strongest(presets, names)))
				default:
					cmds[i] = append(cmds[i], joinCommand(ch, id, self, pickString(ch, "preset", names, nil)))
				}
			}
		}
		return cmds
	})
}

// clientOptions are the sorts of a client's commands after its join, as
// often as they are listed; a shrink goes to its own media.
var clientOptions = []string{"media", "media", "media", "media", "disable one", "disable one", "disable all",
	"pin", "pin", "unpin", "kick", "leave", "join"}

// clientCommand is one command of client self among clients ids.
func clientCommand(ch chooser, ids []string, self string, presets []string, id string) core.Command {
	c := core.Command{ID: id, Actor: self}
	switch clientOptions[ch.choose("sort", clientOptions, nil)] {
	case "media":
		c.Type, c.Enabled = pickType(ch, []core.CommandType{core.SetAudio, core.SetVideo}, nil), flag(ch, "enabled")
	case "disable one":
		c.Type, c.Target = pickType(ch, []core.CommandType{core.DisableAudio, core.DisableVideo}, nil), pickString(ch, "target", ids, nil)
	case "disable all":
		c.Type = pickType(ch, []core.CommandType{core.DisableAllAudio, core.DisableAllVideo}, nil)
	case "pin":
		c.Type, c.Target = core.Pin, pickString(ch, "target", ids, nil)
	case "unpin":
		c.Type, c.Target = core.Unpin, pickString(ch, "target", ids, nil)
	case "kick":
		c.Type, c.Target = core.Kick, pickString(ch, "target", ids, nil)
	case "leave":
		c.Type = core.Leave
	default:
		c = joinCommand(ch, id, self, pickString(ch, "preset", presets, nil))
	}
	return c
}

// strongest is the preset of presets (names, sorted) that grants the most,
// the first of them if several do.
func strongest(presets core.Presets, names []string) string {
	best, most := "", -1
	for _, n := range names {
		p := presets[n]
		k := 0
		for _, on := range []bool{p.DisableParticipantAudio, p.DisableParticipantVideo, p.PinParticipant, p.KickParticipant} {
			if on {
				k++
			}
		}
		if k > most {
			best, most = n, k
		}
	}
	return best
}
