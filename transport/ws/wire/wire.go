// Package wire is gavel's websocket protocol in Go: the frames a server and
// a client exchange (docs/ws-protocol.md describes them for any language),
// and the keepalive both ends run.
//
// Every frame is one JSON object in one websocket text message, with a
// "type". The envelope's field names are this package's; everything the SPEC
// defines inside a frame (commands, events, errors, state, presets,
// permissions) is encoded and decoded by the events codec only.
//
//	client → server   command        {"type":"command","cmd":{…}}
//	                  media_connect  {"type":"media_connect"}
//	both ways         signal         {"type":"signal","description":{"type":"offer","sdp":…}} | {"type":"signal","candidate":{"candidate":…,"sdpMid":…,"sdpMLineIndex":N,"usernameFragment":…}}
//	server → client   welcome        {"type":"welcome","session":…,"self":…,"preset":…,"permissions":{…},"presets":{…},"seq":N,"resumed":false,"state":{…}}
//	                  event          {"type":"event","event":{…}}
//	                  result         {"type":"result","id":…,"seq":N,"events":[…]} | {"type":"result","id":…,"error":{…}} | {"type":"result","id":…,"refused":"rate_limited"}
//	                                 | {"type":"result","id":…,"refused":"too_large"}
//	                  media_closed   {"type":"media_closed"} | {"type":"media_closed","error":{…}} | {"type":"media_closed","refused":"unavailable"}
//	                                 | {"type":"media_closed","reason":"moved"}
//	                  goodbye        {"type":"goodbye","reason":"kicked"}
//
// Frames are read as the events codec reads everything: member names match
// exactly, and a frame in which an object names a member twice is not a
// frame (ErrBadFrame).
//
// Package wire imports core, events and the websocket library.
package wire

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// Type is a frame's type.
type Type string

// The frame types.
const (
	TypeCommand Type = "command" // client → server
	TypeWelcome Type = "welcome" // server → client, first frame
	TypeEvent   Type = "event"
	TypeResult  Type = "result"
	TypeGoodbye Type = "goodbye" // server → client, last frame

	TypeMediaConnect Type = "media_connect" // client → server: open my media
	TypeSignal       Type = "signal"        // both ways: an offer, an answer, a candidate
	TypeMediaClosed  Type = "media_closed"  // server → client
)

// Reason says why the server ends a connection (goodbye's reason, also the
// websocket close frame's reason).
type Reason string

// The reasons of a goodbye.
const (
	ReasonKicked   Reason = "kicked"   // self was kicked: after its participant_left
	ReasonEnded    Reason = "ended"    // the session ended: after session_ended
	ReasonLeft     Reason = "left"     // self left: after its participant_left
	ReasonSlow     Reason = "slow"     // the client took no frame for the write timeout; resume
	ReasonReplaced Reason = "replaced" // another connection of the same participant took over
	ReasonShutdown Reason = "shutdown" // the server is shutting down; reconnect and resume
)

// Final reports whether r ends the participant's time in the room (kicked,
// ended, left, replaced): a client does not reconnect after it.
func (r Reason) Final() bool {
	switch r {
	case ReasonKicked, ReasonEnded, ReasonLeft, ReasonReplaced:
		return true
	}
	return false
}

// Refusal is why the transport refused a command without submitting it.
type Refusal string

// The refusals. A refused command was not applied. After a transient
// refusal it may be sent again with the same id; after a permanent one
// (Permanent), sending it again would fail the same way.
const (
	RefusedRateLimited Refusal = "rate_limited" // over the connection's command rate
	RefusedUnavailable Refusal = "unavailable"  // the session (or media) could not be reached
	// RefusedTooLarge: the session's store can never hold the command's
	// record (session.ErrTooLarge). Permanent.
	RefusedTooLarge Refusal = "too_large"
	// RefusedFailed: the command failed for another reason that will not
	// pass (session.ErrPermanent). Permanent.
	RefusedFailed Refusal = "failed"
)

// Permanent reports whether r says that sending the command again would be
// refused again.
func (r Refusal) Permanent() bool { return r == RefusedTooLarge || r == RefusedFailed }

// ErrBadFrame is matched by the error of a frame that is not one of this
// protocol's.
var ErrBadFrame = errors.New("wire: bad frame")

