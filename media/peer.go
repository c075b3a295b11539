package media

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Signal is one signalling message between a participant and the router:
// either a session description or an ICE candidate. A transport carries
// Signals as they are; webrtc.SessionDescription and webrtc.ICECandidateInit
// have the JSON form browsers use.
//
// The router always makes the offers (its first one on Connect, a new one
// whenever tracks come or go); the participant answers them and trickles its
// candidates. So there is never an offer from both sides at once.
type Signal struct {
	// Description is an offer (from the router) or an answer (from the
	// participant).
	Description *webrtc.SessionDescription
	// Candidate is a trickled ICE candidate.
	Candidate *webrtc.ICECandidateInit
}

// Peer is a participant's PeerConnection with the router, as its transport
// sees it: Next yields what to send to the participant, Signal takes what
// the participant sent. Forwarded tracks reach the participant with the
// publisher's participant id as the stream id and "audio" or "video" as the
// track id.
type Peer struct {
	r  *Router
	id string

	// mu guards the negotiation: pc to closed.
	mu      sync.Mutex
	pc      *webrtc.PeerConnection
	senders map[*forward]*webrtc.RTPSender
	reoffer bool                      // tracks changed while an offer was out
	early   []webrtc.ICECandidateInit // candidates that came before the answer
	closed  bool

	wg        sync.WaitGroup // read loops and RTCP loops
	closeOnce sync.Once
	out       outbox
	done      chan struct{}
}

func newPeer(r *Router, id string) *Peer {
	return &Peer{r: r, id: id, senders: make(map[*forward]*webrtc.RTPSender),
		out: newOutbox(), done: make(chan struct{})}
}

// Participant is the id of the participant the Peer belongs to.
func (p *Peer) Participant() string { return p.id }

// Next returns the next signal for the participant, waiting until ctx ends.
// It returns ErrPeerClosed once the PeerConnection is closed. Next is meant
// for one reader goroutine.
func (p *Peer) Next(ctx context.Context) (Signal, error) { return p.out.next(ctx) }

// Signal takes a signal from the participant: the answer to the router's
// latest offer, or an ICE candidate. An offer is refused with ErrBadSignal.
func (p *Peer) Signal(s Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPeerClosed
	}
	switch {
	case s.Description != nil && s.Candidate == nil:
		if s.Description.Type != webrtc.SDPTypeAnswer {
			return fmt.Errorf("%w: %s from %s: the router makes the offers", ErrBadSignal,
				s.Description.Type, p.id)
		}
		if err := p.pc.SetRemoteDescription(*s.Description); err != nil {
			return fmt.Errorf("media: answer from %s: %w", p.id, err)
		}
		for _, c := range p.early {
			if err := p.pc.AddICECandidate(c); err != nil {
				return fmt.Errorf("media: candidate from %s: %w", p.id, err)
			}
		}
		p.early = nil
		if p.reoffer {
			p.reoffer = false
			return p.offerLocked()
		}
		return nil
	case s.Candidate != nil && s.Description == nil:
		if p.pc.RemoteDescription() == nil {
			p.early = append(p.early, *s.Candidate)
			return nil
		}
		if err := p.pc.AddICECandidate(*s.Candidate); err != nil {
			return fmt.Errorf("media: candidate from %s: %w", p.id, err)
		}
		return nil
	}
	return fmt.Errorf("%w: from %s: want one description or one candidate", ErrBadSignal, p.id)
}

// Done is closed when the PeerConnection is closed and every goroutine of
// the peer has stopped.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Close closes the PeerConnection, as when the participant's transport goes
// away. The participant stays joined and may Connect again; their forwarded
// tracks stay with the subscribers, silent meanwhile. Close waits until the
// peer is closed or ctx ends.
func (p *Peer) Close(ctx context.Context) error {
	p.r.spawn(func() { p.r.dropPeer(p) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("media: closing peer %s: %w", p.id, ctx.Err())
	}
}

// startLocked creates the PeerConnection: a receive-only audio and video
// transceiver for what the participant publishes, a send-only one for each
// of fs, and the first offer.
func (p *Peer) startLocked(fs []*forward) error {
	pc, err := p.r.api.NewPeerConnection(webrtc.Configuration{
		ICEServers:   p.r.ice,
		Certificates: []webrtc.Certificate{p.r.cert},
	})
	if err != nil {
		return fmt.Errorf("media: peer connection for %s: %w", p.id, err)
	}
	p.pc = pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.out.push(Signal{Candidate: &init})
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			p.r.report(fmt.Errorf("%w: %s", ErrPeerFailed, p.id))
			p.r.spawn(func() { p.r.dropPeer(p) })
		case webrtc.PeerConnectionStateClosed:
			p.r.spawn(func() { p.r.dropPeer(p) })
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { p.publish(pc, remote) })
	for _, kind := range kinds {
		if _, err := pc.AddTransceiverFromKind(kind,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("media: %s transceiver for %s: %w", kind, p.id, err)
		}
	}
	for _, f := range fs {
		if err := p.addSenderLocked(f); err != nil {
			return err
		}
	}
	return p.offerLocked()
}

