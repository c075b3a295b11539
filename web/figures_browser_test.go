package web_test

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/transport/ws"
)

// TestFigures measures, in Chromium, the figures of BENCHMARKS.md (issue
// 9), each beside its baseline from the same run. It only reports: a
// timing never fails a test. It runs when GAVEL_FIGURES=1:
//
//	GAVEL_FIGURES=1 go test ./web -run TestFigures -v -timeout 20m
func TestFigures(t *testing.T) {
	if os.Getenv("GAVEL_FIGURES") != "1" {
		t.Skip("set GAVEL_FIGURES=1 to measure the browser figures")
	}
	t.Run("MuteToSilence", figureMuteToSilence)
	t.Run("UnmuteToFrame", figureUnmuteToFrame)
	t.Run("RoundTrip", figureRoundTrip)
	t.Run("PageLoad", figurePageLoad)
}

// pct returns the p-th percentile of xs (nearest rank).
func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func summary(xs []float64) string {
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, min %.1f, max %.1f (n=%d)", pct(xs, 50), pct(xs, 99),
		slices.Min(xs), slices.Max(xs), len(xs))
}

// figureMuteToSilence: the host mutes alice, 50 times; from the host's
// answer to the last packet of alice's audio at a viewer (the host's page),
// by the inbound-rtp lastPacketReceivedTimestamp (getStats is read once
// the track is silent, not polled for the moment). Negative: the last
// packet came before the answer. Baseline: the host's command round trip
// (request to answer) in the same runs.
func figureMuteToSilence(t *testing.T) {
	e := newEnv(t)
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", false, false)
	e.join(alice, "alice", "attendee", true, true)
	var silence, rtt []float64
	for range 50 {
		waitPackets(hana, "alice", "audio", inbound(hana, "alice", "audio").Packets+10)
		r := eval[struct{ Start, Answer float64 }](hana, `(async () => {
			const start = performance.timeOrigin + performance.now();
			const answer = await h.timed(m => m.participants.joined.get("alice").disableAudio());
			return {Start: start, Answer: answer};
		})()`)
		// Silent: a window of video packets for those on the wire, then
		// the last audio packet's time.
		waitPackets(hana, "alice", "video", inbound(hana, "alice", "video").Packets+20)
		last := inbound(hana, "alice", "audio").Last
		silence = append(silence, last-r.Answer)
		rtt = append(rtt, r.Answer-r.Start)
		mustAct(alice, `m => m.self.enableAudio()`)
	}
	t.Logf("FIGURE mute to silence (host's answer → viewer's last packet): %s", summary(silence))
	t.Logf("FIGURE baseline: the host's disable_audio round trip: %s", summary(rtt))
}

// figureUnmuteToFrame: a host turns alice's video off, alice turns it on
// again; from alice's answer to the first frame of her video at the viewer
// (the host's page) after it: out of the decoder (MediaStreamTrackProcessor)
// and rendered (requestVideoFrameCallback of a <video>). With alice on
// gavel.js, which stops sending while muted (a new encoder starts with a
// key frame), and with alice ignoring mutes (she keeps sending, the router
// withholds her video: the key frame must come from the router's
// requests); the long mutes outlast Chromium's 3 s wait for a frame, after
// which the viewer asks for key frames while the video is withheld. The
// rendered figure also holds how often the headless tab renders (a
// background tab's compositor may not draw for seconds); the decoder's is
// the media path's.
// Baseline: alice's enableVideo (getUserMedia and the set_video round trip).
func figureUnmuteToFrame(t *testing.T) {
	for _, c := range []struct {
		stubborn bool
		rounds   int
		hold     int64 // audio packets (20 ms each) the video stays off
	}{{false, 30, 15}, {true, 30, 15}, {true, 20, 200}} {
		e := newEnv(t)
		hana, alice := e.harness("hana"), e.harness("alice")
		if c.stubborn {
			alice.run(`h.stubborn()`)
		}
		e.join(hana, "hana", "host", false, false)
		e.join(alice, "alice", "attendee", true, true)
		waitFrames(hana, "alice", 5)
		if !eval[bool](hana, `h.watchFrames("alice")`) {
			t.Fatal("no video of alice to watch")
		}
		var frame, decoded, rtt []float64
		for range c.rounds {
			mustAct(hana, `m => m.participants.joined.get("alice").disableVideo()`)
			// Off for a while: counted in alice's audio packets.
			waitPackets(hana, "alice", "audio", inbound(hana, "alice", "audio").Packets+c.hold)
			r := eval[struct{ Start, Answer float64 }](alice, `(async () => {
				const start = performance.timeOrigin + performance.now();
				return {Start: start, Answer: await h.timed(m => m.self.enableVideo())};
			})()`)
			hana.wait("a frame after the re-enable", fmt.Sprintf(`h.frames.alice.some(x => x > %f)`, r.Answer))
			first := eval[float64](hana, fmt.Sprintf(`h.frames.alice.find(x => x > %f)`, r.Answer))
			frame = append(frame, first-r.Answer)
			hana.wait("a decoded frame after the re-enable", fmt.Sprintf(`h.frames["alice/decoded"].some(x => x > %f)`, r.Answer))
			dec := eval[float64](hana, fmt.Sprintf(`h.frames["alice/decoded"].find(x => x > %f)`, r.Answer))
			decoded = append(decoded, dec-r.Answer)
			rtt = append(rtt, r.Answer-r.Start)
		}
		who := fmt.Sprintf("gavel.js publisher, video off %d ms", c.hold*20)
		if c.stubborn {
			who = fmt.Sprintf("publisher ignoring mutes, video off %d ms", c.hold*20)
		}
		t.Logf("FIGURE unmute to first rendered frame, %s: %s", who, summary(frame))
		t.Logf("  each, ms: %.0f", frame)
		t.Logf("FIGURE unmute to first frame out of the decoder, %s: %s", who, summary(decoded))
		t.Logf("  each, ms: %.0f", decoded)
		t.Logf("FIGURE baseline: alice's enableVideo, %s: %s", who, summary(rtt))
	}
}

