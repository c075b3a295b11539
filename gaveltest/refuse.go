package gaveltest

import (
	"slices"

	"github.com/gavelrtc/gavel/core"
)

// bogusTypes are command types gavel does not have, each close to one it
// has.
var bogusTypes = []core.CommandType{"mute", "", "JOIN", "kick_all "}

// badUTF8 are strings that are not valid UTF-8: a stray byte, a sequence
// cut short, an encoded surrogate.
var badUTF8 = []string{"\xff", "\xc3", "\xed\xa0\x80"}

// malformation breaks one field of a command that is otherwise well formed,
// of one of types (any type if nil).
type malformation struct {
	name  string
	types []core.CommandType
	apply func(c *core.Command, ch chooser)
}

func notUTF8(ch chooser, s string) string {
	return s + pickString(ch, "bytes", badUTF8, nil)
}

var joinOnly = []core.CommandType{core.Join}

// malformations are the ways to fail check 1, one field at a time.
var malformations = []malformation{
	{"unknown type", nil, func(c *core.Command, ch chooser) {
		names := make([]string, len(bogusTypes))
		for i, t := range bogusTypes {
			names[i] = string(t)
		}
		c.Type = core.CommandType(pickString(ch, "bogus type", names, nil))
	}},
	{"empty id", nil, func(c *core.Command, _ chooser) { c.ID = "" }},
	{"empty actor", nil, func(c *core.Command, _ chooser) { c.Actor = "" }},
	{"no target", targetedTypes, func(c *core.Command, _ chooser) { c.Target = "" }},
	{"id not UTF-8", nil, func(c *core.Command, ch chooser) { c.ID = notUTF8(ch, c.ID) }},
	{"actor not UTF-8", nil, func(c *core.Command, ch chooser) { c.Actor = notUTF8(ch, c.Actor) }},
	{"target not UTF-8", targetedTypes, func(c *core.Command, ch chooser) { c.Target = notUTF8(ch, c.Target) }},
	{"name not UTF-8", joinOnly, func(c *core.Command, ch chooser) { c.Name = notUTF8(ch, c.Name) }},
	{"preset not UTF-8", joinOnly, func(c *core.Command, ch chooser) { c.Preset = notUTF8(ch, c.Preset) }},
	{"id too long", nil, func(c *core.Command, _ chooser) { c.ID = padTo(c.ID, core.MaxIDLen+1) }},
	{"actor too long", nil, func(c *core.Command, _ chooser) { c.Actor = padTo(c.Actor, core.MaxIDLen+1) }},
	{"target too long", targetedTypes, func(c *core.Command, _ chooser) { c.Target = padTo(c.Target, core.MaxIDLen+1) }},
	{"preset too long", joinOnly, func(c *core.Command, _ chooser) { c.Preset = padTo(c.Preset, core.MaxIDLen+1) }},
	{"name too long", joinOnly, func(c *core.Command, _ chooser) { c.Name = padTo(c.Name, core.MaxNameLen+1) }},
}

var malformationNames = func() []string {
	ns := make([]string, len(malformations))
	for i, m := range malformations {
		ns[i] = m.name
	}
	return ns
}()

var targetedTypes = slices.DeleteFunc(slices.Clone(core.CommandTypes), func(t core.CommandType) bool { return !t.Targeted() })

var nonJoinTypes = slices.DeleteFunc(slices.Clone(core.CommandTypes), func(t core.CommandType) bool { return t == core.Join })

// wellFormed builds a well-formed command of one of types, by an actor
// for whom ok holds (anyone if nil) and on any target, strangers too: what
// it fails is up to the state.
func wellFormed(sc *scene, ch chooser, id string, types []core.CommandType, ok func(string) bool) core.Command {
	c := core.Command{ID: id, Type: pickType(ch, types, nil), Actor: sc.pickAny(ch, "actor", ok)}
	switch {
	case c.Type.Targeted():
		c.Target = sc.pickAny(ch, "target", nil)
	case c.Type == core.Join:
		c = joinCommand(ch, id, c.Actor, sc.pickPreset(ch))
	case c.Type == core.SetAudio || c.Type == core.SetVideo:
		c.Enabled = flag(ch, "enabled")
	}
	return c
}

