package gaveltest

import (
	"bytes"
	"fmt"
	"go/parser"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

func hasCode(err error, code core.Code) bool {
	c, ok := core.CodeOf(err)
	return ok && c == code
}

// randomBytes are n bytes from r.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// decodedSessions are sessions SessionFromBytes makes of random bytes:
// the same every run; a third of n with -short.
func decodedSessions(t *testing.T, n int, presets core.Presets) [][]Step {
	t.Helper()
	if testing.Short() {
		n /= 3
	}
	r := rand.New(rand.NewPCG(15, 1))
	var all [][]Step
	for range n {
		steps, err := SessionFromBytes(presets, randomBytes(r, 800)).Play()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, steps)
	}
	return all
}

// TestKindsKeepTheirWord makes every kind in every state of many sessions
// where it says it can, with many choices, and checks that a valid kind's
// command is accepted and a refusal's rejected with its code.
func TestKindsKeepTheirWord(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	made := map[string]int{}
	for _, steps := range decodedSessions(t, 60, nil) {
		if len(steps) == 0 {
			continue
		}
		sc := newScene(steps[0].Before)
		for _, st := range steps {
			for _, tab := range []table{valid, refusals} {
				for _, k := range tab.kinds {
					if !k.ok(sc) {
						continue
					}
					for range 3 {
						c := k.make(sc, &byteChooser{data: randomBytes(r, 16)}, "x")
						_, err := reducer.Decide(st.Before, c)
						if code, _ := core.CodeOf(err); code != k.code {
							t.Fatalf("kind %q made %#v in %+v: %v, want code %d", k.name, command(c), st.Before.Snapshot(), err, k.code)
						}
						made[k.name]++
					}
				}
			}
			if st.Err == nil {
				sc.apply(st.After, st.Events)
			}
		}
	}
	for _, tab := range []table{valid, refusals} {
		for _, k := range tab.kinds {
			if made[k.name] < 30 {
				t.Errorf("kind %q made %d times", k.name, made[k.name])
			}
		}
	}
}

// TestMalformations breaks each field in turn, in every type that reads
// it: check 1 refuses each, whatever the state.
func TestMalformations(t *testing.T) {
	sc := newScene(core.NewState("room", core.Presets{"host": permissions(15)}))
	for i, m := range malformations {
		types := m.types
		if types == nil {
			types = core.CommandTypes
		}
		for ti := range types {
			for b := range len(badUTF8) {
				// Choices: the malformation, the type, then all the others b.
				ch := &byteChooser{data: append([]byte{byte(i), byte(ti)}, bytes.Repeat([]byte{byte(b)}, 10)...)}
				c := refusals.kinds[0].make(sc, ch, "c1")
				if err := reducer.WellFormed(c); !hasCode(err, core.CodeInvalidCommand) {
					t.Errorf("%s of %s: %#v: %v", m.name, types[ti], command(c), err)
				}
			}
		}
	}
}

// TestGenerators draws commands and refusals in states of drawn sessions:
// the reducer accepts every command and rejects every refusal with its
// code.
func TestGenerators(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		steps, err := Sessions(nil).Draw(t, "session").Play()
		if err != nil {
			t.Fatal(err)
		}
		s := Sessions(nil).Draw(t, "other").Start()
		if len(steps) > 0 {
			s = steps[rapid.IntRange(0, len(steps)-1).Draw(t, "step")].After
		}
		if !s.Ended() {
			c := Command(s, "x").Draw(t, "command")
			if _, err := reducer.Decide(s, c); err != nil {
				t.Fatalf("%#v in %+v: %v", command(c), s.Snapshot(), err)
			}
		}
		r := Refusal(s, "x").Draw(t, "refusal")
		if _, err := reducer.Decide(s, r.Command); !hasCode(err, r.Code) {
			t.Fatalf("%#v in %+v: %v, want %s", command(r.Command), s.Snapshot(), err, r.Code.Name())
		}
	})
}

