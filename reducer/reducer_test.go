package reducer_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/reducer"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"cohost":   {DisableParticipantAudio: true, PinParticipant: true},
	"attendee": {},
}

func join(id, preset string, audio, video bool) core.Command {
	return core.Command{ID: "join-" + id, Type: core.Join, Actor: id, Name: "Name of " + id, Preset: preset, Audio: audio, Video: video}
}

func do(typ core.CommandType, actor, target string) core.Command {
	return core.Command{ID: "c-" + string(typ), Type: typ, Actor: actor, Target: target}
}

func set(typ core.CommandType, actor string, enabled bool) core.Command {
	return core.Command{ID: "c-" + string(typ), Type: typ, Actor: actor, Enabled: enabled}
}

// base is the session most rows start from, at seq 4: host (audio and video
// on), co (cohost, audio on), ann (attendee, audio on), bob (attendee, video
// on), in that join order.
var base = []core.Command{
	join("host", "host", true, true),
	join("co", "cohost", true, false),
	join("ann", "attendee", true, false),
	join("bob", "attendee", false, true),
}

func with(setup []core.Command, more ...core.Command) []core.Command {
	return append(append([]core.Command(nil), setup...), more...)
}

// newSession applies setup, which must succeed, to a new session and returns
// a Checker holding the resulting state.
func newSession(t *testing.T, setup []core.Command) *gaveltest.Checker {
	t.Helper()
	chk := gaveltest.NewChecker(core.NewState("room", presets))
	for _, c := range setup {
		if _, err := apply(t, chk, c); err != nil {
			t.Fatalf("setup %+v: %v", c, err)
		}
	}
	return chk
}

// apply runs cmd through the reducer and checks the session's invariants.
func apply(t *testing.T, chk *gaveltest.Checker, cmd core.Command) ([]events.Event, error) {
	t.Helper()
	after, evs, err := reducer.Apply(chk.State(), cmd)
	if v := chk.Step(cmd, after, evs, err); v != nil {
		t.Fatal(v)
	}
	return evs, err
}

type row struct {
	name  string
	setup []core.Command
	cmd   core.Command
	want  []events.Event // nil: no event
	code  core.Code      // 0: success
	// state, when set, checks the state after the command.
	state func(t *testing.T, s core.State)
}

func runRows(t *testing.T, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			chk := newSession(t, r.setup)
			before := chk.State()
			evs, err := apply(t, chk, r.cmd)
			code, _ := core.CodeOf(err)
			if err != nil && code == 0 {
				t.Fatalf("error %v is not a *core.Error", err)
			}
			if code != r.code {
				t.Errorf("code = %d (%v), want %d", code, err, r.code)
			}
			if d := cmp.Diff(r.want, evs, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if err != nil && !chk.State().Equal(before) {
				t.Errorf("a rejected command changed the state:\n%s", cmp.Diff(before.Snapshot(), chk.State().Snapshot()))
			}
			if r.state != nil {
				r.state(t, chk.State())
			}
		})
	}
}

// allOff checks that everyone's video (or audio) is off.
func allOff(video bool) func(t *testing.T, s core.State) {
	return func(t *testing.T, s core.State) {
		t.Helper()
		for p := range s.All() {
			if video && p.VideoEnabled || !video && p.AudioEnabled {
				t.Errorf("%+v still on", p)
			}
		}
		if video && s.VideoOn() != 0 || !video && s.AudioOn() != 0 {
			t.Errorf("AudioOn, VideoOn = %d, %d", s.AudioOn(), s.VideoOn())
		}
	}
}

func ids(s core.State) []string {
	var out []string
	for p := range s.All() {
		out = append(out, p.ID)
	}
	return out
}

func wantOrder(want ...string) func(*testing.T, core.State) {
	return func(t *testing.T, s core.State) {
		t.Helper()
		if d := cmp.Diff(want, ids(s), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("join order (-want +got):\n%s", d)
		}
	}
}

func wantPinned(id string) func(*testing.T, core.State) {
	return func(t *testing.T, s core.State) {
		t.Helper()
		if s.Pinned() != id {
			t.Errorf("pinned = %q, want %q", s.Pinned(), id)
		}
	}
}

