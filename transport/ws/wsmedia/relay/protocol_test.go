package relay

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
)

var allow = cmp.AllowUnexported(connectRequest{}, answer{})

func TestConnectRoundTrip(t *testing.T) {
	for _, r := range []connectRequest{
		{session: "room-1", participant: "alice", via: "node-a", id: "x1"},
		{session: "a \"room\"\n", participant: "é", via: "A_b-9", id: "Z"},
	} {
		got, err := decodeConnect(appendConnect(nil, r))
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if d := cmp.Diff(r, got, allow); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestDecodeConnectRejects(t *testing.T) {
	for _, bad := range []string{
		``, `{}`, `[]`,
		`{"session":"s","participant":"p","via":"n"}`,
		`{"session":"","participant":"p","via":"n","id":"i"}`,
		`{"session":"s","participant":"p","via":"n.x","id":"i"}`,
		`{"session":"s","participant":"p","via":"n","id":"i>"}`,
		`{"session":"s","participant":7,"via":"n","id":"i"}`,
		`{"session":"s","session":"t","participant":"p","via":"n","id":"i"}`,
	} {
		if _, err := decodeConnect([]byte(bad)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("decodeConnect(%s) = %v, want ErrBadMessage", bad, err)
		}
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	for _, a := range []answer{
		{},
		{peer: "abc"},
		{err: core.Errorf(core.CodeNotJoined, "join first")},
		{failure: failNotHome, message: "the home of \"room-1\" is node-c"},
		{failure: failUnavailable},
		{failure: "unknown_to_this_version", message: "m"},
	} {
		got, err := decodeAnswer(appendAnswer(nil, a))
		if err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		if d := cmp.Diff(a, got, allow); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
	for _, bad := range []string{``, `{"peer":"a.b"}`, `{"peer":3}`, `{"failure":""}`, `{"failure":"x","message":1}`,
		`{"error":{"name":"x"}}`} {
		if _, err := decodeAnswer([]byte(bad)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("decodeAnswer(%s) = %v, want ErrBadMessage", bad, err)
		}
	}
}

func TestSeq(t *testing.T) {
	for s, want := range map[string]uint64{"1": 1, "18446744073709551615": 1<<64 - 1} {
		if n, ok := parseSeq(s); !ok || n != want || formatSeq(n) != s {
			t.Errorf("parseSeq(%q) = %d, %v", s, n, ok)
		}
	}
	for _, bad := range []string{"", "0", "01", "+1", "-1", "1 ", "18446744073709551616"} {
		if _, ok := parseSeq(bad); ok {
			t.Errorf("parseSeq(%q) ok", bad)
		}
	}
}

// FuzzDecodeConnect: no input panics, and a request that decodes encodes
// back to one that decodes the same.
func FuzzDecodeConnect(f *testing.F) {
	f.Add(appendConnect(nil, connectRequest{session: "room-1", participant: "alice", via: "node-a", id: "x"}))
	f.Add([]byte(`{"session":"s\u0000","participant":"p","via":"n","id":"i","x":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeConnect(b)
		if err != nil {
			return
		}
		again, err := decodeConnect(appendConnect(nil, r))
		if err != nil {
			t.Fatalf("%s re-decodes with %v", b, err)
		}
		if d := cmp.Diff(r, again, allow); d != "" {
			t.Fatalf("%s re-decodes differently:\n%s", b, d)
		}
	})
}

// FuzzDecodeAnswer: as FuzzDecodeConnect, for answers.
func FuzzDecodeAnswer(f *testing.F) {
	for _, a := range []answer{{}, {peer: "p"}, {err: core.Errorf(core.CodeSessionEnded, "over")}, {failure: failNotHome, message: "m"}} {
		f.Add(appendAnswer(nil, a))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnswer(b)
		if err != nil {
			return
		}
		again, err := decodeAnswer(appendAnswer(nil, a))
		if err != nil {
			t.Fatalf("%s re-decodes with %v", b, err)
		}
		if d := cmp.Diff(a, again, allow); d != "" {
			t.Fatalf("%s re-decodes differently:\n%s", b, d)
		}
	})
}