// publish runs on the goroutine pion starts for a track the participant
// publishes: it becomes the track's read loop, owned by the peer.
func (p *Peer) publish(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	f, err := p.r.forwardFor(p, remote)
	if err != nil {
		p.r.report(err)
	}
	if f != nil {
		f.run(pc, remote)
	}
}

// addForward offers f to the participant.
func (p *Peer) addForward(f *forward) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// gone is set before the router lists the subscribers to remove f from,
	// so either that removal finds the sender added here, or f is gone.
	if p.closed || f.gone.Load() || p.senders[f] != nil {
		return
	}
	if err := p.addSenderLocked(f); err != nil {
		p.failLocked(err)
		return
	}
	if err := p.offerLocked(); err != nil {
		p.failLocked(err)
	}
}

// removeForward takes f from the participant's PeerConnection: their
// receiver for it ends once they answer the new offer.
func (p *Peer) removeForward(f *forward) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sender := p.senders[f]
	if p.closed || sender == nil {
		return
	}
	delete(p.senders, f)
	if err := p.pc.RemoveTrack(sender); err != nil {
		p.failLocked(fmt.Errorf("media: removing %s %s from %s: %w", f.info.Participant, f.info.Kind, p.id, err))
		return
	}
	if err := p.offerLocked(); err != nil {
		p.failLocked(err)
	}
}

func (p *Peer) addSenderLocked(f *forward) error {
	tr, err := p.pc.AddTransceiverFromTrack(f.local,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("media: sending %s %s to %s: %w", f.info.Participant, f.info.Kind, p.id, err)
	}
	sender := tr.Sender()
	p.senders[f] = sender
	// Reading RTCP runs pion's interceptors (NACK, reports) and carries
	// keyframe requests back to the publisher, while its video passes the
	// gate (see forward.open). It ends when the sender stops.
	p.wg.Go(func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			if f.info.Kind == webrtc.RTPCodecTypeVideo && f.open.Load() && asksKeyframe(pkts) {
				f.requestKeyframe()
			}
		}
	})
	return nil
}

func asksKeyframe(pkts []rtcp.Packet) bool {
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}

// offerLocked sends a new offer, or, while one is unanswered, notes that
// another is due when the answer comes.
func (p *Peer) offerLocked() error {
	if p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.reoffer = true
		return nil
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("media: offer to %s: %w", p.id, err)
	}
	// Queued before SetLocalDescription starts gathering, so that the
	// participant gets the offer before any candidate.
	p.out.push(Signal{Description: &offer})
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("media: offer to %s: %w", p.id, err)
	}
	return nil
}

// failLocked gives up on a PeerConnection whose negotiation failed.
func (p *Peer) failLocked(err error) {
	p.r.report(err)
	p.r.spawn(func() { p.r.dropPeer(p) })
}

// close closes the PeerConnection and waits for the peer's goroutines. Every
// caller returns once it is done.
func (p *Peer) close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		pc := p.pc
		p.mu.Unlock()
		if pc != nil {
			_ = pc.GracefulClose()
		}
		p.wg.Wait()
		p.out.close()
		close(p.done)
	})
}

// outbox queues signals for the participant. It never blocks the router:
// signals are few (an offer per change of tracks, a handful of candidates).
type outbox struct {
	mu     sync.Mutex
	queue  []Signal
	wake   chan struct{} // one token: the queue may have grown
	shut   chan struct{}
	closed bool
}

func newOutbox() outbox {
	return outbox{wake: make(chan struct{}, 1), shut: make(chan struct{})}
}

func (o *outbox) push(s Signal) {
	o.mu.Lock()
	if !o.closed {
		o.queue = append(o.queue, s)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) next(ctx context.Context) (Signal, error) {
	for {
		o.mu.Lock()
		switch {
		case o.closed:
			o.mu.Unlock()
			return Signal{}, ErrPeerClosed
		case len(o.queue) > 0:
			s := o.queue[0]
			o.queue[0] = Signal{}
			o.queue = o.queue[1:]
			o.mu.Unlock()
			return s, nil
		}
		o.mu.Unlock()
		select {
		case <-o.wake:
		case <-o.shut:
		case <-ctx.Done():
			return Signal{}, ctx.Err()
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.queue = nil
		close(o.shut)
	}
}
