package wire

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// SDPType is a session description's type, as in RTCSessionDescriptionInit.
// The server makes the offers; a client answers them.
type SDPType string

// The session description types gavel's media uses.
const (
	SDPOffer  SDPType = "offer"
	SDPAnswer SDPType = "answer"
)

// SessionDescription is an SDP offer or answer. Its JSON is the browsers'
// RTCSessionDescriptionInit (and pion's webrtc.SessionDescription):
// {"type":"offer","sdp":"v=0…"}.
type SessionDescription struct {
	Type SDPType
	SDP  string
}

// ICECandidate is a trickled ICE candidate. Its JSON is the browsers'
// RTCIceCandidateInit (and pion's webrtc.ICECandidateInit); a nil field is
// left out.
type ICECandidate struct {
	Candidate        string
	SDPMid           *string
	SDPMLineIndex    *uint16
	UsernameFragment *string
}

// Signal is one media signalling message, in either direction: exactly one
// of Description and Candidate is set.
type Signal struct {
	Description *SessionDescription
	Candidate   *ICECandidate
}

// MediaClosed tells a client that its media connection has closed, or was
// not opened. With no field set the PeerConnection closed (the participant
// left or was kicked, the session ended, the connection failed); the client
// may send media_connect again. At most one field is set.
type MediaClosed struct {
	// Err: the session refused media_connect (not_joined, session_ended),
	// or the server refused a signal (invalid_command).
	Err *core.Error
	// Refused: the server has no media or could not open it
	// (unavailable), or the client went over its rate (rate_limited).
	Refused Refusal
	// Reason says why an open media connection closed, when the client
	// should act on it: MediaMoved.
	Reason MediaReason
}

// MediaReason is why the server closed a media connection that was open.
// A client treats a reason it does not know as none.
type MediaReason string

// MediaMoved: the session's media moved to another node of the service (the
// node that carried it went away, or the nodes changed and another took the
// session over). The client sends media_connect again at once, which
// reaches the session's new media node through the same socket.
const MediaMoved MediaReason = "moved"

// ClientFrame is a decoded client frame: Type says which field is set.
type ClientFrame struct {
	Type    Type
	Command core.Command // command
	Signal  Signal       // signal
}

// AppendMediaConnect appends a media_connect frame.
func AppendMediaConnect(dst []byte) []byte {
	return append(dst, `{"type":"media_connect"}`...)
}

// AppendSignal appends a signal frame.
func AppendSignal(dst []byte, s Signal) []byte {
	dst = append(dst, `{"type":"signal"`...)
	if d := s.Description; d != nil {
		dst = append(dst, `,"description":{"type":`...)
		dst = events.AppendString(dst, string(d.Type))
		dst = append(dst, `,"sdp":`...)
		dst = events.AppendString(dst, d.SDP)
		dst = append(dst, '}')
	}
	if c := s.Candidate; c != nil {
		dst = append(dst, `,"candidate":{"candidate":`...)
		dst = events.AppendString(dst, c.Candidate)
		if c.SDPMid != nil {
			dst = append(dst, `,"sdpMid":`...)
			dst = events.AppendString(dst, *c.SDPMid)
		}
		if c.SDPMLineIndex != nil {
			dst = append(dst, `,"sdpMLineIndex":`...)
			dst = strconv.AppendUint(dst, uint64(*c.SDPMLineIndex), 10)
		}
		if c.UsernameFragment != nil {
			dst = append(dst, `,"usernameFragment":`...)
			dst = events.AppendString(dst, *c.UsernameFragment)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// AppendMediaClosed appends a media_closed frame.
func AppendMediaClosed(dst []byte, m MediaClosed) []byte {
	dst = append(dst, `{"type":"media_closed"`...)
	switch {
	case m.Err != nil:
		dst = append(dst, `,"error":`...)
		dst = events.AppendError(dst, m.Err)
	case m.Refused != "":
		dst = append(dst, `,"refused":`...)
		dst = events.AppendString(dst, string(m.Refused))
	case m.Reason != "":
		dst = append(dst, `,"reason":`...)
		dst = events.AppendString(dst, string(m.Reason))
	}
	return append(dst, '}')
}

// DecodeClientFrame decodes a client frame. An envelope that is not one of
// the client's frames (or a signal that is not one description or one
// candidate) gives an error matching ErrBadFrame. For a command frame the
// rest is as DecodeCommand's: the command as far as it could be read, and
// the *core.Error (invalid_command) that rejects it, if any.
func DecodeClientFrame(b []byte) (ClientFrame, error) {
	f, err := decodeEnvelope(b)
	if err != nil {
		return ClientFrame{}, err
	}
	var c fields
	out := ClientFrame{Type: Type(c.str(f.Type, "type"))}
	switch {
	case c.err != nil:
	case out.Type == TypeCommand:
		out.Command, err = events.DecodeCommand(f.Cmd)
		return out, err
	case out.Type == TypeMediaConnect:
		return out, nil
	case out.Type == TypeSignal:
		if out.Signal, err = decodeSignal(f.Description, f.Candidate); err == nil {
			return out, nil
		}
	default:
		return ClientFrame{}, fmt.Errorf("%w: type %q is not a client frame", ErrBadFrame, out.Type)
	}
	if err == nil {
		err = c.err
	}
	return ClientFrame{}, fmt.Errorf("%w: %s: %v", ErrBadFrame, out.Type, err)
}

func decodeSignal(desc, cand []byte) (Signal, error) {
	switch {
	case !absent(desc) && absent(cand):
		d, err := decodeDescription(desc)
		return Signal{Description: d}, err
	case !absent(cand) && absent(desc):
		ca, err := decodeCandidate(cand)
		return Signal{Candidate: ca}, err
	}
	return Signal{}, errors.New("want one description or one candidate")
}

func decodeDescription(b []byte) (*SessionDescription, error) {
	var typ, sdp []byte
	if err := events.ScanObject(b, func(name, value []byte) {
		switch string(name) {
		case "type":
			typ = value
		case "sdp":
			sdp = value
		}
	}); err != nil {
		return nil, fmt.Errorf("description: %v", err)
	}
	var c fields
	d := &SessionDescription{Type: SDPType(c.str(typ, "type")), SDP: c.str(sdp, "sdp")}
	if c.err == nil && d.Type == "" {
		c.err = errors.New("description without a type")
	}
	return d, c.err
}

func decodeCandidate(b []byte) (*ICECandidate, error) {
	var cand, mid, index, ufrag []byte
	if err := events.ScanObject(b, func(name, value []byte) {
		for _, m := range [...]struct {
			name string
			dst  *[]byte
		}{{"candidate", &cand}, {"sdpMid", &mid}, {"sdpMLineIndex", &index}, {"usernameFragment", &ufrag}} {
			if string(name) == m.name {
				*m.dst = value
				return
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("candidate: %v", err)
	}
	var c fields
	ca := &ICECandidate{Candidate: c.str(cand, "candidate"), SDPMid: c.optStr(mid, "sdpMid"),
		UsernameFragment: c.optStr(ufrag, "usernameFragment")}
	if !absent(index) {
		n := c.uint(index, "sdpMLineIndex")
		if n > 1<<16-1 {
			c.fail("sdpMLineIndex", index)
		}
		i := uint16(n)
		ca.SDPMLineIndex = &i
	}
	return ca, c.err
}

// optStr is str for a field that may be absent or null (nil).
func (c *fields) optStr(raw []byte, name string) *string {
	if absent(raw) {
		return nil
	}
	s := c.str(raw, name)
	return &s
}
