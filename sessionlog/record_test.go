package sessionlog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/sessionlog"
)

func TestDecodeEntry(t *testing.T) {
	pinned := &events.Pinned{Seq: 4, Participant: "bob", By: "ann"}
	snap := &core.Snapshot{Session: "room-1", Seq: 4, Pinned: "bob", Participants: []core.Participant{
		{ID: "bob", Name: "Bob", Preset: "attendee"}}}
	for _, c := range []struct {
		name    string
		in      string
		want    sessionlog.Entry
		evs     []events.Event
		errCode core.Code
	}{
		{name: "command only", in: `{"cmd":{"id":"c1","type":"leave","actor":"ann"}}`,
			want: sessionlog.Entry{HasCommand: true, RawCommand: json.RawMessage(`{"id":"c1","type":"leave","actor":"ann"}`),
				Command: core.Command{ID: "c1", Type: core.Leave, Actor: "ann"}}},
		{name: "with events and time", in: `{"at":"2025-01-02T03:04:05Z","cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[{"seq":4,"type":"pinned","participant":"bob","by":"ann"}]}`,
			want: sessionlog.Entry{At: "2025-01-02T03:04:05Z", HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"pin","actor":"ann","target":"bob"}`),
				Command:    core.Command{ID: "c1", Type: core.Pin, Actor: "ann", Target: "bob"},
				RawEvents:  json.RawMessage(`[{"seq":4,"type":"pinned","participant":"bob","by":"ann"}]`)},
			evs: []events.Event{pinned}},
		{name: "no events", in: `{"cmd":{"id":"c1","type":"set_audio","actor":"ann","enabled":true},"events":[]}`,
			want: sessionlog.Entry{HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"set_audio","actor":"ann","enabled":true}`),
				Command:    core.Command{ID: "c1", Type: core.SetAudio, Actor: "ann", Enabled: true},
				RawEvents:  json.RawMessage(`[]`)}},
		{name: "with error", in: `{"cmd":{"id":"c1","type":"kick","actor":"bob","target":"ann"},"error":{"code":1201,"name":"permission_denied","message":"no"}}`,
			want: sessionlog.Entry{HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"kick","actor":"bob","target":"ann"}`),
				Command:    core.Command{ID: "c1", Type: core.Kick, Actor: "bob", Target: "ann"},
				RawError:   json.RawMessage(`{"code":1201,"name":"permission_denied","message":"no"}`)},
			errCode: core.CodePermissionDenied},
		{name: "malformed command is a valid record", in: `{"cmd":{"id":"c1","type":"set_audio","actor":"ann","enabled":"yes"},"future":1}`,
			want: sessionlog.Entry{HasCommand: true, RawCommand: json.RawMessage(`{"id":"c1","type":"set_audio","actor":"ann","enabled":"yes"}`),
				Command: core.Command{ID: "c1", Type: core.SetAudio, Actor: "ann"}}},
		{name: "checkpoint", in: `{"state":{"session":"room-1","seq":4,"ended":false,"pinned":"bob","participants":[{"id":"bob","name":"Bob","preset":"attendee","audio_enabled":false,"video_enabled":false}]}}`,
			want: sessionlog.Entry{State: snap}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := sessionlog.DecodeEntry([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			cmdErr := r.CommandErr
			r.CommandErr = nil
			if d := cmp.Diff(c.want, r); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if c.name == "malformed command is a valid record" {
				if !errors.Is(cmdErr, core.ErrInvalidCommand) {
					t.Errorf("CommandErr = %v, want invalid_command", cmdErr)
				}
			} else if cmdErr != nil {
				t.Errorf("CommandErr = %v", cmdErr)
			}
			evs, rerr, err := r.Outcome()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.evs, evs, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Outcome events (-want +got):\n%s", d)
			}
			var code core.Code
			if rerr != nil {
				code = rerr.Code
			}
			if code != c.errCode {
				t.Errorf("Outcome error = %v, want code %d", rerr, c.errCode)
			}
		})
	}

	for _, bad := range []string{
		``, `[]`, `null`, `"cmd"`, `{}`, `{"at":"now"}`, `{"cmd":null,"state":null}`, `{"cmd":[]}`, `{"cmd":"leave"}`,
		`{"state":[]}`, `{"state":{"seq":"1"}}`, `{"at":5,"cmd":{}}`, `{"cmd":{}`,
	} {
		if r, err := sessionlog.DecodeEntry([]byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%s) = %+v, want an error", bad, r)
		}
	}

	// A broken recorded outcome is found by Outcome, not by DecodeRecord.
	r, err := sessionlog.DecodeEntry([]byte(`{"cmd":{"id":"c1","type":"leave","actor":"a"},"events":[{"seq":1,"type":"left"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Outcome(); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("Outcome = %v, want ErrUnknownType", err)
	}
}

// TestRecordCodec: AppendRecord writes a command record as the SPEC says
// (applied with its events, maybe none; rejected with its error), and
// DecodeRecord reads back the Record it was given.
func TestRecordCodec(t *testing.T) {
	pin := core.Command{ID: "c1", Type: core.Pin, Actor: "ann", Target: "bob"}
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		rec  sessionlog.Record
		want string
	}{
		{sessionlog.Record{At: at, Command: pin, Events: []events.Event{
			&events.Unpinned{Seq: 4, Participant: "cat", By: "ann"},
			&events.Pinned{Seq: 5, Participant: "bob", By: "ann"},
		}},
			`{"at":"2025-01-02T02:04:05.0000006Z","cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[` +
				`{"seq":4,"type":"unpinned","participant":"cat","by":"ann"},{"seq":5,"type":"pinned","participant":"bob","by":"ann"}]}`},
		{sessionlog.Record{Command: pin},
			`{"cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[]}`},
		{sessionlog.Record{Command: pin, Err: core.Errorf(core.CodeParticipantNotFound, "%q is not joined", "bob")},
			`{"cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"error":{"code":1202,"name":"participant_not_found","message":"\"bob\" is not joined"}}`},
	} {
		got := string(sessionlog.AppendRecord([]byte("x"), c.rec))
		if got != "x"+c.want {
			t.Errorf("AppendRecord:\n%s\nwant\n%s", got[1:], c.want)
		}
		back, err := sessionlog.DecodeRecord([]byte(c.want))
		if err != nil {
			t.Fatalf("DecodeRecord(%s): %v", c.want, err)
		}
		want := c.rec
		want.At = want.At.UTC()
		if diff := cmp.Diff(want, back, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b *core.Error) bool {
			return (a == nil) == (b == nil) && (a == nil || *a == *b)
		})); diff != "" {
			t.Errorf("DecodeRecord(%s) (-want +got):\n%s", c.want, diff)
		}
	}
	if got, want := string(sessionlog.AppendCheckpoint(nil, core.Snapshot{Session: "s", Seq: 2, Ended: true})),
		`{"state":{"session":"s","seq":2,"ended":true,"pinned":null,"participants":[]}}`; got != want {
		t.Errorf("AppendCheckpoint:\n%s\nwant\n%s", got, want)
	}
	// What a store cannot keep: a checkpoint, a malformed command, no
	// outcome, an outcome that does not decode.
	for _, bad := range []string{
		`{"state":{"session":"s","seq":0}}`,
		`{"cmd":{"id":"c1","type":"set_audio","actor":"ann"},"events":[]}`,
		`{"cmd":{"id":"c1","type":"leave","actor":"ann"}}`,
		`{"cmd":{"id":"c1","type":"leave","actor":"ann"},"events":[{"seq":1,"type":"left"}]}`,
		`{"at":"today","cmd":{"id":"c1","type":"leave","actor":"ann"},"events":[]}`,
	} {
		if r, err := sessionlog.DecodeRecord([]byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%s) = %+v, want an error", bad, r)
		}
	}
}

