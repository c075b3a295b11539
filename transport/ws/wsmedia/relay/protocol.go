package relay

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// ErrBadMessage is matched by the error for a relay message that is not
// one of this package's.
var ErrBadMessage = errors.New("relay: bad message")

// The relay protocol between nodes (see the package doc): a connect
// request is one JSON object,
//
//	{"session":"room-1","participant":"alice","via":"node-a","id":"…"}
//
// and its answer one of
//
//	{"peer":"…"}                                        connected: the home's id of the connection
//	{"error":{"code":1208,"name":"not_joined",…}}       the session refused
//	{"failure":"not_home","message":"…"}                see failure
//
// Signals travel as the websocket protocol's own frames (package wire),
// numbered (seqHeader) from the home.

// connectRequest asks a home for a participant's media connection.
type connectRequest struct {
	session, participant string
	via                  string // the node whose socket the participant is on
	id                   string // the via node's id of the connection: the home sends its signals to subjects.out(via, id)
}

// failure is why a home did not do what it was asked.
type failure string

const (
	failNotHome     failure = "not_home"    // the session's media is not homed at the node asked
	failUnavailable failure = "unavailable" // the home could not open the connection
)

// answer is a home's answer: at most one field besides message is set.
type answer struct {
	peer    string      // connected: the home's id of the connection
	err     *core.Error // the session refused the connection
	failure failure
	message string // with failure: why, for people
}

func appendConnect(dst []byte, r connectRequest) []byte {
	dst = append(dst, `{"session":`...)
	dst = events.AppendString(dst, r.session)
	dst = append(dst, `,"participant":`...)
	dst = events.AppendString(dst, r.participant)
	dst = append(dst, `,"via":`...)
	dst = events.AppendString(dst, r.via)
	dst = append(dst, `,"id":`...)
	dst = events.AppendString(dst, r.id)
	return append(dst, '}')
}

// decodeConnect decodes a connect request; every field is required, and
// via and id must be subject tokens.
func decodeConnect(b []byte) (connectRequest, error) {
	var raw [4][]byte
	names := [4]string{"session", "participant", "via", "id"}
	err := events.ScanObject(b, func(name, value []byte) {
		for i, n := range names {
			if string(name) == n {
				raw[i] = value
			}
		}
	})
	if err != nil {
		return connectRequest{}, fmt.Errorf("%w: connect: %v", ErrBadMessage, err)
	}
	var vals [4]string
	for i, v := range raw {
		if vals[i], err = events.DecodeString(v); err != nil || vals[i] == "" {
			return connectRequest{}, fmt.Errorf("%w: connect: %q: want a non-empty string", ErrBadMessage, names[i])
		}
	}
	r := connectRequest{session: vals[0], participant: vals[1], via: vals[2], id: vals[3]}
	if !validToken(r.via) || !validToken(r.id) {
		return connectRequest{}, fmt.Errorf("%w: connect: via %q, id %q: want subject tokens", ErrBadMessage, r.via, r.id)
	}
	return r, nil
}

func appendAnswer(dst []byte, a answer) []byte {
	switch {
	case a.peer != "":
		dst = append(dst, `{"peer":`...)
		dst = events.AppendString(dst, a.peer)
	case a.err != nil:
		dst = append(dst, `{"error":`...)
		dst = events.AppendError(dst, a.err)
	case a.failure != "":
		dst = append(dst, `{"failure":`...)
		dst = events.AppendString(dst, string(a.failure))
		dst = append(dst, `,"message":`...)
		dst = events.AppendString(dst, a.message)
	default:
		dst = append(dst, '{')
	}
	return append(dst, '}')
}

// decodeAnswer decodes an answer. A failure it does not know stays as it
// is: the caller treats it as unavailable.
func decodeAnswer(b []byte) (answer, error) {
	var peer, rerr, fail, msg []byte
	err := events.ScanObject(b, func(name, value []byte) {
		switch string(name) {
		case "peer":
			peer = value
		case "error":
			rerr = value
		case "failure":
			fail = value
		case "message":
			msg = value
		}
	})
	if err != nil {
		return answer{}, fmt.Errorf("%w: answer: %v", ErrBadMessage, err)
	}
	var a answer
	switch {
	case peer != nil:
		if a.peer, err = events.DecodeString(peer); err != nil || !validToken(a.peer) {
			return answer{}, fmt.Errorf("%w: answer: peer %.40s: want a subject token", ErrBadMessage, peer)
		}
	case rerr != nil:
		if a.err, err = events.DecodeError(rerr); err != nil {
			return answer{}, fmt.Errorf("%w: answer: %v", ErrBadMessage, err)
		}
	case fail != nil:
		f, err := events.DecodeString(fail)
		if err == nil && msg != nil {
			a.message, err = events.DecodeString(msg)
		}
		if err != nil || f == "" {
			return answer{}, fmt.Errorf("%w: answer: failure %.40s, message %.40s", ErrBadMessage, fail, msg)
		}
		a.failure = failure(f)
	}
	return a, nil
}

// seqHeader carries the number of a home's message to a relayed
// connection: 1, 2, … with no gap.
const seqHeader = "Gavel-Seq"

func formatSeq(n uint64) string { return strconv.FormatUint(n, 10) }

func parseSeq(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}

// validToken reports whether s may be a node id or a connection id: one
// NATS subject token and one KV key, in [A-Za-z0-9_-], 1 to 64 bytes.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}
