package wsmedia_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/internal/wsmediatest"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// TestMediaOverWebsocket: a host and a participant negotiate their
// PeerConnections over their sockets; the participant publishes, the host
// receives; the host's disable_audio over the socket silences the
// participant at the router while the participant keeps sending, and the
// participant's own set_audio lets it through again; the host's kick closes
// the participant's PeerConnection and socket.
func TestMediaOverWebsocket(t *testing.T) {
	leakcheck.Check(t)
	srv, hub := startServer(t)
	hana, bob, r := hostAndPublisher(t, srv, hub)
	audio, video := from("bob", webrtc.RTPCodecTypeAudio), from("bob", webrtc.RTPCodecTypeVideo)
	if res := hana.Do(core.Command{Type: core.DisableAudio, Target: "bob"}); res.Err != nil || len(res.Events) != 1 {
		t.Fatalf("disable_audio: %+v", res)
	}
	checkMuted(t, r, hana, bob)

	// Bob's own set_audio, over his socket, lets his audio through again.
	if res := bob.Do(core.Command{Type: core.SetAudio, Enabled: true}); res.Err != nil || len(res.Events) != 1 {
		t.Fatalf("set_audio: %+v", res)
	}
	u := bob.LastSent(webrtc.RTPCodecTypeAudio)
	mediatest.WaitUntil(t, "hana receiving bob's audio again", func() bool { return hana.Received(audio, u) })

	if res := hana.Do(core.Command{Type: core.Kick, Target: "bob"}); res.Err != nil {
		t.Fatalf("kick: %+v", res)
	}
	bye, before := bob.Until("bob's goodbye", func(f wire.Frame) bool { return f.Type == wire.TypeGoodbye })
	if bye.Reason != wire.ReasonKicked {
		t.Errorf("bob's goodbye %q, want kicked", bye.Reason)
	}
	if i := slices.IndexFunc(before, func(f wire.Frame) bool {
		left, ok := f.Event.(*events.ParticipantLeft)
		return ok && left.Participant == "bob" && left.Reason == events.ReasonKicked
	}); i < 0 {
		t.Errorf("no participant_left for bob before his goodbye: %+v", before)
	} else if !slices.ContainsFunc(before[i+1:], isMediaClosed) {
		t.Errorf("no media_closed between bob's participant_left and his goodbye: %+v", before[i+1:])
	}
	if f, open := bob.NextOrClosed(); open {
		t.Errorf("bob's socket open after the goodbye: %+v", f)
	}
	mediatest.WaitUntil(t, "bob's PeerConnection closed", func() bool {
		return bob.PC.ConnectionState() == webrtc.PeerConnectionStateClosed
	})
	// The router takes bob's tracks off hana's PeerConnection: a new offer
	// over her socket, and her receivers end.
	for _, f := range []mediatest.From{audio, video} {
		mediatest.WaitUntil(t, "bob's "+f.Kind.String()+" ending at hana", func() bool { return hana.Ended(f) })
	}
}

