package media

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Key frame requests after video is turned back on: one every
// keyframeRetry until a key frame has passed the gate, at most
// keyframeAttempts. A single request is not enough: a browser ignores key
// frame requests that come too soon after its last key frame (Chromium:
// 300 ms), and that key frame may have been the one dropped at the gate
// just before it opened.
const (
	keyframeRetry    = 100 * time.Millisecond
	keyframeAttempts = 30
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
	// open mirrors the gate (Forwards in the router's state): subscribers'
	// key frame requests reach the publisher only while it is open, since
	// a key frame sent while the track is withheld is dropped at the gate
	// and only spends the publisher's key frame budget.
	open atomic.Bool
	// keyLeft is how many more key frame requests the router sends before
	// it gives up, or 0 once a key frame has passed the gate (wantKeyframe).
	keyLeft atomic.Int32
	// keyLoop is set while a goroutine sends the requests.
	keyLoop atomic.Bool
	vp8     bool

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
	return &forward{info: info, local: local, vp8: strings.EqualFold(info.Codec.MimeType, webrtc.MimeTypeVP8)}
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
	if f.keyLeft.Load() > 0 && (!f.vp8 || vp8Keyframe(p.Payload)) {
		f.keyLeft.Store(0) // the subscribers can decode again
	}
	return f.local.WriteRTP(p)
}

// Skip does nothing: a skip that reaches the end hides nothing more.
func (f *forward) Skip(*rtp.Packet) {}

// barrier returns once no packet is between the head of the chain and the
// subscribers: a packet holds mu from the head of the chain to the end, so
// taking mu waits for the one in flight. Nothing is done under it.
func (f *forward) barrier() {
	f.mu.Lock()
	defer f.mu.Unlock()
}

// stop ends forwarding for good; the track can be unbound after it.
func (f *forward) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

// wantKeyframe makes spawn run a goroutine that asks the publisher for a
// key frame every keyframeRetry until one passes the gate (WriteRTP sees
// it), the router closes (quit), or keyframeAttempts requests went
// unanswered. Called again meanwhile, it starts the count again.
func (f *forward) wantKeyframe(spawn func(func()), quit <-chan struct{}) {
	f.keyLeft.Store(keyframeAttempts)
	if f.keyLoop.CompareAndSwap(false, true) {
		spawn(func() { f.keyframeLoop(quit) })
	}
}

func (f *forward) keyframeLoop(quit <-chan struct{}) {
	t := time.NewTicker(keyframeRetry)
	defer t.Stop()
	for {
		for left := f.keyLeft.Load(); left > 0; left = f.keyLeft.Load() {
			if !f.keyLeft.CompareAndSwap(left, left-1) {
				continue
			}
			if f.open.Load() {
				f.requestKeyframe()
			}
			select {
			case <-t.C:
			case <-quit:
				f.keyLoop.Store(false)
				return
			}
		}
		f.keyLoop.Store(false)
		// A wantKeyframe between the last check and the store above found
		// the loop still running: carry on for it.
		if f.keyLeft.Load() == 0 || !f.keyLoop.CompareAndSwap(false, true) {
			return
		}
	}
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

// vp8Keyframe reports whether payload, a VP8 RTP payload (RFC 7741), is the
// first packet of a key frame: the payload descriptor starts partition 0,
// and the frame header's P bit, after the descriptor, is clear.
func vp8Keyframe(payload []byte) bool {
	if len(payload) == 0 || payload[0]&0x10 == 0 || payload[0]&0x07 != 0 {
		return false
	}
	i := 1
	if payload[0]&0x80 != 0 { // X: an extension byte follows
		if len(payload) < 2 {
			return false
		}
		ext := payload[1]
		i++
		if ext&0x80 != 0 { // I: a picture id of one or two bytes
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: one byte for TID and KEYIDX
			i++
		}
	}
	return len(payload) > i && payload[i]&0x01 == 0
}
