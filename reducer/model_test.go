package reducer_test

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/reducer"
)

// The model is deliberately naive and shares no code with the reducer: a
// slice in join order searched linearly, the SPEC's tables written out again
// as maps of strings, and its own state changes rather than a fold of the
// events it emits. The sessions it runs, and the invariants checked after
// every step, are gaveltest's.

type modelPerson struct {
	id, name, preset string
	audio, video     bool
}

type model struct {
	session string
	grants  map[string][]string // each preset and the command groups it may issue
	people  []modelPerson       // joined, in join order
	pinned  string
	ended   bool
	seq     uint64
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

// newModel is a new session whose presets are ps, read as command groups.
func newModel(session string, ps core.Presets) *model {
	m := &model{session: session, grants: map[string][]string{}}
	for name, p := range ps {
		groups := []string{}
		for group, on := range map[string]bool{"audio": p.DisableParticipantAudio, "video": p.DisableParticipantVideo,
			"pin": p.PinParticipant, "kick": p.KickParticipant} {
			if on {
				groups = append(groups, group)
			}
		}
		m.grants[name] = groups
	}
	return m
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
		if _, ok := m.grants[c.Preset]; !ok {
			return nil, 1212
		}
	} else {
		if a < 0 {
			return nil, 1208
		}
		if spec.group != "" && !slices.Contains(m.grants[m.people[a].preset], spec.group) {
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

func TestReducerAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		session := gaveltest.Sessions(nil).Draw(t, "session")
		m := newModel(session.ID, session.Presets)
		chk := gaveltest.NewChecker(session.Start())
		// built follows the same commands as a replay does: Decide on the
		// Builder's current state, then FoldInto it, changing its own
		// nodes in place.
		built := core.NewBuilder(session.Start())
		for _, cmd := range session.Commands {
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
				t.Fatal(err)
			}
			if d := cmp.Diff(m.snapshot(), chk.State().Snapshot(), cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("%+v: state differs from the model's (-model +reducer):\n%s", cmd, d)
			}
			if d := cmp.Diff(m.snapshot(), built.Current().Snapshot(), cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("%+v: the Builder's state differs from the model's (-model +builder):\n%s", cmd, d)
			}
		}
	})
}
