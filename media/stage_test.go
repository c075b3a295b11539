package media

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/reducer"
)

// sink is the end of a chain in these tests: it records what reaches it.
type sink struct {
	written []rtp.Header
	skipped []uint16
}

func (s *sink) WriteRTP(p *rtp.Packet) error {
	s.written = append(s.written, p.Header.Clone())
	return nil
}

func (s *sink) Skip(p *rtp.Packet) { s.skipped = append(s.skipped, p.SequenceNumber) }

func seqs(hs []rtp.Header) []uint16 {
	out := make([]uint16, len(hs))
	for i, h := range hs {
		out[i] = h.SequenceNumber
	}
	return out
}

func pkt(ssrc uint32, seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}}
}

var presets = core.Presets{"host": {DisableParticipantAudio: true, DisableParticipantVideo: true,
	PinParticipant: true, KickParticipant: true}, "attendee": {}}

// session applies commands with the reducer and keeps the state and events.
type session struct {
	t     testing.TB
	state core.State
	log   []events.Event
	n     int
}

func newSession(t testing.TB) *session {
	return &session{t: t, state: core.NewState("room-1", presets)}
}

// do applies cmd (its ID filled in) and returns its events.
func (s *session) do(cmd core.Command) []events.Event {
	s.t.Helper()
	s.n++
	cmd.ID = fmt.Sprintf("c%d", s.n)
	next, evs, err := reducer.Apply(s.state, cmd)
	if err != nil {
		s.t.Fatalf("%s by %s: %v", cmd.Type, cmd.Actor, err)
	}
	s.state = next
	s.log = append(s.log, evs...)
	return evs
}

func (s *session) join(id, preset string) []events.Event { return s.do(joinCommand(id, preset)) }

// joinCommand joins id with the given preset, audio and video on.
func joinCommand(id, preset string) core.Command {
	return core.Command{Type: core.Join, Actor: id, Name: id, Preset: preset, Audio: true, Video: true}
}

func TestForwards(t *testing.T) {
	s := newSession(t)
	s.join("alice", "host")
	s.join("bob", "attendee")
	s.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	audio, video := webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo
	got := map[string]bool{
		"alice audio": Forwards(s.state, "alice", audio),
		"alice video": Forwards(s.state, "alice", video),
		"bob audio":   Forwards(s.state, "bob", audio),
		"bob video":   Forwards(s.state, "bob", video),
		"carol audio": Forwards(s.state, "carol", audio),
	}
	want := map[string]bool{"alice audio": true, "alice video": true, "bob audio": false,
		"bob video": true, "carol audio": false}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("before kick_all (-want +got):\n%s", d)
	}
	s.do(core.Command{Type: core.KickAll, Actor: "alice"})
	if Forwards(s.state, "alice", audio) {
		t.Error("alice's audio forwarded after session_ended")
	}
}