// TestMediaConnectionLifecycle follows media connections through the frames
// alone (the router's PeerConnections are real; the clients answer
// nothing).
func TestMediaConnectionLifecycle(t *testing.T) {
	leakcheck.Check(t)
	srv, hub := startServer(t)
	alice := dial(t, srv, "alice", "attendee", framesOnly)

	// Not joined: refused at once; joined: an offer.
	offer := alice.JoinForMedia()
	if _, ok := hub.Router(room); !ok {
		t.Fatal("no router for the room")
	}

	// Again: the first connection is replaced without a media_closed, and
	// a new offer comes.
	alice.Send(wire.AppendMediaConnect(nil))
	if _, skipped := alice.Until("a new offer", isOffer); slices.ContainsFunc(skipped, isMediaClosed) {
		t.Errorf("media_closed for a replaced media connection: %+v", skipped)
	}

	// An offer from the client is refused, and closes the media connection.
	alice.Send(wire.AppendSignal(nil, wire.Signal{Description: &wire.SessionDescription{Type: wire.SDPOffer, SDP: offer.Signal.Description.SDP}}))
	f, _ := alice.Until("media_closed", isMediaClosed)
	if f.Media.Err == nil || f.Media.Err.Code != core.CodeInvalidCommand {
		t.Errorf("after an offer from the client: %+v, want invalid_command", f.Media)
	}
	// The room closes with its last media connection.
	mediatest.WaitUntil(t, "the room to close", func() bool { _, ok := hub.Router(room); return !ok })

	// A late signal is dropped: the next frame is the next command's result.
	alice.Send(wire.AppendSignal(nil, wire.Signal{Candidate: &wire.ICECandidate{}}))
	alice.Send(wire.AppendCommand(nil, core.Command{ID: "v", Type: core.SetVideo, Enabled: true}))
	if f := alice.Next(); f.Type != wire.TypeResult || f.Result.ID != "v" {
		t.Errorf("after a late signal and a command: %+v, want the command's result", f)
	}
	// A new room starts from the session's state.
	alice.Send(wire.AppendMediaConnect(nil))
	alice.Until("an offer", isOffer)
	r, ok := hub.Router(room)
	if !ok {
		t.Fatal("no router for the room")
	}
	if st := srv.State(t, room); !r.State().Equal(st) {
		t.Errorf("new router's state %+v, session's %+v", r.State().Snapshot(), st.Snapshot())
	}

	// The socket closes: so does the media connection, and with it the
	// room; alice stays joined.
	alice.Close()
	mediatest.WaitUntil(t, "the room to close", func() bool { _, ok := hub.Router(room); return !ok })
	if !srv.State(t, room).Joined("alice") {
		t.Error("alice left with her socket")
	}

	// The session ends: the room closes, and the socket with a goodbye.
	hana := dial(t, srv, "hana", "host", framesOnly)
	hana.Join()
	hana.Send(wire.AppendMediaConnect(nil))
	hana.Until("an offer", isOffer)
	// (The router may close the media connection before the result comes:
	// every frame up to the goodbye counts.)
	hana.Send(wire.AppendCommand(nil, core.Command{ID: "end", Type: core.KickAll}))
	bye, before := hana.Until("hana's goodbye", func(f wire.Frame) bool { return f.Type == wire.TypeGoodbye })
	if bye.Reason != wire.ReasonEnded {
		t.Errorf("hana's goodbye %q, want ended", bye.Reason)
	}
	if !slices.ContainsFunc(before, func(f wire.Frame) bool {
		return f.Type == wire.TypeResult && f.Result.ID == "end" && f.Result.Err == nil && f.Result.Refused == ""
	}) {
		t.Errorf("kick_all not applied before hana's goodbye: %+v", before)
	}
	if !slices.ContainsFunc(before, isMediaClosed) {
		t.Errorf("no media_closed before hana's goodbye: %+v", before)
	}
	mediatest.WaitUntil(t, "the room to close", func() bool { _, ok := hub.Router(room); return !ok })
}

var (
	isOffer       = wsmediatest.IsOffer
	isMediaClosed = wsmediatest.IsMediaClosed
)

// holdAt is a stage that holds the router in Apply when it updates to seq,
// until released: the router's subscription falls behind meanwhile.
type holdAt struct {
	media.NoOp
	seq     uint64
	held    chan struct{} // closed when the router is held
	release chan struct{}
	once    sync.Once
}

// open lets the router go on, once.
func (h *holdAt) open() { h.once.Do(func() { close(h.release) }) }

func (h *holdAt) Update(s core.State) {
	if s.Seq() == h.seq {
		close(h.held)
		<-h.release
	}
}

// startHub starts a manager with opts and a hub on it whose routers run on
// loopback with the stages of factory; both close when the test ends.
func startHub(t *testing.T, factory media.StageFactory, opts ...session.Option) (*session.Manager, *wsmedia.Hub) {
	t.Helper()
	m, err := session.NewManager(session.NewMemStore(), append([]session.Option{session.WithPresets(wstest.Presets)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) {
		if err := m.Close(ctx); err != nil {
			t.Errorf("closing the manager: %v", err)
		}
	})
	hub, err := wsmedia.New(m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork()), media.WithStages(factory)),
		wsmedia.WithErrorHandler(func(err error) { t.Errorf("hub: %v", err) }))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) {
		if err := hub.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	return m, hub
}

