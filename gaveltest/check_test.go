package gaveltest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

var checkPresets = core.Presets{"host": permissions(15), "attendee": {}}

// checkSession is alice (host, audio and video on), bob (attendee, audio
// on) and carol (attendee), bob pinned, at seq 4.
func checkSession(t *testing.T) *Checker {
	t.Helper()
	chk := NewChecker(core.NewState("room", checkPresets))
	for _, c := range []core.Command{
		{ID: "c1", Type: core.Join, Actor: "alice", Preset: "host", Audio: true, Video: true},
		{ID: "c2", Type: core.Join, Actor: "bob", Preset: "attendee", Audio: true},
		{ID: "c3", Type: core.Join, Actor: "carol", Preset: "attendee"},
		{ID: "c4", Type: core.Pin, Actor: "alice", Target: "bob"},
	} {
		after, evs, err := reducer.Apply(chk.State(), c)
		if err := chk.Step(c, after, evs, err); err != nil {
			t.Fatal(err)
		}
	}
	return chk
}

// TestCheckerCatches feeds the Checker steps that break one invariant
// each, as a faulty system under test would report them, and expects the
// break named.
func TestCheckerCatches(t *testing.T) {
	type outcome struct {
		after core.State
		evs   []events.Event
		err   error
	}
	at := func(s core.State, seq uint64) core.State { return s.WithSeq(seq) }
	for _, tc := range []struct {
		name string
		cmd  core.Command
		// step returns what the step reports, given the state before.
		step func(s core.State) outcome
		want string
	}{
		{"a gap in seqs", core.Command{ID: "x", Type: core.Leave, Actor: "carol"}, func(s core.State) outcome {
			e := &events.ParticipantLeft{Seq: 6, Participant: "carol", Reason: events.ReasonLeft, By: "carol"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, "has seq 6, want 5"},
		{"by is not the actor", core.Command{ID: "x", Type: core.DisableAudio, Actor: "alice", Target: "bob"}, func(s core.State) outcome {
			e := &events.AudioUpdate{Seq: 5, Participant: "bob", By: "carol"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, `has by "carol", want the actor "alice"`},
		{"someone turns on another's audio", core.Command{ID: "x", Type: core.SetAudio, Actor: "alice", Enabled: true}, func(s core.State) outcome {
			e := &events.AudioUpdate{Seq: 5, Participant: "carol", AudioEnabled: true, By: "alice"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, `"alice" turned on the audio of "carol"`},
		{"a rejection with events", core.Command{ID: "x", Type: core.Kick, Actor: "carol", Target: "bob"}, func(s core.State) outcome {
			e := &events.ParticipantLeft{Seq: 5, Participant: "bob", Reason: events.ReasonKicked, By: "carol"}
			return outcome{s, []events.Event{e}, core.ErrPermissionDenied}
		}, "rejected with permission_denied (1201): permission denied but produced 1 events"},
		{"a rejection that changes the state", core.Command{ID: "x", Type: core.Kick, Actor: "carol", Target: "bob"}, func(s core.State) outcome {
			return outcome{s.Without("bob"), nil, core.ErrPermissionDenied}
		}, "but the state changed"},
		{"a rejection without a code", core.Command{ID: "x", Type: core.Kick, Actor: "carol", Target: "bob"}, func(s core.State) outcome {
			return outcome{s, nil, errors.New("no")}
		}, "is not a *core.Error with a known code"},
		{"an outcome the reducer does not make", core.Command{ID: "x", Type: core.Leave, Actor: "carol"}, func(s core.State) outcome {
			return outcome{s, nil, core.ErrNotJoined}
		}, "the outcome is not the reducer's"},
		{"a state that is not the fold", core.Command{ID: "x", Type: core.SetVideo, Actor: "carol", Enabled: true}, func(s core.State) outcome {
			e := &events.VideoUpdate{Seq: 5, Participant: "carol", VideoEnabled: true, By: "carol"}
			return outcome{at(s, 5), []events.Event{e}, nil}
		}, "Fold of all events differs from the state"},
		{"two pinned", core.Command{ID: "x", Type: core.Pin, Actor: "alice", Target: "carol"}, func(s core.State) outcome {
			e := &events.Pinned{Seq: 5, Participant: "carol", By: "alice"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, `pinned "carol" while "bob" is still pinned`},
		{"an unpin of someone not pinned", core.Command{ID: "x", Type: core.Unpin, Actor: "alice", Target: "carol"}, func(s core.State) outcome {
			e := &events.Unpinned{Seq: 5, Participant: "carol", By: "alice"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, `unpinned "carol", but the pinned participant is "bob"`},
		{"a bulk event that miscounts", core.Command{ID: "x", Type: core.DisableAllAudio, Actor: "alice"}, func(s core.State) outcome {
			e := &events.AllAudioDisabled{Seq: 5, Count: 3, By: "alice"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, "all_audio_disabled counts 3, but 2 participants had it on"},
		{"a state seq behind its events", core.Command{ID: "x", Type: core.Leave, Actor: "carol"}, func(s core.State) outcome {
			e := &events.ParticipantLeft{Seq: 5, Participant: "carol", Reason: events.ReasonLeft, By: "carol"}
			return outcome{at(reducer.Evolve(s, e), 4), []events.Event{e}, nil}
		}, "state seq is 4 after the command's events, want 5"},
		{"a join by someone else", core.Command{ID: "x", Type: core.Join, Actor: "dave", Preset: "attendee"}, func(s core.State) outcome {
			e := &events.ParticipantJoined{Seq: 5, Participant: "erin", Preset: "attendee"}
			return outcome{reducer.Evolve(s, e), []events.Event{e}, nil}
		}, `erin joined by a command of "dave"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk := checkSession(t)
			o := tc.step(chk.State())
			err := chk.Step(tc.cmd, o.after, o.evs, o.err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Step: %v\nwant an error that says %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "gaveltest: step 5, {ID: \"x\"") {
				t.Errorf("the error does not start with the step and its command: %v", err)
			}
		})
	}
}

// TestCheckerFollowsViews: a Checker keeps a view for every participant
// and starts one for each who joins, from its join on.
func TestCheckerFollowsViews(t *testing.T) {
	chk := checkSession(t)
	for _, c := range []core.Command{
		{ID: "c5", Type: core.Leave, Actor: "bob"},
		{ID: "c6", Type: core.Join, Actor: "bob", Preset: "attendee", Video: true},
		{ID: "c7", Type: core.DisableAllVideo, Actor: "alice"},
		{ID: "c8", Type: core.Kick, Actor: "alice", Target: "carol"},
	} {
		after, evs, err := reducer.Apply(chk.State(), c)
		if err := chk.Step(c, after, evs, err); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for id, v := range chk.views {
		ids = append(ids, id+":"+string(v.Self().RoomState))
	}
	slices.Sort(ids)
	if got := strings.Join(ids, " "); got != "alice:joined bob:joined" {
		t.Errorf("views %s", got)
	}
}

// TestCheckView: a view agrees with the state it has folded, and not with
// another; an ended view with a state where its self is not joined.
func TestCheckView(t *testing.T) {
	chk := checkSession(t)
	s := chk.State()
	bob := view.New("bob", s)
	if err := CheckView(bob, s); err != nil {
		t.Fatalf("bob's view of the state it started from: %v", err)
	}
	later, _, _ := reducer.Apply(s, core.Command{ID: "c5", Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	if err := CheckView(bob, later); err == nil || !strings.Contains(err.Error(), "the view is at session \"room\" seq 4 (ended false), the state at \"room\" seq 5") {
		t.Errorf("bob's view behind the state: %v", err)
	}
	left, evs, _ := reducer.Apply(s, core.Command{ID: "c5", Type: core.Leave, Actor: "bob"})
	gone, _ := bob.Apply(evs[0])
	if err := CheckView(gone, left); err != nil {
		t.Errorf("bob's view after he left: %v", err)
	}
	if err := CheckView(gone, s); err == nil || !strings.Contains(err.Error(), "room state left, but bob is joined") {
		t.Errorf("bob's ended view of a state where he is joined: %v", err)
	}
	dave := view.New("dave", s)
	if err := CheckView(dave, s); err != nil {
		t.Errorf("the view of someone not joined yet: %v", err)
	}
}
