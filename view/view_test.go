package view_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// The cast: a host and two attendees, who join with audio and video on.
var cast = map[string]core.Participant{
	"host":  {ID: "host", Name: "Hana", Preset: "host"},
	"alice": {ID: "alice", Name: "Alice", Preset: "attendee"},
	"bob":   {ID: "bob", Name: "Bob", Preset: "attendee"},
	"carol": {ID: "carol", Name: "Carol", Preset: "attendee"},
}

func join(id string) core.Command {
	p := cast[id]
	return core.Command{ID: "join-" + id, Type: core.Join, Actor: id, Name: p.Name, Preset: p.Preset, Audio: true, Video: true}
}

func by(actor string, t core.CommandType, target string) core.Command {
	return core.Command{ID: string(t) + "-" + target, Type: t, Actor: actor, Target: target}
}

func set(actor string, t core.CommandType, enabled bool) core.Command {
	return core.Command{ID: string(t) + "-" + actor, Type: t, Actor: actor, Enabled: enabled}
}

// p is a cast member as a client sees it.
func p(id string, audio, video, pinned bool) view.Participant {
	c := cast[id]
	c.AudioEnabled, c.VideoEnabled = audio, video
	return view.Participant{Participant: c, IsPinned: pinned}
}

// run applies cmds to a new session, failing on any rejection.
func run(t *testing.T, s core.State, cmds ...core.Command) (core.State, []events.Event) {
	t.Helper()
	var all []events.Event
	for _, c := range cmds {
		next, evs, err := reducer.Apply(s, c)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		s, all = next, append(all, evs...)
	}
	return s, all
}

// applyAll applies evs to v and returns every notification.
func applyAll(v view.View, evs []events.Event) (view.View, []view.Notification) {
	var all []view.Notification
	for _, e := range evs {
		var ns []view.Notification
		v, ns = v.Apply(e)
		all = append(all, ns...)
	}
	return v, all
}

func ids(ps []view.Participant) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// same reports whether two views are the same value.
func same(a, b view.View) bool { return a.Self() == b.Self() && a.State().Equal(b.State()) }

var everyone = []core.Command{join("host"), join("alice"), join("bob")}

func with(cmds ...core.Command) []core.Command {
	return append(append([]core.Command{}, everyone...), cmds...)
}