// TestResubscribesWhenCutOff: a router whose subscription is cut off
// subscribes again from its seq and catches up with the session.
func TestResubscribesWhenCutOff(t *testing.T) {
	leakcheck.Check(t)
	held := &holdAt{held: make(chan struct{}), release: make(chan struct{})}
	hold := media.StageFactoryFunc(func(string) (media.Stage, error) { return held, nil }) // one room only
	m, hub := startHub(t, hold, session.WithSubscriberBuffer(1))
	t.Cleanup(held.open) // before the hub closes, however the test ends
	ctx := testwait.Context(t)
	submit := func(cmd core.Command) session.Result {
		t.Helper()
		res, err := m.Submit(ctx, room, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd.Type, err)
		}
		return res
	}
	ids := []string{"hana", "a", "b", "c"}
	for i, id := range ids {
		preset := "attendee"
		if i == 0 {
			preset = "host"
		}
		submit(core.Command{ID: "j-" + id, Type: core.Join, Actor: id, Name: id, Preset: preset, Audio: true})
	}
	held.seq = uint64(len(ids)) + 1 // the router starts at the first Connect, after this
	p, err := hub.Connect(ctx, room, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	r, _ := hub.Router(room)

	// The router is held at the disable-all while more commands follow:
	// far more than the subscription holds.
	if res := submit(core.Command{ID: "mute", Type: core.DisableAllAudio, Actor: "hana"}); len(res.Events) != 1 {
		t.Fatalf("disable_all_audio: %d events", len(res.Events))
	}
	testwait.Recv(t, held.held, "the router held at the mute")
	var want uint64
	for _, cmd := range []core.Command{
		{ID: "pin-b", Type: core.Pin, Actor: "hana", Target: "b"},
		{ID: "pin-c", Type: core.Pin, Actor: "hana", Target: "c"},
		{ID: "unpin-c", Type: core.Unpin, Actor: "hana", Target: "c"},
	} {
		want = submit(cmd).Seq
	}
	held.open()
	mediatest.WaitUntil(t, "the router to catch up", func() bool { return r.State().Seq() == want })
	sess, err := m.Session(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sess.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st.Snapshot(), r.State().Snapshot()); d != "" {
		t.Errorf("router state (-session +router):\n%s", d)
	}
	if got, ok := hub.Router(room); !ok || got != r {
		t.Error("the room was restarted, not resubscribed")
	}
}

// sessionsSeen is a stage that records the sessions of the states its
// router updates it with.
type sessionsSeen struct {
	media.NoOp
	mu       sync.Mutex
	sessions []string
}

func (s *sessionsSeen) Update(st core.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.sessions, st.Session()) {
		s.sessions = append(s.sessions, st.Session())
	}
}

func (s *sessionsSeen) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sessions)
}

// TestEachRoomHasItsStages: the hub's routers, one per session, are made
// from the same options, and each has stages of its own that see only its
// session.
func TestEachRoomHasItsStages(t *testing.T) {
	leakcheck.Check(t)
	var mu sync.Mutex
	var stages []*sessionsSeen
	factory := media.StageFactoryFunc(func(string) (media.Stage, error) {
		mu.Lock()
		defer mu.Unlock()
		st := &sessionsSeen{}
		stages = append(stages, st)
		return st, nil
	})
	m, hub := startHub(t, factory)
	ctx := testwait.Context(t)
	rooms := []string{"room-a", "room-b"}
	for _, id := range rooms {
		if _, err := m.Submit(ctx, id, core.Command{ID: "j", Type: core.Join, Actor: "ann", Name: "Ann", Preset: "attendee"}); err != nil {
			t.Fatal(err)
		}
		p, err := hub.Connect(ctx, id, "ann")
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	var got [][]string
	for _, st := range stages {
		got = append(got, st.seen())
	}
	if d := cmp.Diff([][]string{{"room-a"}, {"room-b"}}, got); d != "" {
		t.Errorf("the sessions each stage was updated with (-want +got):\n%s", d)
	}
}

// TestSignalsCountAgainstTheRate: signals take tokens from the connection's
// command rate; one over it closes the media connection.
func TestSignalsCountAgainstTheRate(t *testing.T) {
	leakcheck.Check(t)
	srv, hub := startServer(t, ws.WithCommandRate(0.001, 3))
	alice := dial(t, srv, "alice", "attendee", framesOnly)
	alice.Join()                             // 1
	alice.Send(wire.AppendMediaConnect(nil)) // 2
	alice.Until("an offer", isOffer)
	cand := wire.AppendSignal(nil, wire.Signal{Candidate: &wire.ICECandidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
		SDPMid: new("0"), SDPMLineIndex: new(uint16(0))}})
	alice.Send(cand) // 3: taken (before the answer, the router keeps it)
	alice.Send(cand) // over
	f, _ := alice.Until("media_closed", isMediaClosed)
	if f.Media != (wire.MediaClosed{Refused: wire.RefusedRateLimited}) {
		t.Errorf("over the rate: %+v, want refused rate_limited", f.Media)
	}
	mediatest.WaitUntil(t, "the room to close", func() bool { _, ok := hub.Router(room); return !ok })
}
