package ws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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
// non-empty and Expires set.
func MintToken(key []byte, t Token) (string, error) {
	switch {
	case len(key) < MinKeySize:
		return "", fmt.Errorf("ws: token key of %d bytes, want at least %d", len(key), MinKeySize)
	case t.Session == "" || t.Participant == "" || t.Preset == "":
		return "", errors.New("ws: token needs a session, a participant and a preset")
	case t.Expires.IsZero():
		return "", errors.New("ws: token needs an expiry")
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
// expiry against now, and returns what it grants.
func VerifyToken(key []byte, token string, now time.Time) (Token, error) {
	if len(key) < MinKeySize {
		return Token{}, fmt.Errorf("%w: key too short", ErrTokenInvalid)
	}
	cut := strings.LastIndexByte(token, '.')
	if !strings.HasPrefix(token, tokenPrefix) || cut <= len(tokenPrefix) {
		return Token{}, fmt.Errorf("%w: malformed", ErrTokenInvalid)
	}
	signed, sig := token[:cut], token[cut+1:]
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, tokenMAC(key, signed)) {
		return Token{}, fmt.Errorf("%w: bad signature", ErrTokenInvalid)
	}
	// The signature holds: the payload is what the service minted.
	payload, err := base64.RawURLEncoding.DecodeString(signed[len(tokenPrefix):])
	if err != nil {
		return Token{}, fmt.Errorf("%w: payload: %v", ErrTokenInvalid, err)
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Token{}, fmt.Errorf("%w: payload: %v", ErrTokenInvalid, err)
	}
	if c.Session == "" || c.Participant == "" || c.Preset == "" {
		return Token{}, fmt.Errorf("%w: missing claims", ErrTokenInvalid)
	}
	t := Token{Session: c.Session, Participant: c.Participant, Preset: c.Preset, Expires: time.Unix(c.Expires, 0)}
	if !now.Before(t.Expires) {
		return Token{}, fmt.Errorf("%w at %s", ErrTokenExpired, t.Expires.UTC().Format(time.RFC3339))
	}
	return t, nil
}