// TestRepeatPastTheEnd: in T.Repeat, Command skips once the session has
// ended and Refusal takes over, as the doc of Command promises.
func TestRepeatPastTheEnd(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := core.NewState("room", core.Presets{"host": permissions(15)})
		s, _, _ = reducer.Apply(s, core.Command{ID: "c1", Type: core.Join, Actor: "alice", Preset: "host"})
		s, _, _ = reducer.Apply(s, core.Command{ID: "c2", Type: core.KickAll, Actor: "alice"})
		chk := NewChecker(s)
		n := 2
		step := func(c core.Command) {
			n++
			after, evs, err := reducer.Apply(chk.State(), c)
			if err := chk.Step(c, after, evs, err); err != nil {
				t.Fatal(err)
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"command": func(t *rapid.T) { step(Command(chk.State(), CommandID(n+1)).Draw(t, "command")) },
			"refusal": func(t *rapid.T) { step(Refusal(chk.State(), CommandID(n+1)).Draw(t, "refusal").Command) },
		})
	})
}

// TestSessionsCover runs decoded sessions (the same every run) and checks
// that they do what the generators are for: every command type accepted
// with events, every rejection code, pins that move, kicks of the pinned
// participant, rejoins, commands that change nothing, bulk commands that
// turn off more than one.
func TestSessionsCover(t *testing.T) {
	seen := map[string]int{}
	for _, steps := range decodedSessions(t, 200, nil) {
		left := map[string]bool{}
		for _, st := range steps {
			c := st.Command
			switch {
			case st.Err != nil:
				code, _ := core.CodeOf(st.Err)
				seen["rejected: "+code.Name()]++
				continue
			case len(st.Events) == 0:
				seen["no change"]++
			case c.Type == core.Pin && st.Before.Pinned() != "":
				seen["pin moved"]++
			case c.Type == core.Kick && st.Before.Pinned() == c.Target:
				seen["kick of the pinned"]++
			case c.Type == core.Leave && st.Before.Pinned() == c.Actor:
				seen["leave of the pinned"]++
			case c.Type == core.Join && left[c.Actor]:
				seen["rejoin"]++
			}
			for _, e := range st.Events {
				seen["event: "+string(e.Type())]++
				switch e := e.(type) {
				case *events.ParticipantLeft:
					left[e.Participant] = true
				case *events.AllAudioDisabled:
					if e.Count > 1 {
						seen["bulk of many"]++
					}
				}
			}
		}
	}
	want := []string{"no change", "pin moved", "kick of the pinned", "leave of the pinned", "rejoin", "bulk of many"}
	for _, code := range []core.Code{core.CodePermissionDenied, core.CodeParticipantNotFound, core.CodeCannotActOnSelf,
		core.CodeAlreadyJoined, core.CodeNotJoined, core.CodeInvalidCommand, core.CodeSessionEnded, core.CodeUnknownPreset} {
		want = append(want, "rejected: "+code.Name())
	}
	for _, typ := range []events.Type{events.TypeParticipantJoined, events.TypeParticipantLeft, events.TypeAudioUpdate,
		events.TypeVideoUpdate, events.TypePinned, events.TypeUnpinned, events.TypeAllAudioDisabled, events.TypeAllVideoDisabled,
		events.TypeSessionEnded} {
		want = append(want, "event: "+string(typ))
	}
	for _, w := range want {
		if seen[w] < 5 {
			t.Errorf("%q seen %d times", w, seen[w])
		}
	}
	t.Log(seen)
}