// Welcome is the server's first frame. When Resumed, the events after Seq
// follow and State is not sent; else State is the session at Seq.
type Welcome struct {
	Session     string
	Self        string           // the connection's participant
	Preset      string           // self's preset: the joined participant's, else the token's
	Permissions core.Permissions // the preset's permissions
	Presets     core.Presets     // every preset of the session
	Seq         uint64
	Resumed     bool
	State       core.Snapshot // when not Resumed
}

// Result answers one command frame, matched by the command's id. Exactly
// one of these holds: Refused is set, Err is set (the session rejected the
// command), or the command was applied (Seq is the session's seq right
// after it).
type Result struct {
	ID        string
	Seq       uint64
	Duplicate bool // the id had been decided before: this is that outcome
	// Events are the command's events that this connection has not been
	// sent yet: they are part of the connection's event stream, in order,
	// and are not sent again as event frames.
	Events  []events.Event
	Err     *core.Error
	Refused Refusal
}

// Frame is a decoded server frame: Type says which field is set.
type Frame struct {
	Type    Type
	Welcome Welcome      // welcome
	Event   events.Event // event
	Result  Result       // result
	Reason  Reason       // goodbye
	Signal  Signal       // signal
	Media   MediaClosed  // media_closed
}

// AppendCommand appends a command frame.
func AppendCommand(dst []byte, cmd core.Command) []byte {
	dst = append(dst, `{"type":"command","cmd":`...)
	dst = events.AppendCommand(dst, cmd)
	return append(dst, '}')
}

// AppendWelcome appends a welcome frame.
func AppendWelcome(dst []byte, w Welcome) []byte {
	dst = append(dst, `{"type":"welcome","session":`...)
	dst = events.AppendString(dst, w.Session)
	dst = append(dst, `,"self":`...)
	dst = events.AppendString(dst, w.Self)
	dst = append(dst, `,"preset":`...)
	dst = events.AppendString(dst, w.Preset)
	dst = append(dst, `,"permissions":`...)
	dst = events.AppendPermissions(dst, w.Permissions)
	dst = append(dst, `,"presets":`...)
	dst = events.AppendPresets(dst, w.Presets)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, w.Seq, 10)
	dst = append(dst, `,"resumed":`...)
	dst = strconv.AppendBool(dst, w.Resumed)
	if !w.Resumed {
		dst = append(dst, `,"state":`...)
		dst = events.AppendSnapshot(dst, w.State)
	}
	return append(dst, '}')
}

// AppendEvent appends an event frame.
func AppendEvent(dst []byte, e events.Event) []byte {
	dst = append(dst, `{"type":"event","event":`...)
	dst = events.AppendEvent(dst, e)
	return append(dst, '}')
}

// AppendResult appends a result frame.
func AppendResult(dst []byte, r Result) []byte {
	dst = append(dst, `{"type":"result","id":`...)
	dst = events.AppendString(dst, r.ID)
	switch {
	case r.Refused != "":
		dst = append(dst, `,"refused":`...)
		dst = events.AppendString(dst, string(r.Refused))
	case r.Err != nil:
		dst = append(dst, `,"error":`...)
		dst = events.AppendError(dst, r.Err)
	default:
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, r.Seq, 10)
		if len(r.Events) > 0 {
			dst = append(dst, `,"events":`...)
			dst = events.AppendEvents(dst, r.Events)
		}
	}
	if r.Duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	return append(dst, '}')
}

// AppendGoodbye appends a goodbye frame.
func AppendGoodbye(dst []byte, r Reason) []byte {
	dst = append(dst, `{"type":"goodbye","reason":`...)
	dst = events.AppendString(dst, string(r))
	return append(dst, '}')
}

// frame is the union of the envelopes' fields, raw: the SPEC values go to
// the events codec, the envelope's own are converted by fields.
type frame struct {
	Type, Cmd, Session, Self, Preset, Permissions, Presets, Seq, Resumed, State,
	Event, ID, Duplicate, Events, Error, Refused, Reason, Description, Candidate []byte
}

func (f *frame) set(name, value []byte) {
	for _, m := range [...]struct {
		name string
		dst  *[]byte
	}{
		{"type", &f.Type}, {"cmd", &f.Cmd}, {"session", &f.Session}, {"self", &f.Self}, {"preset", &f.Preset},
		{"permissions", &f.Permissions}, {"presets", &f.Presets}, {"seq", &f.Seq}, {"resumed", &f.Resumed},
		{"state", &f.State}, {"event", &f.Event}, {"id", &f.ID}, {"duplicate", &f.Duplicate},
		{"events", &f.Events}, {"error", &f.Error}, {"refused", &f.Refused}, {"reason", &f.Reason},
		{"description", &f.Description}, {"candidate", &f.Candidate},
	} {
		if string(name) == m.name { // exactly, as the codec matches names
			*m.dst = value
			return
		}
	}
}

