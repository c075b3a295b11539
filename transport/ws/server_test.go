package ws_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

const room = "room-1"

func seqs(evs []events.Event) []uint64 {
	s := make([]uint64, len(evs))
	for i, e := range evs {
		s[i] = e.Sequence()
	}
	return s
}

// checkStream checks evs, the events a client received after seq from,
// against session room's log and its state now (gaveltest.CheckEvents:
// each once, in order, folding to the state).
func checkStream(t *testing.T, srv *wstest.Server, from uint64, evs []events.Event) {
	t.Helper()
	var recs []sessionlog.Record
	seq := uint64(0)
	for _, r := range srv.Log(t, room) {
		if seq = r.LastSeq(seq); seq > from {
			break
		}
		recs = append(recs, r)
	}
	start, err := gaveltest.CheckRecords(sessionlog.Header{Session: room, Presets: wstest.Presets}, recs, session.DefaultIdempotencyWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := gaveltest.CheckEvents(start, evs, srv.State(t, room)); err != nil {
		t.Errorf("the events after seq %d: %v", from, err)
	}
}

func TestWelcome(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	srv.Submit(t, room, core.Command{ID: "j", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true})

	host := dial(t, srv, srv.Token(room, "hana", "host"), nil)
	want := wire.Welcome{Session: room, Self: "hana", Preset: "host", Permissions: wstest.Presets["host"],
		Presets: wstest.Presets, Seq: 1, State: core.Snapshot{Session: room, Seq: 1,
			Participants: []core.Participant{{ID: "bob", Name: "Bob", Preset: "attendee", AudioEnabled: true}}}}
	if d := cmp.Diff(want, host.welcome); d != "" {
		t.Errorf("welcome (-want +got):\n%s", d)
	}
	bob := dial(t, srv, srv.Token(room, "bob", "attendee"), nil)
	if bob.welcome.Permissions != (core.Permissions{}) || bob.welcome.Preset != "attendee" {
		t.Errorf("attendee welcome: preset %q, permissions %+v", bob.welcome.Preset, bob.welcome.Permissions)
	}
}

func TestUnauthorizedBeforeUpgrade(t *testing.T) {
	srv := wstest.New(t)
	other := wstest.New(t) // same claims, another key
	for name, tok := range map[string]string{
		"none":      "",
		"garbage":   "gavel1.xyz.abc",
		"other key": other.Token(room, "alice", "host"),
		"expired":   srv.TokenUntil(room, "alice", "host", time.Now().Add(-time.Second)),
		// In a URL, a line break inserted where a lenient base64 decoder
		// skips it.
		"line break": func(tok string) string { return tok[:len(tok)-4] + "%0A" + tok[len(tok)-4:] }(srv.Token(room, "alice", "host")),
	} {
		if got := statusOf(t, srv, tok, nil); got != http.StatusUnauthorized {
			t.Errorf("%s token: HTTP %d, want 401", name, got)
		}
	}
	// The header carries a token as well as the query.
	h := http.Header{"Authorization": {"Bearer " + srv.Token(room, "alice", "host")}}
	if got := statusOf(t, srv, "", h); got != http.StatusSwitchingProtocols {
		t.Errorf("bearer token: HTTP %d, want an upgrade", got)
	}
	if st := srv.State(t, room); st.Seq() != 0 {
		t.Errorf("refused connections changed the session: seq %d", st.Seq())
	}
}

// A token whose preset the session does not have is refused before the
// upgrade (403, saying so), not at join.
func TestTokenPresetUnknown(t *testing.T) {
	srv := wstest.New(t)
	code, body := refusal(t, srv, srv.Token(room, "alice", "moderator"))
	if code != http.StatusForbidden || !strings.Contains(body, `"moderator"`) {
		t.Errorf("unknown preset: HTTP %d %q, want 403 naming the preset", code, body)
	}
	if got := statusOf(t, srv, srv.Token(room, "alice", "attendee"), nil); got != http.StatusSwitchingProtocols {
		t.Errorf("known preset: HTTP %d, want an upgrade", got)
	}
}

func TestOriginCheck(t *testing.T) {
	plain := wstest.New(t)
	tok := plain.Token(room, "alice", "host")
	if got := statusOf(t, plain, tok, http.Header{"Origin": {"https://evil.example"}}); got != http.StatusForbidden {
		t.Errorf("cross origin without patterns: HTTP %d, want 403", got)
	}
	open := wstest.New(t, ws.WithOriginPatterns("app.example"))
	tok = open.Token(room, "alice", "host")
	if got := statusOf(t, open, tok, http.Header{"Origin": {"https://app.example"}}); got != http.StatusSwitchingProtocols {
		t.Errorf("allowed origin: HTTP %d, want an upgrade", got)
	}
	if got := statusOf(t, open, tok, http.Header{"Origin": {"https://evil.example"}}); got != http.StatusForbidden {
		t.Errorf("other origin: HTTP %d, want 403", got)
	}
}

// A command naming another actor is refused with 1201 and not applied;
// the other clients see nothing of it.
func TestForgedActorRefused(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	host := joined(t, srv, "hana", "host")
	alice := joined(t, srv, "alice", "attendee")
	bob := joined(t, srv, "bob", "attendee")
	alice.events(3)
	before, logged := srv.State(t, room), len(srv.Log(t, room))

	for _, forged := range []core.Command{
		{Type: core.Kick, Actor: "hana", Target: "bob"},
		{Type: core.KickAll, Actor: "hana"},
		{Type: core.SetAudio, Actor: "bob", Enabled: true},
	} {
		res, evs := alice.do(forged)
		if code, _ := core.CodeOf(res.Err); code != core.CodePermissionDenied || len(evs) != 0 {
			t.Errorf("forged %s as %s: %+v with %d events, want permission_denied and none", forged.Type, forged.Actor, res, len(evs))
		}
	}
	if after := srv.State(t, room); !after.Equal(before) {
		t.Errorf("forged commands changed the session: %+v", after.Snapshot())
	}
	if n := len(srv.Log(t, room)) - logged; n != 0 {
		t.Errorf("%d forged commands reached the session's log", n)
	}
	// An empty actor is the connection's participant.
	res, _ := alice.do(core.Command{Type: core.SetAudio, Enabled: true})
	if res.Err != nil || res.Seq != before.Seq()+1 {
		t.Fatalf("set_audio with no actor: %+v", res)
	}
	// The others' next event is that one: nothing came between.
	for _, c := range []*raw{host, bob} {
		evs := slices.DeleteFunc(c.events(res.Seq), func(e events.Event) bool { return e.Sequence() <= before.Seq() })
		want := []events.Event{&events.AudioUpdate{Seq: res.Seq, Participant: "alice", AudioEnabled: true, By: "alice"}}
		if d := cmp.Diff(want, evs); d != "" {
			t.Errorf("%s: events after the forged commands (-want +got):\n%s", c.welcome.Self, d)
		}
	}
}

// A join takes the token's preset: another is refused, none means the
// token's.
func TestJoinPresetFromToken(t *testing.T) {
	srv := wstest.New(t)
	alice := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	res, _ := alice.do(core.Command{Type: core.Join, Name: "Alice", Preset: "host"})
	if code, _ := core.CodeOf(res.Err); code != core.CodePermissionDenied {
		t.Fatalf("join as host with an attendee token: %+v, want permission_denied", res)
	}
	if srv.State(t, room).Joined("alice") {
		t.Fatal("alice joined with a preset her token does not grant")
	}
	alice.join()
	if p, _ := srv.State(t, room).Participant("alice"); p.Preset != "attendee" {
		t.Errorf("alice joined with preset %q, want the token's", p.Preset)
	}
}

// A frame over the limit closes the sender's connection (1009) and applies
// nothing; the others go on.
func TestOversizedFrame(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	host := joined(t, srv, "hana", "host")
	alice := joined(t, srv, "alice", "attendee")
	before := srv.State(t, room)

	big := core.Command{ID: "big", Type: core.Join, Actor: "alice", Name: strings.Repeat("A", ws.DefaultMaxFrameSize)}
	alice.sendRaw(wire.AppendCommand(nil, big))
	if ce := alice.closed(); ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("oversized frame: closed with %v, want 1009", ce)
	}
	if after := srv.State(t, room); !after.Equal(before) {
		t.Errorf("an oversized frame changed the session: %+v", after.Snapshot())
	}
	res, _ := host.do(core.Command{Type: core.DisableAudio, Target: "alice"})
	if res.Err != nil || res.Seq != before.Seq() {
		t.Errorf("host after alice's oversized frame: %+v, want a no-op at seq %d", res, before.Seq())
	}
}

