package wire

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

func TestServerFramesRoundTrip(t *testing.T) {
	state := core.Snapshot{Session: "room-1", Seq: 7, Pinned: "bob", Participants: []core.Participant{
		{ID: "alice", Name: "Alice", Preset: "host", AudioEnabled: true},
		{ID: "bob", Name: "Bob \"B\"", Preset: "attendee", VideoEnabled: true},
	}}
	checkRoundTrip(t, map[string]Frame{
		"welcome": {Type: TypeWelcome, Welcome: Welcome{Session: "room-1", Self: "alice", Preset: "host",
			Permissions: presets["host"], Presets: presets, Seq: 7, State: state}},
		"welcome resumed": {Type: TypeWelcome, Welcome: Welcome{Session: "room-1", Self: "bob", Preset: "attendee",
			Presets: presets, Seq: 5, Resumed: true}},
		"event":      {Type: TypeEvent, Event: &events.AudioUpdate{Seq: 8, Participant: "bob", By: "alice"}},
		"bulk event": {Type: TypeEvent, Event: &events.AllAudioDisabled{Seq: 8, Count: 100000, By: "alice"}},
		"result applied": {Type: TypeResult, Result: Result{ID: "c1", Seq: 9, Events: []events.Event{
			&events.Unpinned{Seq: 8, Participant: "bob", By: "alice"}, &events.Pinned{Seq: 9, Participant: "alice", By: "alice"}}}},
		"result no-op duplicate":  {Type: TypeResult, Result: Result{ID: "c2", Seq: 9, Duplicate: true}},
		"result rejected":         {Type: TypeResult, Result: Result{ID: "c3", Err: core.Errorf(core.CodePermissionDenied, "no")}},
		"result refused":          {Type: TypeResult, Result: Result{ID: "c4", Refused: RefusedRateLimited}},
		"result refused for good": {Type: TypeResult, Result: Result{ID: "c5", Refused: RefusedTooLarge}},
		"goodbye":                 {Type: TypeGoodbye, Reason: ReasonKicked},
	})
}

// checkRoundTrip checks that each frame decodes back from its encoding.
func checkRoundTrip(t *testing.T, frames map[string]Frame) {
	t.Helper()
	for name, f := range frames {
		b := appendFrame(f)
		got, err := DecodeFrame(b)
		if err != nil {
			t.Errorf("%s: DecodeFrame(%s): %v", name, b, err)
			continue
		}
		if d := cmp.Diff(f, got); d != "" {
			t.Errorf("%s: %s decodes differently (-want +got):\n%s", name, b, d)
		}
	}
}

