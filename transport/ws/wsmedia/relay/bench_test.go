package relay_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/benchpair"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/internal/wsmediatest"
)

// BenchmarkMediaSetup: a participant's media set-up, from media_connect
// on its socket until its PeerConnection is connected (ICE and DTLS),
// with the socket on the session's home (its hub opens the router's
// peer) against the socket on another node (the signalling relayed to the
// home over NATS), interleaved: each iteration sets up one of each, in
// alternating order, each with a participant of its own.
func BenchmarkMediaSetup(b *testing.B) {
	c := startCluster(b, "node-a", "node-b", "node-c") // room-1's home: node-b
	setup := func(node, id string) time.Duration {
		p := c.dial(node, id, "attendee", wsmediatest.Publishing)
		defer p.Close()
		p.Join()
		start := time.Now()
		p.Send(wire.AppendMediaConnect(nil))
		testwait.Recv(b, p.Connected(), id+"'s PeerConnection connected")
		return time.Since(start)
	}
	var home, relayed []time.Duration
	b.ResetTimer()
	for i := range b.N {
		h, r := fmt.Sprintf("h%d", i), fmt.Sprintf("r%d", i)
		if i%2 == 0 {
			home = append(home, setup("node-b", h))
			relayed = append(relayed, setup("node-a", r))
		} else {
			relayed = append(relayed, setup("node-a", r))
			home = append(home, setup("node-b", h))
		}
	}
	b.StopTimer()
	ph, pr := benchpair.Median(home), benchpair.Median(relayed)
	b.ReportMetric(ms(ph), "home-p50-ms")
	b.ReportMetric(ms(pr), "relayed-p50-ms")
	b.ReportMetric(float64(pr)/float64(ph), "relayed/home")
}

// BenchmarkFailover: the session's home stops (gracefully: it leaves the
// nodes; or it crashes: its key expires after the TTL, 1 s here; or it
// crashes with its NATS server, one of the cluster's three) until a
// viewer whose socket is on another node receives the publisher's media
// again, the participants connecting again on media_closed moved, as
// gavel.js does. Baseline, in the same iterations: the viewer's first
// media set-up, from media_connect until the first packet of the
// publisher, who publishes already. Each iteration is a cluster of its
// own; run it with -test.benchtime 10x.
func BenchmarkFailover(b *testing.B) {
	for _, how := range downs {
		b.Run(how.String(), func(b *testing.B) {
			var first, back []time.Duration
			for range b.N {
				f, d := failoverOnce(b, how)
				first, back = append(first, f), append(back, d)
			}
			b.ReportMetric(ms(benchpair.Median(first)), "first-setup-p50-ms")
			b.ReportMetric(ms(benchpair.Median(back)), "failover-p50-ms")
		})
	}
}

func failoverOnce(b *testing.B, how down) (first, back time.Duration) {
	c := startCluster(b, "node-a", "node-b", "node-c") // room-1's home: node-b, then node-c
	defer c.close(testwait.Context(b))
	hana := c.dial("node-a", "hana", "host", wsmediatest.WithPC)
	defer hana.Close()
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.Publishing)
	defer bob.Close()
	hana.Join()
	bob.Join()
	bob.ConnectMedia()
	bob.Publish(mediatest.PacketInterval)
	bobAudio := from("bob", audio)
	mediatest.WaitUntil(b, "bob's audio at the home", func() bool { _, ok := c.router("node-b").TrackStats("bob", audio); return ok })
	start := time.Now()
	hana.Send(wire.AppendMediaConnect(nil))
	mediatest.WaitUntil(b, "hana receiving bob's audio", func() bool { return hana.Received(bobAudio, 0) })
	first = time.Since(start)

	start = time.Now()
	c.end(testwait.Context(b), c.nodes["node-b"], how)
	moved(b, hana, bob)
	bob.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(b, "hana receiving bob's audio again", func() bool { return hana.Received(bobAudio, 0) })
	back = time.Since(start)
	c.wantRouters("node-c")
	return first, back
}

