package nats

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSession is matched by the error for a session id that cannot name
// a session on NATS (empty, or longer than MaxSessionToken once escaped), and
// for a subject token that is not the canonical escape of a session id.
var ErrInvalidSession = errors.New("gavel/nats: invalid session id")

// MaxSessionToken is the longest subject token a session id may escape to, in
// bytes. NATS subjects travel in protocol control lines (4 KiB by default),
// and every token must fit there with room for the prefix and an inbox.
const MaxSessionToken = 256

const upperHex = "0123456789ABCDEF"

// tokenSafe reports whether b may stand for itself in a session token. The
// set is small on purpose: every NATS subject rule, permission pattern and
// shell quoting is happy with it, and everything else is escaped.
func tokenSafe(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// SessionToken returns the subject token that stands for a session id: bytes
// in [A-Za-z0-9_-] as they are, every other byte as %XX (upper-case hex). The
// mapping is one to one, so two sessions never share a subject, and its
// result is always a single token of a valid subject ("room-1" → "room-1",
// "a.b" → "a%2Eb"). Operators need it to write per-session permissions.
func SessionToken(id string) (string, error) {
	n := 0
	for i := 0; i < len(id); i++ {
		if tokenSafe(id[i]) {
			n++
		} else {
			n += 3
		}
	}
	switch {
	case id == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidSession)
	case n > MaxSessionToken:
		return "", fmt.Errorf("%w: escapes to %d bytes, more than %d", ErrInvalidSession, n, MaxSessionToken)
	case n == len(id):
		return id, nil
	}
	return string(escape(make([]byte, 0, n), id)), nil
}

// escape appends s to dst with every byte outside tokenSafe as %XX.
func escape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; tokenSafe(b) {
			dst = append(dst, b)
		} else {
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
		}
	}
	return dst
}

// SessionFromToken is the inverse of SessionToken. It accepts only the
// canonical form, so that one session has exactly one token: no lower-case
// hex, no escaped safe byte, no byte outside the escape alphabet.
func SessionFromToken(tok string) (string, error) {
	if tok == "" || len(tok) > MaxSessionToken {
		return "", fmt.Errorf("%w: token of %d bytes", ErrInvalidSession, len(tok))
	}
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !tokenSafe(tok[i]) {
				return "", fmt.Errorf("%w: byte %q in token", ErrInvalidSession, tok[i])
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		b := tok[i]
		switch {
		case tokenSafe(b):
			out = append(out, b)
		case b == '%' && i+2 < len(tok):
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("%w: bad escape %q", ErrInvalidSession, tok[i:i+3])
			}
			d := byte(hi<<4 | lo)
			if tokenSafe(d) {
				return "", fmt.Errorf("%w: %q needs no escape", ErrInvalidSession, tok[i:i+3])
			}
			out = append(out, d)
			i += 2
		default:
			return "", fmt.Errorf("%w: byte %q in token", ErrInvalidSession, b)
		}
	}
	return string(out), nil
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// subjects are the subjects of one deployment, all under one prefix:
//
//	<prefix>.cmd.<token>   commands, request/reply, served by a queue group
//	<prefix>.log.<token>   the session's command records, in the stream
//	<prefix>.head.<token>  the session's header, one message, in the stream
//	<prefix>.decide.<node>.<token>  commands routed to a node, request/reply
//
// (Snapshots are objects of an object store: see NewStore.)
type subjects struct {
	cmd, log, head, decide string // each ends with '.'
}

func newSubjects(prefix string) subjects {
	return subjects{cmd: prefix + ".cmd.", log: prefix + ".log.", head: prefix + ".head.", decide: prefix + ".decide."}
}

// validNode reports whether node may name a node in subjects: 1 to 64
// bytes that are their own session token.
func validNode(node string) bool {
	tok, err := SessionToken(node)
	return err == nil && tok == node && len(node) <= 64
}

// checkRouting checks the name and home function a node routes with
// (NewRouter, WithNode).
func checkRouting(node string, home func(session string) string) error {
	switch {
	case !validNode(node):
		return invalid("node name %q: want 1 to 64 bytes of [A-Za-z0-9_-]", node)
	case home == nil:
		return invalid("nil home function")
	}
	return nil
}
