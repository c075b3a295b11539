package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// goldenEvents is one event of each type and its exact encoding.
var goldenEvents = []struct {
	e    events.Event
	json string
}{
	{&events.ParticipantJoined{Seq: 1, Participant: "ann", Name: "Ann", Preset: "host", AudioEnabled: true},
		`{"seq":1,"type":"participant_joined","participant":"ann","name":"Ann","preset":"host","audio_enabled":true,"video_enabled":false}`},
	{&events.ParticipantLeft{Seq: 2, Participant: "bob", Reason: events.ReasonKicked, By: "ann"},
		`{"seq":2,"type":"participant_left","participant":"bob","reason":"kicked","by":"ann"}`},
	{&events.AudioUpdate{Seq: 3, Participant: "bob", AudioEnabled: false, By: "ann"},
		`{"seq":3,"type":"audio_update","participant":"bob","audio_enabled":false,"by":"ann"}`},
	{&events.VideoUpdate{Seq: 4, Participant: "ann", VideoEnabled: true, By: "ann"},
		`{"seq":4,"type":"video_update","participant":"ann","video_enabled":true,"by":"ann"}`},
	{&events.Pinned{Seq: 5, Participant: "ann", By: "ann"},
		`{"seq":5,"type":"pinned","participant":"ann","by":"ann"}`},
	{&events.Unpinned{Seq: 6, Participant: "ann", By: "cat"},
		`{"seq":6,"type":"unpinned","participant":"ann","by":"cat"}`},
	{&events.AllAudioDisabled{Seq: 7, Count: 100000, By: "ann"},
		`{"seq":7,"type":"all_audio_disabled","count":100000,"by":"ann"}`},
	{&events.AllVideoDisabled{Seq: 8, Count: 1, By: "ann"},
		`{"seq":8,"type":"all_video_disabled","count":1,"by":"ann"}`},
	{&events.SessionEnded{Seq: 18446744073709551615, By: "ann"},
		`{"seq":18446744073709551615,"type":"session_ended","by":"ann"}`},
}

func TestEventGolden(t *testing.T) {
	seen := map[events.Type]bool{}
	for _, g := range goldenEvents {
		t.Run(string(g.e.Type()), func(t *testing.T) {
			seen[g.e.Type()] = true
			got := events.AppendEvent(nil, g.e)
			if string(got) != g.json {
				t.Errorf("AppendEvent =\n%s\nwant\n%s", got, g.json)
			}
			if again := events.AppendEvent([]byte("prefix"), g.e); string(again) != "prefix"+g.json {
				t.Errorf("AppendEvent to a buffer = %s", again)
			}
			dec, err := events.DecodeEvent([]byte(g.json))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(g.e, dec); d != "" {
				t.Errorf("DecodeEvent (-want +got):\n%s", d)
			}
			if dec.Sequence() != g.e.Sequence() || dec.Type() != g.e.Type() {
				t.Errorf("Sequence/Type = %d/%s", dec.Sequence(), dec.Type())
			}
		})
	}
	if len(seen) != 9 {
		t.Errorf("golden events cover %d types, want 9", len(seen))
	}
}