// BenchmarkMuteAcrossNodes: a host's disable_audio until the publisher's
// audio stops at a viewer, with the host's socket on a node that is not
// the session's home (node-a: its runtime decides and stores the mute;
// the home's runtime learns it from its follow stream of the log and
// hands it to the router) against the host's socket on the home (node-b:
// the home's runtime decides it and hands it to its router directly), in
// alternating order. The publisher (on node-c) sends a packet on each
// track every millisecond and notes when; the mute's time is from the
// moment the host sends the command until the publisher sent the first
// audio packet the viewer never gets (so it is at most a millisecond
// late). Between mutes the publisher turns its audio on again and the
// viewer hears it.
func BenchmarkMuteAcrossNodes(b *testing.B) {
	// A mute and an unmute every few milliseconds: more than a client's
	// default rate.
	c := startClusterWith(b, options{ws: []ws.Option{ws.WithCommandRate(10_000, 100)}}, "node-a", "node-b", "node-c") // room-1's home: node-b
	away := c.dial("node-a", "hana", "host", wsmediatest.FramesOnly)
	home := c.dial("node-b", "hugo", "host", wsmediatest.FramesOnly)
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.Publishing)
	vic := c.dial("node-a", "vic", "attendee", wsmediatest.WithPC)
	away.Join()
	home.Join()
	connect(bob, vic)
	var mu sync.Mutex
	var sentAt []time.Time // of bob's audio packet i at i-1
	bob.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-bob.Stopped():
				return
			case <-tick.C:
			}
			at := time.Now()
			bob.Client.Send(audio)
			bob.Client.Send(video)
			mu.Lock()
			sentAt = append(sentAt, at)
			mu.Unlock()
		}
	})
	bobAudio, bobVideo := from("bob", audio), from("bob", video)
	mute := func(host *wsmediatest.Participant) time.Duration {
		if res := bob.Do(core.Command{Type: core.SetAudio, Enabled: true}); res.Err != nil || res.Refused != "" {
			b.Fatalf("set_audio: %+v", res)
		}
		on := bob.LastSent(audio)
		mediatest.WaitUntil(b, "vic hearing bob", func() bool { return vic.Received(bobAudio, on) })
		start := time.Now()
		if res := host.Do(core.Command{Type: core.DisableAudio, Target: "bob"}); res.Err != nil || res.Refused != "" || len(res.Events) != 1 {
			b.Fatalf("disable_audio: %+v", res)
		}
		r := c.router("node-b")
		mediatest.WaitUntil(b, "the home muting bob", func() bool { return !media.Forwards(r.State(), "bob", audio) })
		s := bob.LastSent(audio)
		mediatest.WaitUntil(b, "vic receiving bob's video past the mute", func() bool { return vic.Received(bobVideo, s+mediatest.Window) })
		var last uint32
		for _, a := range vic.Arrivals(bobAudio) {
			last = max(last, a.Index)
		}
		mu.Lock()
		defer mu.Unlock()
		return max(sentAt[last].Sub(start), 0) // packet last+1, sent at sentAt[last]
	}
	var fromAway, fromHome []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			fromAway = append(fromAway, mute(away))
			fromHome = append(fromHome, mute(home))
		} else {
			fromHome = append(fromHome, mute(home))
			fromAway = append(fromAway, mute(away))
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(benchpair.Median(fromAway)), "away-p50-ms")
	b.ReportMetric(ms(quantile(fromAway, 0.99)), "away-p99-ms")
	b.ReportMetric(ms(benchpair.Median(fromHome)), "home-p50-ms")
	b.ReportMetric(ms(quantile(fromHome, 0.99)), "home-p99-ms")
	b.ReportMetric(float64(benchpair.Median(fromAway))/float64(benchpair.Median(fromHome)), "away/home-p50")
}

// quantile is the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
