package wsmedia_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

const room = "room-1"

// startServer starts a websocket server whose media runs on a Hub on
// loopback. The hub closes after the server and the manager.
func startServer(t testing.TB, opts ...ws.Option) (*wstest.Server, *wsmedia.Hub) {
	t.Helper()
	var hub *wsmedia.Hub
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
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
func from(participant string, kind webrtc.RTPCodecType) mediatest.From {
	return mediatest.From{Participant: participant, Kind: kind}
}

// participant is a client of the raw protocol: a websocket, and, unless it
// only looks at the frames, a PeerConnection that the signal frames drive.
type participant struct {
	*mediatest.Client // nil: signal frames go to frames

	t      testing.TB
	id     string
	ws     *websocket.Conn
	frames chan wire.Frame // the frames the PeerConnection does not take; closed when the socket is
	ids    atomic.Int64
	stop   chan struct{} // closed by close
	read   sync.WaitGroup
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
	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL+"?token="+srv.Token(room, id, preset), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	c.SetReadLimit(1 << 20)
	p := &participant{t: t, id: id, ws: c, frames: make(chan wire.Frame, 256), stop: make(chan struct{})}
	t.Cleanup(p.close)
	if mode != framesOnly {
		api, err := media.LoopbackNetwork().API()
		if err != nil {
			t.Fatal(err)
		}
		cfg := mediatest.Config{Trickle: func(cand webrtc.ICECandidateInit) error {
			p.send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Candidate: &cand})))
			return nil
		}}
		if mode == publishing {
			cfg.Publish = media.Codecs()
		}
		p.Client = mediatest.NewClient(t, api, id, cfg)
	}
	p.read.Go(p.readFrames)
	if f := p.next(); f.Type != wire.TypeWelcome {
		t.Fatalf("%s: first frame %s, want welcome", id, f.Type)
	}
	return p
}

// readFrames reads the socket until it closes: signals go to the
// PeerConnection, the rest to frames.
func (p *participant) readFrames() {
	defer close(p.frames)
	for {
		_, b, err := p.ws.Read(context.Background()) // close ends it
		if err != nil {
			return
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			p.t.Errorf("%s: frame %s: %v", p.id, b, err)
			continue
		}
		if f.Type == wire.TypeSignal && p.Client != nil {
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
		p.Check(p.PC.AddICECandidate(*s.Candidate))
		return
	}
	answer, err := p.Answer(*s.Description)
	if err != nil {
		p.Check(err)
		return
	}
	p.send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Description: &answer})))
}

// send writes a frame. A write fails once the socket is closed, which
// some tests expect; a frame that should have gone shows as a wait that
// fails, so the error is only logged.
func (p *participant) send(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Logf("%s: write %.40s: %v", p.id, b, err)
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
	case <-time.After(mediatest.WaitLimit):
		p.t.Fatalf("%s: no frame for %v", p.id, mediatest.WaitLimit)
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
	mediatest.WaitUntil(p.t, p.id+"'s PeerConnection connected", func() bool {
		return p.PC.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// close closes the socket and the PeerConnection and waits for the
// participant's goroutines.
func (p *participant) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.ws.CloseNow()
	if p.Client != nil {
		p.Client.Close()
	}
	testwait.Wait(p.t, "the socket reader to end", p.read.Wait)
}
