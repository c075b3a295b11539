package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

func TestDecodeRecord(t *testing.T) {
	pinned := &events.Pinned{Seq: 4, Participant: "bob", By: "ann"}
	snap := &core.Snapshot{Session: "room-1", Seq: 4, Pinned: "bob", Participants: []core.Participant{
		{ID: "bob", Name: "Bob", Preset: "attendee"}}}
	for _, c := range []struct {
		name    string
		in      string
		want    events.Record
		evs     []events.Event
		errCode core.Code
	}{
		{name: "command only", in: `{"cmd":{"id":"c1","type":"leave","actor":"ann"}}`,
			want: events.Record{HasCommand: true, RawCommand: json.RawMessage(`{"id":"c1","type":"leave","actor":"ann"}`),
				Command: core.Command{ID: "c1", Type: core.Leave, Actor: "ann"}}},
		{name: "with events and time", in: `{"at":"2025-01-02T03:04:05Z","cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[{"seq":4,"type":"pinned","participant":"bob","by":"ann"}]}`,
			want: events.Record{At: "2025-01-02T03:04:05Z", HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"pin","actor":"ann","target":"bob"}`),
				Command:    core.Command{ID: "c1", Type: core.Pin, Actor: "ann", Target: "bob"},
				RawEvents:  json.RawMessage(`[{"seq":4,"type":"pinned","participant":"bob","by":"ann"}]`)},
			evs: []events.Event{pinned}},
		{name: "no events", in: `{"cmd":{"id":"c1","type":"set_audio","actor":"ann","enabled":true},"events":[]}`,
			want: events.Record{HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"set_audio","actor":"ann","enabled":true}`),
				Command:    core.Command{ID: "c1", Type: core.SetAudio, Actor: "ann", Enabled: true},
				RawEvents:  json.RawMessage(`[]`)}},
		{name: "with error", in: `{"cmd":{"id":"c1","type":"kick","actor":"bob","target":"ann"},"error":{"code":1201,"name":"permission_denied","message":"no"}}`,
			want: events.Record{HasCommand: true, Recorded: true,
				RawCommand: json.RawMessage(`{"id":"c1","type":"kick","actor":"bob","target":"ann"}`),
				Command:    core.Command{ID: "c1", Type: core.Kick, Actor: "bob", Target: "ann"},
				RawError:   json.RawMessage(`{"code":1201,"name":"permission_denied","message":"no"}`)},
			errCode: core.CodePermissionDenied},
		{name: "malformed command is a valid record", in: `{"cmd":{"id":"c1","type":"set_audio","actor":"ann","enabled":"yes"},"future":1}`,
			want: events.Record{HasCommand: true, RawCommand: json.RawMessage(`{"id":"c1","type":"set_audio","actor":"ann","enabled":"yes"}`),
				Command: core.Command{ID: "c1", Type: core.SetAudio, Actor: "ann"}}},
		{name: "checkpoint", in: `{"state":{"session":"room-1","seq":4,"ended":false,"pinned":"bob","participants":[{"id":"bob","name":"Bob","preset":"attendee","audio_enabled":false,"video_enabled":false}]}}`,
			want: events.Record{State: snap}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := events.DecodeRecord([]byte(c.in))
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
		if r, err := events.DecodeRecord([]byte(bad)); err == nil {
			t.Errorf("DecodeRecord(%s) = %+v, want an error", bad, r)
		}
	}

	// A broken recorded outcome is found by Outcome, not by DecodeRecord.
	r, err := events.DecodeRecord([]byte(`{"cmd":{"id":"c1","type":"leave","actor":"a"},"events":[{"seq":1,"type":"left"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Outcome(); !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("Outcome = %v, want ErrUnknownType", err)
	}
}

func TestAppendRecords(t *testing.T) {
	raw := []byte(`{"id":"c1","type":"pin","actor":"ann","target":"bob"}`)
	evs := []events.Event{
		&events.Unpinned{Seq: 4, Participant: "cat", By: "ann"},
		&events.Pinned{Seq: 5, Participant: "bob", By: "ann"},
	}
	for _, c := range []struct {
		got, want string
	}{
		{string(events.AppendCommandRecord(nil, "2025-01-02T03:04:05Z", raw, evs, nil)),
			`{"at":"2025-01-02T03:04:05Z","cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[` +
				`{"seq":4,"type":"unpinned","participant":"cat","by":"ann"},{"seq":5,"type":"pinned","participant":"bob","by":"ann"}]}`},
		{string(events.AppendCommandRecord(nil, "", raw, nil, nil)),
			`{"cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"events":[]}`},
		{string(events.AppendCommandRecord(nil, "", raw, nil, core.Errorf(core.CodeParticipantNotFound, "%q is not joined", "bob"))),
			`{"cmd":{"id":"c1","type":"pin","actor":"ann","target":"bob"},"error":{"code":1202,"name":"participant_not_found","message":"\"bob\" is not joined"}}`},
		{string(events.AppendCheckpoint(nil, core.Snapshot{Session: "s", Seq: 2, Ended: true})),
			`{"state":{"session":"s","seq":2,"ended":true,"pinned":null,"participants":[]}}`},
	} {
		if c.got != c.want {
			t.Errorf("got\n%s\nwant\n%s", c.got, c.want)
		}
		if _, err := events.DecodeRecord([]byte(c.got)); err != nil {
			t.Errorf("DecodeRecord(%s): %v", c.got, err)
		}
	}
}
