// Package wsmediatest is a participant of the websocket protocol with media
// for the tests of transport/ws/wsmedia and its relay: a websocket and,
// unless it only looks at the frames, a PeerConnection (a mediatest.Client)
// that the signal frames drive.
//
// Package wsmediatest imports core, media, internal/mediatest,
// internal/testwait, transport/ws/wire, transport/ws/wsmedia, pion and the
// websocket library.
package wsmediatest

import (
	"context"
	"fmt"
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
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
)

// Mode is what a Participant has: frames only, a PeerConnection, or a
// PeerConnection that publishes.
type Mode int

// The modes.
const (
	FramesOnly Mode = iota
	WithPC
	Publishing
)

// Participant is a client of the raw protocol. Its embedded Client is the
// current PeerConnection (nil with FramesOnly): the test's goroutine
// replaces it (Renew) and reads it; the socket's reader takes it under mu.
type Participant struct {
	*mediatest.Client

	ID     string
	t      testing.TB
	mode   Mode
	api    *webrtc.API
	ws     *websocket.Conn
	frames chan wire.Frame // the frames the PeerConnection does not take; closed when the socket is
	ids    atomic.Int64
	stop   chan struct{} // closed by Close
	read   sync.WaitGroup
	mu     sync.Mutex // guards Client against the reader
}

// Dial connects participant id to the websocket URL (with its token) and
// reads the welcome. The participant closes when the test ends.
func Dial(t testing.TB, url, id string, mode Mode) *Participant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	c.SetReadLimit(1 << 20)
	p := &Participant{ID: id, t: t, mode: mode, ws: c, frames: make(chan wire.Frame, 256), stop: make(chan struct{})}
	t.Cleanup(p.Close)
	if mode != FramesOnly {
		if p.api, err = media.LoopbackNetwork().API(); err != nil {
			t.Fatal(err)
		}
		p.Client = p.newClient()
	}
	p.read.Go(p.readFrames)
	if f := p.Next(); f.Type != wire.TypeWelcome {
		t.Fatalf("%s: first frame %s, want welcome", id, f.Type)
	}
	return p
}

func (p *Participant) newClient() *mediatest.Client {
	cfg := mediatest.Config{Trickle: func(cand webrtc.ICECandidateInit) error {
		p.Send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Candidate: &cand})))
		return nil
	}}
	if p.mode == Publishing {
		cfg.Publish = media.Codecs()
	}
	return mediatest.NewClient(p.t, p.api, p.ID, cfg)
}

// Renew closes the participant's PeerConnection and makes a new one, for
// the next media_connect (after a media_closed, say). What the old one
// received goes with it.
func (p *Participant) Renew() {
	p.t.Helper()
	old := p.Client
	p.mu.Lock()
	p.Client = p.newClient()
	p.mu.Unlock()
	old.Close()
}