// A flood beyond the token bucket: every command gets an answer, the ones
// over the rate are refused and not applied, and another client sees
// exactly the applied ones.
func TestRateLimit(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t, ws.WithCommandRate(1, 5))
	alice := joined(t, srv, "alice", "attendee")
	bob := joined(t, srv, "bob", "attendee")
	alice.events(2)

	const flood = 50
	ids := make([]string, flood)
	for i := range flood {
		ids[i] = alice.send(core.Command{Type: core.SetAudio, Enabled: i%2 == 0})
	}
	var applied, refused []string
	for len(applied)+len(refused) < flood {
		f := alice.next()
		if f.Type != wire.TypeResult {
			continue
		}
		switch r := f.Result; {
		case r.Refused == wire.RefusedRateLimited:
			refused = append(refused, r.ID)
		case r.Err == nil && r.Refused == "":
			applied = append(applied, r.ID)
		default:
			t.Fatalf("result %+v", r)
		}
	}
	if len(refused) == 0 {
		t.Fatalf("%d commands at once, none refused", flood)
	}
	var logged []string
	for rec, err := range srv.Store.Records(context.Background(), room, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Command.Actor == "alice" && rec.Command.Type == core.SetAudio {
			logged = append(logged, rec.Command.ID)
		}
	}
	if d := cmp.Diff(applied, logged); d != "" {
		t.Errorf("applied commands (-answered +logged):\n%s", d)
	}
	// Each applied toggle is one event, and bob sees exactly those.
	seq := srv.State(t, room).Seq()
	if uint64(len(applied)) != seq-2 {
		t.Errorf("%d applied, seq %d", len(applied), seq)
	}
	checkStream(t, srv, 2, bob.events(seq))
}

