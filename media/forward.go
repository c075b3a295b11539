package media

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// forward is one forwarded track: a participant's audio or video, fed by
// whichever of their PeerConnections is current, written through the stages
// to one TrackLocalStaticRTP that every subscriber's PeerConnection sends.
// It lives from the first packet the participant publishes of that kind
// until they leave, across reconnects.
type forward struct {
	info  *TrackInfo
	local *webrtc.TrackLocalStaticRTP

	// mu is held for each packet from the head of the chain to the
	// subscribers: a new source never interleaves with an old one, and
	// taking mu is a barrier after which a closed gate lets nothing through.
	mu      sync.Mutex
	head    Writer
	stopped bool // no more writes: the track is unbound

	gone   atomic.Bool // taken out of the router: not to be offered again
	source atomic.Pointer[source]

	received, forwarded atomic.Uint64
	lastSeq             atomic.Uint32
}

// source is the publisher's PeerConnection and SSRC that currently feed a
// forward: where keyframe requests go.
type source struct {
	pc   *webrtc.PeerConnection
	ssrc webrtc.SSRC
}

func newForward(info *TrackInfo, local *webrtc.TrackLocalStaticRTP) *forward {
	return &forward{info: info, local: local}
}

// run reads remote, a source of f, until it ends, and forwards each packet
// through the chain while it is f's newest source. (A participant has one
// source per kind at a time; a second one on the same PeerConnection would
// be a simulcast layer, which the router does not forward.)
func (f *forward) run(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote) {
	src := &source{pc: pc, ssrc: remote.SSRC()}
	f.source.Store(src)
	defer f.source.CompareAndSwap(src, nil)
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return // the PeerConnection or the transceiver stopped
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		f.received.Add(1)
		f.lastSeq.Store(uint32(p.SequenceNumber))
		f.mu.Lock()
		if f.stopped {
			f.mu.Unlock()
			return
		}
		if f.source.Load() == src {
			_ = f.head.WriteRTP(&p) // a failed subscriber is its own PeerConnection's business
		}
		f.mu.Unlock()
	}
}

// WriteRTP is the end of the chain: it writes p to every subscriber.
func (f *forward) WriteRTP(p *rtp.Packet) error {
	f.forwarded.Add(1)
	return f.local.WriteRTP(p)
}

// Skip does nothing: a skip that reaches the end hides nothing more.
func (f *forward) Skip(*rtp.Packet) {}

// barrier returns once no packet is between the head of the chain and the
// subscribers.
func (f *forward) barrier() {
	f.mu.Lock()
	//lint:ignore SA2001 an empty critical section is the point
	f.mu.Unlock()
}

// stop ends forwarding for good; the track can be unbound after it.
func (f *forward) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

// requestKeyframe asks the current source for a keyframe (a PLI): after an
// unmute, or when a subscriber asks.
func (f *forward) requestKeyframe() {
	if src := f.source.Load(); src != nil {
		_ = src.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(src.ssrc)}})
	}
}

func (f *forward) stats() TrackStats {
	return TrackStats{Received: f.received.Load(), Forwarded: f.forwarded.Load(),
		LastSequence: uint16(f.lastSeq.Load())}
}
