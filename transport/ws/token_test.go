package ws_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/transport/ws"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestTokenRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	want := ws.Token{Session: "room-1", Participant: "alice", Preset: "host", Expires: now.Add(time.Hour)}
	tok, err := ws.MintToken(testKey, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ws.VerifyToken(testKey, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("VerifyToken (-minted +verified):\n%s", d)
	}
}

func TestTokenRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := ws.MintToken(testKey, ws.Token{Session: "room-1", Participant: "alice", Preset: "attendee", Expires: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// The same claims with a higher preset, signed by someone without the key.
	forged, _ := ws.MintToken([]byte(strings.Repeat("x", 32)), ws.Token{Session: "room-1", Participant: "alice", Preset: "host", Expires: now.Add(time.Minute)})
	payloadOfForged := forged[:strings.LastIndexByte(forged, '.')]
	sigOfGenuine := tok[strings.LastIndexByte(tok, '.'):]
	for name, c := range map[string]struct {
		token string
		now   time.Time
		want  error
	}{
		"expired":                {tok, now.Add(time.Minute), ws.ErrTokenExpired},
		"other key":              {forged, now, ws.ErrTokenInvalid},
		"payload swapped":        {payloadOfForged + sigOfGenuine, now, ws.ErrTokenInvalid},
		"signature cut":          {tok[:len(tok)-2], now, ws.ErrTokenInvalid},
		"empty":                  {"", now, ws.ErrTokenInvalid},
		"no signature":           {"gavel1.", now, ws.ErrTokenInvalid},
		"other format":           {"v2.abc.def", now, ws.ErrTokenInvalid},
		"signature not base64":   {payloadOfForged + ".!!!", now, ws.ErrTokenInvalid},
		"genuine, one byte more": {tok + "A", now, ws.ErrTokenInvalid},
	} {
		if _, err := ws.VerifyToken(testKey, c.token, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: VerifyToken = %v, want %v", name, err, c.want)
		}
	}
}

func TestMintTokenChecks(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	for name, c := range map[string]struct {
		key []byte
		tok ws.Token
	}{
		"short key":      {testKey[:31], ws.Token{Session: "s", Participant: "p", Preset: "host", Expires: exp}},
		"no session":     {testKey, ws.Token{Participant: "p", Preset: "host", Expires: exp}},
		"no participant": {testKey, ws.Token{Session: "s", Preset: "host", Expires: exp}},
		"no preset":      {testKey, ws.Token{Session: "s", Participant: "p", Expires: exp}},
		"no expiry":      {testKey, ws.Token{Session: "s", Participant: "p", Preset: "host"}},
	} {
		if _, err := ws.MintToken(c.key, c.tok); err == nil {
			t.Errorf("%s: MintToken succeeded", name)
		}
	}
}