// A client that stops reading is cut off as slow, and the others keep
// receiving every event.
func TestSlowClientCut(t *testing.T) {
	leakcheck.Check(t)
	gone := make(chan ws.Disconnect, 8)
	srv := wstest.New(t, ws.WithOutboundQueue(64), ws.WithWriteTimeout(100*time.Millisecond),
		ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))
	// The longest id, all control characters (six bytes each in JSON), makes
	// big events, so that the slow client's socket buffers fill sooner.
	host := strings.Repeat("\x01", core.MaxIDLen)
	srv.Submit(t, room, core.Command{ID: "join-host", Type: core.Join, Actor: host, Name: "Host", Preset: "host"})
	slow := dial(t, srv, srv.Token(room, "slow", "attendee"), nil)
	_ = slow // never reads
	bob := dial(t, srv, srv.Token(room, "bob", "attendee"), nil)
	got := bob.join() // from seq 2: the host's join is in bob's welcome
	last := got[len(got)-1].Sequence()

	deadline := time.After(60 * time.Second)
	for cut := false; !cut; {
		for i := range 16 { // bob reads between bursts, so only the slow one lags
			srv.Submit(t, room, core.Command{ID: "t" + strconv.FormatUint(last, 10) + "-" + strconv.Itoa(i),
				Type: core.SetAudio, Actor: host, Enabled: (last+uint64(i))%2 == 0})
		}
		last += 16
		got = append(got, bob.events(last)...)
		select {
		case d := <-gone:
			if d.Participant != "slow" || d.Reason != wire.ReasonSlow {
				t.Fatalf("disconnected %+v, want slow cut off as slow", d)
			}
			cut = true
		case <-deadline:
			t.Fatalf("slow client not cut off after %d events", last)
		default:
		}
	}
	srv.Submit(t, room, core.Command{ID: "after", Type: core.SetVideo, Actor: host, Enabled: true})
	got = append(got, bob.events(last+1)...)
	checkStream(t, srv, 1, got)
	t.Logf("slow client cut off after %d events", last)
}