func both(fs ...func(*testing.T, core.State)) func(*testing.T, core.State) {
	return func(t *testing.T, s core.State) {
		t.Helper()
		for _, f := range fs {
			f(t, s)
		}
	}
}

// TestEvents has a row for every line of the SPEC's table of the events each
// command produces.
func TestEvents(t *testing.T) {
	pinnedAnn := with(base, do(core.Pin, "host", "ann")) // seq 5
	runRows(t, []row{
		// join
		{name: "join/first participant", cmd: join("host", "host", true, false),
			want: []events.Event{&events.ParticipantJoined{Seq: 1, Participant: "host", Name: "Name of host", Preset: "host", AudioEnabled: true}},
			state: func(t *testing.T, s core.State) {
				want := []core.Participant{{ID: "host", Name: "Name of host", Preset: "host", AudioEnabled: true}}
				if d := cmp.Diff(want, s.Participants()); d != "" {
					t.Errorf("participants (-want +got):\n%s", d)
				}
			}},
		{name: "join/goes last", setup: base, cmd: join("cat", "attendee", false, true),
			want:  []events.Event{&events.ParticipantJoined{Seq: 5, Participant: "cat", Name: "Name of cat", Preset: "attendee", VideoEnabled: true}},
			state: wantOrder("host", "co", "ann", "bob", "cat")},
		{name: "join/rejoin after leave goes to the end", setup: with(base, do(core.Leave, "ann", "")),
			cmd:   join("ann", "cohost", false, true),
			want:  []events.Event{&events.ParticipantJoined{Seq: 6, Participant: "ann", Name: "Name of ann", Preset: "cohost", VideoEnabled: true}},
			state: wantOrder("host", "co", "bob", "ann")},
		{name: "join/kicked participant may rejoin", setup: with(base, do(core.Kick, "host", "ann")),
			cmd:   join("ann", "attendee", true, true),
			want:  []events.Event{&events.ParticipantJoined{Seq: 6, Participant: "ann", Name: "Name of ann", Preset: "attendee", AudioEnabled: true, VideoEnabled: true}},
			state: wantOrder("host", "co", "bob", "ann")},

		// leave
		{name: "leave", setup: base, cmd: do(core.Leave, "ann", ""),
			want:  []events.Event{&events.ParticipantLeft{Seq: 5, Participant: "ann", Reason: events.ReasonLeft, By: "ann"}},
			state: wantOrder("host", "co", "bob")},
		{name: "leave/pinned clears the pin with no event", setup: pinnedAnn, cmd: do(core.Leave, "ann", ""),
			want:  []events.Event{&events.ParticipantLeft{Seq: 6, Participant: "ann", Reason: events.ReasonLeft, By: "ann"}},
			state: wantPinned("")},
		{name: "leave/someone else pinned keeps the pin", setup: pinnedAnn, cmd: do(core.Leave, "bob", ""),
			want:  []events.Event{&events.ParticipantLeft{Seq: 6, Participant: "bob", Reason: events.ReasonLeft, By: "bob"}},
			state: wantPinned("ann")},
		{name: "leave/the host may leave", setup: base, cmd: do(core.Leave, "host", ""),
			want: []events.Event{&events.ParticipantLeft{Seq: 5, Participant: "host", Reason: events.ReasonLeft, By: "host"}}},

		// set_audio, set_video
		{name: "set_audio/off", setup: base, cmd: set(core.SetAudio, "ann", false),
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "ann", AudioEnabled: false, By: "ann"}}},
		{name: "set_audio/on", setup: base, cmd: set(core.SetAudio, "bob", true),
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "bob", AudioEnabled: true, By: "bob"}}},
		{name: "set_audio/already on: no event", setup: base, cmd: set(core.SetAudio, "ann", true)},
		{name: "set_audio/already off: no event", setup: base, cmd: set(core.SetAudio, "bob", false)},
		{name: "set_audio/an attendee may unmute after the host muted", setup: with(base, do(core.DisableAudio, "host", "ann")),
			cmd:  set(core.SetAudio, "ann", true),
			want: []events.Event{&events.AudioUpdate{Seq: 6, Participant: "ann", AudioEnabled: true, By: "ann"}}},
		{name: "set_audio/target is ignored: only the actor's own", setup: base,
			cmd:  core.Command{ID: "c", Type: core.SetAudio, Actor: "host", Target: "bob", Enabled: false},
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "host", AudioEnabled: false, By: "host"}},
			state: func(t *testing.T, s core.State) {
				if bob, _ := s.Participant("bob"); bob.AudioEnabled {
					t.Error("bob's audio turned on")
				}
			}},
		{name: "set_video/on", setup: base, cmd: set(core.SetVideo, "ann", true),
			want: []events.Event{&events.VideoUpdate{Seq: 5, Participant: "ann", VideoEnabled: true, By: "ann"}}},
		{name: "set_video/off", setup: base, cmd: set(core.SetVideo, "bob", false),
			want: []events.Event{&events.VideoUpdate{Seq: 5, Participant: "bob", VideoEnabled: false, By: "bob"}}},
		{name: "set_video/unchanged: no event", setup: base, cmd: set(core.SetVideo, "bob", true)},
		{name: "set_video/target is ignored", setup: base,
			cmd:  core.Command{ID: "c", Type: core.SetVideo, Actor: "ann", Target: "host", Enabled: true},
			want: []events.Event{&events.VideoUpdate{Seq: 5, Participant: "ann", VideoEnabled: true, By: "ann"}}},

		// disable_audio, disable_video
		{name: "disable_audio", setup: base, cmd: do(core.DisableAudio, "host", "ann"),
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "ann", AudioEnabled: false, By: "host"}}},
		{name: "disable_audio/already off: no event", setup: base, cmd: do(core.DisableAudio, "host", "bob")},
		{name: "disable_audio/cohost mutes the host", setup: base, cmd: do(core.DisableAudio, "co", "host"),
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "host", AudioEnabled: false, By: "co"}}},
		{name: "disable_audio/self", setup: base, cmd: do(core.DisableAudio, "host", "host"),
			want: []events.Event{&events.AudioUpdate{Seq: 5, Participant: "host", AudioEnabled: false, By: "host"}}},
		{name: "disable_video", setup: base, cmd: do(core.DisableVideo, "host", "bob"),
			want: []events.Event{&events.VideoUpdate{Seq: 5, Participant: "bob", VideoEnabled: false, By: "host"}}},
		{name: "disable_video/already off: no event", setup: base, cmd: do(core.DisableVideo, "host", "ann")},

		// disable_all_audio, disable_all_video: one event, counting the
		// participants whose medium was on, the actor included.
		{name: "disable_all_audio/one event, actor counted", setup: base, cmd: do(core.DisableAllAudio, "host", ""),
			want: []events.Event{&events.AllAudioDisabled{Seq: 5, Count: 3, By: "host"}}, state: allOff(false)},
		{name: "disable_all_audio/by cohost", setup: base, cmd: do(core.DisableAllAudio, "co", ""),
			want: []events.Event{&events.AllAudioDisabled{Seq: 5, Count: 3, By: "co"}}, state: allOff(false)},
		{name: "disable_all_audio/after a rejoin and an unmute",
			setup: with(base, do(core.Leave, "host", ""), join("host", "host", true, false), set(core.SetAudio, "bob", true)),
			cmd:   do(core.DisableAllAudio, "host", ""),
			want:  []events.Event{&events.AllAudioDisabled{Seq: 8, Count: 4, By: "host"}}, state: allOff(false)},
		{name: "disable_all_audio/only the actor on", setup: with(base, do(core.DisableAllAudio, "host", ""), set(core.SetAudio, "co", true)),
			cmd:  do(core.DisableAllAudio, "co", ""),
			want: []events.Event{&events.AllAudioDisabled{Seq: 7, Count: 1, By: "co"}}, state: allOff(false)},
		{name: "disable_all_audio/everyone off: no event", setup: with(base, do(core.DisableAllAudio, "host", "")),
			cmd: do(core.DisableAllAudio, "host", "")},
		{name: "disable_all_audio/video untouched", setup: base, cmd: do(core.DisableAllAudio, "host", ""),
			want: []events.Event{&events.AllAudioDisabled{Seq: 5, Count: 3, By: "host"}},
			state: func(t *testing.T, s core.State) {
				if s.VideoOn() != 2 {
					t.Errorf("VideoOn = %d after disable_all_audio, want 2", s.VideoOn())
				}
			}},
		{name: "disable_all_video/one event, actor counted", setup: base, cmd: do(core.DisableAllVideo, "host", ""),
			want: []events.Event{&events.AllVideoDisabled{Seq: 5, Count: 2, By: "host"}}, state: allOff(true)},
		{name: "disable_all_video/everyone off: no event", setup: with(base, set(core.SetVideo, "host", false), set(core.SetVideo, "bob", false)),
			cmd: do(core.DisableAllVideo, "host", "")},

		// pin, unpin
		{name: "pin", setup: base, cmd: do(core.Pin, "host", "ann"),
			want:  []events.Event{&events.Pinned{Seq: 5, Participant: "ann", By: "host"}},
			state: wantPinned("ann")},
		{name: "pin/self", setup: base, cmd: do(core.Pin, "co", "co"),
			want:  []events.Event{&events.Pinned{Seq: 5, Participant: "co", By: "co"}},
			state: wantPinned("co")},
		{name: "pin/moves: unpinned then pinned", setup: pinnedAnn, cmd: do(core.Pin, "co", "bob"),
			want: []events.Event{
				&events.Unpinned{Seq: 6, Participant: "ann", By: "co"},
				&events.Pinned{Seq: 7, Participant: "bob", By: "co"},
			},
			state: wantPinned("bob")},
		{name: "pin/already pinned: no event", setup: pinnedAnn, cmd: do(core.Pin, "co", "ann"), state: wantPinned("ann")},
		{name: "unpin", setup: pinnedAnn, cmd: do(core.Unpin, "co", "ann"),
			want:  []events.Event{&events.Unpinned{Seq: 6, Participant: "ann", By: "co"}},
			state: wantPinned("")},
		{name: "unpin/someone else pinned: no event", setup: pinnedAnn, cmd: do(core.Unpin, "host", "bob"), state: wantPinned("ann")},
		{name: "unpin/nobody pinned: no event", setup: base, cmd: do(core.Unpin, "host", "bob"), state: wantPinned("")},

		// kick
		{name: "kick", setup: base, cmd: do(core.Kick, "host", "ann"),
			want:  []events.Event{&events.ParticipantLeft{Seq: 5, Participant: "ann", Reason: events.ReasonKicked, By: "host"}},
			state: wantOrder("host", "co", "bob")},
		{name: "kick/pinned clears the pin with no event", setup: pinnedAnn, cmd: do(core.Kick, "host", "ann"),
			want:  []events.Event{&events.ParticipantLeft{Seq: 6, Participant: "ann", Reason: events.ReasonKicked, By: "host"}},
			state: wantPinned("")},
		{name: "kick/another pinned keeps the pin", setup: pinnedAnn, cmd: do(core.Kick, "host", "bob"),
			want:  []events.Event{&events.ParticipantLeft{Seq: 6, Participant: "bob", Reason: events.ReasonKicked, By: "host"}},
			state: wantPinned("ann")},
		{name: "kick/the host by another host", setup: with(base, join("host2", "host", false, false)), cmd: do(core.Kick, "host2", "host"),
			want: []events.Event{&events.ParticipantLeft{Seq: 6, Participant: "host", Reason: events.ReasonKicked, By: "host2"}}},

		// kick_all
		{name: "kick_all", setup: pinnedAnn, cmd: do(core.KickAll, "host", ""),
			want: []events.Event{&events.SessionEnded{Seq: 6, By: "host"}},
			state: func(t *testing.T, s core.State) {
				want := core.Snapshot{Session: "room", Seq: 6, Ended: true}
				if d := cmp.Diff(want, s.Snapshot(), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("state (-want +got):\n%s", d)
				}
				if s.Len() != 0 || s.Joined("ann") || s.Joined("host") {
					t.Errorf("participants still joined after kick_all: %v", ids(s))
				}
			}},
		{name: "kick_all/the only participant", setup: base[:1], cmd: do(core.KickAll, "host", ""),
			want:  []events.Event{&events.SessionEnded{Seq: 2, By: "host"}},
			state: both(wantOrder(), wantPinned(""))},
	})
}

