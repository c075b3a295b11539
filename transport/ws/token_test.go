package ws_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
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
		// The limits of a command's ids (SPEC check 1): a token for them
		// would grant a participant whose every command is invalid.
		"session not UTF-8":     {testKey, ws.Token{Session: "s\xff", Participant: "p", Preset: "host", Expires: exp}},
		"participant not UTF-8": {testKey, ws.Token{Session: "s", Participant: "p\xc3", Preset: "host", Expires: exp}},
		"preset not UTF-8":      {testKey, ws.Token{Session: "s", Participant: "p", Preset: "\xed\xa0\x80", Expires: exp}},
		"session too long":      {testKey, ws.Token{Session: strings.Repeat("s", 257), Participant: "p", Preset: "host", Expires: exp}},
		"participant too long":  {testKey, ws.Token{Session: "s", Participant: strings.Repeat("ü", 129), Preset: "host", Expires: exp}},
		"preset too long":       {testKey, ws.Token{Session: "s", Participant: "p", Preset: strings.Repeat("h", 257), Expires: exp}},
	} {
		if _, err := ws.MintToken(c.key, c.tok); err == nil {
			t.Errorf("%s: MintToken succeeded", name)
		}
	}
	// At the limit, a token is minted and verifies.
	long := ws.Token{Session: strings.Repeat("s", 256), Participant: strings.Repeat("ü", 128), Preset: strings.Repeat("h", 256),
		Expires: exp.Truncate(time.Second)}
	tok, err := ws.MintToken(testKey, long)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ws.VerifyToken(testKey, tok, time.Now()); err != nil || got != long {
		t.Errorf("a token at the limits: %+v, %v", got, err)
	}
}

// A token is valid in exactly one spelling: every string that differs from
// a genuine token by one byte changed, inserted or removed is refused
// (among them the signature's last character with its spare bits changed,
// padding, and a line break, "%0A" in a URL, which a lenient base64
// decoder skips).
func TestTokenOneSpelling(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := ws.MintToken(testKey, ws.Token{Session: "room-1", Participant: "alice", Preset: "host", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.VerifyToken(testKey, tok, now); err != nil {
		t.Fatal(err)
	}
	refused := func(variant string, what string) {
		t.Helper()
		if _, err := ws.VerifyToken(testKey, variant, now); !errors.Is(err, ws.ErrTokenInvalid) {
			t.Fatalf("%s: %q verifies (%v)", what, variant, err)
		}
	}
	for i := range len(tok) + 1 {
		for b := range 256 {
			refused(tok[:i]+string([]byte{byte(b)})+tok[i:], fmt.Sprintf("byte %#x inserted at %d", b, i))
			if i < len(tok) && byte(b) != tok[i] {
				refused(tok[:i]+string([]byte{byte(b)})+tok[i+1:], fmt.Sprintf("byte %d changed to %#x", i, b))
			}
		}
		if i < len(tok) {
			refused(tok[:i]+tok[i+1:], fmt.Sprintf("byte %d removed", i))
		}
	}
	refused(tok+"=", "padded")
	refused(tok+"==", "padded twice")
}

// signPayload signs an arbitrary payload as MintToken signs its own, to
// check what VerifyToken accepts from a service that mints in another
// language (docs/ws-protocol.md gives the format).
func signPayload(payload string) string {
	signed := "gavel1." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	h := hmac.New(sha256.New, testKey)
	h.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// The payload is strict JSON: a genuine signature over a payload that is
// not exactly the documented claims is refused.
func TestTokenStrictPayload(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := `{"sid":"room-1","pid":"alice","preset":"host","exp":1800003600}`
	want := ws.Token{Session: "room-1", Participant: "alice", Preset: "host", Expires: time.Unix(1800003600, 0)}
	for _, p := range []string{good, `{"exp":1800003600,"preset":"host","pid":"alice","sid":"room-1","later":{"x":[1]}}`} {
		got, err := ws.VerifyToken(testKey, signPayload(p), now)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", p, got, err)
		}
	}
	for name, p := range map[string]string{
		"exp a string":          `{"sid":"room-1","pid":"alice","preset":"host","exp":"1800003600"}`,
		"exp a fraction":        `{"sid":"room-1","pid":"alice","preset":"host","exp":1800003600.5}`,
		"exp null":              `{"sid":"room-1","pid":"alice","preset":"host","exp":null}`,
		"name in other case":    `{"SID":"room-1","pid":"alice","preset":"host","exp":1800003600}`,
		"name twice":            `{"sid":"room-1","pid":"alice","pid":"bob","preset":"host","exp":1800003600}`,
		"a number for a string": `{"sid":"room-1","pid":7,"preset":"host","exp":1800003600}`,
		"invalid UTF-8":         "{\"sid\":\"room-1\",\"pid\":\"al\xffce\",\"preset\":\"host\",\"exp\":1800003600}",
		"data after":            good + `{}`,
		"not an object":         `["room-1","alice","host",1800003600]`,
		"missing preset":        `{"sid":"room-1","pid":"alice","exp":1800003600}`,
		"participant too long":  `{"sid":"room-1","pid":"` + strings.Repeat("a", 257) + `","preset":"host","exp":1800003600}`,
		"session too long":      `{"sid":"` + strings.Repeat("r", 300) + `","pid":"alice","preset":"host","exp":1800003600}`,
	} {
		if _, err := ws.VerifyToken(testKey, signPayload(p), now); !errors.Is(err, ws.ErrTokenInvalid) {
			t.Errorf("%s: VerifyToken = %v, want ErrTokenInvalid", name, err)
		}
	}
}
