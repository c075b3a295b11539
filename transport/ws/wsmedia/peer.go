package wsmedia

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// peer is a media.Peer as a ws.MediaPeer: signals in the wire's types,
// media.ErrPeerClosed as ws.ErrMediaClosed, and its room released once it
// is closed.
type peer struct {
	p       *media.Peer
	release func() // once
}

func (p *peer) Next(ctx context.Context) (wire.Signal, error) {
	s, err := p.p.Next(ctx)
	if err != nil {
		return wire.Signal{}, closedErr(err)
	}
	return ToWire(s), nil
}

func (p *peer) Signal(s wire.Signal) error { return closedErr(p.p.Signal(FromWire(s))) }

func (p *peer) Close(ctx context.Context) error {
	err := p.p.Close(ctx)
	p.release()
	return err
}

func closedErr(err error) error {
	if errors.Is(err, media.ErrPeerClosed) {
		return fmt.Errorf("%w: %w", ws.ErrMediaClosed, err)
	}
	return err
}

// ToWire converts a signal of the router to its wire form.
func ToWire(s media.Signal) wire.Signal {
	var w wire.Signal
	if d := s.Description; d != nil {
		w.Description = &wire.SessionDescription{Type: wire.SDPType(d.Type.String()), SDP: d.SDP}
	}
	if c := s.Candidate; c != nil {
		w.Candidate = &wire.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
			UsernameFragment: c.UsernameFragment}
	}
	return w
}

// FromWire converts a signal in its wire form to the router's. A
// description type pion does not know becomes webrtc.SDPTypeUnknown, which
// the router refuses.
func FromWire(w wire.Signal) media.Signal {
	var s media.Signal
	if d := w.Description; d != nil {
		s.Description = &webrtc.SessionDescription{Type: webrtc.NewSDPType(string(d.Type)), SDP: d.SDP}
	}
	if c := w.Candidate; c != nil {
		s.Candidate = &webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
			UsernameFragment: c.UsernameFragment}
	}
	return s
}
