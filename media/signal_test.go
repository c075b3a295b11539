package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
)

func TestApplySkipsOldEventsAndRefusesGaps(t *testing.T) {
	leakcheck.Check(t)
	s := newSession(t)
	s.join("alice", "host")
	s.join("bob", "attendee")
	s.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	r := newTestRouter(t, core.NewState("room-1", presets))

	if err := r.Apply(s.log[1]); !errors.Is(err, ErrSequenceGap) {
		t.Fatalf("Apply(seq 2) at seq 0: %v, want ErrSequenceGap", err)
	}
	if r.State().Seq() != 0 {
		t.Fatalf("a refused event moved the router to seq %d", r.State().Seq())
	}
	for _, ev := range s.log {
		if err := r.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	// Delivered again: skipped, the state stays.
	if err := r.Apply(&events.AudioUpdate{Seq: 2, Participant: "bob", AudioEnabled: true, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	if !r.State().Equal(s.state) {
		t.Errorf("state %+v, want %+v", r.State().Snapshot(), s.state.Snapshot())
	}

	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(&events.SessionEnded{Seq: 4, By: "alice"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close: %v, want ErrClosed", err)
	}
	if _, err := r.Connect(ctx, "alice"); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v, want ErrClosed", err)
	}
}

func TestRun(t *testing.T) {
	s := newSession(t)
	s.join("alice", "host")
	s.join("bob", "attendee")
	s.do(core.Command{Type: core.KickAll, Actor: "alice"})

	t.Run("ends with the session", func(t *testing.T) {
		leakcheck.Check(t)
		r := newTestRouter(t, core.NewState("room-1", presets))
		if err := r.Run(testwait.Context(t), &sliceSource{evs: s.log}); err != nil {
			t.Fatalf("Run: %v, want nil after session_ended", err)
		}
		if !r.State().Ended() {
			t.Error("session not ended")
		}
	})
	t.Run("gap", func(t *testing.T) {
		leakcheck.Check(t)
		r := newTestRouter(t, core.NewState("room-1", presets))
		if err := r.Run(testwait.Context(t), &sliceSource{evs: s.log[1:]}); !errors.Is(err, ErrSequenceGap) {
			t.Fatalf("Run: %v, want ErrSequenceGap", err)
		}
	})
	t.Run("router closed", func(t *testing.T) {
		leakcheck.Check(t)
		r := newTestRouter(t, core.NewState("room-1", presets))
		done := make(chan error, 1)
		runCtx := testwait.Context(t)
		go func() { done <- r.Run(runCtx, &sliceSource{evs: s.log[:2]}) }()
		mediatest.WaitUntil(t, "the joins applied", func() bool { return r.State().Seq() == 2 })
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := testwait.Recv(t, done, "Run to return"); !errors.Is(err, ErrClosed) {
			t.Errorf("Run: %v, want ErrClosed", err)
		}
	})
}

// TestNAT1To1IPs: a router behind a one-to-one NAT announces its public
// address in its host candidates, in place of the local one.
func TestNAT1To1IPs(t *testing.T) {
	const public = "203.0.113.7"
	network := LoopbackNetwork()
	network.NAT1To1IPs = []string{public}
	h := newHarness(t, WithNetwork(network))
	h.join("alice")
	ctx := testwait.Context(t)
	p, err := h.router.Connect(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	for {
		s, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("no candidate from the router: %v", err)
		}
		if s.Candidate == nil {
			continue
		}
		cand, err := ice.UnmarshalCandidate(s.Candidate.Candidate)
		if err != nil {
			t.Fatal(err)
		}
		if cand.Type() != ice.CandidateTypeHost || cand.Address() != public {
			t.Errorf("candidate %q, want a host candidate at %s", s.Candidate.Candidate, public)
		}
		return
	}
}

// TestConnectAtWaitsForTheCallersSeq: a caller that read the session at
// seq 3 is not admitted on the router's older state (seq 2, where bob is
// still in): the router applies seq 3 first, where bob is kicked, and
// refuses him with not_joined; a participant still in is admitted at once.
func TestConnectAtWaitsForTheCallersSeq(t *testing.T) {
	h := newHarness(t)
	h.join("alice", "bob")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
		defer cancel()
		p, err := h.router.ConnectAt(ctx, "bob", 3)
		if err == nil {
			err = fmt.Errorf("admitted %s", p.Participant())
			_ = p.Close(ctx)
		}
		done <- err
	}()
	h.do(core.Command{Type: core.Kick, Actor: "alice", Target: "bob"})
	if err := testwait.Recv(t, done, "ConnectAt to return"); !notJoined(err) {
		t.Errorf("ConnectAt(bob, 3), bob kicked at 3: %v, want not_joined", err)
	}
	ctx := testwait.Context(t)
	if _, err := h.router.ConnectAt(ctx, "bob", 2); !notJoined(err) {
		t.Errorf("ConnectAt(bob, 2) at seq 3: %v, want not_joined", err)
	}
	p, err := h.router.ConnectAt(ctx, "alice", 2)
	if err != nil {
		t.Fatalf("ConnectAt(alice, 2) at seq 3: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func notJoined(err error) bool {
	code, _ := core.CodeOf(err)
	return code == core.CodeNotJoined
}

func TestConnectWaitsForJoin(t *testing.T) {
	h := newHarness(t)
	h.join("alice")
	type result struct {
		p   *Peer
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
		defer cancel()
		p, err := h.router.Connect(ctx, "bob")
		done <- result{p, err}
	}()
	h.join("bob")
	res := testwait.Recv(t, done, "Connect to return")
	if res.err != nil {
		t.Fatalf("Connect: %v", res.err)
	}
	if res.p.Participant() != "bob" {
		t.Errorf("peer of %q", res.p.Participant())
	}
	s, err := res.p.Next(testwait.Context(t))
	if err != nil || s.Description == nil || s.Description.Type != webrtc.SDPTypeOffer {
		t.Fatalf("first signal %+v, %v: want an offer", s, err)
	}

	// The participant never makes offers, and a signal is one thing.
	if err := res.p.Signal(Signal{Description: s.Description}); !errors.Is(err, ErrBadSignal) {
		t.Errorf("Signal(offer): %v, want ErrBadSignal", err)
	}
	if err := res.p.Signal(Signal{}); !errors.Is(err, ErrBadSignal) {
		t.Errorf("Signal(empty): %v, want ErrBadSignal", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := res.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := res.p.Next(ctx); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("Next after Close: %v, want ErrPeerClosed", err)
	}
	if err := res.p.Signal(Signal{Description: s.Description}); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("Signal after Close: %v, want ErrPeerClosed", err)
	}
	if !h.router.State().Joined("bob") {
		t.Error("closing the peer made bob leave")
	}
}

func TestReconnectFeedsTheSameTrack(t *testing.T) {
	h := newHarness(t)
	h.join("alice", "bob")
	alice := h.connect("alice", false)
	bob := h.connect("bob", true)
	bob.Publish(mediatest.PacketInterval)
	audio := from("bob", webrtc.RTPCodecTypeAudio)
	mediatest.WaitUntil(t, "alice receiving bob", func() bool { return alice.Received(audio, 2) })

	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := bob.peer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	bob.Close()
	before := len(alice.Arrivals(audio))
	if _, ok := h.router.TrackStats("bob", webrtc.RTPCodecTypeAudio); !ok {
		t.Fatal("bob's track dropped while bob is still joined")
	}

	again := h.connect("bob", true)
	again.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(t, "alice receiving bob again", func() bool { return len(alice.Arrivals(audio)) > before+2 })
	got := alice.Arrivals(audio)
	if alice.Ended(audio) {
		t.Error("alice's track of bob ended across the reconnect")
	}
	if got[before].Seq != got[before-1].Seq+1 {
		t.Errorf("sequence number %d after %d across the reconnect, want %d", got[before].Seq,
			got[before-1].Seq, got[before-1].Seq+1)
	}
	if tracks := alice.Tracks(audio); tracks != 1 {
		t.Errorf("alice got bob's audio as %d tracks, want 1", tracks)
	}
}

// recorder is a user stage: it records what it is bound to and counts the
// packets that reach it.
type recorder struct {
	NoOp
	mu      sync.Mutex
	bound   []string
	unbound []string
	counts  map[string]int
	closed  bool
}

func (s *recorder) BindTrack(info *TrackInfo, next Writer) Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := info.Participant + " " + info.Kind.String() + " " + info.Codec.MimeType
	s.bound = append(s.bound, name)
	return &recorderWriter{Writer: next, s: s, name: name}
}

func (s *recorder) UnbindTrack(info *TrackInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unbound = append(s.unbound, info.Participant+" "+info.Kind.String()+" "+info.Codec.MimeType)
}

func (s *recorder) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *recorder) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

type recorderWriter struct {
	Writer
	s    *recorder
	name string
}

func (w *recorderWriter) WriteRTP(p *rtp.Packet) error {
	w.s.mu.Lock()
	w.s.counts[w.name]++
	w.s.mu.Unlock()
	return w.Writer.WriteRTP(p)
}

func TestStagesSeeOnlyForwardedMedia(t *testing.T) {
	rec := &recorder{counts: make(map[string]int)}
	h := newHarness(t, WithStages(only(rec)))
	h.join("alice", "bob")
	h.connect("alice", false)
	bob := h.connect("bob", true)
	bob.Publish(mediatest.PacketInterval)
	const audio, video = "bob audio audio/opus", "bob video video/VP8"
	mediatest.WaitUntil(t, "packets through the stage", func() bool { return rec.count(audio) > 2 && rec.count(video) > 2 })

	h.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	n := rec.count(audio)
	serverRead(t, h.router, "bob", webrtc.RTPCodecTypeAudio, bob.LastSent(webrtc.RTPCodecTypeAudio)+mediatest.Window)
	if got := rec.count(audio); got != n {
		t.Errorf("the stage saw %d muted audio packets", got-n)
	}

	h.do(core.Command{Type: core.Kick, Actor: "alice", Target: "bob"})
	ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
	defer cancel()
	if err := h.router.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	opt := cmp.Transformer("sort", func(s []string) []string {
		out := append([]string(nil), s...)
		slices.Sort(out)
		return out
	})
	if d := cmp.Diff([]string{audio, video}, rec.bound, opt); d != "" {
		t.Errorf("bound (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{audio, video}, rec.unbound, opt); d != "" {
		t.Errorf("unbound (-want +got):\n%s", d)
	}
	if !rec.closed {
		t.Error("stage not closed with the router")
	}
}

// holder is a stage that, when armed, holds the next audio packet in the
// chain until released.
type holder struct {
	NoOp
	armed    atomic.Bool
	entered  chan struct{}
	release  chan struct{}
	released atomic.Bool
}

func (s *holder) BindTrack(info *TrackInfo, next Writer) Writer {
	if info.Kind != webrtc.RTPCodecTypeAudio {
		return next
	}
	return &holderWriter{Writer: next, s: s}
}

type holderWriter struct {
	Writer
	s *holder
}

func (w *holderWriter) WriteRTP(p *rtp.Packet) error {
	if w.s.armed.CompareAndSwap(true, false) {
		close(w.s.entered)
		<-w.s.release
		w.s.released.Store(true)
	}
	return w.Writer.WriteRTP(p)
}

func TestMuteWaitsForThePacketInFlight(t *testing.T) {
	hold := &holder{entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, WithStages(only(hold)))
	h.join("alice", "bob")
	alice := h.connect("alice", false)
	bob := h.connect("bob", true)
	bob.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(t, "alice receiving bob", func() bool { return alice.Received(from("bob", webrtc.RTPCodecTypeAudio), 2) })

	release := sync.OnceFunc(func() { close(hold.release) })
	defer release()
	hold.armed.Store(true)
	testwait.Recv(t, hold.entered, "a packet in the chain") // past the gate, held there
	evs := h.s.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	done := make(chan bool, 1)
	go func() {
		if err := h.router.Apply(evs[0]); err != nil {
			t.Error(err)
		}
		done <- hold.released.Load()
	}()
	// A correct Apply waits for the held packet whenever it is released; the
	// timer only gives a wrong one the chance to return first.
	timer := time.NewTimer(100 * time.Millisecond)
	defer timer.Stop()
	select {
	case <-done:
		t.Fatal("Apply returned while a packet was in the chain")
	case <-timer.C:
	}
	release()
	if !testwait.Recv(t, done, "Apply to return") {
		t.Error("Apply returned before the packet in flight was written")
	}
}

// TestFailedPeerIsClosed: a participant whose network vanishes without a
// goodbye fails ICE; the router reports it and closes the peer.
func TestFailedPeerIsClosed(t *testing.T) {
	failures := make(chan error, 4)
	network := LoopbackNetwork()
	network.DisconnectedTimeout, network.FailedTimeout, network.KeepaliveInterval =
		200*time.Millisecond, 200*time.Millisecond, 50*time.Millisecond
	h := newHarness(t, WithNetwork(network), WithErrorHandler(func(err error) { failures <- err }))
	h.join("alice")

	// Alice's PeerConnection runs on a socket the test can pull away.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled // the read error after the pull is the point
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: quiet.NewLogger("ice")})
	defer mux.Close()
	se, err := LoopbackNetwork().SettingEngine()
	if err != nil {
		t.Fatal(err)
	}
	se.SetICEUDPMux(mux)
	m := &webrtc.MediaEngine{}
	for _, c := range Codecs() {
		if err := m.RegisterCodec(c, kindOf(c.MimeType)); err != nil {
			t.Fatal(err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	alice := connectTo(t, h.router, api, "alice", false)

	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failures:
		if !errors.Is(err, ErrPeerFailed) {
			t.Errorf("reported %v, want ErrPeerFailed", err)
		}
	case <-time.After(mediatest.WaitLimit):
		t.Fatal("no failure reported")
	}
	select {
	case <-alice.peer.Done():
	case <-time.After(mediatest.WaitLimit):
		t.Fatal("the failed peer was not closed")
	}
	if !h.router.State().Joined("alice") {
		t.Error("a failed connection made alice leave")
	}
}
