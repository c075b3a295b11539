package gaveltest_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/reducer"
)

// TestRoster is the property of Example as a test: rapid draws the
// sessions, and shrinks one that fails, which Record then keeps in
// testdata, where TestRosterRegressions runs it from then on.
func TestRoster(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := gaveltest.Sessions(classroom).Draw(t, "session")
		gaveltest.Record(t, s, "testdata/roster-failure.jsonl")
		if err := checkRoster(s); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRosterRegressions runs the property on every session kept in
// testdata, each a log that RunLog checks first: gaveltest's part.
func TestRosterRegressions(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no session in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := checkRoster(gaveltest.RunLog(t, f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestButtons is the property of Example_permissions as a test.
func TestButtons(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := checkButtons(gaveltest.Sessions(rolePresets()).Draw(t, "session")); err != nil {
			t.Fatal(err)
		}
	})
}

// A Checker follows a session, here a system under test that reports a
// self-mute with the wrong seq.
func ExampleChecker() {
	chk := gaveltest.NewChecker(core.NewState("room", classroom))
	join := core.Command{ID: "c1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "teacher", Audio: true}
	after, evs, err := reducer.Apply(chk.State(), join)
	fmt.Println(chk.Step(join, after, evs, err))

	mute := core.Command{ID: "c2", Type: core.SetAudio, Actor: "alice"}
	e := &events.AudioUpdate{Seq: 3, Participant: "alice", By: "alice"}
	err = chk.Step(mute, reducer.Evolve(chk.State(), e), []events.Event{e}, nil)
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "\t") { // details, indented: a diff of the events
			fmt.Println(line)
		}
	}
	// Output:
	// <nil>
	// gaveltest: step 2, {ID: "c2", Type: "set_audio", Actor: "alice"}:
	// the outcome is not the reducer's, or Decide is not deterministic: errors <nil> and <nil>, events (-step +Decide):
	// audio_update has seq 3, want 2
	// state seq is 3 after the command's events, want 2
	// event 1 of the session has seq 3, want 2
}

// Refusal draws, one check at a time, commands the reducer must reject,
// with the code it must reject them with: here every check that can fail
// in a classroom where bob is pinned. (Session_ended needs a session that
// has ended.)
func ExampleRefusal() {
	s := core.NewState("room", classroom)
	for _, c := range []core.Command{
		{ID: "c1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "teacher"},
		{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "student"},
		{ID: "c3", Type: core.Pin, Actor: "alice", Target: "bob"},
	} {
		s, _, _ = reducer.Apply(s, c)
	}
	codes := map[string]bool{}
	for seed := range 100 {
		r := gaveltest.Refusal(s, "c4").Example(seed)
		if _, err := reducer.Decide(s, r.Command); !strings.HasPrefix(fmt.Sprint(err), r.Code.Name()) {
			fmt.Printf("%+v: %v, not %s\n", r.Command, err, r.Code.Name())
		}
		codes[r.Code.Name()] = true
	}
	fmt.Println(strings.Join(slices.Sorted(maps.Keys(codes)), "\n"))
	// Output:
	// already_joined
	// cannot_act_on_self
	// invalid_command
	// not_joined
	// participant_not_found
	// permission_denied
	// unknown_preset
}

// SessionFromBytes decodes a fuzz target's bytes into a session: the same
// choices as Sessions, one byte each.
func ExampleSessionFromBytes() {
	fmt.Printf("%#v\n", gaveltest.SessionFromBytes(classroom, []byte{
		2,             // two opening joins
		0, 1, 0, 1, 1, // the first of the pool not joined (alice), the second preset (teacher), her name, audio and video on
		0, 0, 0, 1, 0, // the first not joined (bob), the first preset (student), his name, audio on
		0, 0, 4, 0, 0, // a valid command with a numbered id, the fifth kind (disable all), by alice, of audio
		6, 0, 5, 1, 6, 0, // a refusal, numbered, "not permitted", by bob, the seventh host action (kick), of alice
	}))
	// Output:
	// gaveltest.Session{ID: "room", Presets: core.Presets{"student": {}, "teacher": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}}, Commands: []core.Command{
	// 	{ID: "c1", Type: "join", Actor: "alice", Name: "Alice", Preset: "teacher", Audio: true, Video: true},
	// 	{ID: "c2", Type: "join", Actor: "bob", Name: "Bob", Preset: "student", Audio: true},
	// 	{ID: "c3", Type: "disable_all_audio", Actor: "alice"},
	// 	{ID: "c4", Type: "kick", Actor: "bob", Target: "alice"},
	// }}
}
