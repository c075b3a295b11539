package reducer_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/invariant"
	"github.com/gavelrtc/gavel/reducer"
)

// The model is deliberately naive and shares no code with the reducer: a
// slice in join order searched linearly, the SPEC's tables written out again
// as maps of strings, and its own state changes rather than a fold of the
// events it emits.

type modelPerson struct {
	id, name, preset string
	audio, video     bool
}

type model struct {
	session string
	people  []modelPerson // joined, in join order
	pinned  string
	ended   bool
	seq     uint64
}

// modelGrants: each preset and the command groups it may issue.
var modelGrants = map[string][]string{
	"host":     {"audio", "video", "pin", "kick"},
	"cohost":   {"audio", "pin"},
	"stage":    {"video", "kick"},
	"attendee": nil,
}

// modelCommands: every command type, the group it needs ("" for none) and
// whether it names a target.
var modelCommands = map[string]struct {
	group    string
	targeted bool
}{
	"join":              {"", false},
	"leave":             {"", false},
	"set_audio":         {"", false},
	"set_video":         {"", false},
	"disable_audio":     {"audio", true},
	"disable_all_audio": {"audio", false},
	"disable_video":     {"video", true},
	"disable_all_video": {"video", false},
	"pin":               {"pin", true},
	"unpin":             {"pin", true},
	"kick":              {"kick", true},
	"kick_all":          {"kick", false},
}

// modelPresets is modelGrants for the real reducer.
func modelPresets() core.Presets {
	ps := core.Presets{}
	for name, groups := range modelGrants {
		ps[name] = core.Permissions{
			DisableParticipantAudio: slices.Contains(groups, "audio"),
			DisableParticipantVideo: slices.Contains(groups, "video"),
			PinParticipant:          slices.Contains(groups, "pin"),
			KickParticipant:         slices.Contains(groups, "kick"),
		}
	}
	return ps
}

func (m *model) find(id string) int {
	for i, p := range m.people {
		if p.id == id {
			return i
		}
	}
	return -1
}

func (m *model) remove(id string) {
	m.people = slices.Delete(m.people, m.find(id), m.find(id)+1)
	if m.pinned == id {
		m.pinned = ""
	}
}

// apply runs c: the events it emits, or the code rejecting it (and then the
// model is unchanged).
func (m *model) apply(c core.Command) ([]events.Event, core.Code) {
	typ := string(c.Type)
	spec, known := modelCommands[typ]
	switch {
	case !known || c.ID == "" || c.Actor == "" || spec.targeted && c.Target == "" || !modelStrings(c, spec.targeted):
		return nil, 1210
	case m.ended:
		return nil, 1211
	}
	a := m.find(c.Actor)
	if typ == "join" {
		if a >= 0 {
			return nil, 1205
		}
		if _, ok := modelGrants[c.Preset]; !ok {
			return nil, 1212
		}
	} else {
		if a < 0 {
			return nil, 1208
		}
		if spec.group != "" && !slices.Contains(modelGrants[m.people[a].preset], spec.group) {
			return nil, 1201
		}
	}
	if spec.targeted && m.find(c.Target) < 0 {
		return nil, 1202
	}
	if typ == "kick" && c.Target == c.Actor {
		return nil, 1203
	}

	var out []events.Event
	next := func() uint64 { m.seq++; return m.seq }
	audioOff := func(i int) {
		if m.people[i].audio {
			m.people[i].audio = false
			out = append(out, &events.AudioUpdate{Seq: next(), Participant: m.people[i].id, By: c.Actor})
		}
	}
	videoOff := func(i int) {
		if m.people[i].video {
			m.people[i].video = false
			out = append(out, &events.VideoUpdate{Seq: next(), Participant: m.people[i].id, By: c.Actor})
		}
	}
	switch typ {
	case "join":
		m.people = append(m.people, modelPerson{c.Actor, c.Name, c.Preset, c.Audio, c.Video})
		out = append(out, &events.ParticipantJoined{Seq: next(), Participant: c.Actor, Name: c.Name, Preset: c.Preset,
			AudioEnabled: c.Audio, VideoEnabled: c.Video})
	case "leave":
		m.remove(c.Actor)
		out = append(out, &events.ParticipantLeft{Seq: next(), Participant: c.Actor, Reason: "left", By: c.Actor})
	case "set_audio":
		if m.people[a].audio != c.Enabled {
			m.people[a].audio = c.Enabled
			out = append(out, &events.AudioUpdate{Seq: next(), Participant: c.Actor, AudioEnabled: c.Enabled, By: c.Actor})
		}
	case "set_video":
		if m.people[a].video != c.Enabled {
			m.people[a].video = c.Enabled
			out = append(out, &events.VideoUpdate{Seq: next(), Participant: c.Actor, VideoEnabled: c.Enabled, By: c.Actor})
		}
	case "disable_audio":
		audioOff(m.find(c.Target))
	case "disable_video":
		videoOff(m.find(c.Target))
	case "disable_all_audio", "disable_all_video":
		count := 0
		for i := range m.people {
			if typ == "disable_all_audio" && m.people[i].audio {
				m.people[i].audio = false
				count++
			}
			if typ == "disable_all_video" && m.people[i].video {
				m.people[i].video = false
				count++
			}
		}
		switch {
		case count == 0:
		case typ == "disable_all_audio":
			out = append(out, &events.AllAudioDisabled{Seq: next(), Count: uint64(count), By: c.Actor})
		default:
			out = append(out, &events.AllVideoDisabled{Seq: next(), Count: uint64(count), By: c.Actor})
		}
	case "pin":
		if m.pinned != c.Target {
			if m.pinned != "" {
				out = append(out, &events.Unpinned{Seq: next(), Participant: m.pinned, By: c.Actor})
			}
			m.pinned = c.Target
			out = append(out, &events.Pinned{Seq: next(), Participant: c.Target, By: c.Actor})
		}
	case "unpin":
		if m.pinned == c.Target {
			m.pinned = ""
			out = append(out, &events.Unpinned{Seq: next(), Participant: c.Target, By: c.Actor})
		}
	case "kick":
		m.remove(c.Target)
		out = append(out, &events.ParticipantLeft{Seq: next(), Participant: c.Target, Reason: "kicked", By: c.Actor})
	case "kick_all":
		m.people, m.pinned, m.ended = nil, "", true
		out = append(out, &events.SessionEnded{Seq: next(), By: c.Actor})
	}
	return out, 0
}

