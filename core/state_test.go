package core_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

var (
	ann = core.Participant{ID: "ann", Name: "Ann", Preset: "host", AudioEnabled: true}
	bob = core.Participant{ID: "bob", Name: "Bob", Preset: "attendee", VideoEnabled: true}
	cat = core.Participant{ID: "cat", Name: "Cat", Preset: "attendee"}
)

func TestNewState(t *testing.T) {
	s := core.NewState("room-1", presets)
	want := core.Snapshot{Session: "room-1", Participants: []core.Participant{}}
	if d := cmp.Diff(want, s.Snapshot()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if s.Len() != 0 || s.Joined("ann") {
		t.Errorf("new state has participants: %d", s.Len())
	}
	if _, ok := s.Participant("ann"); ok {
		t.Error(`Participant("ann") found in a new state`)
	}
	if p, ok := s.Preset("host"); !ok || p != presets["host"] {
		t.Errorf(`Preset("host") = %+v, %v`, p, ok)
	}
	if _, ok := s.Preset("admin"); ok {
		t.Error(`Preset("admin") found`)
	}
	// Presets is a copy: changing it changes nothing in the state.
	ps := s.Presets()
	ps["admin"] = core.Permissions{KickParticipant: true}
	if _, ok := s.Preset("admin"); ok {
		t.Error("Presets() shares its map with the state")
	}
}

func TestTransitions(t *testing.T) {
	s0 := core.NewState("room", presets)
	s1 := s0.WithJoined(ann).WithJoined(bob).WithJoined(cat).WithSeq(3)
	s2 := s1.WithPinned("bob")
	s3 := s2.Without("bob")
	annRejoined := ann
	annRejoined.Preset = "attendee"
	s4 := s3.WithJoined(annRejoined)
	s5 := s4.WithPinned("ghost")
	s6 := s4.WithMedia(core.MediaChange{ID: "cat", Enabled: true}, core.MediaChange{ID: "cat", Video: true, Enabled: true},
		core.MediaChange{ID: "ghost", Enabled: true}, core.MediaChange{ID: "ann", Enabled: false})
	s7 := s6.WithPinned("cat").WithEnded()

	catOn := cat
	catOn.AudioEnabled, catOn.VideoEnabled = true, true
	annOff := annRejoined
	annOff.AudioEnabled = false
	for _, c := range []struct {
		name string
		s    core.State
		want core.Snapshot
	}{
		{"new", s0, core.Snapshot{Session: "room"}},
		{"joined", s1, core.Snapshot{Session: "room", Seq: 3, Participants: []core.Participant{ann, bob, cat}}},
		{"pinned", s2, core.Snapshot{Session: "room", Seq: 3, Pinned: "bob", Participants: []core.Participant{ann, bob, cat}}},
		{"without the pinned one", s3, core.Snapshot{Session: "room", Seq: 3, Participants: []core.Participant{ann, cat}}},
		{"joined again goes last, replaced", s4, core.Snapshot{Session: "room", Seq: 3, Participants: []core.Participant{cat, annRejoined}}},
		{"pin of a non-joined id is ignored", s5, core.Snapshot{Session: "room", Seq: 3, Participants: []core.Participant{cat, annRejoined}}},
		{"media, in place", s6, core.Snapshot{Session: "room", Seq: 3, Participants: []core.Participant{catOn, annOff}}},
		{"ended", s7, core.Snapshot{Session: "room", Seq: 3, Ended: true}},
	} {
		if d := cmp.Diff(c.want, c.s.Snapshot(), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
		if c.s.Len() != len(c.want.Participants) {
			t.Errorf("%s: Len = %d, want %d", c.name, c.s.Len(), len(c.want.Participants))
		}
	}
	if !s3.Without("ghost").Equal(s3) {
		t.Error("Without of a non-joined id changed the state")
	}
	if s7.Joined("cat") || s7.Pinned() != "" {
		t.Error("participants remain after WithEnded")
	}
	if p, _ := s6.Participant("cat"); p != catOn {
		t.Errorf(`Participant("cat") = %+v, want %+v`, p, catOn)
	}
}

func TestEqual(t *testing.T) {
	a := core.NewState("room", presets).WithJoined(ann).WithJoined(bob)
	for _, c := range []struct {
		name string
		b    core.State
		want bool
	}{
		{"same", core.NewState("room", presets).WithJoined(ann).WithJoined(bob), true},
		{"same after a no-op", a.WithPinned("ghost").Without("ghost"), true},
		{"same after a round trip", a.WithJoined(cat).Without("cat"), true},
		{"other order", core.NewState("room", presets).WithJoined(bob).WithJoined(ann), false},
		{"other session", core.NewState("room-2", presets).WithJoined(ann).WithJoined(bob), false},
		{"other presets", core.NewState("room", core.Presets{"host": {}, "attendee": {}}).WithJoined(ann).WithJoined(bob), false},
		{"other seq", a.WithSeq(1), false},
		{"pinned", a.WithPinned("ann"), false},
		{"media", a.WithMedia(core.MediaChange{ID: "bob", Enabled: true}), false},
		{"fewer", a.Without("bob"), false},
		{"ended", a.WithEnded(), false},
	} {
		if got := a.Equal(c.b); got != c.want {
			t.Errorf("%s: Equal = %v, want %v", c.name, got, c.want)
		}
		if got := cmp.Equal(a, c.b); got != c.want {
			t.Errorf("%s: cmp.Equal = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFromSnapshot(t *testing.T) {
	good := core.Snapshot{Session: "room", Seq: 7, Pinned: "bob", Participants: []core.Participant{bob, ann}}
	s, err := core.FromSnapshot(good, presets)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(good, s.Snapshot()); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if p, ok := s.Preset("host"); !ok || p != presets["host"] {
		t.Error("presets not kept")
	}
	ended := core.Snapshot{Session: "room", Seq: 9, Ended: true}
	if s, err := core.FromSnapshot(ended, presets); err != nil || !s.Ended() || s.Seq() != 9 {
		t.Errorf("ended snapshot: %v, ended %v, seq %d", err, s.Ended(), s.Seq())
	}

	noID := bob
	noID.ID = ""
	badPreset := bob
	badPreset.Preset = "admin"
	for _, c := range []struct {
		name string
		snap core.Snapshot
	}{
		{"ended with participants", core.Snapshot{Ended: true, Participants: []core.Participant{ann}}},
		{"ended with a pin", core.Snapshot{Ended: true, Pinned: "ann"}},
		{"empty id", core.Snapshot{Participants: []core.Participant{ann, noID}}},
		{"listed twice", core.Snapshot{Participants: []core.Participant{ann, bob, ann}}},
		{"unknown preset", core.Snapshot{Participants: []core.Participant{badPreset}}},
		{"pinned not joined", core.Snapshot{Pinned: "cat", Participants: []core.Participant{ann, bob}}},
	} {
		if s, err := core.FromSnapshot(c.snap, presets); err == nil {
			t.Errorf("%s: FromSnapshot accepted it: %+v", c.name, s.Snapshot())
		}
	}
}

// TestPersistence: every version of a state stays as it was while newer ones
// are made from it, including two versions made from the same one.
func TestPersistence(t *testing.T) {
	base := core.NewState("room", presets).WithJoined(ann).WithJoined(bob).WithJoined(cat).WithPinned("bob")
	baseSnap := base.Snapshot()
	left := base.Without("bob").WithMedia(core.MediaChange{ID: "cat", Enabled: true})
	leftSnap := left.Snapshot()
	right := base.WithJoined(ann).WithMedia(core.MediaChange{ID: "ann", Video: true, Enabled: true}).WithEnded()
	_ = right.WithJoined(bob)
	_ = left.WithJoined(core.Participant{ID: "dan", Preset: "attendee"})
	if d := cmp.Diff(baseSnap, base.Snapshot()); d != "" {
		t.Errorf("base changed (-then +now):\n%s", d)
	}
	if d := cmp.Diff(leftSnap, left.Snapshot()); d != "" {
		t.Errorf("left branch changed (-then +now):\n%s", d)
	}
}
