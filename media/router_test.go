package media

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
)

// muteCommands are the host's command that turns a kind of media off, for
// the target or for everyone, and the target's own command that turns it on
// again.
func muteCommands(kind webrtc.RTPCodecType, host, target string, everyone bool) (off, on core.Command) {
	audio := kind == webrtc.RTPCodecTypeAudio
	switch {
	case audio && everyone:
		off = core.Command{Type: core.DisableAllAudio, Actor: host}
	case audio:
		off = core.Command{Type: core.DisableAudio, Actor: host, Target: target}
	case everyone:
		off = core.Command{Type: core.DisableAllVideo, Actor: host}
	default:
		off = core.Command{Type: core.DisableVideo, Actor: host, Target: target}
	}
	if audio {
		return off, core.Command{Type: core.SetAudio, Actor: target, Enabled: true}
	}
	return off, core.Command{Type: core.SetVideo, Actor: target, Enabled: true}
}

// serverRead waits until the router has read the publisher's packet index
// (its sequence number) on the track.
func serverRead(t testing.TB, r *Router, participant string, kind webrtc.RTPCodecType, index uint32) {
	t.Helper()
	mediatest.WaitUntil(t, fmt.Sprintf("the router to read %s's %s packet %d", participant, kind, index), func() bool {
		st, ok := r.TrackStats(participant, kind)
		return ok && !newer(uint16(index), st.LastSequence)
	})
}

// TestMuteStopsForwarding: a mute, of one participant or of everyone (one
// all_audio_disabled event that the router works out per participant),
// stops forwarding at once; an unmute resumes it without a hole.
func TestMuteStopsForwarding(t *testing.T) {
	for _, tc := range []struct {
		kind     webrtc.RTPCodecType
		everyone bool
	}{{kinds[0], false}, {kinds[1], false}, {kinds[0], true}, {kinds[1], true}} {
		kind := tc.kind
		name := kind.String()
		if tc.everyone {
			name += "/everyone"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.join("alice", "bob", "carol")
			bob := h.connect("bob", true)
			subs := []*client{h.connect("alice", false), h.connect("carol", false)}
			bob.Publish(mediatest.PacketInterval)
			muted, control := from("bob", kind), from("bob", webrtc.RTPCodecTypeAudio)
			if kind == webrtc.RTPCodecTypeAudio {
				control.Kind = webrtc.RTPCodecTypeVideo
			}
			for _, c := range subs {
				mediatest.WaitUntil(t, c.ID+" receiving bob's "+kind.String(), func() bool { return c.Received(muted, 2) })
			}

			off, on := muteCommands(kind, "alice", "bob", tc.everyone)
			h.do(off)
			// Packets written after this one start after Apply returned, so
			// the router reads them with the gate closed. The next one may
			// have been on its way: at most it gets through.
			s := bob.LastSent(kind)
			serverRead(t, h.router, "bob", kind, s+mediatest.Window)
			for _, c := range subs {
				mediatest.WaitUntil(t, c.ID+" receiving the control track", func() bool { return c.Received(control, s+mediatest.Window) })
				late := c.After(muted, s)
				if len(late) > 1 || len(late) == 1 && late[0] != s+1 {
					t.Errorf("%s: after the mute (bob had sent %d), got %v", c.ID, s, late)
				}
				t.Logf("%s: %d packet(s) in flight after the mute", c.ID, len(late))
			}
			st, _ := h.router.TrackStats("bob", kind)
			silentUpTo := uint32(st.LastSequence) // read by the router while muted

			keyframes := bob.keyframeRequests[kind].Load()
			h.do(on)
			u := bob.LastSent(kind)
			for _, c := range subs {
				mediatest.WaitUntil(t, c.ID+" receiving bob's "+kind.String()+" again", func() bool { return c.Received(muted, u) })
			}
			if kind == webrtc.RTPCodecTypeVideo {
				// Subscribers resume mid-stream: they need a keyframe.
				mediatest.WaitUntil(t, "a keyframe request to bob", func() bool {
					return bob.keyframeRequests[kind].Load() > keyframes
				})
			}
			for _, c := range subs {
				got := c.Arrivals(muted)
				var first, before mediatest.Arrival
				for i, a := range got {
					if a.Index > s+1 && a.Index <= silentUpTo {
						t.Errorf("%s: got packet %d, sent while muted (%d..%d)", c.ID, a.Index, s+2, silentUpTo)
					}
					if a.Index > silentUpTo && first.Index == 0 {
						first, before = a, got[i-1]
					}
				}
				t.Logf("%s: first packet after the unmute is %d, %d packet(s) after bob's last before it",
					c.ID, first.Index, first.Index-u)
				// The rewriter hides the mute: no hole in the sequence numbers.
				if first.Seq != before.Seq+1 {
					t.Errorf("%s: sequence number %d after %d across the mute, want %d", c.ID, first.Seq,
						before.Seq, before.Seq+1)
				}
			}
			st, _ = h.router.TrackStats("bob", kind)
			if st.Forwarded >= st.Received {
				t.Errorf("stats %+v: nothing withheld", st)
			}
		})
	}
}

