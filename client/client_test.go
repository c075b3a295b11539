package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
	"github.com/gavelrtc/gavel/view"
)

// cast is a host and attendees, each dialled after the one before has
// been seen by all the others, with audio and video on.
type cast struct {
	srv  *wstest.Server
	m    map[string]*client.Meeting
	r    map[string]*recorder
	gone chan ws.Disconnect
}

func newCast(t *testing.T, ids ...string) *cast {
	t.Helper()
	c := &cast{m: map[string]*client.Meeting{}, r: map[string]*recorder{}, gone: make(chan ws.Disconnect, 64)}
	c.srv = wstest.New(t, ws.WithDisconnectHandler(func(d ws.Disconnect) { c.gone <- d }))
	var before []string
	for i, id := range ids {
		preset := "attendee"
		if i == 0 {
			preset = "host"
		}
		c.m[id], c.r[id] = join(t, c.srv, id, preset, client.WithMedia(true, true))
		c.r[id].until(is(view.OnSelf, "roomJoined"))
		for _, b := range before {
			c.r[b].sawJoin(id)
		}
		before = append(before, id)
	}
	return c
}

// get returns participant id as meeting of sees it.
func (c *cast) get(t *testing.T, of, id string) *client.Participant {
	t.Helper()
	p, ok := c.m[of].Participants.Joined.Get(id)
	if !ok {
		t.Fatalf("%s does not see %s joined", of, id)
	}
	return p
}

func is(on view.Emitter, event string) func(note) bool {
	return func(n note) bool { return n.On == on && n.Event == event }
}

// A host mutes a participant: the target's self gets audioUpdate by the
// host; the others get it on the participant and on the joined map.
func TestHostMutesParticipant(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob")
	c.r["bob"].watch(c.get(t, "bob", "alice"))

	target := c.get(t, "hana", "alice")
	if err := target.DisableAudio(ctxT(t)); err != nil {
		t.Fatalf("DisableAudio: %v", err)
	}
	if target.AudioEnabled() {
		t.Error("alice's audio still on for the host after DisableAudio returned")
	}
	seq := c.srv.State(t, room).Seq()

	got := c.r["alice"].until(is(view.OnSelf, "audioUpdate"))
	if d := cmp.Diff(note{On: view.OnSelf, Event: "audioUpdate", Enabled: false, By: "hana", Seq: seq}, got[len(got)-1]); d != "" {
		t.Errorf("alice's self (-want +got):\n%s", d)
	}
	if c.m["alice"].Self.AudioEnabled() {
		t.Error("alice's self still has audio")
	}
	want := []note{
		{On: view.OnParticipant, Event: "audioUpdate", Who: "alice", By: "hana", Seq: seq},
		{On: view.OnJoined, Event: "audioUpdate", Who: "alice", By: "hana", Seq: seq},
	}
	if d := cmp.Diff(want, c.r["bob"].until(is(view.OnJoined, "audioUpdate"))); d != "" { // bob joined last: nothing before
		t.Errorf("bob (-want +got):\n%s", d)
	}
	if p := c.get(t, "bob", "alice"); p.AudioEnabled() || !p.VideoEnabled() {
		t.Errorf("bob sees alice audio %v video %v", p.AudioEnabled(), p.VideoEnabled())
	}
}

// A host mutes everyone: one event on the wire, and each client fires
// audioUpdate, by the host, for every participant whose audio was on, in
// join order, self's on self, as if they had been muted one by one.
func TestHostMutesEveryone(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob")
	if err := c.m["alice"].Self.DisableAudio(ctxT(t)); err != nil { // alice's is off already
		t.Fatal(err)
	}
	if err := c.m["hana"].Participants.DisableAllAudio(ctxT(t)); err != nil {
		t.Fatalf("DisableAllAudio: %v", err)
	}
	seq := c.srv.State(t, room).Seq()
	if ev := c.srv.State(t, room); ev.AudioOn() != 0 {
		t.Fatalf("%d participants still have audio", ev.AudioOn())
	}
	audio := func(n note) bool { return n.Event == "audioUpdate" && n.Seq == seq }
	want := map[string][]note{
		"hana": {{On: view.OnSelf, Event: "audioUpdate", By: "hana", Seq: seq},
			{On: view.OnJoined, Event: "audioUpdate", Who: "bob", By: "hana", Seq: seq}},
		"alice": {{On: view.OnJoined, Event: "audioUpdate", Who: "hana", By: "hana", Seq: seq},
			{On: view.OnJoined, Event: "audioUpdate", Who: "bob", By: "hana", Seq: seq}},
		"bob": {{On: view.OnJoined, Event: "audioUpdate", Who: "hana", By: "hana", Seq: seq},
			{On: view.OnSelf, Event: "audioUpdate", By: "hana", Seq: seq}},
	}
	for id, w := range want {
		last := w[len(w)-1]
		got := filter(c.r[id].until(func(n note) bool { return n == last }), audio)
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", id, d)
		}
		if c.m[id].Self.AudioEnabled() {
			t.Errorf("%s's self still has audio", id)
		}
	}
}

