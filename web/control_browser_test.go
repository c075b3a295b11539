package web_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/media"
)

// result is how a page's call settled (h.act).
type result struct {
	OK     bool
	Code   int
	Reason string
	Client bool
}

// act runs fn (JavaScript: a function of the meeting) on p's meeting.
func act(p *page, fn string) result {
	p.t.Helper()
	return eval[result](p, fmt.Sprintf(`h.act(%s)`, fn))
}

func mustAct(p *page, fn string) {
	p.t.Helper()
	if r := act(p, fn); !r.OK {
		p.t.Fatalf("%s: %s: %+v", p.name, fn, r)
	}
}

// waitNote waits until p has recorded n from index from on.
func waitNote(p *page, from int, n note) {
	p.t.Helper()
	p.wait(n.String(), fmt.Sprintf(`h.log.slice(%d).some(x => x.on === %s && x.event === %s && x.id === %s && x.extra === %s && x.by === %s)`,
		from, js(n.On), js(n.Event), js(n.ID), js(n.Extra), js(n.By)))
}

// routerAt waits until the room's media router has applied every event p
// has, and returns whether it forwards id's media of kind.
func (e *env) routerAt(p *page) func(id string, kind webrtc.RTPCodecType) bool {
	e.t.Helper()
	seq := uint64(eval[float64](p, `h.meeting.meta.seq`))
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if r, ok := e.srv.Hub().Router(e.room); ok && r.State().Seq() >= seq {
			return func(id string, kind webrtc.RTPCodecType) bool { return media.Forwards(r.State(), id, kind) }
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("still waiting after %v for the media router to reach seq %d", waitLimit, seq)
		}
		<-tick.C
	}
}

// silentWhile checks that p receives no packet of id's kind while the
// control track (another participant's, or another kind) grows by window
// packets twice: the first window lets packets already on the wire land.
func silentWhile(p *page, id, kind, controlID, controlKind string, window int64) int64 {
	p.t.Helper()
	c := inbound(p, controlID, controlKind).Packets
	waitPackets(p, controlID, controlKind, c+window)
	a := inbound(p, id, kind).Packets
	c = inbound(p, controlID, controlKind).Packets
	waitPackets(p, controlID, controlKind, c+window)
	if b := inbound(p, id, kind).Packets; b != a {
		p.t.Errorf("%s: %s's %s went on: %d packets, then %d while the control track got %d more", p.name, id, kind, a, b, window)
	}
	return a
}

// TestHostMuteAndSelfUnmute: a host mutes an attendee. The attendee's page
// gets audioUpdate on self (by the host) and stops sending; the host's
// packets of the attendee's audio stop at the router. The attendee turns
// the microphone on again, and the audio flows again.
func TestHostMuteAndSelfUnmute(t *testing.T) {
	e := newEnv(t)
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", true, true)
	e.join(alice, "alice", "attendee", true, true)
	waitPackets(hana, "alice", "audio", 10)
	waitPackets(hana, "alice", "video", 10)
	from := alice.count()

	mustAct(hana, `m => m.participants.joined.get("alice").disableAudio()`)
	waitNote(alice, from, note{On: "self", Event: "audioUpdate", ID: "alice", Extra: "false", By: "hana"})
	if eval[bool](alice, `h.meeting.self.audioEnabled || h.meeting.self.audioTrack !== null`) {
		t.Error("alice's audio still on, or her microphone still held, after the host's mute")
	}
	forwards := e.routerAt(hana)
	if forwards("alice", webrtc.RTPCodecTypeAudio) {
		t.Fatal("the router still forwards alice's audio")
	}
	// At the viewer: nothing more of alice's audio while her video flows.
	silentWhile(hana, "alice", "audio", "alice", "video", 30)
	// At the sender: alice's page stopped sending audio (the router drops it anyway).
	sent := eval[float64](alice, `h.outbound("audio")`)
	waitPackets(hana, "alice", "video", inbound(hana, "alice", "video").Packets+30)
	if now := eval[float64](alice, `h.outbound("audio")`); now != sent {
		t.Errorf("alice's page sent %v audio packets after the mute", now-sent)
	}

	// Self-unmute.
	from = alice.count()
	mustAct(alice, `m => m.self.enableAudio()`)
	waitNote(alice, from, note{On: "self", Event: "audioUpdate", ID: "alice", Extra: "true", By: "alice"})
	waitNote(hana, 0, note{On: "joined", Event: "audioUpdate", ID: "alice", Extra: "true", By: "alice"})
	waitPackets(hana, "alice", "audio", inbound(hana, "alice", "audio").Packets+10)
}