func TestCommandFrame(t *testing.T) {
	cmd := core.Command{ID: "c1", Type: core.Kick, Actor: "alice", Target: "bob"}
	got, err := DecodeCommand(AppendCommand(nil, cmd))
	if err != nil || got != cmd {
		t.Fatalf("DecodeCommand(AppendCommand(%+v)) = %+v, %v", cmd, got, err)
	}
	// A command the codec rejects is answered, not a bad frame.
	got, err = DecodeCommand([]byte(`{"type":"command","cmd":{"id":"c2","type":"set_audio","actor":"a","enabled":"yes"}}`))
	if code, _ := core.CodeOf(err); code != core.CodeInvalidCommand || got.ID != "c2" {
		t.Errorf("ill-typed command: %+v, %v; want id c2 and invalid_command", got, err)
	}
	for _, bad := range []string{``, `[]`, `null`, `{"type":"event"}`, `{"type":"command"`, `{"type":1}`, `"command"`} {
		if _, err := DecodeCommand([]byte(bad)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeCommand(%s) = %v, want ErrBadFrame", bad, err)
		}
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	for _, bad := range []string{``, `{}`, `{"type":"command","cmd":{}}`, `{"type":"event","event":{"type":"nope"}}`,
		`{"type":"welcome","permissions":[],"presets":{}}`, `{"type":"result","id":"x","events":{}}`} {
		if _, err := DecodeFrame([]byte(bad)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeFrame(%s) = %v, want ErrBadFrame", bad, err)
		}
	}
}

// TestStrictFrames: frames are read as the codec reads everything: names
// exactly, and no object naming a member twice, anywhere in the frame.
func TestStrictFrames(t *testing.T) {
	// Read as encoding/json would: order, space, escapes, unknown fields.
	got, err := DecodeFrame([]byte(` {"id":"c1", "x":{"y":[1]}, "seq":4, "\u0074ype":"result"} `))
	if err != nil || got.Type != TypeResult || got.Result.ID != "c1" || got.Result.Seq != 4 {
		t.Errorf("a result in another order: %+v, %v", got, err)
	}
	// Names in another case are unknown fields.
	if got, err := DecodeFrame([]byte(`{"Type":"goodbye","type":"event","event":{"seq":1,"type":"pinned"},"Reason":"kicked"}`)); err != nil ||
		got.Type != TypeEvent {
		t.Errorf("case-folded names: %+v, %v", got, err)
	}
	cmd, err := DecodeCommand([]byte(`{"type":"command","CMD":{"id":"c9","type":"kick_all","actor":"a"},"cmd":{"id":"c1","type":"leave","actor":"a"}}`))
	if err != nil || cmd.ID != "c1" || cmd.Type != core.Leave {
		t.Errorf("a command frame with a case-folded member: %+v, %v", cmd, err)
	}
	for _, bad := range []string{
		`{"type":"result","type":"goodbye","reason":"kicked"}`,
		`{"type":"goodbye","reason":"left","reason":"kicked"}`,
		`{"type":"event","event":{"seq":1,"type":"pinned","type":"unpinned"}}`,
		`{"type":"result","id":"c1","seq":1,"x":{"a":1,"a":2}}`,
	} {
		if f, err := DecodeFrame([]byte(bad)); !errors.Is(err, ErrBadFrame) || !errors.Is(err, events.ErrRepeatedMember) {
			t.Errorf("DecodeFrame(%s) = %+v, %v; want ErrBadFrame for a member named twice", bad, f, err)
		}
	}
	for _, bad := range []string{
		`{"type":"command","type":"media_connect"}`,
		`{"type":"command","cmd":{"id":"c1","type":"kick","type":"kick_all","actor":"a","target":"b"}}`,
		`{"type":"signal","candidate":{"candidate":"a","candidate":"b"}}`,
		`{"type":"command","cmd":{"id":"c1","type":"leave","actor":"a"},"cmd":{"id":"c2","type":"leave","actor":"a"}}`,
	} {
		if f, err := DecodeClientFrame([]byte(bad)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeClientFrame(%s) = %+v, %v; want ErrBadFrame", bad, f, err)
		}
	}
}

func TestRefusalPermanent(t *testing.T) {
	for r, want := range map[Refusal]bool{RefusedRateLimited: false, RefusedUnavailable: false, RefusedTooLarge: true, RefusedFailed: true} {
		if r.Permanent() != want {
			t.Errorf("%q.Permanent() = %v", r, !want)
		}
	}
}

func TestReasonFinal(t *testing.T) {
	final := map[Reason]bool{ReasonKicked: true, ReasonEnded: true, ReasonLeft: true, ReasonReplaced: true,
		ReasonSlow: false, ReasonShutdown: false, "": false}
	for r, want := range final {
		if r.Final() != want {
			t.Errorf("%q.Final() = %v", r, !want)
		}
	}
}

// FuzzDecodeCommand: no input panics, and a command that decodes encodes
// back to the same command.
func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"type":"command","cmd":{"id":"c1","type":"kick","actor":"a","target":"b"}}`))
	f.Add([]byte(`{"type":"command","cmd":{"id":"c1","type":"join","actor":"a","name":"A","audio":true}}`))
	f.Add([]byte(`{"type":"command","cmd":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := DecodeCommand(b)
		if err != nil {
			return
		}
		again, err := DecodeCommand(AppendCommand(nil, cmd))
		if err != nil || again != cmd {
			t.Fatalf("%+v re-decodes as %+v, %v", cmd, again, err)
		}
	})
}

// FuzzDecodeFrame: no input panics, and a frame that decodes encodes back
// to the same frame.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendEvent(nil, &events.Pinned{Seq: 3, Participant: "a", By: "b"}))
	f.Add(AppendResult(nil, Result{ID: "x", Seq: 2, Events: []events.Event{&events.SessionEnded{Seq: 2, By: "a"}}}))
	f.Add(AppendWelcome(nil, Welcome{Session: "s", Self: "a", Presets: presets, Seq: 1,
		State: core.Snapshot{Session: "s", Seq: 1, Participants: []core.Participant{{ID: "a", Preset: "host"}}}}))
	f.Add(AppendGoodbye(nil, ReasonSlow))
	f.Add(AppendMediaClosed(nil, MediaClosed{Reason: MediaMoved}))
	f.Add([]byte(`{"type":"media_closed","refused":null,"reason":"moved"}`))
	f.Add(AppendEvent(nil, &events.AllVideoDisabled{Seq: 4, Count: 2, By: "a"}))
	f.Add([]byte(`{"type":"goodbye","reason":"left","Reason":"kicked","reason":"slow"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		enc := appendFrame(fr)
		again, err := DecodeFrame(enc)
		if err != nil {
			t.Fatalf("%s re-decodes with %v", enc, err)
		}
		if d := cmp.Diff(fr, again); d != "" {
			t.Fatalf("%s re-decodes differently:\n%s", enc, d)
		}
	})
}