func TestMuteGate(t *testing.T) {
	s := newSession(t)
	s.join("alice", "host")
	s.join("bob", "attendee")
	g := newMuteGate()
	g.Update(s.state)
	out := &sink{}
	bob := &TrackInfo{Participant: "bob", Kind: webrtc.RTPCodecTypeAudio}
	w := g.BindTrack(bob, out)

	_ = w.WriteRTP(pkt(1, 1, 0))
	g.Update(s.state) // unchanged state: still open
	_ = w.WriteRTP(pkt(1, 2, 0))
	s.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	g.Update(s.state)
	_ = w.WriteRTP(pkt(1, 3, 0))
	_ = w.WriteRTP(pkt(1, 4, 0))
	s.do(core.Command{Type: core.SetAudio, Actor: "bob", Enabled: true})
	g.Update(s.state)
	_ = w.WriteRTP(pkt(1, 5, 0))

	if d := cmp.Diff([]uint16{1, 2, 5}, seqs(out.written)); d != "" {
		t.Errorf("written (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]uint16{3, 4}, out.skipped); d != "" {
		t.Errorf("skipped (-want +got):\n%s", d)
	}

	// A track bound while its media is off starts closed.
	s.do(core.Command{Type: core.DisableVideo, Actor: "alice", Target: "bob"})
	g.Update(s.state)
	video := &sink{}
	vw := g.BindTrack(&TrackInfo{Participant: "bob", Kind: webrtc.RTPCodecTypeVideo}, video)
	_ = vw.WriteRTP(pkt(2, 1, 0))
	if len(video.written) != 0 {
		t.Errorf("video of a participant whose video is off was written: %v", seqs(video.written))
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestRewriterHidesSkips(t *testing.T) {
	out := &sink{}
	w := rewriter{now: time.Now}.BindTrack(&TrackInfo{Codec: webrtc.RTPCodecCapability{ClockRate: 48000}}, out)
	w.WriteRTP(pkt(7, 100, 1000))
	w.WriteRTP(pkt(7, 101, 1960))
	w.Skip(pkt(7, 102, 2920)) // muted
	w.Skip(pkt(7, 103, 3880))
	w.WriteRTP(pkt(7, 104, 4840))
	// 105 is lost upstream: the hole must stay for NACK.
	w.WriteRTP(pkt(7, 106, 6760))
	w.Skip(pkt(7, 107, 7720))
	w.WriteRTP(pkt(7, 108, 8680))

	if d := cmp.Diff([]uint16{100, 101, 102, 104, 105}, seqs(out.written)); d != "" {
		t.Errorf("sequence numbers (-want +got):\n%s", d)
	}
	var ts []uint32
	for _, h := range out.written {
		ts = append(ts, h.Timestamp)
	}
	// Timestamps keep the publisher's clock, gap included.
	if d := cmp.Diff([]uint32{1000, 1960, 4840, 6760, 8680}, ts); d != "" {
		t.Errorf("timestamps (-want +got):\n%s", d)
	}
}

func TestRewriterWrapsAround(t *testing.T) {
	out := &sink{}
	w := rewriter{now: time.Now}.BindTrack(&TrackInfo{Codec: webrtc.RTPCodecCapability{ClockRate: 48000}}, out)
	w.WriteRTP(pkt(7, 65534, 0))
	w.Skip(pkt(7, 65535, 0))
	w.Skip(pkt(7, 0, 0))
	w.WriteRTP(pkt(7, 1, 0))
	w.WriteRTP(pkt(7, 2, 0))
	if d := cmp.Diff([]uint16{65534, 65535, 0}, seqs(out.written)); d != "" {
		t.Errorf("sequence numbers (-want +got):\n%s", d)
	}
}

func TestRewriterRebasesNewSource(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	out := &sink{}
	w := rewriter{now: clock.now}.BindTrack(&TrackInfo{Codec: webrtc.RTPCodecCapability{ClockRate: 90000}}, out)
	w.WriteRTP(pkt(7, 500, 90000))
	w.WriteRTP(pkt(7, 501, 93000))
	clock.t = clock.t.Add(2 * time.Second) // the publisher reconnects two seconds later
	w.WriteRTP(pkt(9, 40000, 12345))
	w.WriteRTP(pkt(9, 40001, 15345))
	w.Skip(pkt(7, 502, 96000)) // a straggler of the old source changes nothing

	w.WriteRTP(pkt(9, 40002, 18345))
	if d := cmp.Diff([]uint16{500, 501, 502, 503, 504}, seqs(out.written)); d != "" {
		t.Errorf("sequence numbers (-want +got):\n%s", d)
	}
	var ts []uint32
	for _, h := range out.written {
		ts = append(ts, h.Timestamp)
	}
	if d := cmp.Diff([]uint32{90000, 93000, 93000 + 180000, 96000 + 180000, 99000 + 180000}, ts); d != "" {
		t.Errorf("timestamps (-want +got):\n%s", d)
	}
}

func TestRewriterStripsExtensions(t *testing.T) {
	out := &sink{}
	w := rewriter{now: time.Now}.BindTrack(&TrackInfo{Codec: webrtc.RTPCodecCapability{ClockRate: 48000}}, out)
	p := pkt(7, 1, 0)
	if err := p.Header.SetExtension(1, []byte("0")); err != nil { // a mid extension
		t.Fatal(err)
	}
	w.WriteRTP(p)
	if h := out.written[0]; h.Extension || len(h.Extensions) != 0 {
		t.Errorf("header extensions forwarded: %+v", h)
	}
}

func TestBindOrder(t *testing.T) {
	var order []string
	mk := func(name string) Stage { return tagStage{name: name, order: &order} }
	w := bind([]Stage{mk("first"), mk("second"), mk("third")}, &TrackInfo{}, &sink{})
	w.WriteRTP(pkt(1, 1, 0))
	if d := cmp.Diff([]string{"first", "second", "third"}, order); d != "" {
		t.Errorf("stage order (-want +got):\n%s", d)
	}
}

type tagStage struct {
	NoOp
	name  string
	order *[]string
}

func (s tagStage) BindTrack(_ *TrackInfo, next Writer) Writer { return tagWriter{Writer: next, s: s} }

type tagWriter struct {
	Writer
	s tagStage
}

func (w tagWriter) WriteRTP(p *rtp.Packet) error {
	*w.s.order = append(*w.s.order, w.s.name)
	return w.Writer.WriteRTP(p)
}

func TestVP8Keyframe(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"key, no extension", []byte{0x10, 0x00}, true},
		{"delta, no extension", []byte{0x10, 0x01}, false},
		{"not a partition start", []byte{0x00, 0x00}, false},
		{"partition 1", []byte{0x11, 0x00}, false},
		{"key, 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"delta, 7-bit picture id", []byte{0x90, 0x80, 0x12, 0x01}, false},
		{"key, picture id, TL0PICIDX, TID", []byte{0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00}, true},
		{"truncated after the extension", []byte{0x90, 0xe0, 0x81}, false},
		{"empty", nil, false},
	} {
		if got := vp8Keyframe(c.payload); got != c.want {
			t.Errorf("%s: vp8Keyframe(% x) = %v, want %v", c.name, c.payload, got, c.want)
		}
	}
}

// sessionStage records the sessions of the states its router updates it
// with, and whether it was closed.
type sessionStage struct {
	NoOp
	sessions map[string]bool
	closed   bool
}

func (s *sessionStage) Update(st core.State) { s.sessions[st.Session()] = true }
func (s *sessionStage) Close() error         { s.closed = true; return nil }

// TestEachRouterMakesItsStages: routers built with the same options each
// get stages of their own, which see only their own session.
func TestEachRouterMakesItsStages(t *testing.T) {
	made := map[string]*sessionStage{}
	opt := WithStages(StageFactoryFunc(func(session string) (Stage, error) {
		if made[session] != nil {
			t.Errorf("a second stage for session %s", session)
		}
		st := &sessionStage{sessions: map[string]bool{}}
		made[session] = st
		return st, nil
	}))
	ctx, cancel := context.WithTimeout(t.Context(), mediatest.WaitLimit)
	defer cancel()
	var routers []*Router
	for _, id := range []string{"room-1", "room-2"} {
		r, err := NewRouter(core.NewState(id, nil), WithNetwork(LoopbackNetwork()), opt)
		if err != nil {
			t.Fatal(err)
		}
		routers = append(routers, r)
	}
	for i, r := range routers {
		if err := r.Apply(&events.ParticipantJoined{Seq: 1, Participant: "ann", Name: "Ann", Preset: "host"}); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		id := r.State().Session()
		st := made[id]
		if st == nil {
			t.Fatalf("router %d (%s) made no stage", i, id)
		}
		if d := cmp.Diff(map[string]bool{id: true}, st.sessions); d != "" {
			t.Errorf("the stage of %s was updated with the sessions (-want +got):\n%s", id, d)
		}
		if !st.closed {
			t.Errorf("the stage of %s was not closed with its router", id)
		}
	}
	if made["room-1"] == made["room-2"] {
		t.Error("two routers share a stage")
	}
}

// TestStageFactoryErrors: a factory that fails fails NewRouter, and the
// stages already made for it are closed.
func TestStageFactoryErrors(t *testing.T) {
	first := &sessionStage{sessions: map[string]bool{}}
	boom := errors.New("boom")
	_, err := NewRouter(core.NewState("room-1", nil), WithNetwork(LoopbackNetwork()),
		WithStages(only(first), StageFactoryFunc(func(string) (Stage, error) { return nil, boom })))
	if !errors.Is(err, boom) {
		t.Errorf("NewRouter with a failing factory: %v, want %v", err, boom)
	}
	if !first.closed {
		t.Error("the stage made before the failure was not closed")
	}
	_, err = NewRouter(core.NewState("room-1", nil), WithNetwork(LoopbackNetwork()),
		WithStages(StageFactoryFunc(func(string) (Stage, error) { return nil, nil })))
	if err == nil {
		t.Error("NewRouter with a factory that made a nil stage: no error")
	}
	if _, err := NewRouter(core.NewState("room-1", nil), WithStages(nil)); err == nil {
		t.Error("WithStages(nil): no error")
	}
}
