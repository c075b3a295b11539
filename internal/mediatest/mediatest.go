// Package mediatest is what the tests of media and transport/ws/wsmedia share: a
// participant's side of a PeerConnection with a router ([Client]), which
// publishes numbered packets and records what it receives, and a bounded
// wait ([WaitUntil]). How a Client's signals reach the router is the test's
// business.
//
// Package mediatest imports pion only: the tests of package media itself
// use it, so it must not import media.
package mediatest

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// WaitLimit bounds every wait of the media tests. Reaching it fails the
// test; nothing passes or fails on how fast things happen within it.
const WaitLimit = 10 * time.Second

// PacketInterval is the publishers' pacing: 50 packets a second per track,
// as Opus in 20 ms frames.
const PacketInterval = 20 * time.Millisecond

// Window is how many packets a publisher sends, counted as the router reads
// them, while a check for silence runs.
const Window = 10

// WaitUntil waits for cond, checking it every couple of milliseconds, and
// fails the test after WaitLimit.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", WaitLimit, what)
		}
		<-tick.C
	}
}

// kinds are the kinds of media a participant publishes, one track each.
var kinds = [...]webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}

func kindIndex(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeAudio {
		return 0
	}
	return 1
}

// From names a forwarded track as a subscriber sees it.
type From struct {
	Participant string
	Kind        webrtc.RTPCodecType
}

// Arrival is one packet a client received: the index the publisher wrote in
// its payload, the sequence number it arrived with, and, for video, whether
// it starts a key frame.
type Arrival struct {
	Index uint32
	Seq   uint16
	Key   bool
}

type stream struct {
	ssrc   webrtc.SSRC
	got    []Arrival
	ended  bool
	tracks int // how many times the track arrived (OnTrack)
}

// Config is what a Client does beyond the PeerConnection itself.
type Config struct {
	// Publish are the codecs of the tracks the client sends, one track
	// each; none for a client that only receives.
	Publish []webrtc.RTPCodecParameters
	// Trickle sends one of the client's ICE candidates to the router; its
	// error goes to Check.
	Trickle func(webrtc.ICECandidateInit) error
	// RTCP, if set, is given what the router sends back about the client's
	// track of the kind.
	RTCP func(webrtc.RTPCodecType, []rtcp.Packet)
	// Sink, if set, reads the tracks the client receives instead of the
	// client's own recording.
	Sink func(*webrtc.TrackRemote)
	// PeerClosed, if set, is an error of the router's side that means the
	// connection is going away; Check drops it.
	PeerClosed error
	// OnClose, if set, is called by Close before the PeerConnection
	// closes: it stops the test's signalling.
	OnClose func()
}

// Client is a participant's side: a real pion PeerConnection. A publishing
// client sends one track per codec of Config.Publish; every packet carries
// its index (1, 2, …) as its sequence number and in four payload bytes: the
// first four of audio; those of video follow a two-byte VP8 prefix (a
// payload descriptor starting a partition, and the frame header's first
// byte, which says whether the frame is a key frame: see [Client.Keyframe]).
type Client struct {
	// ID is the participant's id.
	ID string
	// PC is the client's PeerConnection.
	PC *webrtc.PeerConnection
	// Out are the tracks the client publishes, by kind.
	Out map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP

	t       testing.TB
	cfg     Config
	sent    [2]atomic.Uint32 // by kind: the index of the last packet written
	key     atomic.Bool      // the next video packet starts a key frame
	lastKey atomic.Uint32    // the index of the last video packet that did
	stop    chan struct{}    // closed by Close: stops publishing
	wg      sync.WaitGroup

	connected     chan struct{} // closed when the PeerConnection is first connected
	connectedOnce sync.Once

	mu       sync.Mutex
	closing  bool
	streams  map[From]*stream
	closedAt time.Time // when the Closed state handler ran
	errs     []error
}

// NewClient makes participant id's PeerConnection with api. The caller
// signals it (see [Client.Answer]) and closes it with [Client.Close].
func NewClient(t testing.TB, api *webrtc.API, id string, cfg Config) *Client {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{ID: id, PC: pc, Out: make(map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP), t: t, cfg: cfg,
		stop: make(chan struct{}), connected: make(chan struct{}), streams: make(map[From]*stream)}
	c.key.Store(true) // a video stream starts with a key frame
	for _, codec := range cfg.Publish {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(codec.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		track, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, kind.String(), id)
		if err != nil {
			t.Fatal(err)
		}
		sender, err := pc.AddTrack(track)
		if err != nil {
			t.Fatal(err)
		}
		c.Out[kind] = track
		c.wg.Go(func() { // runs the interceptors; ends with the sender
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				if cfg.RTCP != nil {
					cfg.RTCP(kind, pkts)
				}
			}
		})
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil && cfg.Trickle != nil {
			c.Check(cfg.Trickle(cand.ToJSON()))
		}
	})
	// pion runs each state handler on a goroutine of its own, so handlers
	// may run out of order: tests ask the PeerConnection for its state.
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			c.connectedOnce.Do(func() { close(c.connected) })
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if s == webrtc.PeerConnectionStateClosed && c.closedAt.IsZero() {
			c.closedAt = time.Now()
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return
		}
		c.wg.Add(1)
		c.mu.Unlock()
		defer c.wg.Done()
		if cfg.Sink != nil {
			cfg.Sink(remote)
			return
		}
		c.receive(remote)
	})
	return c
}

// Answer takes the router's offer and returns the client's answer.
func (c *Client) Answer(offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if err := c.PC.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	answer, err := c.PC.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	if err := c.PC.SetLocalDescription(answer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	return answer, nil
}

// Check keeps an error for the end of the test, unless the connection is
// going away anyway.
func (c *Client) Check(err error) {
	if err == nil || errors.Is(err, webrtc.ErrConnectionClosed) ||
		c.cfg.PeerClosed != nil && errors.Is(err, c.cfg.PeerClosed) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.errs = append(c.errs, err)
	}
}