// TestClientTable covers every row of the client table, for self and for
// another participant, and the cases around pins and the "all" commands.
func TestClientTable(t *testing.T) {
	type n = view.Notification
	tests := []struct {
		name       string
		setup      []core.Command
		cmd        core.Command
		self       string
		want       []view.Notification
		wantJoined []string
		wantPinned string // "" for an empty pinned map
		wantRoom   view.RoomState
	}{
		{
			name: "participant_joined/self", setup: []core.Command{join("host")}, cmd: join("alice"), self: "alice",
			want:       []n{{Seq: 2, Event: view.RoomJoined, On: view.OnSelf, Participant: p("alice", true, true, false)}},
			wantJoined: []string{"host"}, wantRoom: view.StateJoined,
		},
		{
			name: "participant_joined/other", setup: []core.Command{join("host")}, cmd: join("alice"), self: "host",
			want:       []n{{Seq: 2, Event: view.ParticipantJoined, On: view.OnJoined, Participant: p("alice", true, true, false)}},
			wantJoined: []string{"alice"}, wantRoom: view.StateJoined,
		},
		{
			name: "audio_update/self", setup: everyone, cmd: by("host", core.DisableAudio, "alice"), self: "alice",
			want:       []n{{Seq: 4, Event: view.AudioUpdate, On: view.OnSelf, Participant: p("alice", false, true, false), By: "host"}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "audio_update/other", setup: everyone, cmd: by("host", core.DisableAudio, "alice"), self: "bob",
			want: []n{
				{Seq: 4, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("alice", false, true, false), By: "host"},
				{Seq: 4, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("alice", false, true, false), By: "host"},
			},
			wantJoined: []string{"host", "alice"}, wantRoom: view.StateJoined,
		},
		{
			name: "audio_update/self turns own audio on", setup: with(by("host", core.DisableAudio, "alice")),
			cmd: set("alice", core.SetAudio, true), self: "alice",
			want:       []n{{Seq: 5, Event: view.AudioUpdate, On: view.OnSelf, Participant: p("alice", true, true, false), AudioEnabled: true, By: "alice"}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "video_update/self", setup: everyone, cmd: set("alice", core.SetVideo, false), self: "alice",
			want:       []n{{Seq: 4, Event: view.VideoUpdate, On: view.OnSelf, Participant: p("alice", true, false, false), By: "alice"}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "video_update/other", setup: everyone, cmd: by("host", core.DisableVideo, "alice"), self: "bob",
			want: []n{
				{Seq: 4, Event: view.VideoUpdate, On: view.OnParticipant, Participant: p("alice", true, false, false), By: "host"},
				{Seq: 4, Event: view.VideoUpdate, On: view.OnJoined, Participant: p("alice", true, false, false), By: "host"},
			},
			wantJoined: []string{"host", "alice"}, wantRoom: view.StateJoined,
		},
		{
			name: "video_update/other, pinned: the pinned map re-emits it", setup: with(by("host", core.Pin, "alice")),
			cmd: by("host", core.DisableVideo, "alice"), self: "bob",
			want: []n{
				{Seq: 5, Event: view.VideoUpdate, On: view.OnParticipant, Participant: p("alice", true, false, true), By: "host"},
				{Seq: 5, Event: view.VideoUpdate, On: view.OnJoined, Participant: p("alice", true, false, true), By: "host"},
				{Seq: 5, Event: view.VideoUpdate, On: view.OnPinned, Participant: p("alice", true, false, true), By: "host"},
			},
			wantJoined: []string{"host", "alice"}, wantPinned: "alice", wantRoom: view.StateJoined,
		},
		{
			name: "no change, no notification", setup: with(by("host", core.DisableAudio, "alice")),
			cmd: by("host", core.DisableAudio, "alice"), self: "alice",
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "pinned/self", setup: everyone, cmd: by("host", core.Pin, "alice"), self: "alice",
			want:       []n{{Seq: 4, Event: view.Pinned, On: view.OnSelf, Participant: p("alice", true, true, true), By: "host"}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "pinned/other", setup: everyone, cmd: by("host", core.Pin, "alice"), self: "bob",
			want: []n{
				{Seq: 4, Event: view.Pinned, On: view.OnParticipant, Participant: p("alice", true, true, true), By: "host"},
				{Seq: 4, Event: view.Pinned, On: view.OnJoined, Participant: p("alice", true, true, true), By: "host"},
				{Seq: 4, Event: view.ParticipantJoined, On: view.OnPinned, Participant: p("alice", true, true, true), By: "host"},
			},
			wantJoined: []string{"host", "alice"}, wantPinned: "alice", wantRoom: view.StateJoined,
		},
		{
			name: "unpinned/self", setup: with(by("host", core.Pin, "alice")), cmd: by("host", core.Unpin, "alice"), self: "alice",
			want:       []n{{Seq: 5, Event: view.Unpinned, On: view.OnSelf, Participant: p("alice", true, true, false), By: "host"}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "unpinned/other", setup: with(by("host", core.Pin, "alice")), cmd: by("host", core.Unpin, "alice"), self: "bob",
			want: []n{
				{Seq: 5, Event: view.Unpinned, On: view.OnParticipant, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 5, Event: view.Unpinned, On: view.OnJoined, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 5, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("alice", true, true, false), By: "host"},
			},
			wantJoined: []string{"host", "alice"}, wantRoom: view.StateJoined,
		},
		{
			name: "pin moves between two others", setup: with(by("host", core.Pin, "alice")), cmd: by("host", core.Pin, "bob"), self: "host",
			want: []n{
				{Seq: 5, Event: view.Unpinned, On: view.OnParticipant, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 5, Event: view.Unpinned, On: view.OnJoined, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 5, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 6, Event: view.Pinned, On: view.OnParticipant, Participant: p("bob", true, true, true), By: "host"},
				{Seq: 6, Event: view.Pinned, On: view.OnJoined, Participant: p("bob", true, true, true), By: "host"},
				{Seq: 6, Event: view.ParticipantJoined, On: view.OnPinned, Participant: p("bob", true, true, true), By: "host"},
			},
			wantJoined: []string{"alice", "bob"}, wantPinned: "bob", wantRoom: view.StateJoined,
		},
		{
			name: "pin moves from self to another", setup: with(by("host", core.Pin, "alice")), cmd: by("host", core.Pin, "bob"), self: "alice",
			want: []n{
				{Seq: 5, Event: view.Unpinned, On: view.OnSelf, Participant: p("alice", true, true, false), By: "host"},
				{Seq: 6, Event: view.Pinned, On: view.OnParticipant, Participant: p("bob", true, true, true), By: "host"},
				{Seq: 6, Event: view.Pinned, On: view.OnJoined, Participant: p("bob", true, true, true), By: "host"},
				{Seq: 6, Event: view.ParticipantJoined, On: view.OnPinned, Participant: p("bob", true, true, true), By: "host"},
			},
			wantJoined: []string{"host", "bob"}, wantPinned: "bob", wantRoom: view.StateJoined,
		},
		{
			name: "pin moves from another to self", setup: with(by("host", core.Pin, "bob")), cmd: by("host", core.Pin, "alice"), self: "alice",
			want: []n{
				{Seq: 5, Event: view.Unpinned, On: view.OnParticipant, Participant: p("bob", true, true, false), By: "host"},
				{Seq: 5, Event: view.Unpinned, On: view.OnJoined, Participant: p("bob", true, true, false), By: "host"},
				{Seq: 5, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("bob", true, true, false), By: "host"},
				{Seq: 6, Event: view.Pinned, On: view.OnSelf, Participant: p("alice", true, true, true), By: "host"},
			},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			// One all_audio_disabled event is an audioUpdate for each
			// participant whose audio was on, in join order, self included.
			name: "disable_all_audio: self on self, the others on the joined map", setup: everyone,
			cmd: core.Command{ID: "all", Type: core.DisableAllAudio, Actor: "host"}, self: "alice",
			want: []n{
				{Seq: 4, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("host", false, true, false), By: "host"},
				{Seq: 4, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("host", false, true, false), By: "host"},
				{Seq: 4, Event: view.AudioUpdate, On: view.OnSelf, Participant: p("alice", false, true, false), By: "host"},
				{Seq: 4, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("bob", false, true, false), By: "host"},
				{Seq: 4, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("bob", false, true, false), By: "host"},
			},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name: "disable_all_video: the actor is muted too", setup: with(set("bob", core.SetVideo, false)),
			cmd: core.Command{ID: "all", Type: core.DisableAllVideo, Actor: "host"}, self: "host",
			want: []n{
				{Seq: 5, Event: view.VideoUpdate, On: view.OnSelf, Participant: p("host", true, false, false), By: "host"},
				{Seq: 5, Event: view.VideoUpdate, On: view.OnParticipant, Participant: p("alice", true, false, false), By: "host"},
				{Seq: 5, Event: view.VideoUpdate, On: view.OnJoined, Participant: p("alice", true, false, false), By: "host"},
			},
			wantJoined: []string{"alice", "bob"}, wantRoom: view.StateJoined,
		},
		{
			name:  "disable_all_audio: the pinned map re-emits, those already off say nothing",
			setup: with(by("host", core.Pin, "bob"), set("host", core.SetAudio, false)),
			cmd:   core.Command{ID: "all", Type: core.DisableAllAudio, Actor: "host"}, self: "alice",
			want: []n{
				{Seq: 6, Event: view.AudioUpdate, On: view.OnSelf, Participant: p("alice", false, true, false), By: "host"},
				{Seq: 6, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("bob", false, true, true), By: "host"},
				{Seq: 6, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("bob", false, true, true), By: "host"},
				{Seq: 6, Event: view.AudioUpdate, On: view.OnPinned, Participant: p("bob", false, true, true), By: "host"},
			},
			wantJoined: []string{"host", "bob"}, wantPinned: "bob", wantRoom: view.StateJoined,
		},
		{
			name: "participant_left/self leaves", setup: everyone, cmd: set("alice", core.Leave, false), self: "alice",
			want:       []n{{Seq: 4, Event: view.RoomLeft, On: view.OnSelf, Participant: p("alice", true, true, false), By: "alice", State: view.StateLeft}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateLeft,
		},
		{
			name: "participant_left/self leaves while pinned", setup: with(by("host", core.Pin, "alice")),
			cmd: set("alice", core.Leave, false), self: "alice",
			want:       []n{{Seq: 5, Event: view.RoomLeft, On: view.OnSelf, Participant: p("alice", true, true, true), By: "alice", State: view.StateLeft}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateLeft,
		},
		{
			name: "participant_left/other leaves", setup: everyone, cmd: set("alice", core.Leave, false), self: "bob",
			want:       []n{{Seq: 4, Event: view.ParticipantLeft, On: view.OnJoined, Participant: p("alice", true, true, false), By: "alice", State: view.StateLeft}},
			wantJoined: []string{"host"}, wantRoom: view.StateJoined,
		},
		{
			name: "participant_left/self kicked", setup: everyone, cmd: by("host", core.Kick, "alice"), self: "alice",
			want:       []n{{Seq: 4, Event: view.RoomLeft, On: view.OnSelf, Participant: p("alice", true, true, false), By: "host", State: view.StateKicked}},
			wantJoined: []string{"host", "bob"}, wantRoom: view.StateKicked,
		},
		{
			name: "participant_left/other kicked while pinned: leaves both maps", setup: with(by("host", core.Pin, "alice")),
			cmd: by("host", core.Kick, "alice"), self: "bob",
			want: []n{
				{Seq: 5, Event: view.ParticipantLeft, On: view.OnJoined, Participant: p("alice", true, true, true), By: "host", State: view.StateKicked},
				{Seq: 5, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("alice", true, true, true), By: "host", State: view.StateKicked},
			},
			wantJoined: []string{"host"}, wantRoom: view.StateJoined,
		},
		{
			name: "session_ended/self", setup: with(by("host", core.Pin, "bob")),
			cmd: core.Command{ID: "end", Type: core.KickAll, Actor: "host"}, self: "alice",
			want:       []n{{Seq: 5, Event: view.RoomLeft, On: view.OnSelf, Participant: p("alice", true, true, false), By: "host", State: view.StateEnded}},
			wantJoined: []string{}, wantRoom: view.StateEnded,
		},
		{
			name: "session_ended/the host who ended it", setup: everyone,
			cmd: core.Command{ID: "end", Type: core.KickAll, Actor: "host"}, self: "host",
			want:       []n{{Seq: 4, Event: view.RoomLeft, On: view.OnSelf, Participant: p("host", true, true, false), By: "host", State: view.StateEnded}},
			wantJoined: []string{}, wantRoom: view.StateEnded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, setupEvents := run(t, core.NewState("room", presets), tt.setup...)
			v, _ := applyAll(view.New(tt.self, core.NewState("room", presets)), setupEvents)
			after, evs := run(t, s, tt.cmd)
			v, got := applyAll(v, evs)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("notifications (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantJoined, ids(v.Joined())); d != "" {
				t.Errorf("joined map (-want +got):\n%s", d)
			}
			pinned, ok := v.Pinned()
			if ok != (tt.wantPinned != "") || pinned.ID != tt.wantPinned {
				t.Errorf("pinned map = %q (%v), want %q", pinned.ID, ok, tt.wantPinned)
			}
			self := v.Self()
			if self.RoomState != tt.wantRoom {
				t.Errorf("room state = %q, want %q", self.RoomState, tt.wantRoom)
			}
			if self.RoomState == view.StateJoined && self.IsPinned != (after.Pinned() == tt.self) {
				t.Errorf("self.IsPinned = %v with %q pinned", self.IsPinned, after.Pinned())
			}
		})
	}
}

func TestSelf(t *testing.T) {
	s, evs := run(t, core.NewState("room", presets), everyone...)
	host, _ := applyAll(view.New("host", core.NewState("room", presets)), evs)
	want := view.Self{Participant: p("host", true, true, false), Permissions: presets["host"], RoomState: view.StateJoined}
	if d := cmp.Diff(want, host.Self()); d != "" {
		t.Errorf("host's self (-want +got):\n%s", d)
	}
	if got := view.New("alice", s).Self().Permissions; got != (core.Permissions{}) {
		t.Errorf("an attendee's permissions = %+v, want none", got)
	}
	// Before joining self has an id and no permissions, even if a preset
	// is named "".
	odd := core.Presets{"": presets["host"]}
	want = view.Self{Participant: view.Participant{Participant: core.Participant{ID: "zoe"}}, RoomState: view.StateInit}
	if d := cmp.Diff(want, view.New("zoe", core.NewState("room", odd)).Self()); d != "" {
		t.Errorf("self before joining (-want +got):\n%s", d)
	}
}

func TestParticipantLookup(t *testing.T) {
	s, _ := run(t, core.NewState("room", presets), with(by("host", core.Pin, "bob"))...)
	v := view.New("alice", s)
	if got, ok := v.Participant("bob"); !ok || got != p("bob", true, true, true) {
		t.Errorf(`Participant("bob") = %+v, %v`, got, ok)
	}
	if _, ok := v.Participant("alice"); ok {
		t.Error("self is in the joined map")
	}
	if _, ok := v.Participant("nobody"); ok {
		t.Error("a participant who never joined is in the joined map")
	}
	// A pinned self is not in the pinned map.
	s, _ = run(t, s, by("host", core.Pin, "alice"))
	if got, ok := view.New("alice", s).Pinned(); ok {
		t.Errorf("pinned map holds %q for a pinned self", got.ID)
	}
}

// Until self joins, events are folded and fire nothing; the maps are those
// of the session all along.
func TestBeforeJoiningSilent(t *testing.T) {
	s, evs := run(t, core.NewState("room", presets), join("host"), join("alice"), by("host", core.Pin, "alice"),
		by("host", core.DisableAudio, "alice"), join("bob"))
	v := view.New("bob", core.NewState("room", presets))
	v, early := applyAll(v, evs[:len(evs)-1])
	if len(early) != 0 {
		t.Errorf("notifications before joining: %+v", early)
	}
	if got := v.Self().RoomState; got != view.StateInit {
		t.Errorf("room state before joining = %q", got)
	}
	if d := cmp.Diff([]view.Participant{p("host", true, true, false), p("alice", false, true, true)}, v.Joined()); d != "" {
		t.Errorf("joined map before joining (-want +got):\n%s", d)
	}
	v, ns := applyAll(v, evs[len(evs)-1:])
	want := []view.Notification{{Seq: 5, Event: view.RoomJoined, On: view.OnSelf, Participant: p("bob", true, true, false)}}
	if d := cmp.Diff(want, ns); d != "" {
		t.Errorf("joining (-want +got):\n%s", d)
	}
	if !v.State().Equal(s) {
		t.Errorf("view state differs from the session (-view +session):\n%s", cmp.Diff(v.State().Snapshot(), s.Snapshot()))
	}
}

// A view ends when self leaves: later events, a rejoin of self included,
// change nothing.
func TestAfterLeavingIgnored(t *testing.T) {
	s, evs := run(t, core.NewState("room", presets), everyone...)
	v := view.New("alice", s)
	after, kick := run(t, s, by("host", core.Kick, "alice"))
	v, _ = applyAll(v, kick)
	frozen := v
	_, later := run(t, after, join("alice"), by("host", core.Pin, "bob"), core.Command{ID: "end", Type: core.KickAll, Actor: "host"})
	v, ns := applyAll(v, later)
	if len(ns) != 0 {
		t.Errorf("notifications after leaving: %+v", ns)
	}
	if !same(v, frozen) {
		t.Errorf("the view changed after leaving: seq %d, room %q", v.Seq(), v.Self().RoomState)
	}
	if v.Self().RoomState != view.StateKicked || v.Seq() != uint64(len(evs)+1) {
		t.Errorf("ended view: room %q at seq %d", v.Self().RoomState, v.Seq())
	}
	if v, _ := (view.View{}).Apply(later[0]); !same(v, view.View{}) {
		t.Error("the zero View applied an event")
	}
}

// A view started from a snapshot (a transport's welcome) is joined with no
// roomJoined, ignores events it has already folded, and goes on from there.
func TestFromSnapshotResumes(t *testing.T) {
	s, evs := run(t, core.NewState("room", presets), everyone...)
	v := view.New("bob", s)
	if got := v.Self().RoomState; got != view.StateJoined {
		t.Fatalf("room state from a snapshot with self joined = %q", got)
	}
	_, more := run(t, s, by("host", core.DisableAudio, "alice"))
	v, ns := applyAll(v, append(evs, more...)) // overlap: seq 1-3 again
	want := []view.Notification{
		{Seq: 4, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("alice", false, true, false), By: "host"},
		{Seq: 4, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("alice", false, true, false), By: "host"},
	}
	if d := cmp.Diff(want, ns); d != "" {
		t.Errorf("resumed stream (-want +got):\n%s", d)
	}
	if _, ns := v.Apply(more[0]); len(ns) != 0 {
		t.Errorf("a repeated event fired %+v", ns)
	}
	if _, ns := v.Apply(nil); ns != nil {
		t.Errorf("a nil event fired %+v", ns)
	}
}

func TestResync(t *testing.T) {
	base, _ := run(t, core.NewState("room", presets), with(by("host", core.Pin, "alice"), by("host", core.DisableVideo, "bob"))...)
	type n = view.Notification
	tests := []struct {
		name     string
		self     string
		missed   []core.Command
		want     []view.Notification
		wantRoom view.RoomState
	}{
		{
			// bob's media changes fire before his pin, so not on the pinned map.
			name: "others left, joined, changed media, pin moved", self: "host",
			missed: []core.Command{set("alice", core.Leave, false), set("bob", core.SetVideo, true),
				by("host", core.DisableAudio, "bob"), join("carol"), by("host", core.Pin, "bob")},
			want: []n{
				{Seq: 10, Event: view.ParticipantLeft, On: view.OnJoined, Participant: p("alice", true, true, true)},
				{Seq: 10, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("alice", true, true, true)},
				{Seq: 10, Event: view.AudioUpdate, On: view.OnParticipant, Participant: p("bob", false, true, true)},
				{Seq: 10, Event: view.AudioUpdate, On: view.OnJoined, Participant: p("bob", false, true, true)},
				{Seq: 10, Event: view.VideoUpdate, On: view.OnParticipant, Participant: p("bob", false, true, true), VideoEnabled: true},
				{Seq: 10, Event: view.VideoUpdate, On: view.OnJoined, Participant: p("bob", false, true, true), VideoEnabled: true},
				{Seq: 10, Event: view.ParticipantJoined, On: view.OnJoined, Participant: p("carol", true, true, false)},
				{Seq: 10, Event: view.Pinned, On: view.OnParticipant, Participant: p("bob", false, true, true)},
				{Seq: 10, Event: view.Pinned, On: view.OnJoined, Participant: p("bob", false, true, true)},
				{Seq: 10, Event: view.ParticipantJoined, On: view.OnPinned, Participant: p("bob", false, true, true)},
			},
			wantRoom: view.StateJoined,
		},
		{
			// Resync reports differences, not history: alice left and came
			// back with the same media, so only her lost pin shows.
			name: "the pinned participant rejoined", self: "bob",
			missed: []core.Command{set("alice", core.Leave, false), join("alice")},
			want: []n{
				{Seq: 7, Event: view.Unpinned, On: view.OnParticipant, Participant: p("alice", true, true, false)},
				{Seq: 7, Event: view.Unpinned, On: view.OnJoined, Participant: p("alice", true, true, false)},
				{Seq: 7, Event: view.ParticipantLeft, On: view.OnPinned, Participant: p("alice", true, true, false)},
			},
			wantRoom: view.StateJoined,
		},
		{
			name: "self unpinned and muted", self: "alice",
			missed: []core.Command{by("host", core.Unpin, "alice"), by("host", core.DisableAudio, "alice")},
			want: []n{
				{Seq: 7, Event: view.AudioUpdate, On: view.OnSelf, Participant: p("alice", false, true, false)},
				{Seq: 7, Event: view.Unpinned, On: view.OnSelf, Participant: p("alice", false, true, false)},
			},
			wantRoom: view.StateJoined,
		},
		{
			name: "self gone from a live session: kicked", self: "bob", missed: []core.Command{by("host", core.Kick, "bob")},
			want:     []n{{Seq: 6, Event: view.RoomLeft, On: view.OnSelf, Participant: p("bob", true, false, false), State: view.StateKicked}},
			wantRoom: view.StateKicked,
		},
		{
			name: "the session ended", self: "bob", missed: []core.Command{{ID: "end", Type: core.KickAll, Actor: "host"}},
			want:     []n{{Seq: 6, Event: view.RoomLeft, On: view.OnSelf, Participant: p("bob", true, false, false), State: view.StateEnded}},
			wantRoom: view.StateEnded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			later, _ := run(t, base, tt.missed...)
			v, got := view.New(tt.self, base).Resync(later)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("notifications (-want +got):\n%s", d)
			}
			if v.Self().RoomState != tt.wantRoom {
				t.Errorf("room state = %q, want %q", v.Self().RoomState, tt.wantRoom)
			}
			if !v.State().Equal(later) {
				t.Error("the view's state is not the resynced state")
			}
		})
	}

	t.Run("self joined meanwhile", func(t *testing.T) {
		before, _ := run(t, core.NewState("room", presets), join("host"))
		later, _ := run(t, before, join("alice"), join("bob"))
		v, got := view.New("bob", before).Resync(later)
		want := []view.Notification{{Seq: 3, Event: view.RoomJoined, On: view.OnSelf, Participant: p("bob", true, true, false)}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("notifications (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"host", "alice"}, ids(v.Joined())); d != "" {
			t.Errorf("joined map (-want +got):\n%s", d)
		}
	})
	t.Run("a state not newer is ignored", func(t *testing.T) {
		v := view.New("bob", base)
		if got, ns := v.Resync(base); ns != nil || !same(got, v) {
			t.Errorf("resync to the same seq fired %+v", ns)
		}
	})
}