// TestErrors has a row for every error code, for every command type it can
// reject.
func TestErrors(t *testing.T) {
	ended := with(base, do(core.KickAll, "host", ""))
	var rows []row

	invalid := func(name string, c core.Command) {
		rows = append(rows, row{name: "invalid_command/" + name, setup: base, cmd: c, code: core.CodeInvalidCommand})
	}
	invalid("unknown type", core.Command{ID: "c", Type: "mute", Actor: "host", Target: "ann"})
	invalid("empty type", core.Command{ID: "c", Actor: "host"})
	invalid("type in capitals", core.Command{ID: "c", Type: "KICK", Actor: "host", Target: "ann"})

	for _, typ := range core.CommandTypes {
		// c would succeed in base.
		c := do(typ, "host", "ann")
		if typ == core.Join {
			c = join("cat", "attendee", true, true)
		}
		noID, noActor := c, c
		noID.ID, noActor.Actor = "", ""
		invalid(string(typ)+" with an empty id", noID)
		invalid(string(typ)+" with an empty actor", noActor)
		if typ.Targeted() {
			invalid(string(typ)+" without target", do(typ, "host", ""))
		}

		rows = append(rows, row{name: "session_ended/" + string(typ), setup: ended, cmd: c, code: core.CodeSessionEnded})
		if typ != core.Join {
			rows = append(rows, row{name: "not_joined/" + string(typ), setup: base, cmd: do(typ, "ghost", "ann"), code: core.CodeNotJoined})
			rows = append(rows, row{name: "not_joined/" + string(typ) + " after leaving", setup: with(base, do(core.Leave, "host", "")),
				cmd: do(typ, "host", "ann"), code: core.CodeNotJoined})
		}
		if !presets["attendee"].Allows(typ) {
			rows = append(rows, row{name: "permission_denied/" + string(typ), setup: base, cmd: do(typ, "ann", "bob"), code: core.CodePermissionDenied})
		}
		if !presets["cohost"].Allows(typ) {
			rows = append(rows, row{name: "permission_denied/cohost " + string(typ), setup: base, cmd: do(typ, "co", "bob"), code: core.CodePermissionDenied})
		}
		if typ.Targeted() {
			rows = append(rows,
				row{name: "participant_not_found/" + string(typ), setup: base, cmd: do(typ, "host", "ghost"), code: core.CodeParticipantNotFound},
				row{name: "participant_not_found/" + string(typ) + " of one who left", setup: with(base, do(core.Leave, "ann", "")),
					cmd: do(typ, "host", "ann"), code: core.CodeParticipantNotFound})
		}
	}
	rows = append(rows,
		row{name: "already_joined", setup: base, cmd: join("ann", "attendee", true, true), code: core.CodeAlreadyJoined},
		row{name: "already_joined/same preset and media", setup: base, cmd: base[2], code: core.CodeAlreadyJoined},
		row{name: "unknown_preset", setup: base, cmd: join("cat", "admin", true, true), code: core.CodeUnknownPreset},
		row{name: "unknown_preset/empty", setup: base, cmd: join("cat", "", true, true), code: core.CodeUnknownPreset},
		row{name: "unknown_preset/case matters", setup: base, cmd: join("cat", "Host", true, true), code: core.CodeUnknownPreset},
		row{name: "cannot_act_on_self/kick", setup: base, cmd: do(core.Kick, "host", "host"), code: core.CodeCannotActOnSelf},
	)
	runRows(t, rows)
}

