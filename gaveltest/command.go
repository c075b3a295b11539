package gaveltest

import (
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// Command returns a generator of commands that the reducer accepts in
// state s, with the given id. It favours what moderation is about: host
// actions (disable one or all, pin, kick), pins that move, kicks and
// departures of the pinned participant, rejoins (within Sessions),
// commands that succeed and change nothing; joins come first when a
// failure shrinks. Actors and targets are the participants of s and a
// fixed pool of ids ("alice", "bob", … "zoë"); names are "Alice" for
// "alice", presets those of s.
//
// An ended session accepts no command, nor does a new one without presets:
// the generator then skips the test case (rapid.T.Skip) before it draws,
// which within T.Repeat moves on to another action.
func Command(s core.State, id string) *rapid.Generator[core.Command] {
	return rapid.Custom(func(t *rapid.T) core.Command {
		sc := newScene(s)
		if !valid.feasible(sc) {
			t.Skip("no command is valid in this state")
		}
		return valid.choose(rapidChooser{t}, sc).make(sc, rapidChooser{t}, id)
	})
}

// Refused is a command the reducer must reject, and the code it must
// reject it with.
type Refused struct {
	Command core.Command
	Code    core.Code
}

// Refusal returns a generator of commands that the reducer rejects in state
// s, each on purpose and by one check of SPEC §2, the earlier checks
// passing: malformed (unknown type, empty id or actor, no target, a string
// not valid UTF-8 or one byte over its limit, each field in turn),
// session_ended, already_joined, unknown_preset, not_joined,
// permission_denied (whatever the target, even one not joined: the
// permission is checked first), participant_not_found and a kick of
// oneself. Every check that can fail in s is drawn; a malformed command
// shrinks first.
func Refusal(s core.State, id string) *rapid.Generator[Refused] {
	return rapid.Custom(func(t *rapid.T) Refused {
		sc := newScene(s)
		k := refusals.choose(rapidChooser{t}, sc)
		return Refused{Command: k.make(sc, rapidChooser{t}, id), Code: k.code}
	})
}

// scene is what the generators know of a session while they draw.
type scene struct {
	s       core.State
	ids     []string // people, then the joined participants not among them
	all     []string // ids, then strangers
	presets []string // the names of s's presets, sorted
	left    map[string]bool
}

func newScene(s core.State) *scene {
	sc := &scene{presets: presetNames(s), left: map[string]bool{}}
	sc.set(s)
	return sc
}

// set moves the scene to s, a later state of the same session.
func (sc *scene) set(s core.State) {
	sc.s = s
	sc.ids = slices.Clone(people)
	for p := range s.All() {
		if !slices.Contains(people, p.ID) {
			sc.ids = append(sc.ids, p.ID)
		}
	}
	sc.all = append(slices.Clone(sc.ids), strangers...)
}

// apply moves the scene past one command's events.
func (sc *scene) apply(s core.State, evs []events.Event) {
	for _, e := range evs {
		if l, ok := e.(*events.ParticipantLeft); ok {
			sc.left[l.Participant] = true
		}
	}
	sc.set(s)
}

func (sc *scene) joined(id string) bool { return sc.s.Joined(id) }

// may reports whether id is joined and its preset allows t.
func (sc *scene) may(id string, t core.CommandType) bool {
	p, ok := sc.s.Participant(id)
	if !ok {
		return false
	}
	perms, _ := sc.s.Preset(p.Preset)
	return perms.Allows(t)
}

// anyOf reports whether ok holds for one of ids.
func anyOf(ids []string, ok func(string) bool) bool { return slices.ContainsFunc(ids, ok) }

// pick chooses one of the pool's ids (and the joined ones outside it) for
// which ok holds.
func (sc *scene) pick(ch chooser, label string, ok func(string) bool) string {
	return pickString(ch, label, sc.ids, ok)
}

// pickAny chooses as pick, strangers included.
func (sc *scene) pickAny(ch chooser, label string, ok func(string) bool) string {
	return pickString(ch, label, sc.all, ok)
}

func pickType(ch chooser, types []core.CommandType, ok func(core.CommandType) bool) core.CommandType {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return core.CommandType(pickString(ch, "type", names, func(n string) bool { return ok == nil || ok(core.CommandType(n)) }))
}

func (sc *scene) pickPreset(ch chooser, extra ...string) string {
	options := append(slices.Clone(sc.presets), extra...)
	if len(options) == 0 {
		return unknownPreset(sc.s)
	}
	return pickString(ch, "preset", options, nil)
}

var nameOptions = append(slices.Repeat([]string{"display"}, 14), "empty", "longest")

// pickName chooses the name id joins with: mostly its display name,
// sometimes none or one of the longest a name may be.
func pickName(ch chooser, id string) string {
	switch nameOptions[ch.choose("name", nameOptions, nil)] {
	case "empty":
		return ""
	case "longest":
		return padTo(displayName(id), core.MaxNameLen)
	}
	return displayName(id)
}

// padTo returns s made n bytes long with x's (one x more if it is
// already as long).
func padTo(s string, n int) string {
	if len(s) >= n {
		return s + "x"
	}
	return s + strings.Repeat("x", n-len(s))
}

func joinCommand(ch chooser, id, actor, preset string) core.Command {
	return core.Command{ID: id, Type: core.Join, Actor: actor, Name: pickName(ch, actor), Preset: preset,
		Audio: flag(ch, "audio"), Video: flag(ch, "video")}
}

// kind is one way of making a command: valid, or refused on purpose with
// code.
type kind struct {
	name   string
	weight int
	code   core.Code
	ok     func(*scene) bool
	make   func(sc *scene, ch chooser, id string) core.Command
}

// table is a list of kinds as choice options, each as often as its weight,
// interleaved so that an infeasible kind hands its draw to a different one.
type table struct {
	kinds []kind
	slots []int // index into kinds
	names []string
}

func newTable(kinds ...kind) table {
	t := table{kinds: kinds}
	for round := 0; ; round++ {
		added := false
		for i, k := range kinds {
			if k.weight > round {
				t.slots, t.names, added = append(t.slots, i), append(t.names, k.name), true
			}
		}
		if !added {
			return t
		}
	}
}

func (t table) feasible(sc *scene) bool {
	return slices.ContainsFunc(t.kinds, func(k kind) bool { return k.ok(sc) })
}

// choose draws a kind feasible in sc; the table must have one.
func (t table) choose(ch chooser, sc *scene) kind {
	i := ch.choose("kind", t.names, func(i int) bool { return t.kinds[t.slots[i]].ok(sc) })
	return t.kinds[t.slots[i]]
}

var hostTypes = []core.CommandType{core.DisableAudio, core.DisableAllAudio, core.DisableVideo, core.DisableAllVideo,
	core.Pin, core.Unpin, core.Kick, core.KickAll}

var targetedHostTypes = []core.CommandType{core.DisableAudio, core.DisableVideo, core.Pin, core.Unpin, core.Kick}

// joinKind joins someone of the pool who is not joined.
var joinKind = kind{name: "join", weight: 4,
	ok: func(sc *scene) bool { return !sc.s.Ended() && len(sc.presets) > 0 && anyOf(people, not(sc.joined)) },
	make: func(sc *scene, ch chooser, id string) core.Command {
		return joinCommand(ch, id, pickString(ch, "actor", people, not(sc.joined)), sc.pickPreset(ch))
	}}

// The valid kinds. Each ok says when make can build a command the reducer
// accepts. A kind that cannot be made hands its draw to the next (see
// table): the kinds about the pinned participant hand theirs to a pin.
var valid = newTable(
	joinKind,
	kind{name: "leave", weight: 4, ok: someoneJoined,
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Leave, Actor: sc.pick(ch, "actor", sc.joined)}
		}},
	kind{name: "set media", weight: 10, ok: someoneJoined,
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.joined)
			return core.Command{ID: id, Type: pickType(ch, []core.CommandType{core.SetAudio, core.SetVideo}, nil),
				Actor: actor, Enabled: flag(ch, "enabled")}
		}},
	kind{name: "disable one", weight: 10,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.DisableAudio, core.DisableVideo)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.mayAny(core.DisableAudio, core.DisableVideo))
			typ := pickType(ch, []core.CommandType{core.DisableAudio, core.DisableVideo}, sc.allows(actor))
			// A target whose medium is on, so that something changes, if
			// there is one.
			on := func(id string) bool {
				p, ok := sc.s.Participant(id)
				return ok && (typ == core.DisableAudio && p.AudioEnabled || typ == core.DisableVideo && p.VideoEnabled)
			}
			if !anyOf(sc.ids, on) {
				on = sc.joined
			}
			return core.Command{ID: id, Type: typ, Actor: actor, Target: sc.pick(ch, "target", on)}
		}},
	kind{name: "disable all", weight: 6,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.DisableAllAudio, core.DisableAllVideo)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.mayAny(core.DisableAllAudio, core.DisableAllVideo))
			return core.Command{ID: id, Type: pickType(ch, []core.CommandType{core.DisableAllAudio, core.DisableAllVideo}, sc.allows(actor)),
				Actor: actor}
		}},
	kind{name: "kick", weight: 6,
		ok: func(sc *scene) bool { return sc.s.Len() > 1 && anyOf(sc.ids, sc.mayAny(core.Kick)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.mayAny(core.Kick))
			return core.Command{ID: id, Type: core.Kick, Actor: actor, Target: sc.pick(ch, "target", sc.other(actor))}
		}},
	kind{name: "rejoin", weight: 4,
		ok: func(sc *scene) bool { return !sc.s.Ended() && len(sc.presets) > 0 && anyOf(people, sc.rejoinable) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return joinCommand(ch, id, pickString(ch, "actor", people, sc.rejoinable), sc.pickPreset(ch))
		}},
	kind{name: "leave pinned", weight: 2, ok: somebodyPinned,
		make: func(sc *scene, _ chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Leave, Actor: sc.s.Pinned()}
		}},
	kind{name: "unpin", weight: 4,
		ok: func(sc *scene) bool { return somebodyPinned(sc) && anyOf(sc.ids, sc.mayAny(core.Unpin)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Unpin, Actor: sc.pick(ch, "actor", sc.mayAny(core.Unpin)), Target: sc.s.Pinned()}
		}},
	kind{name: "kick pinned", weight: 4,
		ok: func(sc *scene) bool {
			return somebodyPinned(sc) && anyOf(sc.ids, both(sc.mayAny(core.Kick), sc.other(sc.s.Pinned())))
		},
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Kick, Actor: sc.pick(ch, "actor", both(sc.mayAny(core.Kick), sc.other(sc.s.Pinned()))),
				Target: sc.s.Pinned()}
		}},
	// A pin of the pinned participant: it succeeds and changes nothing.
	kind{name: "pin again", weight: 2,
		ok: func(sc *scene) bool { return somebodyPinned(sc) && anyOf(sc.ids, sc.mayAny(core.Pin)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Pin, Actor: sc.pick(ch, "actor", sc.mayAny(core.Pin)), Target: sc.s.Pinned()}
		}},
	// A pin of someone not pinned: it moves the pin if one is pinned.
	kind{name: "pin", weight: 6,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.Pin)) && anyOf(sc.ids, sc.unpinned) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Pin, Actor: sc.pick(ch, "actor", sc.mayAny(core.Pin)),
				Target: sc.pick(ch, "target", sc.unpinned)}
		}},
	// An unpin of someone not pinned: it succeeds and changes nothing.
	kind{name: "unpin another", weight: 2,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.Unpin)) && anyOf(sc.ids, sc.unpinned) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.Unpin, Actor: sc.pick(ch, "actor", sc.mayAny(core.Unpin)),
				Target: sc.pick(ch, "target", sc.unpinned)}
		}},
	kind{name: "kick all", weight: 1,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.KickAll)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return core.Command{ID: id, Type: core.KickAll, Actor: sc.pick(ch, "actor", sc.mayAny(core.KickAll))}
		}},
)

func someoneJoined(sc *scene) bool  { return sc.s.Len() > 0 }
func somebodyPinned(sc *scene) bool { return sc.s.Pinned() != "" }

func not[T any](f func(T) bool) func(T) bool { return func(v T) bool { return !f(v) } }

func both(f, g func(string) bool) func(string) bool {
	return func(id string) bool { return f(id) && g(id) }
}

// mayAny: joined, and allowed one of types.
func (sc *scene) mayAny(types ...core.CommandType) func(string) bool {
	return func(id string) bool {
		return slices.ContainsFunc(types, func(t core.CommandType) bool { return sc.may(id, t) })
	}
}

// allows: the command types actor's preset allows.
func (sc *scene) allows(actor string) func(core.CommandType) bool {
	return func(t core.CommandType) bool { return sc.may(actor, t) }
}

// unpinned: joined and not pinned.
func (sc *scene) unpinned(id string) bool { return sc.joined(id) && sc.s.Pinned() != id }

// other: joined and not id.
func (sc *scene) other(id string) func(string) bool {
	return func(o string) bool { return o != id && sc.joined(o) }
}

// rejoinable: left earlier in the session and not back yet.
func (sc *scene) rejoinable(id string) bool { return sc.left[id] && !sc.joined(id) }