func TestKickClosesPeerAndRemovesTracks(t *testing.T) {
	h := newHarness(t)
	h.join("alice", "bob", "carol")
	bob := h.connect("bob", true)
	subs := []*client{h.connect("alice", false), h.connect("carol", true)}
	bob.Publish(mediatest.PacketInterval)
	for _, c := range subs {
		for _, k := range kinds {
			mediatest.WaitUntil(t, c.ID+" receiving bob's "+k.String(), func() bool { return c.Received(from("bob", k), 2) })
		}
	}

	start := time.Now()
	h.do(core.Command{Type: core.Kick, Actor: "alice", Target: "bob"})
	applied := time.Since(start)
	select {
	case <-bob.peer.Done():
	default:
		t.Error("bob's Peer not done when Apply returned")
	}
	var closedAt time.Time
	mediatest.WaitUntil(t, "bob's PeerConnection closed", func() bool {
		closedAt = bob.ClosedAt()
		return !closedAt.IsZero()
	})
	closedAfter := closedAt.Sub(start)
	t.Logf("kick: Apply returned after %v; bob's side closed after %v", applied, closedAfter)

	for _, c := range subs {
		for _, k := range kinds {
			mediatest.WaitUntil(t, c.ID+": bob's "+k.String()+" track ended", func() bool { return c.Ended(from("bob", k)) })
		}
	}
	t.Logf("kick: bob's tracks ended at the subscribers after %v", time.Since(start))
	for _, k := range kinds {
		if st, ok := h.router.TrackStats("bob", k); ok {
			t.Errorf("bob's %s still forwarded after the kick: %+v", k, st)
		}
	}
	if _, err := bob.peer.Next(testwait.Context(t)); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("bob's Next after the kick: %v, want ErrPeerClosed", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.router.Connect(ctx, "bob"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect of kicked bob: %v, want to wait for a join", err)
	}
	if carol := subs[1]; carol.PC.ConnectionState() != webrtc.PeerConnectionStateConnected {
		t.Errorf("carol's connection %s after bob's kick", carol.PC.ConnectionState())
	}
}

func TestKickAllClosesEverything(t *testing.T) {
	h := newHarness(t)
	h.join("alice", "bob", "carol")
	clients := []*client{h.connect("alice", true), h.connect("bob", true), h.connect("carol", true)}
	for _, c := range clients {
		c.Publish(mediatest.PacketInterval)
	}
	mediatest.WaitUntil(t, "media flowing", func() bool { return clients[0].Received(from("carol", webrtc.RTPCodecTypeVideo), 2) })

	start := time.Now()
	h.do(core.Command{Type: core.KickAll, Actor: "alice"})
	for _, c := range clients {
		mediatest.WaitUntil(t, c.ID+"'s PeerConnection closed", func() bool {
			return c.PC.ConnectionState() == webrtc.PeerConnectionStateClosed
		})
	}
	t.Logf("kick_all: every connection closed after %v", time.Since(start))
	if _, err := h.router.Connect(testwait.Context(t), "alice"); !errors.Is(err, core.ErrSessionEnded) {
		t.Errorf("Connect after kick_all: %v, want session_ended", err)
	}
	for _, c := range clients {
		for _, k := range kinds {
			if _, ok := h.router.TrackStats(c.ID, k); ok {
				t.Errorf("%s's %s still forwarded", c.ID, k)
			}
		}
	}
}

// flows returns, for every subscriber, the publishers' tracks it receives
// ("bob audio"), once every publisher has sent a window of packets more and
// every expected track has delivered one of them.
func flows(t testing.TB, r *Router, clients []*client, expect map[string][]string) map[string][]string {
	t.Helper()
	mark := make(map[mediatest.From]uint32)
	for _, p := range clients {
		for _, k := range kinds {
			mark[from(p.ID, k)] = p.LastSent(k)
		}
	}
	for f, m := range mark {
		serverRead(t, r, f.Participant, f.Kind, m+mediatest.Window)
	}
	for _, c := range clients {
		for _, name := range expect[c.ID] {
			var f mediatest.From
			for g := range mark {
				if g.Participant+" "+g.Kind.String() == name {
					f = g
				}
			}
			mediatest.WaitUntil(t, c.ID+" receiving "+name, func() bool { return c.Received(f, mark[f]+1) })
		}
	}
	got := make(map[string][]string)
	for _, c := range clients {
		got[c.ID] = []string{}
		for f, m := range mark {
			if c.Received(f, m+1) {
				got[c.ID] = append(got[c.ID], f.Participant+" "+f.Kind.String())
			}
		}
		slices.Sort(got[c.ID])
	}
	return got
}

// expectedFlows is what Forwards says each of ids receives in s.
func expectedFlows(s core.State, ids []string) map[string][]string {
	want := make(map[string][]string)
	for _, sub := range ids {
		want[sub] = []string{}
		for _, pub := range ids {
			for _, k := range kinds {
				if pub != sub && Forwards(s, pub, k) {
					want[sub] = append(want[sub], pub+" "+k.String())
				}
			}
		}
		slices.Sort(want[sub])
	}
	return want
}

// sliceSource is an EventSource over a recorded log.
type sliceSource struct{ evs []events.Event }

func (s *sliceSource) Next(ctx context.Context) (events.Event, error) {
	if len(s.evs) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func TestRebuiltRouterForwardsTheSame(t *testing.T) {
	ids := []string{"alice", "bob", "carol"}
	connectAll := func(t *testing.T, r *Router, api *webrtc.API) []*client {
		var cs []*client
		for _, id := range ids {
			c := connectTo(t, r, api, id, true)
			c.Publish(mediatest.PacketInterval)
			cs = append(cs, c)
		}
		return cs
	}

	// The original router follows the session live.
	h := newHarness(t)
	h.join("alice", "bob", "carol", "dave")
	original := connectAll(t, h.router, h.api)
	h.connect("dave", true).Publish(mediatest.PacketInterval)
	h.do(core.Command{Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	h.do(core.Command{Type: core.DisableVideo, Actor: "alice", Target: "carol"})
	h.do(core.Command{Type: core.SetVideo, Actor: "carol", Enabled: true})
	h.do(core.Command{Type: core.SetVideo, Actor: "alice", Enabled: false})
	h.do(core.Command{Type: core.Pin, Actor: "alice", Target: "carol"})
	h.do(core.Command{Type: core.Kick, Actor: "alice", Target: "dave"})
	want := expectedFlows(h.s.state, ids)
	live := flows(t, h.router, original, want)
	if d := cmp.Diff(want, live); d != "" {
		t.Errorf("original router (-Forwards +received):\n%s", d)
	}
	t.Logf("flows: %v", live)
	log := h.s.log

	t.Run("from the log", func(t *testing.T) {
		leakcheck.Check(t)
		r := newTestRouter(t, core.NewState("room-1", presets))
		for _, ev := range log {
			if err := r.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
		if !r.State().Equal(h.router.State()) {
			t.Fatalf("rebuilt state %+v, original %+v", r.State().Snapshot(), h.router.State().Snapshot())
		}
		got := flows(t, r, connectAll(t, r, h.api), want)
		if d := cmp.Diff(live, got); d != "" {
			t.Errorf("rebuilt router (-original +rebuilt):\n%s", d)
		}
	})

	t.Run("restarted from a seq", func(t *testing.T) {
		leakcheck.Check(t)
		k := len(log) / 2
		r := newTestRouter(t, reducer.Fold(core.NewState("room-1", presets), log[:k]))
		// The source starts before the router's seq: those events are skipped.
		ctx, cancel := context.WithCancel(testwait.Context(t))
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, &sliceSource{evs: log[k-2:]}) }()
		mediatest.WaitUntil(t, "the router to catch up", func() bool { return r.State().Seq() == h.router.State().Seq() })
		got := flows(t, r, connectAll(t, r, h.api), want)
		if d := cmp.Diff(live, got); d != "" {
			t.Errorf("restarted router (-original +restarted):\n%s", d)
		}
		cancel()
		if err := testwait.Recv(t, done, "Run to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
}

// answerKeyframesLikeChromium makes c answer a video key frame request with
// a key frame only when gap packets or more were sent since its last one,
// as a browser ignores requests too soon after a key frame.
func answerKeyframesLikeChromium(c *client, gap uint32) {
	f := func() {
		if c.LastSent(webrtc.RTPCodecTypeVideo)-c.LastKeyframe() >= gap {
			c.Keyframe()
		}
	}
	c.onKeyframeRequest.Store(&f)
}

// TestVideoResumesWithAKeyframe: while bob's video is withheld, viewers'
// key frame requests do not reach him (the key frame would be dropped at
// the gate and spend his budget); when it is turned on again the router
// asks him for a key frame until one passes the gate, even when his last
// key frame was so recent that he ignores the first requests. Three rounds
// (one with -short).
func TestVideoResumesWithAKeyframe(t *testing.T) {
	video := webrtc.RTPCodecTypeVideo
	const gap = 15 // packets: 300 ms at the publishers' pace, Chromium's minimum
	h := newHarness(t)
	h.join("alice", "bob")
	alice := h.connect("alice", false)
	bob := h.connect("bob", true)
	answerKeyframesLikeChromium(bob, gap)
	bob.Publish(mediatest.PacketInterval)
	bobVideo := from("bob", video)
	mediatest.WaitUntil(t, "alice receiving bob's video", func() bool { return alice.Received(bobVideo, 2) })

	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		off, on := muteCommands(video, "alice", "bob", false)
		h.do(off)
		asked := bob.keyframeRequests[video].Load()
		// Alice's decoder asks for a key frame while the video is withheld.
		ssrc := alice.RemoteSSRC(bobVideo)
		if err := alice.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
			t.Fatal(err)
		}
		s := bob.LastSent(video)
		serverRead(t, h.router, "bob", video, s+mediatest.Window)
		if n := bob.keyframeRequests[video].Load(); n != asked {
			t.Errorf("round %d: %d key frame request(s) reached bob while his video was withheld", round, n-asked)
		}

		// Bob sends a key frame just before his video is turned on: the
		// gate drops it, and he will ignore requests for a while.
		bob.Keyframe()
		mediatest.WaitUntil(t, "bob's key frame sent", func() bool { return bob.LastKeyframe() > s })
		key := bob.LastKeyframe()
		serverRead(t, h.router, "bob", video, key)
		h.do(on)
		mediatest.WaitUntil(t, "a key frame from bob at alice after the re-enable", func() bool {
			for _, a := range alice.Arrivals(bobVideo) {
				if a.Key && a.Index > key {
					return true
				}
			}
			return false
		})
		got := bob.LastKeyframe()
		t.Logf("round %d: key frame %d packets after the re-enable, %d request(s)", round, got-key,
			bob.keyframeRequests[video].Load()-asked)

		// Once it has passed, the requests stop.
		asked = bob.keyframeRequests[video].Load()
		serverRead(t, h.router, "bob", video, bob.LastSent(video)+mediatest.Window)
		if n := bob.keyframeRequests[video].Load(); n > asked+1 {
			t.Errorf("round %d: %d more key frame requests after one passed", round, n-asked)
		}
	}
}