// TestDisableAllVideoAndReEnable: a host turns everyone's video off; every
// page gets videoUpdate (false, by the host) for everyone whose video was
// on, self included. Each participant turns the camera on again, and every
// viewer decodes their video again, every time. Bob ignores the mutes (he
// keeps sending, the router withholds his video): his video resumes
// without a new encoder, so only a key frame the router asks for makes it
// decode again.
func TestDisableAllVideoAndReEnable(t *testing.T) {
	e := newEnv(t)
	ids := []string{"hana", "alice", "bob"}
	pages := map[string]*page{}
	for i, id := range ids {
		pages[id] = e.harness(id)
		if id == "bob" {
			pages[id].run(`h.stubborn()`)
		}
		e.join(pages[id], id, map[bool]string{true: "host", false: "attendee"}[i == 0], true, true)
	}
	for _, viewer := range ids {
		for _, of := range ids {
			if of != viewer {
				waitFrames(pages[viewer], of, 5)
			}
		}
	}
	for round := range 3 {
		from := map[string]int{}
		for _, id := range ids {
			from[id] = pages[id].count()
		}
		mustAct(pages["hana"], `m => m.participants.disableAllVideo()`)
		for _, viewer := range ids {
			var want []note
			for _, of := range ids {
				n := note{On: "joined", Event: "videoUpdate", ID: of, Extra: "false", By: "hana"}
				if of == viewer {
					n.On = "self"
				}
				want = append(want, n)
			}
			p := pages[viewer]
			p.wait("every videoUpdate", fmt.Sprintf(`h.log.length >= %d`, from[viewer]+len(ids)))
			got := p.notes(from[viewer])
			for i := range got {
				got[i].Seq = 0
			}
			if diff := cmp.Diff(want, got[:len(ids)]); diff != "" {
				t.Errorf("round %d: %s's notifications (-want +got):\n%s", round, viewer, diff)
			}
		}
		forwards := e.routerAt(pages["hana"])
		for _, id := range ids {
			if forwards(id, webrtc.RTPCodecTypeVideo) {
				t.Fatalf("the router still forwards %s's video", id)
			}
		}
		// Frozen at every viewer: no video packet while the audio flows
		// (a window for packets on the wire, then one to watch).
		type pair struct{ viewer, of string }
		var pairs []pair
		for _, viewer := range ids {
			for _, of := range ids {
				if of != viewer {
					pairs = append(pairs, pair{viewer, of})
				}
			}
		}
		control := func() int64 { return inbound(pages["hana"], "alice", "audio").Packets }
		waitPackets(pages["hana"], "alice", "audio", control()+25)
		before, frozen := map[pair]stats{}, map[pair]int64{}
		for _, p := range pairs {
			before[p] = inbound(pages[p.viewer], p.of, "video")
		}
		waitPackets(pages["hana"], "alice", "audio", control()+25)
		for _, p := range pairs {
			now := inbound(pages[p.viewer], p.of, "video")
			if now.Packets != before[p].Packets {
				t.Errorf("round %d: %s got %d packets of %s's video while it was off", round, p.viewer, now.Packets-before[p].Packets, p.of)
			}
			frozen[p] = now.Frames
		}
		for _, id := range ids {
			mustAct(pages[id], `m => m.self.enableVideo()`)
		}
		for p, n := range frozen {
			waitFrames(pages[p.viewer], p.of, n+10)
		}
	}
}

// TestPinAndMovedPin: a host pins alice, then bob. Every page gets
// unpinned for alice, then pinned for bob, on the objects SPEC §3 says.
func TestPinAndMovedPin(t *testing.T) {
	e := newEnv(t)
	ids := []string{"hana", "alice", "bob"}
	pages := map[string]*page{}
	for i, id := range ids {
		pages[id] = e.harness(id)
		e.join(pages[id], id, map[bool]string{true: "host", false: "attendee"}[i == 0], false, false)
	}
	from := map[string]int{}
	for _, id := range ids {
		from[id] = pages[id].count()
	}
	mustAct(pages["hana"], `m => m.participants.joined.get("alice").pin()`)
	mustAct(pages["hana"], `m => m.participants.joined.get("bob").pin()`)
	on := func(id, target, event string) []note {
		if id == target {
			return []note{{On: "self", Event: event, ID: target, By: "hana"}}
		}
		mapEvent := map[string]string{"pinned": "participantJoined", "unpinned": "participantLeft"}[event]
		return []note{{On: "joined", Event: event, ID: target, By: "hana"}, {On: "pinned", Event: mapEvent, ID: target, By: "hana"}}
	}
	for _, id := range ids {
		want := slices.Concat(on(id, "alice", "pinned"), on(id, "alice", "unpinned"), on(id, "bob", "pinned"))
		p := pages[id]
		p.wait("the pin notifications", fmt.Sprintf(`h.log.length >= %d`, from[id]+len(want)))
		got := p.notes(from[id])
		for i := range got {
			got[i].Seq = 0
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s's notifications (-want +got):\n%s", id, diff)
		}
		pinned := eval[[]string](p, `h.meeting.participants.pinned.toArray().map(p => p.id)`)
		wantPinned := []string{"bob"}
		if id == "bob" {
			wantPinned = []string{}
		}
		if diff := cmp.Diff(wantPinned, pinned); diff != "" {
			t.Errorf("%s's pinned map (-want +got):\n%s", id, diff)
		}
		if got, want := eval[bool](p, `h.meeting.self.isPinned`), id == "bob"; got != want {
			t.Errorf("%s: self.isPinned %v, want %v", id, got, want)
		}
	}
}