// TestEventRoundTrip: every event type, with arbitrary field values, decodes
// to what was encoded, and encoding is deterministic.
func TestEventRoundTrip(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.SampledFrom([]string{"", "ann", "é\u2028\"\\\n", "\x00\x1f<&>"}))
	gen := rapid.Custom(func(t *rapid.T) events.Event {
		seq := rapid.Uint64().Draw(t, "seq")
		p, by := str.Draw(t, "participant"), str.Draw(t, "by")
		on := rapid.Bool().Draw(t, "enabled")
		switch rapid.IntRange(0, 8).Draw(t, "type") {
		case 0:
			return &events.ParticipantJoined{Seq: seq, Participant: p, Name: str.Draw(t, "name"), Preset: str.Draw(t, "preset"),
				AudioEnabled: on, VideoEnabled: rapid.Bool().Draw(t, "video")}
		case 1:
			return &events.ParticipantLeft{Seq: seq, Participant: p, Reason: events.LeaveReason(str.Draw(t, "reason")), By: by}
		case 2:
			return &events.AudioUpdate{Seq: seq, Participant: p, AudioEnabled: on, By: by}
		case 3:
			return &events.VideoUpdate{Seq: seq, Participant: p, VideoEnabled: on, By: by}
		case 4:
			return &events.Pinned{Seq: seq, Participant: p, By: by}
		case 5:
			return &events.Unpinned{Seq: seq, Participant: p, By: by}
		case 6:
			return &events.AllAudioDisabled{Seq: seq, Count: rapid.Uint64().Draw(t, "count"), By: by}
		case 7:
			return &events.AllVideoDisabled{Seq: seq, Count: rapid.Uint64().Draw(t, "count"), By: by}
		}
		return &events.SessionEnded{Seq: seq, By: by}
	})
	rapid.Check(t, func(t *rapid.T) {
		e := gen.Draw(t, "event")
		b := events.AppendEvent(nil, e)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		if again := events.AppendEvent(nil, e); !bytes.Equal(b, again) {
			t.Fatalf("not deterministic:\n%s\n%s", b, again)
		}
		got, err := events.DecodeEvent(b)
		if err != nil {
			t.Fatalf("DecodeEvent(%s): %v", b, err)
		}
		if d := cmp.Diff(e, got); d != "" {
			t.Fatalf("round trip of %s (-want +got):\n%s", b, d)
		}
	})
}