// Kick: the kicked client gets roomLeft kicked and its connection ends;
// the others get participantLeft.
func TestKick(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob")
	if err := c.get(t, "hana", "alice").Kick(ctxT(t)); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	seq := c.srv.State(t, room).Seq()
	got := c.r["alice"].until(is(view.OnSelf, "roomLeft"))
	if d := cmp.Diff(note{On: view.OnSelf, Event: "roomLeft", State: client.StateKicked, By: "hana", Seq: seq}, got[len(got)-1]); d != "" {
		t.Errorf("alice (-want +got):\n%s", d)
	}
	wstest.Recv(t, c.m["alice"].Done(), "alice's meeting ending")
	if err := c.m["alice"].Err(); !errors.Is(err, client.ErrRoomLeft) {
		t.Errorf("alice's meeting ended with %v, want ErrRoomLeft", err)
	}
	if d := wstest.Recv(t, c.gone, "the disconnect handler"); d.Participant != "alice" || d.Reason != wire.ReasonKicked {
		t.Errorf("server side: %+v, want alice's connection ended kicked", d)
	}
	for _, id := range []string{"hana", "bob"} {
		got := c.r[id].until(is(view.OnJoined, "participantLeft"))
		want := note{On: view.OnJoined, Event: "participantLeft", Who: "alice", State: client.StateKicked, By: "hana", Seq: seq}
		if d := cmp.Diff(want, got[len(got)-1]); d != "" {
			t.Errorf("%s (-want +got):\n%s", id, d)
		}
		if _, ok := c.m[id].Participants.Joined.Get("alice"); ok {
			t.Errorf("%s still has alice in the joined map", id)
		}
	}
	if err := c.m["alice"].Self.EnableAudio(ctxT(t)); !errors.Is(err, client.ErrClosed) {
		t.Errorf("command after the kick: %v, want ErrClosed", err)
	}
}

// Kick all: everyone gets roomLeft ended.
func TestKickAll(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob")
	if err := c.m["hana"].Participants.KickAll(ctxT(t)); err != nil {
		t.Fatalf("KickAll: %v", err)
	}
	seq := c.srv.State(t, room).Seq()
	for id, r := range c.r {
		got := r.until(is(view.OnSelf, "roomLeft"))
		want := note{On: view.OnSelf, Event: "roomLeft", State: client.StateEnded, By: "hana", Seq: seq}
		if d := cmp.Diff(want, got[len(got)-1]); d != "" {
			t.Errorf("%s (-want +got):\n%s", id, d)
		}
		if left := filter(got, is(view.OnJoined, "participantLeft")); len(left) > 0 {
			t.Errorf("%s was told of departures: %+v", id, left)
		}
		wstest.Recv(t, c.m[id].Done(), id+"'s meeting ending")
		if c.m[id].Self.RoomState() != client.StateEnded {
			t.Errorf("%s: room state %s", id, c.m[id].Self.RoomState())
		}
	}
}