func TestHeaderCodec(t *testing.T) {
	h := sessionlog.Header{Session: "room-1", Presets: presets}
	b := sessionlog.AppendHeader(nil, h)
	if want := `{"format":"gavel-log/2","session":"room-1","presets":` + string(events.AppendPresets(nil, presets)) + `}`; string(b) != want {
		t.Errorf("AppendHeader =\n%s\nwant\n%s", b, want)
	}
	got, err := sessionlog.DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(h, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	// The SPEC's example, with an unknown field.
	spec := `{"format":"gavel-log/2","session":"room-1","presets":{"host":{"disable_participant_audio":true,` +
		`"disable_participant_video":true,"pin_participant":true,"kick_participant":true},"attendee":{}},"created":"today"}`
	got, err = sessionlog.DecodeHeader([]byte(spec))
	want := sessionlog.Header{Session: "room-1", Presets: core.Presets{"host": presets["host"], "attendee": {}}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("DecodeHeader of the SPEC's example = %+v, %v", got, err)
	}
	if got, err := sessionlog.DecodeHeader([]byte(`{"format":"gavel-log/2"}`)); err != nil || got.Presets == nil || len(got.Presets) != 0 {
		t.Errorf("header without presets = %+v, %v; want empty presets", got, err)
	}

	for _, bad := range []string{
		`{"format":"gavel-log/1","session":"room-1","presets":{}}`,
		`{"format":"GAVEL-LOG/2","session":"room-1"}`,
		`{"format":"","session":"room-1"}`,
		`{"session":"room-1","presets":{}}`,
		`{"format":null,"session":"room-1"}`,
		`{"format":1}`,
		`{"format":"gavel-log/2","presets":[]}`,
		`{"format":"gavel-log/2","presets":{"host":{"pin_participant":1}}}`,
		`{"format":"gavel-log/2","session":5}`,
		`{"Format":"gavel-log/2","session":"room-1"}`,
		`{"format":"gavel-log/2","session":"room-1","session":"room-2"}`,
		`{"format":"gavel-log/2","presets":{"host":{},"host":{"kick_participant":true}}}`,
		`{"format":"gavel-log/2","presets":{"host":{"kick_participant":false,"kick_participant":true}}}`,
		`{"cmd":{"id":"c1","type":"leave","actor":"a"}}`,
		`[]`, `null`, ``,
	} {
		if h, err := sessionlog.DecodeHeader([]byte(bad)); err == nil {
			t.Errorf("DecodeHeader(%s) = %+v, want an error", bad, h)
		}
	}
	// A log of another format is refused with its name.
	for _, format := range []string{"gavel-log/1", "gavel-log/3", ""} {
		_, err := sessionlog.DecodeHeader([]byte(fmt.Sprintf(`{"format":%q,"session":"s"}`, format)))
		if !errors.Is(err, sessionlog.ErrFormat) || !strings.Contains(err.Error(), fmt.Sprintf("%q", format)) {
			t.Errorf("format %q: %v, want ErrFormat naming it", format, err)
		}
	}
	// A permission named in another case is an unknown field: not granted.
	got, err = sessionlog.DecodeHeader([]byte(`{"format":"gavel-log/2","presets":{"host":{"Kick_Participant":true}}}`))
	if err != nil || got.Presets["host"] != (core.Permissions{}) {
		t.Errorf("a case-folded permission = %+v, %v; want it ignored", got.Presets, err)
	}
}

func TestStrictEntry(t *testing.T) {
	cmd := `{"id":"c1","type":"leave","actor":"ann"}`
	for _, in := range []string{
		`{"cmd":` + cmd + `,"cmd":` + cmd + `}`,
		`{"cmd":` + cmd + `,"events":[],"events":[]}`,
		`{"cmd":{"id":"c1","id":"c2","type":"leave","actor":"ann"}}`,
		`{"cmd":` + cmd + `,"events":[{"seq":1,"type":"participant_left","participant":"ann","participant":"bob"}]}`,
		`{"state":{"session":"s","seq":1,"seq":2}}`,
		`{"state":{"participants":[{"id":"a","id":"b"}]}}`,
		`{"cmd":` + cmd + `,"future":{"a":1,"a":2}}`,
		`{"at":"2025-01-01T00:00:00Z","at":"2025-01-01T00:00:01Z","cmd":` + cmd + `}`,
	} {
		if r, err := sessionlog.DecodeEntry([]byte(in)); !errors.Is(err, events.ErrRepeatedMember) {
			t.Errorf("DecodeRecord(%s) = %+v, %v; want ErrRepeatedMember", in, r, err)
		}
	}
	// "CMD" and "State" are unknown fields: a record with neither.
	for _, in := range []string{`{"CMD":` + cmd + `}`, `{"State":{}}`, `{"Cmd":` + cmd + `,"STATE":{}}`} {
		if r, err := sessionlog.DecodeEntry([]byte(in)); err == nil {
			t.Errorf("DecodeRecord(%s) = %+v, want an error", in, r)
		}
	}
	r, err := sessionlog.DecodeEntry([]byte(`{"cmd":` + cmd + `,"Events":[{"seq":1}],"events":[],"ERROR":{"code":1201}}`))
	if err != nil || !r.Recorded || r.RawError != nil || string(r.RawEvents) != "[]" {
		t.Errorf("case-folded outcome fields: %+v, %v", r, err)
	}
}
