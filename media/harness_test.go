package media

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
)

// waitLimit bounds every wait of these tests. Reaching it fails the test;
// nothing passes or fails on how fast things happen within it.
const waitLimit = 5 * time.Second

// waitUntil waits for cond, checking it every couple of milliseconds, and
// fails the test after waitLimit.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", waitLimit, what)
		}
		<-tick.C
	}
}

// harness is a router on loopback with the session it follows.
type harness struct {
	t      testing.TB
	s      *session
	router *Router
	api    *webrtc.API
}

func newHarness(t testing.TB, opts ...Option) *harness {
	t.Helper()
	leakcheck.Check(t)
	h := &harness{t: t, s: newSession(t)}
	h.router = newTestRouter(t, h.s.state, opts...)
	api, err := LoopbackNetwork().API()
	if err != nil {
		t.Fatal(err)
	}
	h.api = api
	return h
}

func newTestRouter(t testing.TB, s core.State, opts ...Option) *Router {
	t.Helper()
	r, err := NewRouter(s, append([]Option{WithNetwork(LoopbackNetwork())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("closing router: %v", err)
		}
	})
	return r
}

// do runs cmd through the reducer and applies its events to the router.
func (h *harness) do(cmd core.Command) []events.Event {
	h.t.Helper()
	evs := h.s.do(cmd)
	for _, ev := range evs {
		if err := h.router.Apply(ev); err != nil {
			h.t.Fatalf("Apply(%s): %v", ev.Type(), err)
		}
	}
	return evs
}

func (h *harness) join(ids ...string) {
	h.t.Helper()
	for i, id := range ids {
		preset := "attendee"
		if i == 0 {
			preset = "host"
		}
		for _, ev := range h.s.join(id, preset) {
			if err := h.router.Apply(ev); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// from names a forwarded track as a subscriber sees it.
type from struct {
	participant string
	kind        webrtc.RTPCodecType
}

// arrival is one packet a client received: the index the publisher wrote in
// its payload and the sequence number it arrived with.
type arrival struct {
	index uint32
	seq   uint16
}

type stream struct {
	got    []arrival
	ended  bool
	tracks int // how many times the track arrived (OnTrack)
}

// client is a participant's side: a real pion PeerConnection, signalled
// through the router's Peer. A publishing client sends one audio and one
// video track; every packet carries its index (1, 2, …) in the first four
// payload bytes and as its sequence number.
type client struct {
	t    testing.TB
	id   string
	pc   *webrtc.PeerConnection
	peer *Peer
	out  map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP
	sent [2]atomic.Uint32 // by kind: the index of the last packet written
	// keyframeRequests counts the PLIs and FIRs the router sent, by kind.
	keyframeRequests [2]atomic.Int32

	cancel context.CancelFunc // stops the signalling loop
	stop   chan struct{}      // closed by close: stops publishing
	wg     sync.WaitGroup

	mu       sync.Mutex
	closing  bool
	streams  map[from]*stream
	closedAt time.Time // when the Closed state handler ran
	errs     []error
}

func kindIndex(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeAudio {
		return 0
	}
	return 1
}

// connect connects a client for participant id and waits until its
// PeerConnection is connected.
func (h *harness) connect(id string, publish bool) *client {
	h.t.Helper()
	return connectTo(h.t, h.router, h.api, id, publish)
}

func connectTo(t testing.TB, r *Router, api *webrtc.API, id string, publish bool) *client {
	t.Helper()
	return connectWith(t, r, api, id, publish, nil)
}

// connectWith is connectTo with sink, if not nil, reading the tracks the
// client receives instead of the client's own recording.
func connectWith(t testing.TB, r *Router, api *webrtc.API, id string, publish bool,
	sink func(*webrtc.TrackRemote),
) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cctx, ccancel := context.WithTimeout(ctx, waitLimit)
	defer ccancel()
	peer, err := r.Connect(cctx, id)
	if err != nil {
		cancel()
		t.Fatalf("Connect(%s): %v", id, err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &client{t: t, id: id, pc: pc, peer: peer, cancel: cancel, stop: make(chan struct{}),
		out: make(map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP), streams: make(map[from]*stream)}
	t.Cleanup(c.close)
	if publish {
		for _, codec := range Codecs() {
			kind := kindOf(codec.MimeType)
			track, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, kind.String(), id)
			if err != nil {
				t.Fatal(err)
			}
			sender, err := pc.AddTrack(track)
			if err != nil {
				t.Fatal(err)
			}
			c.out[kind] = track
			c.wg.Go(func() {
				for {
					pkts, _, err := sender.ReadRTCP()
					if err != nil {
						return
					}
					if asksKeyframe(pkts) {
						c.keyframeRequests[kindIndex(kind)].Add(1)
					}
				}
			})
		}
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			init := cand.ToJSON()
			c.check(peer.Signal(Signal{Candidate: &init}))
		}
	})
	// pion runs each state handler on a goroutine of its own, so handlers
	// may run out of order: connState asks the PeerConnection instead.
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
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
		if sink != nil {
			sink(remote)
			return
		}
		c.receive(remote)
	})
	c.wg.Go(func() { c.signal(ctx) })
	waitUntil(t, id+" connected", func() bool {
		return c.connState() == webrtc.PeerConnectionStateConnected
	})
	return c
}