// A pin moving from one participant to another: unpinned, then pinned;
// the pinned map follows.
func TestPinMoving(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob", "carol")
	ctx := ctxT(t)
	carol := c.m["carol"]
	if err := c.get(t, "hana", "alice").Pin(ctx); err != nil {
		t.Fatal(err)
	}
	s1 := c.srv.State(t, room).Seq()
	c.r["carol"].until(is(view.OnPinned, "participantJoined"))
	if ids := ids(carol.Participants.Pinned.List()); !cmp.Equal(ids, []string{"alice"}) {
		t.Errorf("carol's pinned map after pinning alice: %v", ids)
	}
	if err := c.get(t, "hana", "bob").Pin(ctx); err != nil {
		t.Fatal(err)
	}
	s3 := c.srv.State(t, room).Seq()
	want := []note{
		{On: view.OnJoined, Event: "unpinned", Who: "alice", By: "hana", Seq: s3 - 1},
		{On: view.OnPinned, Event: "participantLeft", Who: "alice", By: "hana", Seq: s3 - 1},
		{On: view.OnJoined, Event: "pinned", Who: "bob", By: "hana", Seq: s3},
		{On: view.OnPinned, Event: "participantJoined", Who: "bob", By: "hana", Seq: s3},
	}
	if d := cmp.Diff(want, c.r["carol"].until(func(n note) bool { return n.Seq == s3 && n.On == view.OnPinned })); d != "" {
		t.Errorf("carol (-want +got):\n%s", d)
	}
	if ids := ids(carol.Participants.Pinned.List()); !cmp.Equal(ids, []string{"bob"}) {
		t.Errorf("carol's pinned map after pinning bob: %v", ids)
	}
	selfPins := filter(c.r["alice"].until(is(view.OnSelf, "unpinned")), func(n note) bool { return n.On == view.OnSelf })
	if d := cmp.Diff([]note{{On: view.OnSelf, Event: "pinned", By: "hana", Seq: s1}, {On: view.OnSelf, Event: "unpinned", By: "hana", Seq: s3 - 1}}, selfPins); d != "" {
		t.Errorf("alice's self (-want +got):\n%s", d)
	}
	c.r["bob"].until(is(view.OnSelf, "pinned"))
	if !c.m["bob"].Self.IsPinned() || c.m["alice"].Self.IsPinned() {
		t.Errorf("isPinned: bob %v, alice %v", c.m["bob"].Self.IsPinned(), c.m["alice"].Self.IsPinned())
	}
	if n := c.m["bob"].Participants.Pinned.Len(); n != 0 {
		t.Errorf("bob's pinned map holds %d: self is never in it", n)
	}
}

func ids(ps []*client.Participant) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID())
	}
	return out
}

// Without the permission a command fails on the client with 1201 and never
// reaches the server.
func TestPermissionCheckedOnClientFirst(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice", "bob")
	alice, ctx := c.m["alice"], ctxT(t)
	if got := alice.Self.Permissions(); got != (client.Permissions{}) {
		t.Errorf("attendee permissions %+v", got)
	}
	want := client.Permissions{CanDisableParticipantAudio: true, CanDisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}
	if got := c.m["hana"].Self.Permissions(); got != want {
		t.Errorf("host permissions %+v", got)
	}
	before, logged := c.srv.State(t, room), len(c.srv.Log(t, room))
	bob := c.get(t, "alice", "bob")
	for name, call := range map[string]func(context.Context) error{
		"DisableAudio": bob.DisableAudio, "DisableVideo": bob.DisableVideo, "Pin": bob.Pin, "Unpin": bob.Unpin,
		"Kick": bob.Kick, "DisableAllAudio": alice.Participants.DisableAllAudio,
		"DisableAllVideo": alice.Participants.DisableAllVideo, "KickAll": alice.Participants.KickAll,
	} {
		err := call(ctx)
		ce, ok := errors.AsType[*client.ClientError](err)
		if !ok || ce.Code != 1201 || ce.Remote || !errors.Is(err, core.ErrPermissionDenied) {
			t.Errorf("%s: %v, want a local *ClientError 1201", name, err)
		}
	}
	if after, n := c.srv.State(t, room), len(c.srv.Log(t, room))-logged; !after.Equal(before) || n != 0 {
		t.Errorf("refused commands reached the session: seq %d → %d, %d in its log", before.Seq(), after.Seq(), n)
	}
	// Commands self may give go through.
	if err := alice.Self.DisableVideo(ctx); err != nil || alice.Self.VideoEnabled() {
		t.Errorf("DisableVideo on self: %v, video %v", err, alice.Self.VideoEnabled())
	}
	// A server rejection is a remote ClientError with the server's code.
	hana := c.m["hana"]
	self, _ := hana.Participants.Joined.Get("alice")
	if err := c.get(t, "bob", "hana").DisableAudio(ctx); err == nil {
		t.Error("bob muted the host")
	}
	if err := self.Kick(ctx); err != nil {
		t.Fatal(err)
	}
	err := self.Kick(ctx)
	if ce, ok := errors.AsType[*client.ClientError](err); !ok || !ce.Remote || ce.Code != core.CodeParticipantNotFound {
		t.Errorf("kicking alice twice: %v, want a remote participant_not_found", err)
	}
}