// Reconnecting with the last seq seen delivers exactly the missed events;
// too far behind, or ahead, a fresh snapshot.
func TestResume(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t, ws.WithResumeWindow(4), ws.WithResumeWait(0)) // one writer: an ahead seq is never reached
	host := joined(t, srv, "hana", "host")
	alice := joined(t, srv, "alice", "attendee")
	seen := uint64(2) // hana joined at 1 (the welcome), alice at 2 (her join's result)
	alice.c.CloseNow()

	for _, on := range []bool{true, false, true} {
		host.do(core.Command{Type: core.SetVideo, Enabled: on})
	}
	back := dial(t, srv, srv.Token(room, "alice", "attendee"), &seen)
	if !back.welcome.Resumed || back.welcome.Seq != seen {
		t.Fatalf("welcome %+v, want resumed at %d", back.welcome, seen)
	}
	host.do(core.Command{Type: core.DisableAudio, Target: "alice"}) // alice joined with audio off: a no-op
	res, _ := host.do(core.Command{Type: core.Pin, Target: "alice"})
	got := back.events(res.Seq)
	want := []events.Event{
		&events.VideoUpdate{Seq: 3, Participant: "hana", VideoEnabled: true, By: "hana"},
		&events.VideoUpdate{Seq: 4, Participant: "hana", VideoEnabled: false, By: "hana"},
		&events.VideoUpdate{Seq: 5, Participant: "hana", VideoEnabled: true, By: "hana"},
		&events.Pinned{Seq: 6, Participant: "alice", By: "hana"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resumed stream (-want +got):\n%s", d)
	}

	for name, after := range map[string]uint64{"too old": 1, "ahead": 99} {
		c := dial(t, srv, srv.Token(room, "carol", "attendee"), &after)
		if c.welcome.Resumed || c.welcome.Seq != 6 || c.welcome.State.Seq != 6 || c.welcome.State.Pinned != "alice" {
			t.Errorf("%s: welcome %+v, want a fresh snapshot at 6", name, c.welcome)
		}
		c.c.CloseNow()
	}
}

// Kick: the kicked client gets its participant_left, then goodbye kicked,
// then the close; leave likewise, with its result before the goodbye.
func TestFinalEventThenGoodbye(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	host := joined(t, srv, "hana", "host")
	alice := joined(t, srv, "alice", "attendee")
	bob := joined(t, srv, "bob", "attendee")
	alice.events(3)

	res, _ := host.do(core.Command{Type: core.Kick, Target: "alice"})
	if d := cmp.Diff([]events.Event{&events.ParticipantLeft{Seq: 4, Participant: "alice", Reason: events.ReasonKicked, By: "hana"}},
		alice.events(res.Seq)); d != "" {
		t.Errorf("kicked client's last event (-want +got):\n%s", d)
	}
	if reason, ce := alice.goodbye(); reason != wire.ReasonKicked || ce.Code != websocket.StatusNormalClosure || ce.Reason != "kicked" {
		t.Errorf("kicked: goodbye %q, close %v", reason, ce)
	}

	bob.events(4)
	res, evs := bob.do(core.Command{Type: core.Leave})
	if res.Err != nil || len(evs) != 1 || evs[0].Type() != events.TypeParticipantLeft {
		t.Errorf("leave: %+v, events %v", res, evs)
	}
	if reason, _ := bob.goodbye(); reason != wire.ReasonLeft {
		t.Errorf("left: goodbye %q", reason)
	}

	res, _ = host.do(core.Command{Type: core.KickAll})
	if reason, _ := host.goodbye(); reason != wire.ReasonEnded || res.Err != nil {
		t.Errorf("kick all: %+v, goodbye %q", res, reason)
	}
	// A connection to the ended session gets its state, then goodbye.
	late := dial(t, srv, srv.Token(room, "dan", "attendee"), nil)
	if !late.welcome.State.Ended {
		t.Errorf("welcome to an ended session: %+v", late.welcome)
	}
	if reason, _ := late.goodbye(); reason != wire.ReasonEnded {
		t.Errorf("ended session: goodbye %q", reason)
	}
}

// A second connection of a participant replaces the first.
func TestReplaced(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	first := joined(t, srv, "alice", "attendee")
	second := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	if reason, ce := first.goodbye(); reason != wire.ReasonReplaced || ce.Reason != "replaced" {
		t.Errorf("first connection: goodbye %q, close %v", reason, ce)
	}
	if res, _ := second.do(core.Command{Type: core.SetAudio, Enabled: true}); res.Err != nil || res.Seq != 2 {
		t.Errorf("second connection: %+v", res)
	}
}

