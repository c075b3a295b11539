package nats

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/jsonscan"
	"github.com/gavelrtc/gavel/session"
)

// ErrUnavailable is matched by the error of Client.Submit when the service
// answered that it could not apply the command for a passing reason of its
// own (the log's stream unreachable, too many conflicting writers): the
// command may or may not have been applied, and submitting it again with the
// same id is safe. Submit retries such answers itself until its context
// ends. A permanent failure (session.ErrPermanent, such as
// session.ErrTooLarge) is not this: Submit returns it at once.
var ErrUnavailable = errors.New("gavel/nats: service unavailable")

// ErrBadReply is matched by the error of Client.Submit when the answer is not
// a reply of this package.
var ErrBadReply = errors.New("gavel/nats: malformed reply")

// The reply to a command is one JSON object (see the package doc):
//
//	{"seq":4,"at":"2026-…Z","events":[…]}         applied (events may be [])
//	{"seq":4,"at":"…","duplicate":true,"events":[…]}  its id was applied before
//	{"error":{"code":1201,"name":…,"message":…}}  rejected, SPEC error
//	{"failure":"…"}                                not applied now, retry
//	{"failure":"…","permanent":"too_large"}        not applied, never will be
//
// Events and errors are in the events codec's form; this envelope is the
// only JSON this package spells.

// appendReply appends the reply to a command whose outcome is res, err.
// The events come last, so that decodeReply can find them without a
// generic JSON pass over the reply.
func appendReply(dst []byte, res session.Result, err error) []byte {
	var cerr *core.Error
	switch {
	case errors.As(err, &cerr):
		dst = append(dst, `{"error":`...)
		dst = events.AppendError(dst, cerr)
		if res.Duplicate {
			dst = append(dst, `,"duplicate":true`...)
		}
	case err != nil:
		dst = append(dst, `{"failure":`...)
		dst = events.AppendString(dst, err.Error())
		switch {
		case errors.Is(err, session.ErrTooLarge):
			dst = append(dst, `,"permanent":"too_large"`...)
		case errors.Is(err, session.ErrPermanent):
			dst = append(dst, `,"permanent":"failed"`...)
		}
	default:
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendUint(dst, res.Seq, 10)
		if !res.At.IsZero() {
			dst = append(dst, `,"at":"`...)
			dst = res.At.UTC().AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, '"')
		}
		if res.Duplicate {
			dst = append(dst, `,"duplicate":true`...)
		}
		dst = append(dst, `,"events":`...)
		dst = events.AppendEvents(dst, res.Events)
	}
	return append(dst, '}')
}

// decodeReply decodes a reply: the result, the *core.Error (unwrapped) of a
// rejection, an error matching ErrUnavailable for a transient failure or
// session.ErrPermanent for a permanent one (session.ErrTooLarge for
// "too_large"), or one matching ErrBadReply.
func decodeReply(b []byte) (session.Result, error) {
	if res, ok := decodeApplied(b); ok {
		return res, nil
	}
	return decodeReplyJSON(b)
}

// decodeReplyJSON is decodeReply for any reply in any field order.
func decodeReplyJSON(b []byte) (session.Result, error) {
	var seq, at, evs, rerr, dup, failure, permanent []byte
	err := jsonscan.Object(b, func(name, value []byte) {
		switch string(name) {
		case "seq":
			seq = value
		case "at":
			at = value
		case "events":
			evs = value
		case "error":
			rerr = value
		case "duplicate":
			dup = value
		case "failure":
			failure = value
		case "permanent":
			permanent = value
		}
	})
	if err != nil {
		return session.Result{}, fmt.Errorf("%w: %v", ErrBadReply, err)
	}
	var f jsonscan.Fields
	res := session.Result{Duplicate: f.Bool(dup, "duplicate")}
	if f.Err != nil {
		return session.Result{}, fmt.Errorf("%w: %v", ErrBadReply, f.Err)
	}
	switch {
	case !jsonscan.Absent(failure):
		msg, err := jsonscan.String(failure)
		if err != nil {
			return session.Result{}, fmt.Errorf("%w: failure: %v", ErrBadReply, err)
		}
		if jsonscan.Absent(permanent) {
			return session.Result{}, fmt.Errorf("%w: %s", ErrUnavailable, msg)
		}
		cause, err := jsonscan.String(permanent)
		if err != nil {
			return session.Result{}, fmt.Errorf("%w: permanent: %v", ErrBadReply, err)
		}
		if cause == "too_large" {
			return session.Result{}, fmt.Errorf("%w: %s", session.ErrTooLarge, msg)
		}
		return session.Result{}, fmt.Errorf("%w (%s): %s", session.ErrPermanent, cause, msg)
	case !jsonscan.Absent(rerr):
		cerr, err := events.DecodeError(rerr)
		if err != nil {
			return session.Result{}, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		return res, cerr
	case jsonscan.Absent(seq):
		return session.Result{}, fmt.Errorf("%w: no seq, error or failure", ErrBadReply)
	}
	if res.Seq = f.Uint(seq, "seq"); f.Err != nil {
		return session.Result{}, fmt.Errorf("%w: %v", ErrBadReply, f.Err)
	}
	if !jsonscan.Absent(evs) {
		if res.Events, err = events.DecodeEvents(evs); err != nil {
			return session.Result{}, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		if len(res.Events) == 0 {
			res.Events = nil
		}
	}
	if !jsonscan.Absent(at) {
		s, err := jsonscan.String(at)
		if err == nil {
			res.At, err = time.Parse(time.RFC3339Nano, s)
		}
		if err != nil {
			return session.Result{}, fmt.Errorf("%w: at: %v", ErrBadReply, err)
		}
	}
	return res, nil
}

// decodeApplied decodes the reply to an applied command exactly as
// appendReply writes it, {"seq":…[,"at":"…"][,"duplicate":true],"events":[…]},
// without a generic JSON pass over the envelope (the command round trip's
// largest cost on the client). Anything else is left to decodeReply.
func decodeApplied(b []byte) (session.Result, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"seq":`))
	if !ok {
		return session.Result{}, false
	}
	n := 0
	for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil || (n > 1 && rest[0] == '0') { // JSON has no leading zeros
		return session.Result{}, false
	}
	res := session.Result{Seq: seq}
	rest = rest[n:]
	if r, ok := bytes.CutPrefix(rest, []byte(`,"at":"`)); ok {
		end := bytes.IndexByte(r, '"')
		if end < 0 {
			return session.Result{}, false
		}
		if res.At, err = time.Parse(time.RFC3339Nano, string(r[:end])); err != nil {
			return session.Result{}, false
		}
		rest = r[end+1:]
	}
	rest, res.Duplicate = bytes.CutPrefix(rest, []byte(`,"duplicate":true`))
	rest, ok = bytes.CutPrefix(rest, []byte(`,"events":`))
	if !ok || len(rest) == 0 || rest[len(rest)-1] != '}' {
		return session.Result{}, false
	}
	evs, err := events.DecodeEvents(rest[:len(rest)-1])
	if err != nil {
		return session.Result{}, false
	}
	if len(evs) > 0 {
		res.Events = evs
	}
	return res, true
}