// TestKick: the kicked page gets roomLeft kicked, its peer connection and
// socket close and it does not come back; the viewers lose the kicked
// participant and their tracks (muted, and gone from the participant).
func TestKick(t *testing.T) {
	e := newEnv(t)
	hana, alice, bob := e.harness("hana"), e.harness("alice"), e.harness("bob")
	e.join(hana, "hana", "host", true, true)
	e.join(alice, "alice", "attendee", true, true)
	e.join(bob, "bob", "attendee", false, false)
	for _, kind := range []string{"audio", "video"} {
		waitPackets(bob, "alice", kind, 10)
	}
	bob.run(`window.aliceTracks = [h.meeting.participants.joined.get("alice").audioTrack, h.meeting.participants.joined.get("alice").videoTrack]`)
	from := bob.count()

	mustAct(hana, `m => m.participants.joined.get("alice").kick()`)
	waitNote(alice, 0, note{On: "self", Event: "roomLeft", ID: "alice", Extra: "kicked", By: "hana"})
	alice.wait("alice's peer connection closed", `h.meeting.mediaConnectionState === "closed"`)
	alice.wait("alice's socket closed", `h.sockets.at(-1).readyState === WebSocket.CLOSED`)
	alice.wait("alice's meeting over", `h.connection.some(u => u.state === "disconnected")`)
	if n := eval[int](alice, `h.sockets.length`); n != 1 {
		t.Errorf("alice's page opened %d sockets: a kicked page must not reconnect", n)
	}

	waitNote(bob, from, note{On: "joined", Event: "participantLeft", ID: "alice", Extra: "kicked", By: "hana"})
	bob.wait("alice's tracks muted at bob", `aliceTracks.every(t => t.muted)`)
	if eval[bool](bob, `h.meeting.participants.joined.has("alice")`) {
		t.Error("alice still in bob's joined map")
	}
}

// TestKickAll: every page, the host's included, gets roomLeft ended, and
// its media connection closes.
func TestKickAll(t *testing.T) {
	e := newEnv(t)
	pages := []*page{e.harness("hana"), e.harness("alice"), e.harness("bob")}
	for i, id := range []string{"hana", "alice", "bob"} {
		e.join(pages[i], id, map[bool]string{true: "host", false: "attendee"}[i == 0], true, false)
	}
	mustAct(pages[0], `m => m.participants.kickAll()`)
	for i, id := range []string{"hana", "alice", "bob"} {
		waitNote(pages[i], 0, note{On: "self", Event: "roomLeft", ID: id, Extra: "ended", By: "hana"})
		pages[i].wait("the media connection closed", `h.meeting.mediaConnectionState === "closed"`)
		pages[i].wait("the meeting over", `h.connection.some(u => u.state === "disconnected")`)
	}
}

// TestAttendeeGets1201WithoutARoundTrip: every host control of an attendee
// rejects with a ClientError of code 1201, and nothing goes on the socket.
func TestAttendeeGets1201WithoutARoundTrip(t *testing.T) {
	e := newEnv(t)
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", false, false)
	e.join(alice, "alice", "attendee", false, false)
	perms := eval[map[string]bool](alice, `h.meeting.self.permissions`)
	if diff := cmp.Diff(map[string]bool{"canDisableParticipantAudio": false, "canDisableParticipantVideo": false,
		"pinParticipant": false, "kickParticipant": false}, perms); diff != "" {
		t.Errorf("attendee's permissions (-want +got):\n%s", diff)
	}
	commands := `h.sent.filter(f => JSON.parse(f).type === "command").length`
	sent := eval[int](alice, commands)
	for _, call := range []string{"disableAudio()", "disableVideo()", "pin()", "unpin()", "kick()"} {
		r := act(alice, `m => m.participants.joined.get("hana").`+call)
		if r != (result{Code: 1201, Reason: "permission_denied", Client: true}) {
			t.Errorf("%s: %+v, want a ClientError 1201", call, r)
		}
	}
	for _, call := range []string{"disableAllAudio()", "disableAllVideo()", "kickAll()"} {
		if r := act(alice, `m => m.participants.`+call); r.Code != 1201 || !r.Client {
			t.Errorf("%s: %+v, want a ClientError 1201", call, r)
		}
	}
	if n := eval[int](alice, commands); n != sent {
		t.Errorf("%d frames sent for refused host controls", n-sent)
	}
	if !eval[bool](alice, `h.meeting.participants.joined.get("hana").disableAudio().catch(e => e.remote === false)`) {
		t.Error("a refusal marked as the server's")
	}
	// The host's same call goes through.
	mustAct(hana, `m => m.participants.joined.get("alice").pin()`)
}