// Shutdown says goodbye to every client, then refuses new ones.
func TestShutdown(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	a := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	b := dial(t, srv, srv.Token("room-2", "bob", "attendee"), nil)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- srv.WS.Shutdown(ctx)
	}()
	for _, c := range []*raw{a, b} {
		if reason, ce := c.goodbye(); reason != wire.ReasonShutdown || ce.Code != websocket.StatusGoingAway {
			t.Errorf("%s: goodbye %q, close %v", c.welcome.Self, reason, ce)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if got := statusOf(t, srv, srv.Token(room, "carol", "attendee"), nil); got != http.StatusServiceUnavailable {
		t.Errorf("after Shutdown: HTTP %d, want 503", got)
	}
}

// A command's events reach its client once, in an event frame before the
// result or in the result itself; a resent id gets the first outcome.
func TestResultAfterEvents(t *testing.T) {
	srv := wstest.New(t)
	alice := dial(t, srv, srv.Token(room, "alice", "host"), nil)
	for i := range 20 {
		res, evs := alice.do(core.Command{Type: core.SetVideo, Enabled: i%2 == 1})
		if i == 0 {
			if res.Err == nil {
				t.Fatalf("set_video before joining: %+v", res)
			}
			alice.join()
			continue
		}
		if len(evs) != 1 || evs[0].Sequence() != res.Seq {
			t.Fatalf("toggle %d: result %+v, events %v: want its one event by the result", i, res, seqs(evs))
		}
	}
	res, _ := alice.do(core.Command{Type: core.SetAudio, Enabled: false})
	if res.Seq != srv.State(t, room).Seq() || len(res.Events) != 0 || res.Err != nil {
		t.Errorf("no-op: %+v", res)
	}
	// A duplicate id: the first outcome, not applied again.
	first, _ := alice.do(core.Command{ID: "same", Type: core.SetAudio, Enabled: true})
	again, evs := alice.do(core.Command{ID: "same", Type: core.SetAudio, Enabled: false})
	if !again.Duplicate || again.Seq != first.Seq || len(evs) != 0 {
		t.Errorf("resent id: %+v then %+v with events %v", first, again, evs)
	}
}

// A peer that stops answering pings is dropped; one that answers stays.
// The answering one is given a pong timeout of the tests' wait, so that a
// loaded machine answering late does not drop it: three pings seen mean
// two pongs taken, since each ping waits for the last one's pong.
func TestKeepalive(t *testing.T) {
	leakcheck.Check(t)
	gone := make(chan ws.Disconnect, 2)
	srv := wstest.New(t, ws.WithKeepalive(10*time.Millisecond, wait),
		ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))

	// Answers pings: coder/websocket answers while a read is in progress.
	pings := make(chan struct{}, 100)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL+"?token="+srv.Token(room, "alice", "attendee"), &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings <- struct{}{}; return true }})
	if err != nil {
		t.Fatal(err)
	}
	reading := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				reading <- err
				return
			}
		}
	}()
	for range 3 {
		select {
		case <-pings:
		case err := <-reading:
			t.Fatalf("a client answering pings was dropped: %v", err)
		case <-ctx.Done():
			t.Fatal("no ping")
		}
	}
	c.CloseNow()
	wstest.Recv(t, reading, "the closed client's reader")
	wstest.Recv(t, gone, "the disconnect handler")

	// Never reads, so never answers.
	mutes := wstest.New(t, ws.WithKeepalive(10*time.Millisecond, 50*time.Millisecond),
		ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))
	mute := dial(t, mutes, mutes.Token(room, "mute", "attendee"), nil)
	_ = mute
	if d := wstest.Recv(t, gone, "the disconnect handler"); d.Participant != "mute" || d.Reason != "" || d.Err == nil {
		t.Errorf("dropped %+v, want the mute client, without a goodbye, with an error", d)
	}
}