// figureRoundTrip: a gavel.js command (through the session and its log,
// changing nothing) against a raw websocket echo of the same frame, on the
// same page, interleaved, back to back: the command rate limit is off, as
// pacing under it would measure how fast the server's idle goroutines wake
// (paced at 60 ms, both round trips grow, gavel's more: it has more
// goroutine hand-offs; see BENCHMARKS.md).
func figureRoundTrip(t *testing.T) {
	for _, pace := range []int{0, 60} {
		roundTrip(t, pace)
	}
}

func roundTrip(t *testing.T, pace int) {
	e := newEnvWith(t, gavelserver.Config{WSOptions: []ws.Option{ws.WithCommandRate(0, 0)}})
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", false, false)
	e.join(alice, "alice", "attendee", false, false)
	r := eval[struct{ Gavel, Raw []float64 }](hana, fmt.Sprintf(`h.roundTrips("alice", %d, %d)`, map[int]int{0: 400, 60: 150}[pace], pace))
	t.Logf("FIGURE gavel.js command round trip, paced %d ms: %s", pace, summary(r.Gavel))
	t.Logf("FIGURE baseline: raw browser websocket echo, paced %d ms: %s", pace, summary(r.Raw))
	t.Logf("FIGURE ratio of medians, paced %d ms: %.2f×", pace, pct(r.Gavel, 50)/pct(r.Raw, 50))
}

// figurePageLoad: the meeting page opened in a room where alice publishes:
// from navigation to roomJoined and to the first decoded frame of her
// video (the page's performance marks), 10 loads. Baseline: the page's own
// load event.
func figurePageLoad(t *testing.T) {
	e := newEnv(t)
	alice := e.harness("alice")
	e.join(alice, "alice", "attendee", true, true)
	var joined, frame, load []float64
	for i := range 10 {
		q := url.Values{"room": {e.room}, "name": {fmt.Sprintf("Viewer %d", i)}, "preset": {"attendee"}, "join": {"1"}}
		p := e.open(fmt.Sprintf("viewer %d", i), "/#"+q.Encode())
		p.wait("the first remote frame", `performance.getEntriesByName("gavel:firstRemoteFrame").length > 0`)
		m := eval[struct{ Joined, Frame, Load float64 }](p, `({
			Joined: performance.getEntriesByName("gavel:roomJoined")[0].startTime,
			Frame: performance.getEntriesByName("gavel:firstRemoteFrame")[0].startTime,
			Load: performance.getEntriesByType("navigation")[0].loadEventEnd,
		})`)
		joined, frame, load = append(joined, m.Joined), append(frame, m.Frame), append(load, m.Load)
		p.run(`meeting.leaveRoom()`)
	}
	t.Logf("FIGURE page load to roomJoined: %s", summary(joined))
	t.Logf("FIGURE page load to the first remote video frame: %s", summary(frame))
	t.Logf("FIGURE baseline: page load to its load event: %s", summary(load))
}