// TestCheckOrder pairs failing checks: the earlier check in the SPEC's order
// decides. (5 and 6 cannot both fail: a self-kick's target is the joined
// actor.)
func TestCheckOrder(t *testing.T) {
	ended := with(base, do(core.KickAll, "host", ""))
	runRows(t, []row{
		// 1 before 2
		{name: "1<2/unknown type in an ended session", setup: ended, cmd: do("mute", "host", "ann"), code: core.CodeInvalidCommand},
		{name: "1<2/empty id in an ended session", setup: ended, cmd: core.Command{Type: core.Leave, Actor: "host"}, code: core.CodeInvalidCommand},
		{name: "1<2/no target in an ended session", setup: ended, cmd: do(core.Kick, "host", ""), code: core.CodeInvalidCommand},
		// 1 before 3
		{name: "1<3/join with empty id when already joined", setup: base,
			cmd: core.Command{Type: core.Join, Actor: "ann", Preset: "attendee"}, code: core.CodeInvalidCommand},
		{name: "1<3/join with empty id and unknown preset", setup: base,
			cmd: core.Command{Type: core.Join, Actor: "cat", Preset: "admin"}, code: core.CodeInvalidCommand},
		{name: "1<3/unknown type by a non-joined actor", setup: base, cmd: do("mute", "ghost", "ann"), code: core.CodeInvalidCommand},
		{name: "1<3/no target by a non-joined actor", setup: base, cmd: do(core.Pin, "ghost", ""), code: core.CodeInvalidCommand},
		// 1 before 4, 5, 6
		{name: "1<4/no target from an attendee", setup: base, cmd: do(core.DisableAudio, "ann", ""), code: core.CodeInvalidCommand},
		{name: "1<4/empty id from an attendee", setup: base, cmd: core.Command{Type: core.KickAll, Actor: "ann"}, code: core.CodeInvalidCommand},
		{name: "1<5/empty id, target not joined", setup: base, cmd: core.Command{Type: core.Kick, Actor: "host", Target: "ghost"}, code: core.CodeInvalidCommand},
		{name: "1<6/empty id, self kick", setup: base, cmd: core.Command{Type: core.Kick, Actor: "host", Target: "host"}, code: core.CodeInvalidCommand},
		// 2 before 3 (after kick_all nobody is joined, so 2 also precedes 4–6)
		{name: "2<3/join with unknown preset after the end", setup: ended, cmd: join("cat", "admin", true, true), code: core.CodeSessionEnded},
		{name: "2<3/join of the former host after the end", setup: ended, cmd: base[0], code: core.CodeSessionEnded},
		{name: "2<3/kick by a non-joined actor after the end", setup: ended, cmd: do(core.Kick, "host", "ann"), code: core.CodeSessionEnded},
		{name: "2<3/kick_all again", setup: ended, cmd: do(core.KickAll, "host", ""), code: core.CodeSessionEnded},
		// 3 before 3
		{name: "3/join with unknown preset when already joined", setup: base, cmd: join("ann", "admin", true, true), code: core.CodeAlreadyJoined},
		// 3 before 4, 5
		{name: "3<4/non-joined actor without any preset kicks", setup: base, cmd: do(core.Kick, "ghost", "ann"), code: core.CodeNotJoined},
		{name: "3<5/non-joined actor targets a non-joined id", setup: base, cmd: do(core.DisableAudio, "ghost", "nobody"), code: core.CodeNotJoined},
		{name: "3<6/non-joined actor kicks itself", setup: base, cmd: do(core.Kick, "ghost", "ghost"), code: core.CodeNotJoined},
		// 4 before 5, 6
		{name: "4<5/attendee targets a non-joined id", setup: base, cmd: do(core.DisableAudio, "ann", "ghost"), code: core.CodePermissionDenied},
		{name: "4<5/attendee pins a non-joined id", setup: base, cmd: do(core.Pin, "ann", "ghost"), code: core.CodePermissionDenied},
		{name: "4<5/cohost kicks a non-joined id", setup: base, cmd: do(core.Kick, "co", "ghost"), code: core.CodePermissionDenied},
		{name: "4<6/attendee kicks itself", setup: base, cmd: do(core.Kick, "ann", "ann"), code: core.CodePermissionDenied},
	})
}

