package nats

import (
	"errors"
	"strings"
	"testing"
)

func TestSessionToken(t *testing.T) {
	for id, want := range map[string]string{
		"room-1":    "room-1",
		"Room_2":    "Room_2",
		"a.b":       "a%2Eb",
		"*":         "%2A",
		">":         "%3E",
		"a b":       "a%20b",
		"%41":       "%2541",
		"ü":         "%C3%BC",
		"x/y":       "x%2Fy",
		"$SYS":      "%24SYS",
		"tab\there": "tab%09here",
	} {
		got, err := SessionToken(id)
		if err != nil || got != want {
			t.Errorf("SessionToken(%q) = %q, %v; want %q", id, got, err, want)
		}
		back, err := SessionFromToken(got)
		if err != nil || back != id {
			t.Errorf("SessionFromToken(%q) = %q, %v; want %q", got, back, err, id)
		}
	}
	for _, id := range []string{"", strings.Repeat("a", MaxSessionToken+1), strings.Repeat(".", MaxSessionToken/3+1)} {
		if _, err := SessionToken(id); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("SessionToken(%.20q…) err = %v, want ErrInvalidSession", id, err)
		}
	}
	for _, tok := range []string{"", "a.b", "a%2eb", "%41", "%4", "a%", "%ZZ", "a b", "*", ">", strings.Repeat("a", MaxSessionToken+1)} {
		if _, err := SessionFromToken(tok); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("SessionFromToken(%.20q) err = %v, want ErrInvalidSession", tok, err)
		}
	}
}

// FuzzSessionToken: every id that escapes gives one valid subject token that
// decodes back to it, and every token that decodes is the escape of what it
// decodes to (one session, one subject).
func FuzzSessionToken(f *testing.F) {
	for _, s := range []string{"room-1", "a.b", "%41", "ü", "", "a%2Eb", "%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tok, err := SessionToken(s); err == nil {
			if tok == "" || len(tok) > MaxSessionToken || strings.ContainsAny(tok, ".*> \t\r\n") {
				t.Fatalf("SessionToken(%q) = %q: not one subject token", s, tok)
			}
			if back, err := SessionFromToken(tok); err != nil || back != s {
				t.Fatalf("SessionFromToken(SessionToken(%q)) = %q, %v", s, back, err)
			}
		}
		if id, err := SessionFromToken(s); err == nil {
			if tok, err := SessionToken(id); err != nil || tok != s {
				t.Fatalf("SessionToken(SessionFromToken(%q)) = %q, %v", s, tok, err)
			}
		}
	})
}
