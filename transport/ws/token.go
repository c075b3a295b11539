package ws

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelrtc/gavel/core"
)

// Token is what a connection token grants: one participant, with one preset,
// in one session, until Expires. The embedding service mints tokens with
// MintToken and hands them to its clients; the Server verifies them with the
// same key.
type Token struct {
	Session     string
	Participant string
	Preset      string
	Expires     time.Time // to the second
}

// Errors of VerifyToken, matched with errors.Is.
var (
	// ErrTokenInvalid: the token is malformed, signed with another key, or
	// altered.
	ErrTokenInvalid = errors.New("ws: invalid token")
	// ErrTokenExpired: the token is genuine but its expiry has passed.
	ErrTokenExpired = errors.New("ws: token expired")
)

// MinKeySize is the smallest key MintToken, VerifyToken and NewServer accept:
// HMAC-SHA256's block of security.
const MinKeySize = 32

// tokenPrefix versions the format and separates gavel's MACs from any other
// use of the key.
const tokenPrefix = "gavel1."

// tokenClaims is the token's payload; its field names are the token's own.
type tokenClaims struct {
	Session     string `json:"sid"`
	Participant string `json:"pid"`
	Preset      string `json:"preset"`
	Expires     int64  `json:"exp"` // unix seconds
}

// MintToken returns a token for t, signed with key:
//
//	"gavel1." + base64url(payload JSON) + "." + base64url(HMAC-SHA256(key, "gavel1." + base64url(payload JSON)))
//
// (base64url without padding). Session, Participant and Preset must be
// non-empty, valid UTF-8 and at most core.MaxIDLen (256) bytes, the limits
// of the ids in a command (SPEC check 1), so that no token is minted for a
// participant whose every command would be invalid; Expires must be set.
func MintToken(key []byte, t Token) (string, error) {
	switch {
	case len(key) < MinKeySize:
		return "", fmt.Errorf("ws: token key of %d bytes, want at least %d", len(key), MinKeySize)
	case t.Expires.IsZero():
		return "", errors.New("ws: token needs an expiry")
	}
	if err := t.checkClaims(); err != nil {
		return "", fmt.Errorf("ws: token: %w", err)
	}
	payload, err := json.Marshal(tokenClaims{Session: t.Session, Participant: t.Participant, Preset: t.Preset, Expires: t.Expires.Unix()})
	if err != nil {
		return "", fmt.Errorf("ws: token: %w", err)
	}
	signed := tokenPrefix + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(tokenMAC(key, signed)), nil
}

func tokenMAC(key []byte, signed string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signed))
	return h.Sum(nil)
}

// VerifyToken checks token's signature with key (in constant time) and its
// expiry against now, and returns what it grants. A token is valid in
// exactly one spelling, the one MintToken gives: the base64 is decoded
// strictly (no padding, no spare bits set, no line break or other byte
// inserted), and the payload is strict JSON (names matched exactly, each
// once; "exp" an integer).
func VerifyToken(key []byte, token string, now time.Time) (Token, error) {
	if len(key) < MinKeySize {
		return Token{}, fmt.Errorf("%w: key too short", ErrTokenInvalid)
	}
	cut := strings.LastIndexByte(token, '.')
	if !strings.HasPrefix(token, tokenPrefix) || cut <= len(tokenPrefix) {
		return Token{}, fmt.Errorf("%w: malformed", ErrTokenInvalid)
	}
	signed, sig := token[:cut], token[cut+1:]
	mac, err := decode64(sig)
	if err != nil || !hmac.Equal(mac, tokenMAC(key, signed)) {
		return Token{}, fmt.Errorf("%w: bad signature", ErrTokenInvalid)
	}
	// The signature holds: the payload is what the service minted.
	payload, err := decode64(signed[len(tokenPrefix):])
	if err != nil {
		return Token{}, fmt.Errorf("%w: payload: %v", ErrTokenInvalid, err)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return Token{}, fmt.Errorf("%w: payload: %v", ErrTokenInvalid, err)
	}
	t := Token{Session: c.Session, Participant: c.Participant, Preset: c.Preset, Expires: time.Unix(c.Expires, 0)}
	if err := t.checkClaims(); err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if !now.Before(t.Expires) {
		return Token{}, fmt.Errorf("%w at %s", ErrTokenExpired, t.Expires.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// checkClaims checks the token's ids against the limits of a command's
// (SPEC check 1): present, valid UTF-8, at most core.MaxIDLen bytes.
func (t Token) checkClaims() error {
	for _, c := range [...]struct{ name, value string }{
		{"session", t.Session}, {"participant", t.Participant}, {"preset", t.Preset},
	} {
		switch {
		case c.value == "":
			return fmt.Errorf("no %s", c.name)
		case !utf8.ValidString(c.value):
			return fmt.Errorf("%s %.40q is not valid UTF-8", c.name, c.value)
		case len(c.value) > core.MaxIDLen:
			return fmt.Errorf("%s of %d bytes, more than %d", c.name, len(c.value), core.MaxIDLen)
		}
	}
	return nil
}

// decode64 decodes base64url without padding in its canonical spelling
// only. The decoder alone skips line breaks even in strict mode: a string
// that does not encode back to itself is refused.
func decode64(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err == nil && base64.RawURLEncoding.EncodedLen(len(b)) != len(s) {
		err = errors.New("not canonical base64url")
	}
	return b, err
}

// decodeClaims decodes a token's payload as strict JSON: valid UTF-8, one
// object, names matched exactly and each at most once (unknown ones are
// skipped), the claims of their JSON types: strings, and "exp" an integer.
func decodeClaims(b []byte) (tokenClaims, error) {
	var c tokenClaims
	if !utf8.Valid(b) {
		return c, errors.New("not UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return c, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return c, err
		}
		name := t.(string) // an object's member names are strings
		if seen[name] {
			return c, fmt.Errorf("%q twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return c, err
		}
		var dst any
		switch name {
		case "sid":
			dst = &c.Session
		case "pid":
			dst = &c.Participant
		case "preset":
			dst = &c.Preset
		case "exp":
			dst = &c.Expires
		default:
			continue
		}
		if string(raw) == "null" {
			return c, fmt.Errorf("%q: null", name)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return c, fmt.Errorf("%q: %v", name, err)
		}
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return c, err
	}
	if _, err := d.Token(); err != io.EOF {
		return c, errors.New("data after the object")
	}
	return c, nil
}