// modelStrings checks the strings c's type reads: valid UTF-8, at most 256
// bytes (1,024 for a name).
func modelStrings(c core.Command, targeted bool) bool {
	fine := func(s string, max int) bool { return utf8.ValidString(s) && len(s) <= max }
	if !fine(c.ID, 256) || !fine(c.Actor, 256) || targeted && !fine(c.Target, 256) {
		return false
	}
	return c.Type != "join" || fine(c.Name, 1024) && fine(c.Preset, 256)
}

func (m *model) snapshot() core.Snapshot {
	s := core.Snapshot{Session: m.session, Seq: m.seq, Ended: m.ended, Pinned: m.pinned}
	for _, p := range m.people {
		s.Participants = append(s.Participants, core.Participant{ID: p.id, Name: p.name, Preset: p.preset,
			AudioEnabled: p.audio, VideoEnabled: p.video})
	}
	return s
}

// joinedIDs are the ids of the joined participants, or only of those with
// one of the given presets.
func (m *model) joinedIDs(presets ...string) []string {
	var ids []string
	for _, p := range m.people {
		if len(presets) == 0 || slices.Contains(presets, p.preset) {
			ids = append(ids, p.id)
		}
	}
	return ids
}

var (
	// joinable are the ids join commands use: enough for sessions whose trie
	// has sub-nodes.
	joinable = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoë"}
	// anyone adds ids that never join and the empty id to joinable.
	anyone = append(slices.Clone(joinable), "ghost", "nobody", "")
	// presetNames are the model's presets and names no session has.
	presetNames = []string{"host", "cohost", "stage", "attendee", "admin", ""}
	// typeNames are the command types and a few that do not exist.
	typeNames = append(slices.Sorted(maps.Keys(modelCommands)), "mute", "", "JOIN", "kick ")
)

func TestReducerAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &model{session: "room"}
		chk := invariant.New(core.NewState("room", modelPresets()))
		// built follows the same commands as a replay does: Decide on the
		// Builder's current state, then FoldInto it, changing its own
		// nodes in place.
		built := core.NewBuilder(core.NewState("room", modelPresets()))

		step := func(t *rapid.T, cmd core.Command) {
			t.Helper()
			if evs, err := reducer.Decide(built.Current(), cmd); err == nil {
				reducer.FoldInto(&built, evs)
			}
			wantEvs, wantCode := m.apply(cmd)
			after, evs, err := reducer.Apply(chk.State(), cmd)
			code, isCoreErr := core.CodeOf(err)
			if err != nil && !isCoreErr {
				t.Fatalf("%+v: error %v is not a *core.Error", cmd, err)
			}
			type outcome struct {
				Events []events.Event
				Code   core.Code
			}
			if d := cmp.Diff(outcome{wantEvs, wantCode}, outcome{evs, code}, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("%+v: outcome differs from the model's (-model +reducer):\n%s", cmd, d)
			}
			if err := chk.Step(cmd, after, evs, err); err != nil {
				t.Fatalf("%+v: %v", cmd, err)
			}
		}

		// Draws of who acts and on whom favour joined participants, hosts
		// and the pinned one, so that commands get past the checks as often
		// as they fail them.
		participant := func(t *rapid.T, label string) string {
			var from []string
			switch rapid.SampledFrom([]string{"anyone", "joined", "host", "pinned"}).Draw(t, label+" from") {
			case "joined":
				from = m.joinedIDs()
			case "host":
				from = m.joinedIDs("host")
			case "pinned":
				if m.pinned != "" {
					from = []string{m.pinned}
				}
			}
			if len(from) == 0 {
				from = anyone
			}
			return rapid.SampledFrom(from).Draw(t, label)
		}
		id := func(t *rapid.T) string {
			if rapid.IntRange(0, 15).Draw(t, "empty id") == 0 {
				return ""
			}
			return rapid.StringMatching(`c[0-9]{1,3}`).Draw(t, "id")
		}
		join := func(t *rapid.T, actor string) core.Command {
			return core.Command{ID: id(t), Type: "join", Actor: actor,
				Name:   rapid.StringMatching(`[A-Z][a-z]{0,5}`).Draw(t, "name"),
				Preset: rapid.SampledFrom(presetNames).Draw(t, "preset"),
				Audio:  rapid.Bool().Draw(t, "audio"), Video: rapid.Bool().Draw(t, "video")}
		}

		// A prologue of joins, so that sessions are sometimes large.
		for _, actor := range joinable[:rapid.IntRange(0, len(joinable)).Draw(t, "prologue joins")] {
			step(t, join(t, actor))
		}

		t.Repeat(map[string]func(*rapid.T){
			"join": func(t *rapid.T) {
				step(t, join(t, rapid.SampledFrom(append(slices.Clone(joinable), "")).Draw(t, "actor")))
			},
			"leave": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: "leave", Actor: participant(t, "actor")})
			},
			"set media": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: rapid.SampledFrom([]core.CommandType{"set_audio", "set_video"}).Draw(t, "type"),
					Actor: participant(t, "actor"), Enabled: rapid.Bool().Draw(t, "enabled")})
			},
			"disable one": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: rapid.SampledFrom([]core.CommandType{"disable_audio", "disable_video"}).Draw(t, "type"),
					Actor: participant(t, "actor"), Target: participant(t, "target")})
			},
			"disable all": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: rapid.SampledFrom([]core.CommandType{"disable_all_audio", "disable_all_video"}).Draw(t, "type"),
					Actor: participant(t, "actor")})
			},
			"pin or unpin": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: rapid.SampledFrom([]core.CommandType{"pin", "unpin"}).Draw(t, "type"),
					Actor: participant(t, "actor"), Target: participant(t, "target")})
			},
			"kick": func(t *rapid.T) {
				actor := participant(t, "actor")
				target := actor
				if !rapid.Bool().Draw(t, "kick self") {
					target = participant(t, "target")
				}
				step(t, core.Command{ID: id(t), Type: "kick", Actor: actor, Target: target})
			},
			// A field at or over its limit, or not valid UTF-8.
			"strings": func(t *rapid.T) {
				odd := []string{"\xff", "a\xc3", strings.Repeat("é", 128), strings.Repeat("x", 257), strings.Repeat("n", 1024),
					strings.Repeat("n", 1025)}
				pick := func(label string, from []string) string {
					if rapid.Bool().Draw(t, label+" odd") {
						return rapid.SampledFrom(odd).Draw(t, label)
					}
					return rapid.SampledFrom(from).Draw(t, label)
				}
				step(t, core.Command{ID: pick("id", []string{"c1", "c2"}), Type: core.CommandType(rapid.SampledFrom(typeNames).Draw(t, "type")),
					Actor: pick("actor", append(m.joinedIDs(), "ghost")), Target: pick("target", anyone), Name: pick("name", []string{"Ann"}),
					Preset: pick("preset", presetNames), Enabled: rapid.Bool().Draw(t, "enabled")})
			},
			// Any type (kick_all among them, and types that do not exist)
			// with every field drawn, whether the type reads it or not.
			"any": func(t *rapid.T) {
				step(t, core.Command{ID: id(t), Type: core.CommandType(rapid.SampledFrom(typeNames).Draw(t, "type")),
					Actor: participant(t, "actor"), Target: participant(t, "target"),
					Name: rapid.SampledFrom([]string{"", "Ann"}).Draw(t, "name"), Preset: rapid.SampledFrom(presetNames).Draw(t, "preset"),
					Audio: rapid.Bool().Draw(t, "audio"), Video: rapid.Bool().Draw(t, "video"), Enabled: rapid.Bool().Draw(t, "enabled")})
			},
			"": func(t *rapid.T) {
				if d := cmp.Diff(m.snapshot(), chk.State().Snapshot(), cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("state differs from the model's (-model +reducer):\n%s", d)
				}
				if d := cmp.Diff(m.snapshot(), built.Current().Snapshot(), cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("the Builder's state differs from the model's (-model +builder):\n%s", d)
				}
			},
		})
	})
}