// signal answers the router's offers and takes its candidates.
func (c *client) signal(ctx context.Context) {
	for {
		s, err := c.peer.Next(ctx)
		if err != nil {
			return
		}
		switch {
		case s.Description != nil:
			if err := c.pc.SetRemoteDescription(*s.Description); err != nil {
				c.check(err)
				continue
			}
			answer, err := c.pc.CreateAnswer(nil)
			if err != nil {
				c.check(err)
				continue
			}
			if err := c.pc.SetLocalDescription(answer); err != nil {
				c.check(err)
				continue
			}
			c.check(c.peer.Signal(Signal{Description: &answer}))
		case s.Candidate != nil:
			c.check(c.pc.AddICECandidate(*s.Candidate))
		}
	}
}

// check keeps an error for the end of the test, unless the connection is
// going away anyway.
func (c *client) check(err error) {
	if err == nil || errors.Is(err, ErrPeerClosed) || errors.Is(err, webrtc.ErrConnectionClosed) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.errs = append(c.errs, err)
	}
}

func (c *client) receive(remote *webrtc.TrackRemote) {
	k := from{remote.StreamID(), remote.Kind()}
	c.mu.Lock()
	st := c.streams[k]
	if st == nil {
		st = &stream{}
		c.streams[k] = st
	}
	st.ended = false
	st.tracks++
	c.mu.Unlock()
	for {
		p, _, err := remote.ReadRTP()
		if err != nil {
			c.mu.Lock()
			st.ended = true
			c.mu.Unlock()
			return
		}
		if len(p.Payload) < 4 {
			continue
		}
		c.mu.Lock()
		st.got = append(st.got, arrival{index: binary.BigEndian.Uint32(p.Payload), seq: p.SequenceNumber})
		c.mu.Unlock()
	}
}

// publish sends a packet on each of the client's tracks every interval until
// the client closes.
func (c *client) publish(interval time.Duration) {
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
				c.send(k)
			}
		}
	})
}

var payloadFill = make([]byte, 160)

// send writes the next packet of the client's kind track.
func (c *client) send(k webrtc.RTPCodecType) {
	i := c.sent[kindIndex(k)].Load() + 1
	payload := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(payloadFill)), i)
	payload = append(payload, payloadFill...)
	step := uint32(960) // 20 ms of Opus
	if k == webrtc.RTPCodecTypeVideo {
		step = 3000 // a frame at 30 fps
	}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i),
		Timestamp: i * step}, Payload: payload}
	_ = c.out[k].WriteRTP(p)
	c.sent[kindIndex(k)].Store(i)
}

// lastSent is the index of the last packet written on the kind track.
func (c *client) lastSent(k webrtc.RTPCodecType) uint32 { return c.sent[kindIndex(k)].Load() }

func (c *client) arrivals(f from) []arrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[f]; st != nil {
		return append([]arrival(nil), st.got...)
	}
	return nil
}

// received reports whether a packet with an index above after arrived from f.
func (c *client) received(f from, after uint32) bool {
	for _, a := range c.arrivals(f) {
		if a.index > after {
			return true
		}
	}
	return false
}

func (c *client) ended(f from) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.streams[f]
	return st != nil && st.ended
}

func (c *client) connState() webrtc.PeerConnectionState { return c.pc.ConnectionState() }

func (c *client) close() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	errs := c.errs
	c.mu.Unlock()
	close(c.stop)
	c.cancel()
	if err := c.pc.GracefulClose(); err != nil {
		c.t.Errorf("%s: closing: %v", c.id, err)
	}
	c.wg.Wait()
	for _, err := range errs {
		c.t.Errorf("%s: signalling: %v", c.id, err)
	}
}