// TestSessionFromBytes pins the decoding: the same bytes give the same
// session, and these bytes this one. A change to the generators' choices
// changes what the fuzz seeds mean: look at them again, then update want.
func TestSessionFromBytes(t *testing.T) {
	data := []byte{
		0, 1, // presets: one, host
		2,             // two opening joins
		0, 0, 0, 1, 0, // join: alice, host, her display name, audio on, video off
		0, 0, 0, 0, 0, // join: the first not joined (bob), host, …, all off
		0, 0, 3, 0, 0, 0, // a command, numbered id, "disable one": alice, audio, on alice (the only one with audio on)
		6, 0, 7, 0, // a refusal, numbered id, "kick oneself": alice
		7, 1, 2, 0, 0, 0, 0, 0, 0, 7, // any command: leave, carol, on alice, host, audio, video and enabled off, no name, no id
	}
	want := Session{ID: "room", Presets: core.Presets{"host": permissions(15)}, Commands: []core.Command{
		{ID: "c1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true},
		{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "host"},
		{ID: "c3", Type: core.DisableAudio, Actor: "alice", Target: "alice"},
		{ID: "c4", Type: core.Kick, Actor: "alice", Target: "alice"},
		{Type: core.Leave, Actor: "carol", Target: "alice", Preset: "host"},
	}}
	got := SessionFromBytes(nil, data)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s\n%#v", d, got)
	}
	if again := SessionFromBytes(nil, data); !cmp.Equal(got, again) {
		t.Fatalf("decoded twice: %#v, then %#v", got, again)
	}
}

// TestSessionBounds: a session runs two commands past its end, and a long
// input decodes into at most 400 commands.
func TestSessionBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	for _, steps := range decodedSessions(t, 100, nil) {
		for i, st := range steps {
			if st.Before.Ended() && i < len(steps)-afterEnd {
				t.Fatalf("%d commands after the end", len(steps)-i)
			}
		}
	}
	// host only, and bytes that never choose a kick_all: "command" and the
	// first kind that can be made, with its first choices.
	long := SessionFromBytes(core.Presets{"host": permissions(15)}, make([]byte, 100_000))
	if len(long.Commands) != maxDecoded {
		t.Errorf("%d commands from 100,000 zero bytes, want %d", len(long.Commands), maxDecoded)
	}
	if s := SessionFromBytes(nil, randomBytes(r, 3)); len(s.Commands) > 1 {
		t.Errorf("3 bytes decode into %d commands", len(s.Commands))
	}
}

// TestGoString: a session prints as the Go expression that builds it.
func TestGoString(t *testing.T) {
	s := Session{ID: "room", Presets: core.Presets{"host": permissions(15), "attendee": {}}, Commands: []core.Command{
		{ID: "c1", Type: core.Join, Actor: "zoë", Name: padTo("Zoë", core.MaxNameLen), Preset: "host", Video: true},
		{ID: "c2\xff", Type: core.SetAudio, Actor: "zoë", Enabled: true},
		{ID: padTo("c3-", core.MaxIDLen+1), Type: "mute", Actor: "zoë"},
	}}
	want := `gaveltest.Session{ID: "room", Presets: core.Presets{"attendee": {}, "host": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}}, Commands: []core.Command{
	{ID: "c1", Type: "join", Actor: "zoë", Name: "Zoë" + strings.Repeat("x", 1020), Preset: "host", Video: true},
	{ID: "c2\xff", Type: "set_audio", Actor: "zoë", Enabled: true},
	{ID: "c3-" + strings.Repeat("x", 254), Type: "mute", Actor: "zoë"},
}}`
	got := fmt.Sprintf("%#v", s)
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := parser.ParseExpr(strings.TrimPrefix(got, "gaveltest.")); err != nil {
		t.Fatalf("not a Go expression: %v", err)
	}
	if got := fmt.Sprintf("%#v", Session{ID: "room"}); got != `gaveltest.Session{ID: "room", Presets: nil}` {
		t.Errorf("empty session: %s", got)
	}
}

// TestPresets: drawn presets are named after what they grant, and shrink
// towards attendee.
func TestPresets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for name, p := range Presets().Draw(t, "presets") {
			i := slices.IndexFunc(masks, func(m int) bool { return permissions(m) == p })
			if presetName(masks[i]) != name {
				t.Fatalf("preset %q grants %+v", name, p)
			}
		}
	})
	if got := SessionFromBytes(nil, nil).Presets; !cmp.Equal(got, core.Presets{"attendee": {}}) {
		t.Errorf("presets of no bytes: %v", got)
	}
}