// Leave: roomLeft left, the meeting ends, the others see participantLeft.
func TestLeave(t *testing.T) {
	leakcheck.Check(t)
	c := newCast(t, "hana", "alice")
	if err := c.m["alice"].Self.Leave(ctxT(t)); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	got := c.r["alice"].until(is(view.OnSelf, "roomLeft"))
	if n := got[len(got)-1]; n.State != client.StateLeft || n.By != "alice" {
		t.Errorf("roomLeft %+v", n)
	}
	wstest.Recv(t, c.m["alice"].Done(), "alice's meeting ending")
	got = c.r["hana"].until(is(view.OnJoined, "participantLeft"))
	if n := got[len(got)-1]; n.Who != "alice" || n.State != client.StateLeft {
		t.Errorf("hana: %+v", n)
	}
	if d := wstest.Recv(t, c.gone, "the disconnect handler"); d.Reason != wire.ReasonLeft {
		t.Errorf("server side: %+v", d)
	}
}

// A handler may give commands and wait for their result.
func TestCommandFromHandler(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	hana, _ := join(t, srv, "hana", "host")
	muted := make(chan error, 1)
	ctx := ctxT(t)
	hana.Participants.Joined.OnParticipantJoined(func(p *client.Participant, _ client.ParticipantJoined) {
		muted <- p.DisableAudio(ctx)
	})
	_, r := join(t, srv, "alice", "attendee", client.WithMedia(true, false))
	if err := testwait.Recv(t, muted, "DisableAudio from a handler to return"); err != nil {
		t.Fatalf("DisableAudio from a handler: %v", err)
	}
	got := r.until(is(view.OnSelf, "audioUpdate"))
	if n := got[len(got)-1]; n.Enabled || n.By != "hana" {
		t.Errorf("alice: %+v", n)
	}
}

// A second connection of the same participant replaces the first.
func TestReplaced(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	first, r := join(t, srv, "alice", "attendee")
	second, r2 := join(t, srv, "alice", "attendee") // joined already: no join
	got := r.until(func(n note) bool { return n.Event == string(client.Disconnected) })
	if len(got) != 2 || got[0].Event != "roomJoined" {
		t.Errorf("first meeting: %+v", got)
	}
	wstest.Recv(t, first.Done(), "the replaced meeting ending")
	if err := first.Err(); !errors.Is(err, client.ErrReplaced) {
		t.Errorf("first meeting ended with %v, want ErrReplaced", err)
	}
	if err := second.Self.EnableAudio(ctxT(t)); err != nil || !second.Self.AudioEnabled() {
		t.Errorf("second meeting: %v", err)
	}
	if got := r2.until(is(view.OnSelf, "audioUpdate")); len(got) != 1 {
		t.Errorf("second meeting's handlers: %+v, want audioUpdate alone", got)
	}
}

func TestDialRefused(t *testing.T) {
	srv := wstest.New(t)
	_, err := client.Dial(ctxT(t), srv.URL, srv.TokenUntil(room, "alice", "host", time.Now().Add(-time.Second)))
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("expired token: %v, want ErrUnauthorized", err)
	}
	hana, _ := join(t, srv, "hana", "host")
	if err := hana.Participants.KickAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	_, err = client.Dial(ctxT(t), srv.URL, srv.Token(room, "alice", "host"))
	if ce, ok := errors.AsType[*client.ClientError](err); !ok || ce.Code != core.CodeSessionEnded {
		t.Errorf("ended session: %v, want session_ended", err)
	}
}
