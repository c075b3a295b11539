package wsmedia_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/media/wsmedia"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// waitLimit bounds every wait of these tests. Reaching it fails the test;
// nothing passes or fails on how fast things happen within it.
const waitLimit = 10 * time.Second

const room = "room-1"

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

// startServer starts a websocket server whose media runs on a Hub on
// loopback. The hub closes after the server and the manager.
func startServer(t testing.TB, opts ...ws.Option) (*wstest.Server, *wsmedia.Hub) {
	t.Helper()
	var hub *wsmedia.Hub
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	srv := wstest.NewMedia(t, func(m *session.Manager) ws.MediaHub {
		h, err := wsmedia.New(m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork())),
			wsmedia.WithErrorHandler(func(err error) { t.Errorf("hub: %v", err) }))
		if err != nil {
			t.Fatal(err)
		}
		hub = h
		return h
	}, opts...)
	return srv, hub
}

// from names a forwarded track as a subscriber sees it.
type from struct {
	participant string
	kind        webrtc.RTPCodecType
}

var kinds = [...]webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}

func kindIndex(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeAudio {
		return 0
	}
	return 1
}

// participant is a client of the raw protocol: a websocket, and, unless it
// only looks at the frames, a pion PeerConnection that the signal frames
// drive. A publishing participant sends one audio and one video track;
// every packet carries its index (1, 2, …) in the first four payload bytes.
type participant struct {
	t      testing.TB
	id     string
	ws     *websocket.Conn
	pc     *webrtc.PeerConnection // nil: signal frames go to frames
	out    map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP
	sent   [2]atomic.Uint32 // by kind: the index of the last packet written
	frames chan wire.Frame  // the frames the PeerConnection does not take; closed when the socket is
	ids    atomic.Int64

	stop chan struct{} // closed by close
	wg   sync.WaitGroup

	mu      sync.Mutex
	closing bool
	got     map[from][]uint32 // indexes received
	ended   map[from]bool     // the track's receiver ended
	errs    []error
}

// What a participant dial makes has: frames only, a PeerConnection, or a
// PeerConnection that publishes.
const (
	framesOnly = iota
	withPC
	publishing
)

// dial connects participant id with a token for preset and reads the
// welcome.
func dial(t testing.TB, srv *wstest.Server, id, preset string, mode int) *participant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL+"?token="+srv.Token(t, room, id, preset), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	c.SetReadLimit(1 << 20)
	p := &participant{t: t, id: id, ws: c, out: make(map[webrtc.RTPCodecType]*webrtc.TrackLocalStaticRTP),
		frames: make(chan wire.Frame, 256), stop: make(chan struct{}), got: make(map[from][]uint32),
		ended: make(map[from]bool)}
	t.Cleanup(p.close)
	if mode != framesOnly {
		p.newPC(mode == publishing)
	}
	p.wg.Go(p.read)
	if f := p.next(); f.Type != wire.TypeWelcome {
		t.Fatalf("%s: first frame %s, want welcome", id, f.Type)
	}
	return p
}

func (p *participant) newPC(publish bool) {
	api, err := media.LoopbackNetwork().API()
	if err != nil {
		p.t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Fatal(err)
	}
	p.pc = pc
	if publish {
		for _, codec := range media.Codecs() {
			kind := webrtc.RTPCodecTypeAudio
			if codec.MimeType == webrtc.MimeTypeVP8 {
				kind = webrtc.RTPCodecTypeVideo
			}
			track, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, kind.String(), p.id)
			if err != nil {
				p.t.Fatal(err)
			}
			sender, err := pc.AddTrack(track)
			if err != nil {
				p.t.Fatal(err)
			}
			p.out[kind] = track
			p.wg.Go(func() { // runs the interceptors; ends with the sender
				for {
					if _, _, err := sender.ReadRTCP(); err != nil {
						return
					}
				}
			})
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Candidate: &init})))
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		defer p.wg.Done()
		p.receive(remote)
	})
}

// read reads the socket until it closes: signals go to the PeerConnection,
// the rest to frames.
func (p *participant) read() {
	defer close(p.frames)
	for {
		_, b, err := p.ws.Read(context.Background()) // close ends it
		if err != nil {
			return
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			p.check(fmt.Errorf("frame %s: %w", b, err))
			continue
		}
		if f.Type == wire.TypeSignal && p.pc != nil {
			p.signal(wsmedia.FromWire(f.Signal))
			continue
		}
		select {
		case p.frames <- f:
		case <-p.stop:
			return
		}
	}
}

// signal answers the router's offers and takes its candidates.
func (p *participant) signal(s media.Signal) {
	if s.Candidate != nil {
		p.check(p.pc.AddICECandidate(*s.Candidate))
		return
	}
	if err := p.pc.SetRemoteDescription(*s.Description); err != nil {
		p.check(err)
		return
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		p.check(err)
		return
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		p.check(err)
		return
	}
	p.send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Description: &answer})))
}