// Go runs f in a goroutine that Close waits for.
func (c *Client) Go(f func()) { c.wg.Go(f) }

// Stopped is closed when Close starts: goroutines given to Go stop on it.
func (c *Client) Stopped() <-chan struct{} { return c.stop }

func (c *Client) receive(remote *webrtc.TrackRemote) {
	k := From{remote.StreamID(), remote.Kind()}
	c.mu.Lock()
	st := c.streams[k]
	if st == nil {
		st = &stream{}
		c.streams[k] = st
	}
	st.ended = false
	st.tracks++
	st.ssrc = remote.SSRC()
	c.mu.Unlock()
	for {
		p, _, err := remote.ReadRTP()
		if err != nil {
			c.mu.Lock()
			st.ended = true
			c.mu.Unlock()
			return
		}
		a, ok := parse(k.Kind, p.Payload)
		if !ok {
			continue
		}
		a.Seq = p.SequenceNumber
		c.mu.Lock()
		st.got = append(st.got, a)
		c.mu.Unlock()
	}
}

// vp8Prefix is the two bytes before a video packet's index: a VP8 payload
// descriptor (S set, partition 0) and the first byte of a VP8 frame
// header, whose lowest bit is clear in a key frame.
func vp8Prefix(key bool) [2]byte {
	if key {
		return [2]byte{0x10, 0x00}
	}
	return [2]byte{0x10, 0x01}
}

func parse(k webrtc.RTPCodecType, payload []byte) (Arrival, bool) {
	var a Arrival
	if k == webrtc.RTPCodecTypeVideo {
		if len(payload) < 2 {
			return a, false
		}
		a.Key = payload[1]&0x01 == 0
		payload = payload[2:]
	}
	if len(payload) < 4 {
		return a, false
	}
	a.Index = binary.BigEndian.Uint32(payload)
	return a, true
}

// RemoteSSRC is the SSRC of the track f as it last arrived, 0 if none did.
func (c *Client) RemoteSSRC(f From) webrtc.SSRC {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[f]; st != nil {
		return st.ssrc
	}
	return 0
}

// Keyframe makes the next video packet the client sends start a key frame.
func (c *Client) Keyframe() { c.key.Store(true) }

// LastKeyframe is the index of the last video packet sent that started a
// key frame.
func (c *Client) LastKeyframe() uint32 { return c.lastKey.Load() }

// Publish sends a packet on each of the client's tracks every interval
// until the client closes.
func (c *Client) Publish(interval time.Duration) {
	c.wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			for _, k := range kinds {
				c.Send(k)
			}
		}
	})
}

var payloadFill = make([]byte, 160)

// Send writes the next packet of the client's track of kind k.
func (c *Client) Send(k webrtc.RTPCodecType) {
	i := c.sent[kindIndex(k)].Load() + 1
	payload := make([]byte, 0, 6+len(payloadFill))
	if k == webrtc.RTPCodecTypeVideo {
		key := c.key.Swap(false)
		if key {
			c.lastKey.Store(i)
		}
		prefix := vp8Prefix(key)
		payload = append(payload, prefix[:]...)
	}
	payload = binary.BigEndian.AppendUint32(payload, i)
	payload = append(payload, payloadFill...)
	step := uint32(960) // 20 ms of Opus
	if k == webrtc.RTPCodecTypeVideo {
		step = 3000 // a frame at 30 fps
	}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i),
		Timestamp: i * step}, Payload: payload}
	_ = c.Out[k].WriteRTP(p)
	c.sent[kindIndex(k)].Store(i)
}

// LastSent is the index of the last packet written on the track of kind k.
func (c *Client) LastSent(k webrtc.RTPCodecType) uint32 { return c.sent[kindIndex(k)].Load() }

// Arrivals returns the packets received from f so far.
func (c *Client) Arrivals(f From) []Arrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[f]; st != nil {
		return append([]Arrival(nil), st.got...)
	}
	return nil
}

// After returns the indexes above after that arrived from f.
func (c *Client) After(f From, after uint32) []uint32 {
	var out []uint32
	for _, a := range c.Arrivals(f) {
		if a.Index > after {
			out = append(out, a.Index)
		}
	}
	return out
}

// Received reports whether a packet with an index above after arrived from
// f.
func (c *Client) Received(f From, after uint32) bool { return len(c.After(f, after)) > 0 }

// Ended reports whether the client's receiver of f ended.
func (c *Client) Ended(f From) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[f]
	return st != nil && st.ended
}

// Tracks is how many times the track f arrived.
func (c *Client) Tracks(f From) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[f]; st != nil {
		return st.tracks
	}
	return 0
}

// Connected is closed once the PeerConnection has reported it is
// connected (ICE and DTLS done), for benchmarks that time a set-up; tests
// ask the PeerConnection for its state.
func (c *Client) Connected() <-chan struct{} { return c.connected }

// ClosedAt is when the PeerConnection reported it closed; zero until then.
func (c *Client) ClosedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt
}

// Close stops publishing and the signalling (Config.OnClose), closes the
// PeerConnection, waits for the client's goroutines and reports the errors
// kept by Check. Calls after the first do nothing.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	errs := c.errs
	c.mu.Unlock()
	close(c.stop)
	if c.cfg.OnClose != nil {
		c.cfg.OnClose()
	}
	if err := c.PC.GracefulClose(); err != nil {
		c.t.Errorf("%s: closing: %v", c.ID, err)
	}
	c.wg.Wait()
	for _, err := range errs {
		c.t.Errorf("%s: %v", c.ID, err)
	}
}