// The disconnect handler tells a goodbye (Reason), a clean close by the
// client (neither) and a failure (Err) apart.
func TestDisconnectReasons(t *testing.T) {
	leakcheck.Check(t)
	gone := make(chan ws.Disconnect, 1)
	srv := wstest.New(t, ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))
	host := joined(t, srv, "hana", "host")
	next := func(what string) ws.Disconnect {
		t.Helper()
		return wstest.Recv(t, gone, what)
	}
	for _, status := range []websocket.StatusCode{websocket.StatusNormalClosure, websocket.StatusGoingAway} {
		c := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
		c.c.Close(status, "bye")
		if d := next("a clean close"); d.Reason != "" || d.Err != nil {
			t.Errorf("client closed with %d: %+v, want no reason and no error", status, d)
		}
	}
	c := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	c.c.Close(4000, "app")
	if d := next("a close with an application status"); d.Reason != "" || websocket.CloseStatus(d.Err) != 4000 {
		t.Errorf("client closed with 4000: %+v, want the status in Err", d)
	}
	c = dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	c.c.CloseNow() // no close frame: as a network failure
	if d := next("a dropped connection"); d.Reason != "" || d.Err == nil {
		t.Errorf("connection dropped: %+v, want an error", d)
	}
	c = dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	c.sendRaw([]byte(`{"type":"hello"}`))
	c.closed()
	if d := next("a protocol violation"); d.Reason != "" || d.Err == nil {
		t.Errorf("protocol violation: %+v, want an error", d)
	}
	c = joined(t, srv, "alice", "attendee")
	host.do(core.Command{Type: core.Kick, Target: "alice"})
	c.events(3)
	c.goodbye()
	if d := next("a kick"); d.Reason != wire.ReasonKicked || d.Err != nil || d.Participant != "alice" {
		t.Errorf("kicked: %+v, want reason kicked and no error", d)
	}
}

// When the session manager closes, every client gets goodbye shutdown.
func TestManagerClosed(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	a := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	if err := srv.Manager.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	if reason, _ := a.goodbye(); reason != wire.ReasonShutdown {
		t.Errorf("goodbye %q, want shutdown", reason)
	}
}

// A frame that is not a command frame closes the connection (1008), a
// binary one too (1003); a command the codec rejects is answered.
func TestBadFrames(t *testing.T) {
	srv := wstest.New(t)
	a := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)
	a.sendRaw([]byte(`{"type":"command","cmd":{"id":"x","type":"set_audio","actor":"alice","enabled":"yes"}}`))
	if f := a.next(); f.Type != wire.TypeResult || f.Result.ID != "x" || f.Result.Err == nil || f.Result.Err.Code != core.CodeInvalidCommand {
		t.Errorf("ill-typed command: %+v", f)
	}
	a.sendRaw([]byte(`{"type":"hello"}`))
	if ce := a.closed(); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("unknown frame: closed %v, want 1008", ce)
	}
	b := dial(t, srv, srv.Token(room, "bob", "attendee"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if ce := b.closed(); ce.Code != websocket.StatusUnsupportedData {
		t.Errorf("binary frame: closed %v, want 1003", ce)
	}
}

// A run of events bigger than the outbound queue (and than the session's
// subscriber buffer) is sent at the client's pace, not cut off; and a
// disable-all in a room of 100 is one event.
func TestBurstPaced(t *testing.T) {
	leakcheck.Check(t)
	gone := make(chan ws.Disconnect, 4)
	srv := wstest.NewWith(t, []session.Option{session.WithSubscriberBuffer(8)}, ws.WithOutboundQueue(4),
		ws.WithDisconnectHandler(func(d ws.Disconnect) { gone <- d }))
	const n = 100
	for i := range n {
		srv.Submit(t, room, core.Command{ID: "j" + strconv.Itoa(i), Type: core.Join, Actor: "p" + strconv.Itoa(i), Name: "P", Preset: "attendee", Audio: true})
	}
	host := joined(t, srv, "hana", "host")
	watcher := dial(t, srv, srv.Token(room, "bob", "attendee"), nil) // gets the events from the pump
	res, evs := host.do(core.Command{Type: core.DisableAllAudio})
	if want := []events.Event{&events.AllAudioDisabled{Seq: n + 2, Count: n, By: "hana"}}; res.Err != nil || !cmp.Equal(want, evs) {
		t.Fatalf("disable all: %+v, events %v", res, evs)
	}
	for i := range 2 * n {
		srv.Submit(t, room, core.Command{ID: "t" + strconv.Itoa(i), Type: core.SetVideo, Actor: "p1", Enabled: i%2 == 0})
	}
	checkStream(t, srv, n+1, watcher.events(3*n+2))
	select {
	case d := <-gone:
		t.Errorf("disconnected %+v during a burst", d)
	default:
	}
}