// send writes a frame. A write fails once the socket is closed, which
// some tests expect; a frame that should have gone shows as a wait that
// fails, so the error is only logged.
func (p *participant) send(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Logf("%s: write %.40s: %v", p.id, b, err)
	}
}

// check keeps an error for the end of the test, unless the participant is
// going away anyway.
func (p *participant) check(err error) {
	if err == nil || errors.Is(err, webrtc.ErrConnectionClosed) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closing {
		p.errs = append(p.errs, err)
	}
}

// next returns the next frame the PeerConnection did not take.
func (p *participant) next() wire.Frame {
	p.t.Helper()
	f, ok := p.nextOrClosed()
	if !ok {
		p.t.Fatalf("%s: the socket closed", p.id)
	}
	return f
}

// nextOrClosed returns the next frame, or false once the socket has closed
// and every frame before was read.
func (p *participant) nextOrClosed() (wire.Frame, bool) {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		return f, ok
	case <-time.After(waitLimit):
		p.t.Fatalf("%s: no frame for %v", p.id, waitLimit)
		return wire.Frame{}, false
	}
}

// until reads frames until one satisfies want, and returns it and the
// frames before it.
func (p *participant) until(what string, want func(wire.Frame) bool) (wire.Frame, []wire.Frame) {
	p.t.Helper()
	var skipped []wire.Frame
	for {
		f, ok := p.nextOrClosed()
		if !ok {
			p.t.Fatalf("%s: the socket closed while waiting for %s (after %+v)", p.id, what, skipped)
		}
		if want(f) {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// do sends cmd as p and returns its result.
func (p *participant) do(cmd core.Command) wire.Result {
	p.t.Helper()
	cmd.ID = p.id + "-" + strconv.FormatInt(p.ids.Add(1), 10)
	p.send(wire.AppendCommand(nil, cmd))
	f, _ := p.until("result "+cmd.ID, func(f wire.Frame) bool { return f.Type == wire.TypeResult && f.Result.ID == cmd.ID })
	return f.Result
}

func (p *participant) join() {
	p.t.Helper()
	if res := p.do(core.Command{Type: core.Join, Name: p.id, Audio: true, Video: true}); res.Err != nil || res.Refused != "" {
		p.t.Fatalf("%s: join: %+v", p.id, res)
	}
}

// connectMedia sends media_connect and waits until the PeerConnection is
// connected.
func (p *participant) connectMedia() {
	p.t.Helper()
	p.send(wire.AppendMediaConnect(nil))
	waitUntil(p.t, p.id+"'s PeerConnection connected", func() bool {
		return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

func (p *participant) receive(remote *webrtc.TrackRemote) {
	k := from{remote.StreamID(), remote.Kind()}
	p.mu.Lock()
	p.ended[k] = false
	p.mu.Unlock()
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			p.mu.Lock()
			p.ended[k] = true
			p.mu.Unlock()
			return
		}
		if len(pkt.Payload) < 4 {
			continue
		}
		p.mu.Lock()
		p.got[k] = append(p.got[k], binary.BigEndian.Uint32(pkt.Payload))
		p.mu.Unlock()
	}
}

// publish sends a packet on each of the participant's tracks every interval
// until it closes.
func (p *participant) publish(interval time.Duration) {
	p.wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		payload := make([]byte, 164)
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			for _, k := range kinds {
				i := p.sent[kindIndex(k)].Load() + 1
				binary.BigEndian.PutUint32(payload, i)
				step := uint32(960) // 20 ms of Opus
				if k == webrtc.RTPCodecTypeVideo {
					step = 3000
				}
				_ = p.out[k].WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true,
					SequenceNumber: uint16(i), Timestamp: i * step}, Payload: payload})
				p.sent[kindIndex(k)].Store(i)
			}
		}
	})
}

func (p *participant) lastSent(k webrtc.RTPCodecType) uint32 { return p.sent[kindIndex(k)].Load() }

// received returns the indexes above after that arrived from f.
func (p *participant) received(f from, after uint32) []uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []uint32
	for _, i := range p.got[f] {
		if i > after {
			out = append(out, i)
		}
	}
	return out
}

func (p *participant) trackEnded(f from) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended[f]
}

func (p *participant) close() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.closing = true
	errs := p.errs
	p.mu.Unlock()
	close(p.stop)
	p.ws.CloseNow()
	if p.pc != nil {
		if err := p.pc.GracefulClose(); err != nil {
			p.t.Errorf("%s: closing: %v", p.id, err)
		}
	}
	p.wg.Wait()
	for _, err := range errs {
		p.t.Errorf("%s: %v", p.id, err)
	}
}