// TestErrorsMatchSentinels: every rejection matches its code's sentinel
// with errors.Is and no other, and is an *core.Error under errors.As.
func TestErrorsMatchSentinels(t *testing.T) {
	sentinels := map[core.Code]error{
		core.CodePermissionDenied:    core.ErrPermissionDenied,
		core.CodeParticipantNotFound: core.ErrParticipantNotFound,
		core.CodeCannotActOnSelf:     core.ErrCannotActOnSelf,
		core.CodeAlreadyJoined:       core.ErrAlreadyJoined,
		core.CodeNotJoined:           core.ErrNotJoined,
		core.CodeInvalidCommand:      core.ErrInvalidCommand,
		core.CodeSessionEnded:        core.ErrSessionEnded,
		core.CodeUnknownPreset:       core.ErrUnknownPreset,
	}
	s := newSession(t, base).State()
	ended := newSession(t, with(base, do(core.KickAll, "host", ""))).State()
	cases := map[core.Code]struct {
		s   core.State
		cmd core.Command
	}{
		core.CodePermissionDenied:    {s, do(core.Kick, "ann", "bob")},
		core.CodeParticipantNotFound: {s, do(core.Kick, "host", "ghost")},
		core.CodeCannotActOnSelf:     {s, do(core.Kick, "host", "host")},
		core.CodeAlreadyJoined:       {s, base[1]},
		core.CodeNotJoined:           {s, do(core.Leave, "ghost", "")},
		core.CodeInvalidCommand:      {s, do("mute", "host", "")},
		core.CodeSessionEnded:        {ended, base[0]},
		core.CodeUnknownPreset:       {s, join("cat", "admin", false, false)},
	}
	for code, c := range cases {
		t.Run(code.Name(), func(t *testing.T) {
			_, err := reducer.Decide(c.s, c.cmd)
			var cerr *core.Error
			if !errors.As(err, &cerr) || cerr.Code != code {
				t.Fatalf("Decide = %v, want a *core.Error with code %d", err, code)
			}
			for other, sentinel := range sentinels {
				if got := errors.Is(fmt.Errorf("wrapped: %w", err), sentinel); got != (other == code) {
					t.Errorf("errors.Is(err, %s) = %v", other.Name(), got)
				}
			}
		})
	}
}

