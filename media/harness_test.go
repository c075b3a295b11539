package media

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
)

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
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("closing router: %v", err)
		}
	})
	return r
}

// only is the stage factory of a test's one router: it returns st once, and
// an error to a second router, which would share st.
func only(st Stage) StageFactory {
	var made atomic.Bool
	return StageFactoryFunc(func(string) (Stage, error) {
		if made.Swap(true) {
			return nil, errors.New("test stage asked for by a second router")
		}
		return st, nil
	})
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

// join joins ids, the first as the host, the others as attendees.
func (h *harness) join(ids ...string) {
	h.t.Helper()
	for i, id := range ids {
		preset := "attendee"
		if i == 0 {
			preset = "host"
		}
		h.do(joinCommand(id, preset))
	}
}

// from names a forwarded track as a subscriber sees it.
func from(participant string, kind webrtc.RTPCodecType) mediatest.From {
	return mediatest.From{Participant: participant, Kind: kind}
}

// client is a participant's side, signalled through the router's Peer.
type client struct {
	*mediatest.Client
	peer *Peer
	// keyframeRequests counts the PLIs and FIRs the router sent, by kind.
	keyframeRequests map[webrtc.RTPCodecType]*atomic.Int32
	// onKeyframeRequest, if set, is called after each video one is counted.
	onKeyframeRequest atomic.Pointer[func()]
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
	cctx, ccancel := context.WithTimeout(ctx, mediatest.WaitLimit)
	defer ccancel()
	peer, err := r.Connect(cctx, id)
	if err != nil {
		cancel()
		t.Fatalf("Connect(%s): %v", id, err)
	}
	c := &client{peer: peer, keyframeRequests: map[webrtc.RTPCodecType]*atomic.Int32{
		webrtc.RTPCodecTypeAudio: new(atomic.Int32), webrtc.RTPCodecTypeVideo: new(atomic.Int32)}}
	cfg := mediatest.Config{
		Trickle: func(cand webrtc.ICECandidateInit) error { return peer.Signal(Signal{Candidate: &cand}) },
		RTCP: func(kind webrtc.RTPCodecType, pkts []rtcp.Packet) {
			if asksKeyframe(pkts) {
				c.keyframeRequests[kind].Add(1)
				if f := c.onKeyframeRequest.Load(); f != nil && kind == webrtc.RTPCodecTypeVideo {
					(*f)()
				}
			}
		},
		Sink:       sink,
		PeerClosed: ErrPeerClosed,
		OnClose:    cancel,
	}
	if publish {
		cfg.Publish = Codecs()
	}
	c.Client = mediatest.NewClient(t, api, id, cfg)
	t.Cleanup(c.Close)
	c.Go(func() { c.signal(ctx) })
	mediatest.WaitUntil(t, id+" connected", func() bool {
		return c.PC.ConnectionState() == webrtc.PeerConnectionStateConnected
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
			answer, err := c.Answer(*s.Description)
			if err != nil {
				c.Check(err)
				continue
			}
			c.Check(c.peer.Signal(Signal{Description: &answer}))
		case s.Candidate != nil:
			c.Check(c.PC.AddICECandidate(*s.Candidate))
		}
	}
}