// The refusals, one kind per check of SPEC §2, in the order of the checks.
var refusals = newTable(
	kind{name: "malformed", weight: 4, code: core.CodeInvalidCommand,
		ok: func(*scene) bool { return true },
		make: func(sc *scene, ch chooser, id string) core.Command {
			m := malformations[ch.choose("malformation", malformationNames, nil)]
			types := m.types
			if types == nil {
				types = core.CommandTypes
			}
			c := wellFormed(sc, ch, id, types, nil)
			m.apply(&c, ch)
			return c
		}},
	kind{name: "after the end", weight: 3, code: core.CodeSessionEnded,
		ok: func(sc *scene) bool { return sc.s.Ended() },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return wellFormed(sc, ch, id, core.CommandTypes, nil)
		}},
	kind{name: "join twice", weight: 2, code: core.CodeAlreadyJoined,
		ok: func(sc *scene) bool { return !sc.s.Ended() && sc.s.Len() > 0 },
		make: func(sc *scene, ch chooser, id string) core.Command {
			// Any preset, one that does not exist too: already_joined is
			// checked first.
			return joinCommand(ch, id, sc.pick(ch, "actor", sc.joined), sc.pickPreset(ch, unknownPreset(sc.s)))
		}},
	kind{name: "unknown preset", weight: 2, code: core.CodeUnknownPreset,
		ok: func(sc *scene) bool { return !sc.s.Ended() && anyOf(sc.all, not(sc.joined)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return joinCommand(ch, id, sc.pickAny(ch, "actor", not(sc.joined)), unknownPreset(sc.s))
		}},
	kind{name: "not joined", weight: 2, code: core.CodeNotJoined,
		ok: func(sc *scene) bool { return !sc.s.Ended() && anyOf(sc.all, not(sc.joined)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			return wellFormed(sc, ch, id, nonJoinTypes, not(sc.joined))
		}},
	kind{name: "not permitted", weight: 3, code: core.CodePermissionDenied,
		ok: func(sc *scene) bool { return !sc.s.Ended() && anyOf(sc.ids, sc.lacksAny) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.lacksAny)
			c := core.Command{ID: id, Type: pickType(ch, hostTypes, not(sc.allows(actor))), Actor: actor}
			if c.Type.Targeted() {
				// Anyone, not joined too: the permission is checked first.
				c.Target = sc.pickAny(ch, "target", nil)
			}
			return c
		}},
	kind{name: "no such target", weight: 2, code: core.CodeParticipantNotFound,
		ok: func(sc *scene) bool {
			return !sc.s.Ended() && anyOf(sc.ids, sc.mayAny(targetedHostTypes...)) && anyOf(sc.all, not(sc.joined))
		},
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.mayAny(targetedHostTypes...))
			return core.Command{ID: id, Type: pickType(ch, targetedHostTypes, sc.allows(actor)), Actor: actor,
				Target: sc.pickAny(ch, "target", not(sc.joined))}
		}},
	kind{name: "kick oneself", weight: 2, code: core.CodeCannotActOnSelf,
		ok: func(sc *scene) bool { return anyOf(sc.ids, sc.mayAny(core.Kick)) },
		make: func(sc *scene, ch chooser, id string) core.Command {
			actor := sc.pick(ch, "actor", sc.mayAny(core.Kick))
			return core.Command{ID: id, Type: core.Kick, Actor: actor, Target: actor}
		}},
)

// lacksAny: joined, and refused one of the host actions.
func (sc *scene) lacksAny(id string) bool {
	return sc.joined(id) && slices.ContainsFunc(hostTypes, func(t core.CommandType) bool { return !sc.may(id, t) })
}