// TestNobodyEnablesAnothersMedia: no command turns on another participant's
// media, whatever the media were: disable commands only ever emit updates
// with enabled false, and set_* only touches the actor.
func TestNobodyEnablesAnothersMedia(t *testing.T) {
	for _, media := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		setup := []core.Command{join("host", "host", media[0], media[1]), join("ann", "attendee", media[1], media[0])}
		for _, c := range []core.Command{
			do(core.DisableAudio, "host", "ann"), do(core.DisableVideo, "host", "ann"),
			do(core.DisableAudio, "host", "host"), do(core.DisableVideo, "host", "host"),
			do(core.DisableAllAudio, "host", ""), do(core.DisableAllVideo, "host", ""),
			{ID: "c", Type: core.SetAudio, Actor: "host", Target: "ann", Enabled: true},
			{ID: "c", Type: core.SetVideo, Actor: "host", Target: "ann", Enabled: true},
		} {
			t.Run(fmt.Sprintf("%s/%v", c.Type, media), func(t *testing.T) {
				chk := newSession(t, setup)
				evs, err := apply(t, chk, c)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					switch e := e.(type) {
					case *events.AudioUpdate:
						if e.AudioEnabled && e.Participant != c.Actor {
							t.Errorf("%+v turned on another's audio", e)
						}
					case *events.VideoUpdate:
						if e.VideoEnabled && e.Participant != c.Actor {
							t.Errorf("%+v turned on another's video", e)
						}
					case *events.AllAudioDisabled, *events.AllVideoDisabled: // off, for everyone
					default:
						t.Errorf("unexpected event %+v", e)
					}
				}
			})
		}
	}
}

// TestDecideLeavesStateAlone: Decide never changes its state, and Apply
// returns the state it was given when it rejects.
func TestDecideLeavesStateAlone(t *testing.T) {
	s := newSession(t, with(base, do(core.Pin, "host", "ann"))).State()
	snap := s.Snapshot()
	for _, c := range []core.Command{
		do(core.DisableAllAudio, "host", ""), do(core.Kick, "host", "ann"), do(core.KickAll, "host", ""),
		do(core.Pin, "host", "bob"), join("cat", "host", true, true), do(core.Kick, "ann", "bob"),
	} {
		reducer.Decide(s, c)
		after, _, err := reducer.Apply(s, c)
		if err != nil && !after.Equal(s) {
			t.Errorf("%+v: rejected, but Apply returned another state", c)
		}
	}
	if d := cmp.Diff(snap, s.Snapshot()); d != "" {
		t.Errorf("state changed (-before +after):\n%s", d)
	}
}
