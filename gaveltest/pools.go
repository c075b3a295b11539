package gaveltest

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
)

// SessionID is the id of every session the generators make.
const SessionID = "room"

// people are the participant ids the generators join, in the order a
// shrink prefers them. Sixteen are enough for a session's trie to have
// sub-nodes; "zoë" is not ASCII.
var people = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "zoë"}

// strangers are well-formed ids the generators never join: actors and
// targets of not_joined and participant_not_found.
var strangers = []string{"ghost", "nobody"}

// displayName is the name the generators give participant id when it
// joins: "Alice" for "alice".
func displayName(id string) string {
	r, n := utf8.DecodeRuneInString(id)
	return string(unicode.ToUpper(r)) + id[n:]
}

// CommandID is the id of the n-th command of a generated session: "c1",
// "c2", … Give each command of a session its own, as a client does: a
// runtime answers a repeated id with its first outcome.
func CommandID(n int) string { return "c" + strconv.Itoa(n) }

// permission bits of a preset mask, in the order of core.Permissions.
const (
	permAudio = 1 << iota
	permVideo
	permPin
	permKick
)

var permNames = []string{"audio", "video", "pin", "kick"}

// presetName names a preset after what it may do: "attendee" for nothing,
// "host" for everything, else its permissions ("audio+pin"). A shrunk
// failure then says what each participant may do.
func presetName(mask int) string {
	switch mask {
	case 0:
		return "attendee"
	case permAudio | permVideo | permPin | permKick:
		return "host"
	}
	var parts []string
	for i, n := range permNames {
		if mask&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "+")
}

func permissions(mask int) core.Permissions {
	return core.Permissions{
		DisableParticipantAudio: mask&permAudio != 0,
		DisableParticipantVideo: mask&permVideo != 0,
		PinParticipant:          mask&permPin != 0,
		KickParticipant:         mask&permKick != 0,
	}
}

// masks are the sixteen permission sets as choice options: attendee and
// host first, then one permission, two, three; rapid draws the first
// options more often, and shrinks towards them.
var masks = func() []int {
	ms := []int{0, permAudio | permVideo | permPin | permKick}
	for _, n := range []int{1, 2, 3} {
		for m := 1; m < 15; m++ {
			if bits.OnesCount(uint(m)) == n {
				ms = append(ms, m)
			}
		}
	}
	return ms
}()

var maskNames = func() []string {
	ns := make([]string, len(masks))
	for i, m := range masks {
		ns[i] = presetName(m)
	}
	return ns
}()

var presetCounts = []string{"1", "2", "3", "4"}

// Presets returns a generator of a session's presets: one to four of the
// sixteen sets of permissions, each named after what it grants ("host" for
// all four, "attendee" for none, else "audio+pin" and the like). It shrinks
// towards a lone "attendee".
func Presets() *rapid.Generator[core.Presets] {
	return rapid.Custom(func(t *rapid.T) core.Presets { return choosePresets(rapidChooser{t}) })
}

func choosePresets(ch chooser) core.Presets {
	n := ch.choose("presets", presetCounts, nil) + 1
	ps := make(core.Presets, n)
	for range n {
		m := masks[ch.choose("preset", maskNames, nil)]
		ps[presetName(m)] = permissions(m)
	}
	return ps
}

// presetNames are the names of s's presets, sorted.
func presetNames(s core.State) []string {
	ps := s.Presets()
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// unknownPreset is a preset name s does not have.
func unknownPreset(s core.State) string {
	name := "admin"
	for i := 2; ; i++ {
		if _, ok := s.Preset(name); !ok {
			return name
		}
		name = "admin" + strconv.Itoa(i)
	}
}
