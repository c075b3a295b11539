package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// The SPEC's JSON rules hold in every decoder: member names match exactly
// ("Type" is an unknown field, not "type"), and an object that names a
// member twice, at any depth, known field or not, is malformed. Input that
// encoding/json would read the same way otherwise (whitespace, escapes,
// member order, unknown fields) still decodes.

func TestStrictCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want core.Command
	}{
		// encoding/json-compatible input: order, space, escapes in names
		// and values, unknown fields.
		{` { "actor" : "ann" , "type":"kick","target":"bob", "id":"c1" } `,
			core.Command{ID: "c1", Type: core.Kick, Actor: "ann", Target: "bob"}},
		{`{"\u0069d":"c1","type":"k\u0069ck","actor":"ann","target":"b\u00f6b","x":{"y":[1,{"z":null}]}}`,
			core.Command{ID: "c1", Type: core.Kick, Actor: "ann", Target: "böb"}},
		// Names in another case are unknown fields.
		{`{"id":"c1","Type":"kick_all","type":"leave","actor":"ann"}`, core.Command{ID: "c1", Type: core.Leave, Actor: "ann"}},
		{`{"ID":"c1","type":"leave","ACTOR":"ann"}`, core.Command{Type: core.Leave}},
		{`{"id":"c1","type":"join","actor":"ann","Preset":"host","preset":"attendee","AUDIO":true}`,
			core.Command{ID: "c1", Type: core.Join, Actor: "ann", Preset: "attendee"}},
	} {
		got, err := events.DecodeCommand([]byte(c.in))
		if err != nil {
			t.Errorf("DecodeCommand(%s): %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("DecodeCommand(%s) (-want +got):\n%s", c.in, d)
		}
	}
	for _, in := range []string{
		`{"id":"c1","type":"kick","type":"kick_all","actor":"ann","target":"bob"}`,
		`{"id":"c1","type":"kick_all","type":"kick_all","actor":"ann"}`,
		`{"id":"c1","type":"leave","actor":"ann","future":1,"future":2}`,
		`{"id":"c1","type":"leave","actor":"ann","x":{"a":[{"b":1,"b":1}]}}`,
		`{"id":"c1","type":"leave","actor":"ann","\u0074ype":"leave"}`,
		`{"id":"c1","type":"leave","actor":"ann","Actor":"bob","Actor":"cat"}`,
	} {
		got, err := events.DecodeCommand([]byte(in))
		if !errors.Is(err, core.ErrInvalidCommand) || !strings.Contains(err.Error(), "twice") {
			t.Errorf("DecodeCommand(%s) = %+v, %v; want invalid_command for a member named twice", in, got, err)
		}
	}
}