func TestEventsArray(t *testing.T) {
	var evs []events.Event
	var want []string
	for _, g := range goldenEvents {
		evs = append(evs, g.e)
		want = append(want, g.json)
	}
	b := events.AppendEvents(nil, evs)
	if w := "[" + strings.Join(want, ",") + "]"; string(b) != w {
		t.Errorf("AppendEvents =\n%s\nwant\n%s", b, w)
	}
	got, err := events.DecodeEvents(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(evs, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if b := events.AppendEvents(nil, nil); string(b) != "[]" {
		t.Errorf("AppendEvents(nil) = %s", b)
	}
	for _, none := range []string{`[]`, " [\n] ", `null`, ` null `} {
		if got, err := events.DecodeEvents([]byte(none)); err != nil || got == nil || len(got) != 0 {
			t.Errorf("DecodeEvents(%q) = %#v, %v; want no events", none, got, err)
		}
	}
	spaced := bytes.ReplaceAll(b, []byte("},{"), []byte("} ,\r\n\t{"))
	if got, err := events.DecodeEvents(append(append([]byte(" [ "), spaced[1:]...), ' ')); err != nil || !cmp.Equal(evs, got) {
		t.Errorf("DecodeEvents with whitespace: %v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `[{"seq":1,"type":"pinned"},{"seq":2,"type":"muted"}]`, `[1]`, `[`, `[{"seq":1,"type":"pinned"},]`,
		`[{"seq":1,"type":"muted"},`, `[{"seq":1,"type":"pinned"}]]`, `"x"`, `nul`} {
		if _, err := events.DecodeEvents([]byte(bad)); err == nil {
			t.Errorf("DecodeEvents(%s) succeeded", bad)
		}
	}
}

func TestDecodeEventLenient(t *testing.T) {
	for _, c := range []struct {
		in   string
		want events.Event
	}{
		{`{"seq":5,"type":"pinned","participant":"ann","by":"bob","future":{"a":[1,2,{"b":null}]},"at":"now"}`,
			&events.Pinned{Seq: 5, Participant: "ann", By: "bob"}},
		{`{"type":"audio_update","by":"bob","audio_enabled":true,"participant":"ann","seq":7}`,
			&events.AudioUpdate{Seq: 7, Participant: "ann", AudioEnabled: true, By: "bob"}},
		{"  \n{\"seq\":1,\"type\":\"session_ended\",\"by\":null}\n", &events.SessionEnded{Seq: 1}},
		// A field of another type is not read.
		{`{"seq":1,"type":"session_ended","by":"ann","participant":42,"audio_enabled":"x"}`, &events.SessionEnded{Seq: 1, By: "ann"}},
		{`{"seq":2,"type":"participant_joined","participant":"a\u00e9\ud83c\udf89","name":"\"q\"","preset":"p"}`,
			&events.ParticipantJoined{Seq: 2, Participant: "aé🎉", Name: `"q"`, Preset: "p"}},
	} {
		got, err := events.DecodeEvent([]byte(c.in))
		if err != nil {
			t.Errorf("DecodeEvent(%s): %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("DecodeEvent(%s) (-want +got):\n%s", c.in, d)
		}
	}
}

func TestDecodeEventErrors(t *testing.T) {
	for _, typ := range []string{"participant_muted", "", "PINNED", "join"} {
		in := fmt.Sprintf(`{"seq":1,"type":%q,"participant":"ann"}`, typ)
		_, err := events.DecodeEvent([]byte(in))
		if !errors.Is(err, events.ErrUnknownType) {
			t.Errorf("DecodeEvent(%s) = %v, want ErrUnknownType", in, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", typ)) {
			t.Errorf("error %q does not name the type %q", err, typ)
		}
	}
	if _, err := events.DecodeEvent([]byte(`{"seq":1}`)); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("no type: %v, want ErrUnknownType", err)
	}
	for _, bad := range []string{
		``, ` `, `null`, `[]`, `"pinned"`, `{`, `{"seq":1,"type":"pinned"`, `{"seq":1,"type":"pinned"}x`,
		`{"seq":"1","type":"pinned"}`, `{"seq":-1,"type":"pinned"}`, `{"seq":1.5,"type":"pinned"}`,
		`{"seq":18446744073709551616,"type":"pinned"}`, `{"seq":1,"type":7}`,
		`{"seq":1,"type":"pinned","participant":true}`, `{"seq":1,"type":"audio_update","audio_enabled":"true"}`,
		`{"seq":1,"type":"audio_update","audio_enabled":1}`, `{"seq":1,"type":"participant_left","reason":["left"]}`,
	} {
		e, err := events.DecodeEvent([]byte(bad))
		if err == nil {
			t.Errorf("DecodeEvent(%q) = %+v, want an error", bad, e)
		} else if errors.Is(err, events.ErrUnknownType) {
			t.Errorf("DecodeEvent(%q): %v matches ErrUnknownType", bad, err)
		}
	}
}

// goldenCommands is a command of each shape and its exact encoding.
var goldenCommands = []struct {
	c    core.Command
	json string
}{
	{core.Command{ID: "c1", Type: core.Join, Actor: "ann", Name: "Ann", Preset: "host", Audio: true},
		`{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":false}`},
	{core.Command{ID: "c2", Type: core.Leave, Actor: "ann"}, `{"id":"c2","type":"leave","actor":"ann"}`},
	{core.Command{ID: "c3", Type: core.SetAudio, Actor: "ann", Enabled: true}, `{"id":"c3","type":"set_audio","actor":"ann","enabled":true}`},
	{core.Command{ID: "c4", Type: core.SetVideo, Actor: "ann"}, `{"id":"c4","type":"set_video","actor":"ann","enabled":false}`},
	{core.Command{ID: "c5", Type: core.DisableAudio, Actor: "ann", Target: "bob"}, `{"id":"c5","type":"disable_audio","actor":"ann","target":"bob"}`},
	{core.Command{ID: "c6", Type: core.DisableAllAudio, Actor: "ann"}, `{"id":"c6","type":"disable_all_audio","actor":"ann"}`},
	{core.Command{ID: "c7", Type: core.DisableVideo, Actor: "ann", Target: "bob"}, `{"id":"c7","type":"disable_video","actor":"ann","target":"bob"}`},
	{core.Command{ID: "c8", Type: core.DisableAllVideo, Actor: "ann"}, `{"id":"c8","type":"disable_all_video","actor":"ann"}`},
	{core.Command{ID: "c9", Type: core.Pin, Actor: "ann", Target: "bob"}, `{"id":"c9","type":"pin","actor":"ann","target":"bob"}`},
	{core.Command{ID: "c10", Type: core.Unpin, Actor: "ann", Target: "bob"}, `{"id":"c10","type":"unpin","actor":"ann","target":"bob"}`},
	{core.Command{ID: "c11", Type: core.Kick, Actor: "ann", Target: "bob"}, `{"id":"c11","type":"kick","actor":"ann","target":"bob"}`},
	{core.Command{ID: "c12", Type: core.KickAll, Actor: "ann"}, `{"id":"c12","type":"kick_all","actor":"ann"}`},
	{core.Command{ID: "c13", Type: "mute", Actor: "ann", Target: "bob"}, `{"id":"c13","type":"mute","actor":"ann","target":"bob"}`},
	{core.Command{ID: "", Type: "", Actor: ""}, `{"id":"","type":"","actor":""}`},
	// A targeted command without a target still says so: the reducer rejects it.
	{core.Command{ID: "c14", Type: core.Kick, Actor: "ann"}, `{"id":"c14","type":"kick","actor":"ann","target":""}`},
}

func TestCommandGolden(t *testing.T) {
	for _, g := range goldenCommands {
		got := events.AppendCommand(nil, g.c)
		if string(got) != g.json {
			t.Errorf("AppendCommand(%+v) =\n%s\nwant\n%s", g.c, got, g.json)
		}
		dec, err := events.DecodeCommand([]byte(g.json))
		if err != nil {
			t.Errorf("DecodeCommand(%s): %v", g.json, err)
		}
		if d := cmp.Diff(g.c, dec); d != "" {
			t.Errorf("DecodeCommand(%s) (-want +got):\n%s", g.json, d)
		}
	}
}

// TestCommandFieldsOfOtherTypes: a command encodes and decodes only the
// fields its type reads; the others are dropped, whatever their JSON type.
func TestCommandFieldsOfOtherTypes(t *testing.T) {
	full := core.Command{ID: "c", Actor: "ann", Target: "bob", Name: "Ann", Preset: "host", Audio: true, Video: true, Enabled: true}
	for _, typ := range core.CommandTypes {
		c := full
		c.Type = typ
		got, err := events.DecodeCommand(events.AppendCommand(nil, c))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := core.Command{ID: "c", Type: typ, Actor: "ann"}
		switch {
		case typ == core.Join:
			want.Name, want.Preset, want.Audio, want.Video = "Ann", "host", true, true
		case typ == core.SetAudio || typ == core.SetVideo:
			want.Enabled = true
		case typ.Targeted():
			want.Target = "bob"
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", typ, d)
		}
	}
	in := `{"id":"c","type":"leave","actor":"ann","enabled":"yes","target":7,"audio":"no","name":[1],"future":{}}`
	got, err := events.DecodeCommand([]byte(in))
	if err != nil || got != (core.Command{ID: "c", Type: core.Leave, Actor: "ann"}) {
		t.Errorf("DecodeCommand(%s) = %+v, %v", in, got, err)
	}
}

func TestDecodeCommandInvalid(t *testing.T) {
	for _, c := range []struct {
		in     string
		wantID string
	}{
		{`{"id":"c1","type":"set_audio","actor":"ann","enabled":"yes"}`, "c1"},
		{`{"id":"c1","type":"set_video","actor":"ann","enabled":1}`, "c1"},
		{`{"id":"c1","type":"set_audio","actor":"ann"}`, "c1"},
		{`{"id":"c1","type":"set_audio","actor":"ann","enabled":null}`, "c1"},
		{`{"id":"c2","type":"join","actor":"ann","preset":"host","audio":1}`, "c2"},
		{`{"id":"c2","type":"join","actor":"ann","preset":"host","video":"false"}`, "c2"},
		{`{"id":"c2","type":"join","actor":"ann","preset":{"name":"host"}}`, "c2"},
		{`{"id":"c2","type":"join","actor":"ann","name":false}`, "c2"},
		{`{"id":"c3","type":"kick","actor":"ann","target":5}`, "c3"},
		{`{"id":"c3","type":"mute","actor":"ann","target":["bob"]}`, "c3"},
		{`{"id":"c4","type":["join"],"actor":"ann"}`, "c4"},
		{`{"id":"c4","type":"leave","actor":{"id":"ann"}}`, "c4"},
		{`{"id":"c\u00e9","type":"leave","actor":1}`, "cé"},
		{`{"id":5,"type":"leave","actor":"ann"}`, ""},
		{`{"id":true,"type":"leave","actor":"ann"}`, ""},
		{`{"id":"c5","type":"leave","actor":"ann"`, ""},
		{`{"id":"c5","type":"leave","actor":"ann"}}`, ""},
		{`[{"id":"c5"}]`, ""},
		{`null`, ""},
		{`"c5"`, ""},
		{``, ""},
		{`   `, ""},
	} {
		got, err := events.DecodeCommand([]byte(c.in))
		var cerr *core.Error
		if !errors.As(err, &cerr) || cerr.Code != core.CodeInvalidCommand {
			t.Errorf("DecodeCommand(%s) = %+v, %v; want invalid_command", c.in, got, err)
			continue
		}
		if !errors.Is(err, core.ErrInvalidCommand) {
			t.Errorf("DecodeCommand(%s): errors.Is(err, ErrInvalidCommand) = false", c.in)
		}
		if got.ID != c.wantID {
			t.Errorf("DecodeCommand(%s): id %q, want %q", c.in, got.ID, c.wantID)
		}
	}
}

// strs are strings that stress a JSON string encoder.
var strs = []string{
	"", "plain", `quote " and backslash \`, "/slash", "\n\r\t\b\f", "\x00\x01\x1f\x7f", "<script>&amp;</script>",
	"é日本🎉", "\u2028 and \u2029", "\ufffd", "\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82",
	strings.Repeat("ab\"", 85), // 255 bytes: within a command's limits
}

// TestAppendString: AppendString gives valid JSON that decodes, with
// encoding/json, to what encoding/json's own encoding decodes to: the string
// itself when it is valid UTF-8, else with U+FFFD for each bad byte.
func TestAppendString(t *testing.T) {
	check := func(t interface{ Fatalf(string, ...any) }, s string) {
		b := events.AppendString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("AppendString(%q) = %s: invalid JSON", s, b)
		}
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatalf("encoding/json's %s: %v", ref, err)
		}
		if got != want {
			t.Fatalf("AppendString(%q) decodes to %q; encoding/json's to %q", s, got, want)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("AppendString(%q) decodes to %q", s, got)
		}
		if bytes.ContainsAny(b, "\u2028\u2029") {
			t.Fatalf("AppendString(%q) = %s: U+2028/U+2029 not escaped", s, b)
		}
	}
	for _, s := range strs {
		check(t, s)
	}
	for s, want := range map[string]string{
		"":           `""`,
		"a\"b\\c":    `"a\"b\\c"`,
		"\n\r\t":     `"\n\r\t"`,
		"\x00\x1f":   `"\u0000\u001f"`,
		"é\u2028":    `"é\u2028"`,
		"\xffok":     `"\ufffdok"`,
		"<&>":        `"<&>"`,
		"tab\tthere": `"tab\tthere"`,
	} {
		if got := events.AppendString(nil, s); string(got) != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		check(t, rapid.String().Draw(t, "s"))
		check(t, string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")))
	})
}

// TestStringsRoundTrip: strings with escapes and unicode come back from a
// command and an event as they went in.
func TestStringsRoundTrip(t *testing.T) {
	for _, s := range strs {
		if !utf8.ValidString(s) {
			continue
		}
		c := core.Command{ID: s, Type: core.Join, Actor: s, Name: s, Preset: s}
		got, err := events.DecodeCommand(events.AppendCommand(nil, c))
		if err != nil || got != c {
			t.Errorf("command with %q: %+v, %v", s, got, err)
		}
		e := &events.Pinned{Seq: 1, Participant: s, By: s}
		if ge, err := events.DecodeEvent(events.AppendEvent(nil, e)); err != nil || !cmp.Equal(ge, events.Event(e)) {
			t.Errorf("event with %q: %+v, %v", s, ge, err)
		}
	}
}

func TestErrorCodec(t *testing.T) {
	for _, c := range []struct {
		err  error
		json string
		want *core.Error
	}{
		{core.Errorf(core.CodePermissionDenied, "preset %q may not kick", "attendee"),
			`{"code":1201,"name":"permission_denied","message":"preset \"attendee\" may not kick"}`,
			&core.Error{Code: 1201, Message: `preset "attendee" may not kick`}},
		{core.ErrSessionEnded, `{"code":1211,"name":"session_ended","message":"session has ended"}`,
			&core.Error{Code: 1211, Message: "session has ended"}},
		{&core.Error{Code: core.CodeUnknownPreset}, `{"code":1212,"name":"unknown_preset","message":""}`,
			&core.Error{Code: 1212}},
		{fmt.Errorf("room: %w", core.ErrNotJoined), `{"code":1208,"name":"not_joined","message":"room: not_joined (1208): action not permitted without joining room"}`,
			&core.Error{Code: 1208, Message: "room: not_joined (1208): action not permitted without joining room"}},
		{io.EOF, `{"code":1210,"name":"invalid_command","message":"EOF"}`, &core.Error{Code: 1210, Message: "EOF"}},
		{&core.Error{Code: 1299, Message: "from the future"}, `{"code":1299,"name":"code_1299","message":"from the future"}`,
			&core.Error{Code: 1299, Message: "from the future"}},
	} {
		b := events.AppendError(nil, c.err)
		if string(b) != c.json {
			t.Errorf("AppendError(%v) =\n%s\nwant\n%s", c.err, b, c.json)
		}
		got, err := events.DecodeError(b)
		if err != nil {
			t.Errorf("DecodeError(%s): %v", b, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("DecodeError(%s) (-want +got):\n%s", b, d)
		}
	}
	// The code decides; the name is not read, and unknown fields are ignored.
	got, err := events.DecodeError([]byte(`{"code":1201,"name":"something_else","message":"m","detail":{}}`))
	if err != nil || got.Code != core.CodePermissionDenied || !errors.Is(got, core.ErrPermissionDenied) {
		t.Errorf("DecodeError = %v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"name":"permission_denied"}`, `{"code":null}`, `{"code":"1201"}`, `{"code":-1}`,
		`{"code":1201,"message":5}`, `null`, `[]`, ``} {
		if e, err := events.DecodeError([]byte(bad)); err == nil {
			t.Errorf("DecodeError(%s) = %v, want an error", bad, e)
		}
	}
}

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"cohost":   {DisableParticipantAudio: true, PinParticipant: true},
	"stage":    {DisableParticipantVideo: true, KickParticipant: true},
	"attendee": {},
}

const presetsJSON = `{"attendee":{},"cohost":{"disable_participant_audio":true,"pin_participant":true},` +
	`"host":{"disable_participant_audio":true,"disable_participant_video":true,"pin_participant":true,"kick_participant":true},` +
	`"stage":{"disable_participant_video":true,"kick_participant":true}}`

func TestPresetsCodec(t *testing.T) {
	for range 20 { // map order varies from run to run; the bytes must not
		if got := events.AppendPresets(nil, presets); string(got) != presetsJSON {
			t.Fatalf("AppendPresets =\n%s\nwant\n%s", got, presetsJSON)
		}
	}
	got, err := events.DecodePresets([]byte(presetsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(presets, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// Permissions not named, or false, are false; unknown ones are ignored.
	got, err = events.DecodePresets([]byte(`{"p":{"pin_participant":false,"kick_participant":true,"mute_everyone":true}}`))
	if err != nil || got["p"] != (core.Permissions{KickParticipant: true}) {
		t.Errorf("DecodePresets = %+v, %v", got, err)
	}
	if b := events.AppendPresets(nil, nil); string(b) != `{}` {
		t.Errorf("AppendPresets(nil) = %s", b)
	}
	for _, bad := range []string{`[]`, `null`, `{"p":[]}`, `{"p":{"pin_participant":"yes"}}`, `{"p":1}`} {
		if ps, err := events.DecodePresets([]byte(bad)); err == nil {
			t.Errorf("DecodePresets(%s) = %v, want an error", bad, ps)
		}
	}
}

func TestSnapshotCodec(t *testing.T) {
	for _, c := range []struct {
		snap core.Snapshot
		json string
	}{
		{core.Snapshot{Session: "room-1", Seq: 3, Pinned: "bob", Participants: []core.Participant{
			{ID: "alice", Name: "Alice", Preset: "host", AudioEnabled: true},
			{ID: "bob", Name: "Bob \"B\"", Preset: "attendee", VideoEnabled: true},
		}}, `{"session":"room-1","seq":3,"ended":false,"pinned":"bob","participants":[` +
			`{"id":"alice","name":"Alice","preset":"host","audio_enabled":true,"video_enabled":false},` +
			`{"id":"bob","name":"Bob \"B\"","preset":"attendee","audio_enabled":false,"video_enabled":true}]}`},
		{core.Snapshot{Session: "room-1", Seq: 9, Ended: true, Participants: []core.Participant{}},
			`{"session":"room-1","seq":9,"ended":true,"pinned":null,"participants":[]}`},
	} {
		b := events.AppendSnapshot(nil, c.snap)
		if string(b) != c.json {
			t.Errorf("AppendSnapshot =\n%s\nwant\n%s", b, c.json)
		}
		got, err := events.DecodeSnapshot(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.snap, got); d != "" {
			t.Errorf("DecodeSnapshot (-want +got):\n%s", d)
		}
	}
	// AppendState is AppendSnapshot of the state.
	s, err := core.FromSnapshot(core.Snapshot{Session: "r", Seq: 1, Participants: []core.Participant{{ID: "a", Preset: "host"}}}, presets)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := events.AppendState(nil, s), events.AppendSnapshot(nil, s.Snapshot()); !bytes.Equal(a, b) {
		t.Errorf("AppendState = %s, AppendSnapshot = %s", a, b)
	}
	// The SPEC's example; absent fields are zero; unknown fields are ignored.
	got, err := events.DecodeSnapshot([]byte(`{"session":"room-1","seq":3,"ended":false,"pinned":"bob","participants":` +
		`[{"id":"alice","name":"Alice","preset":"host","audio_enabled":true,"video_enabled":false,"hand_raised":true}],"v":2}`))
	want := core.Snapshot{Session: "room-1", Seq: 3, Pinned: "bob", Participants: []core.Participant{
		{ID: "alice", Name: "Alice", Preset: "host", AudioEnabled: true}}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("DecodeSnapshot of the SPEC's example = %+v, %v", got, err)
	}
	if got, err := events.DecodeSnapshot([]byte(`{}`)); err != nil || !cmp.Equal(core.Snapshot{}, got, cmpopts.EquateEmpty()) {
		t.Errorf("DecodeSnapshot({}) = %+v, %v", got, err)
	}
	for _, bad := range []string{`[]`, `null`, `{"seq":"3"}`, `{"participants":{}}`, `{"pinned":1}`, `{"ended":"no"}`,
		`{"participants":[{"id":1}]}`} {
		if s, err := events.DecodeSnapshot([]byte(bad)); err == nil {
			t.Errorf("DecodeSnapshot(%s) = %+v, want an error", bad, s)
		}
	}
}