// readFrames reads the socket until it closes: signals go to the
// PeerConnection, the rest to frames.
func (p *Participant) readFrames() {
	defer close(p.frames)
	for {
		_, b, err := p.ws.Read(context.Background()) // Close ends it
		if err != nil {
			return
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			p.t.Errorf("%s: frame %s: %v", p.ID, b, err)
			continue
		}
		p.mu.Lock()
		c := p.Client
		p.mu.Unlock()
		if f.Type == wire.TypeSignal && c != nil {
			p.signal(c, wsmedia.FromWire(f.Signal))
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
func (p *Participant) signal(c *mediatest.Client, s media.Signal) {
	if s.Candidate != nil {
		c.Check(c.PC.AddICECandidate(*s.Candidate))
		return
	}
	answer, err := c.Answer(*s.Description)
	if err != nil {
		c.Check(err)
		return
	}
	p.Send(wire.AppendSignal(nil, wsmedia.ToWire(media.Signal{Description: &answer})))
}

// Send writes a frame. A write fails once the socket is closed, which
// some tests expect; a frame that should have gone shows as a wait that
// fails, so the error is only logged.
func (p *Participant) Send(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Logf("%s: write %.40s: %v", p.ID, b, err)
	}
}

// Next returns the next frame the PeerConnection did not take.
func (p *Participant) Next() wire.Frame {
	p.t.Helper()
	f, ok := p.NextOrClosed()
	if !ok {
		p.t.Fatalf("%s: the socket closed", p.ID)
	}
	return f
}

// NextOrClosed returns the next frame, or false once the socket has closed
// and every frame before was read.
func (p *Participant) NextOrClosed() (wire.Frame, bool) {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		return f, ok
	case <-time.After(mediatest.WaitLimit):
		p.t.Fatalf("%s: no frame for %v", p.ID, mediatest.WaitLimit)
		return wire.Frame{}, false
	}
}

// Until reads frames until one satisfies want, and returns it and the
// frames before it.
func (p *Participant) Until(what string, want func(wire.Frame) bool) (wire.Frame, []wire.Frame) {
	p.t.Helper()
	var skipped []wire.Frame
	for {
		f, ok := p.NextOrClosed()
		if !ok {
			p.t.Fatalf("%s: the socket closed while waiting for %s (after %+v)", p.ID, what, skipped)
		}
		if want(f) {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// Do sends cmd as the participant and returns its result.
func (p *Participant) Do(cmd core.Command) wire.Result {
	p.t.Helper()
	cmd.ID = p.ID + "-" + strconv.FormatInt(p.ids.Add(1), 10)
	p.Send(wire.AppendCommand(nil, cmd))
	f, _ := p.Until("result "+cmd.ID, func(f wire.Frame) bool { return f.Type == wire.TypeResult && f.Result.ID == cmd.ID })
	return f.Result
}

// Join joins the session, audio and video on.
func (p *Participant) Join() {
	p.t.Helper()
	if res := p.Do(core.Command{Type: core.Join, Name: p.ID, Audio: true, Video: true}); res.Err != nil || res.Refused != "" {
		p.t.Fatalf("%s: join: %+v", p.ID, res)
	}
}

// ConnectMedia sends media_connect and waits until the PeerConnection is
// connected.
func (p *Participant) ConnectMedia() {
	p.t.Helper()
	p.Send(wire.AppendMediaConnect(nil))
	mediatest.WaitUntil(p.t, p.ID+"'s PeerConnection connected", func() bool {
		return p.PC.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// Close closes the socket and the PeerConnection and waits for the
// participant's goroutines.
func (p *Participant) Close() {
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

// ServerRead waits until the router has read the publisher's packet index
// (its sequence number) on the track.
func ServerRead(t testing.TB, r *media.Router, participant string, kind webrtc.RTPCodecType, index uint32) {
	t.Helper()
	mediatest.WaitUntil(t, fmt.Sprintf("the router to read %s's %s packet %d", participant, kind, index), func() bool {
		st, ok := r.TrackStats(participant, kind)
		return ok && st.LastSequence >= uint16(index) // no wrap in a test this short
	})
}

// From names a forwarded track as a subscriber sees it.
func From(participant string, kind webrtc.RTPCodecType) mediatest.From {
	return mediatest.From{Participant: participant, Kind: kind}
}

// IsOffer reports whether f is a signal with an offer.
func IsOffer(f wire.Frame) bool {
	return f.Type == wire.TypeSignal && f.Signal.Description != nil && f.Signal.Description.Type == wire.SDPOffer
}

// IsMediaClosed reports whether f is a media_closed.
func IsMediaClosed(f wire.Frame) bool { return f.Type == wire.TypeMediaClosed }

// JoinForMedia checks that media_connect before joining is refused with
// not_joined, joins, and returns the offer the next media_connect gets.
func (p *Participant) JoinForMedia() wire.Frame {
	p.t.Helper()
	p.Send(wire.AppendMediaConnect(nil))
	if f := p.Next(); f.Type != wire.TypeMediaClosed || f.Media.Err == nil || f.Media.Err.Code != core.CodeNotJoined {
		p.t.Fatalf("%s: media_connect before joining: %+v, want media_closed not_joined", p.ID, f)
	}
	p.Join()
	p.Send(wire.AppendMediaConnect(nil))
	offer := p.Next()
	if !IsOffer(offer) {
		p.t.Fatalf("%s: after media_connect: %+v, want an offer", p.ID, offer)
	}
	return offer
}