func decodeEnvelope(b []byte) (frame, error) {
	var f frame
	if err := events.ScanObject(b, f.set); err != nil {
		return f, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	return f, nil
}

// fields converts the envelope's own fields, keeping the first error.
type fields struct{ err error }

func (c *fields) fail(name string, raw []byte) {
	if c.err == nil {
		c.err = fmt.Errorf("%q: unexpected %.32s", name, raw)
	}
}

func absent(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

func (c *fields) str(raw []byte, name string) string {
	switch {
	case absent(raw):
		return ""
	case raw[0] != '"':
		c.fail(name, raw)
		return ""
	}
	s, err := events.DecodeString(raw)
	if err != nil {
		c.fail(name, raw)
	}
	return s
}

func (c *fields) bool(raw []byte, name string) bool {
	switch string(raw) {
	case "", "null", "false":
		return false
	case "true":
		return true
	}
	c.fail(name, raw)
	return false
}

func (c *fields) uint(raw []byte, name string) uint64 {
	if absent(raw) {
		return 0
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		c.fail(name, raw)
	}
	return n
}

// DecodeCommand decodes a client's command frame. An envelope that is not a
// command frame gives an error matching ErrBadFrame; otherwise the result is
// events.DecodeCommand's: the command as far as it could be read, and the
// *core.Error (invalid_command) that rejects it, if any.
func DecodeCommand(b []byte) (core.Command, error) {
	f, err := DecodeClientFrame(b)
	if f.Type != TypeCommand && !errors.Is(err, ErrBadFrame) {
		return core.Command{}, fmt.Errorf("%w: type %q, want %q", ErrBadFrame, f.Type, TypeCommand)
	}
	return f.Command, err
}

// DecodeFrame decodes a server frame.
func DecodeFrame(b []byte) (Frame, error) {
	f, err := decodeEnvelope(b)
	if err != nil {
		return Frame{}, err
	}
	var c fields
	out := Frame{Type: Type(c.str(f.Type, "type"))}
	switch out.Type {
	case TypeWelcome:
		w := Welcome{Session: c.str(f.Session, "session"), Self: c.str(f.Self, "self"), Preset: c.str(f.Preset, "preset"),
			Seq: c.uint(f.Seq, "seq"), Resumed: c.bool(f.Resumed, "resumed")}
		if w.Permissions, err = events.DecodePermissions(f.Permissions); err != nil {
			break
		}
		if w.Presets, err = events.DecodePresets(f.Presets); err != nil {
			break
		}
		if !w.Resumed {
			w.State, err = events.DecodeSnapshot(f.State)
		}
		out.Welcome = w
	case TypeEvent:
		out.Event, err = events.DecodeEvent(f.Event)
	case TypeResult:
		r := Result{ID: c.str(f.ID, "id"), Seq: c.uint(f.Seq, "seq"), Duplicate: c.bool(f.Duplicate, "duplicate"),
			Refused: Refusal(c.str(f.Refused, "refused"))}
		switch {
		case !absent(f.Error):
			r.Err, err = events.DecodeError(f.Error)
		case !absent(f.Events):
			if r.Events, err = events.DecodeEvents(f.Events); len(r.Events) == 0 {
				r.Events = nil
			}
		}
		out.Result = r
	case TypeGoodbye:
		out.Reason = Reason(c.str(f.Reason, "reason"))
	case TypeSignal:
		out.Signal, err = decodeSignal(f.Description, f.Candidate)
	case TypeMediaClosed:
		switch {
		case !absent(f.Error):
			out.Media.Err, err = events.DecodeError(f.Error)
		case !absent(f.Refused):
			out.Media.Refused = Refusal(c.str(f.Refused, "refused"))
		default:
			out.Media.Reason = MediaReason(c.str(f.Reason, "reason"))
		}
	default:
		if c.err == nil {
			return Frame{}, fmt.Errorf("%w: unknown type %q", ErrBadFrame, out.Type)
		}
	}
	if err == nil {
		err = c.err
	}
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %s: %v", ErrBadFrame, out.Type, err)
	}
	return out, nil
}