// TestCommandStrings: strings a command's type reads must be valid UTF-8
// and within their limits; an id that is not valid UTF-8 is not echoed.
func TestCommandStrings(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n/2) + strings.Repeat("x", n%2) }
	ok := []string{
		`{"id":"` + long(256) + `","type":"kick","actor":"` + long(256) + `","target":"` + long(256) + `"}`,
		`{"id":"c1","type":"join","actor":"ann","preset":"` + long(256) + `","name":"` + long(1024) + `"}`,
		`{"id":"c1","type":"leave","actor":"ann","name":"` + long(5000) + "\",\"target\":\"\xff\"}", // not read by leave
		`{"id":"c1","type":"leave","actor":"\ud83c\udf89 \ufffd"}`,
	}
	for _, in := range ok {
		if c, err := events.DecodeCommand([]byte(in)); err != nil {
			t.Errorf("DecodeCommand(%.60s…): %v", in, err)
		} else if err := c.CheckStrings(); err != nil {
			t.Errorf("CheckStrings of %.60s…: %v", in, err)
		}
	}
	for _, c := range []struct {
		in, wantID string
	}{
		{`{"id":"` + long(257) + `","type":"leave","actor":"ann"}`, long(257)},
		{`{"id":"c1","type":"leave","actor":"` + long(257) + `"}`, "c1"},
		{`{"id":"c1","type":"pin","actor":"ann","target":"` + long(257) + `"}`, "c1"},
		{`{"id":"c1","type":"join","actor":"ann","preset":"` + long(257) + `"}`, "c1"},
		{`{"id":"c1","type":"join","actor":"ann","name":"` + long(1025) + `"}`, "c1"},
		{"{\"id\":\"c1\",\"type\":\"join\",\"actor\":\"ann\",\"name\":\"a\xffb\"}", "c1"},
		{`{"id":"c1","type":"leave","actor":"\ud800"}`, "c1"},
		{`{"id":"c1","type":"kick","actor":"ann","target":"\udc00\ud800"}`, "c1"},
		// The id itself: not echoed with U+FFFD as if it were valid.
		{"{\"id\":\"c\xff1\",\"type\":\"leave\",\"actor\":\"ann\"}", ""},
		{`{"id":"c\ud83c","type":"leave","actor":"ann"}`, ""},
	} {
		got, err := events.DecodeCommand([]byte(c.in))
		if !errors.Is(err, core.ErrInvalidCommand) {
			t.Errorf("DecodeCommand(%.60q…) = %v, want invalid_command", c.in, err)
			continue
		}
		if got.ID != c.wantID {
			t.Errorf("DecodeCommand(%.60q…): id %q, want %q", c.in, got.ID, c.wantID)
		}
	}
}

func TestStrictEvent(t *testing.T) {
	if e, err := events.DecodeEvent([]byte(`{"Seq":9,"seq":1,"type":"pinned","Participant":"x","participant":"ann","BY":"x","by":"bob"}`)); err != nil ||
		!cmp.Equal(e, events.Event(&events.Pinned{Seq: 1, Participant: "ann", By: "bob"})) {
		t.Errorf("case-folded names: %+v, %v", e, err)
	}
	for _, in := range []string{
		`{"seq":1,"type":"pinned","type":"unpinned","participant":"ann","by":"bob"}`,
		`{"seq":1,"seq":2,"type":"pinned","participant":"ann","by":"bob"}`,
		`{"seq":1,"type":"all_audio_disabled","count":2,"count":3,"by":"bob"}`,
		`{"seq":1,"type":"pinned","participant":"ann","by":"bob","x":{"y":1,"y":1}}`,
	} {
		if e, err := events.DecodeEvent([]byte(in)); !errors.Is(err, events.ErrRepeatedMember) {
			t.Errorf("DecodeEvent(%s) = %+v, %v; want ErrRepeatedMember", in, e, err)
		}
	}
	if _, err := events.DecodeEvents([]byte(`[{"seq":1,"type":"pinned"},{"seq":2,"type":"pinned","by":"a","by":"b"}]`)); !errors.Is(err, events.ErrRepeatedMember) {
		t.Errorf("DecodeEvents with a repeated member: %v", err)
	}
}

func TestStrictState(t *testing.T) {
	snap, err := events.DecodeSnapshot([]byte(`{"session":"s","Seq":5,"participants":[{"id":"a","ID":"b","Audio_Enabled":true}]}`))
	want := core.Snapshot{Session: "s", Participants: []core.Participant{{ID: "a"}}}
	if err != nil || !cmp.Equal(want, snap) {
		t.Errorf("case-folded state fields: %+v, %v", snap, err)
	}
	for _, in := range []string{`{"a":{},"a":{}}`, `{"a":{"pin_participant":true,"pin_participant":false}}`} {
		if ps, err := events.DecodePresets([]byte(in)); !errors.Is(err, events.ErrRepeatedMember) {
			t.Errorf("DecodePresets(%s) = %v, %v; want ErrRepeatedMember", in, ps, err)
		}
	}
	if e, err := events.DecodeError([]byte(`{"code":1201,"code":1202}`)); !errors.Is(err, events.ErrRepeatedMember) {
		t.Errorf("DecodeError with a repeated code = %v, %v", e, err)
	}
}
