package media

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
)

// The figures of issue 6. -count runs each sub-benchmark that many times in
// a row, so interleave raw and router with a loop instead, and compare the
// pairs: both sides of a ratio then come from the same seconds of a noisy
// machine.
//
//	go test -c -o media.test ./media
//	for i in 1 2 3 4 5; do ./media.test -test.run '^$' -test.bench Fanout -test.benchmem -test.benchtime 20000x; done
//	./media.test -test.run '^$' -test.bench MuteToSilence -test.benchmem -test.benchtime 1000x

const (
	fanoutSubscribers = 10
	benchPayload      = 1200
	// benchWindow is the pacing of the throughput benchmarks: the publisher
	// sends packet i once every subscriber has received packet i-benchWindow
	// (or nothing has moved for benchStall). 32 packets of 1200 B stay far
	// below the 208 KB default UDP receive buffer (96 already lost some).
	benchWindow = 32
	benchStall  = 20 * time.Millisecond
)

// counter is a subscriber's side in the benchmarks: it counts the packets of
// one track and keeps the highest payload index, reading without allocating.
type counter struct {
	count    atomic.Uint64
	highest  atomic.Uint32
	progress chan struct{} // shared by all counters of a run: a token per change
}

func (c *counter) consume(remote *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil || len(p.Payload) < 4 {
			continue
		}
		c.count.Add(1)
		if i := binary.BigEndian.Uint32(p.Payload); i > c.highest.Load() {
			c.highest.Store(i)
		}
		select {
		case c.progress <- struct{}{}:
		default:
		}
	}
}

func newCounters(n int) []*counter {
	progress := make(chan struct{}, 1)
	cs := make([]*counter, n)
	for i := range cs {
		cs[i] = &counter{progress: progress}
	}
	return cs
}

func lowest(cs []*counter) uint32 {
	low := cs[0].highest.Load()
	for _, c := range cs[1:] {
		low = min(low, c.highest.Load())
	}
	return low
}

// benchPacket writes packet i, 1200 B of VP8 with its index in front.
func benchPacket(track *webrtc.TrackLocalStaticRTP, i uint32, payload []byte) {
	binary.BigEndian.PutUint32(payload, i)
	_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true,
		SequenceNumber: uint16(i), Timestamp: i * 3000}, Payload: payload})
}

// pump sends packets from..to under the window and returns how many times it
// went ahead on a stall (a lost packet).
func pump(track *webrtc.TrackLocalStaticRTP, from, to uint32, cs []*counter) (stalls int) {
	payload := make([]byte, benchPayload)
	timer := time.NewTimer(benchStall)
	defer timer.Stop()
	progress := cs[0].progress
	for i := from; i <= to; i++ {
		for lowest(cs)+benchWindow < i {
			timer.Reset(benchStall)
			select {
			case <-progress:
				continue
			case <-timer.C:
				stalls++
			}
			break
		}
		benchPacket(track, i, payload)
	}
	// Wait for the tail, unless it stalls.
	for lowest(cs) < to {
		timer.Reset(benchStall)
		select {
		case <-progress:
			continue
		case <-timer.C:
		}
		break
	}
	return stalls
}

// warmUp sends packets until every subscriber has one: OnTrack fires only on
// the first packet, and the router offers a track only once it has one.
func warmUp(b *testing.B, track *webrtc.TrackLocalStaticRTP, cs []*counter) uint32 {
	b.Helper()
	payload := make([]byte, benchPayload)
	var i uint32
	mediatest.WaitUntil(b, "every subscriber receiving", func() bool {
		i++
		benchPacket(track, i, payload)
		return lowest(cs) > 0
	})
	return i
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanout measures pump from..to: packets delivered per second of wall time,
// and CPU time per packet delivered (publisher, relay and subscribers
// together), which a loaded machine disturbs less than wall time.
func fanout(b *testing.B, track *webrtc.TrackLocalStaticRTP, from uint32, cs []*counter) {
	for _, c := range cs {
		c.count.Store(0)
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime(b)
	stalls := pump(track, from, from+uint32(b.N)-1, cs)
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu
	b.StopTimer()
	var delivered uint64
	for _, c := range cs {
		delivered += c.count.Load()
	}
	b.ReportMetric(float64(delivered)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(delivered), "cpu-ns/pkt")
	b.ReportMetric(100*float64(delivered)/float64(b.N*len(cs)), "%delivered")
	b.ReportMetric(float64(stalls), "stalls")
}

// BenchmarkFanout: one publisher to ten subscribers, 1200 B packets under
// the same window, through gavel's router and through a raw pion relay (read
// from the remote track, write to a TrackLocalStaticRTP). pkts/s counts
// packets delivered to all subscribers together.
func BenchmarkFanout(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		api, err := LoopbackNetwork().API()
		if err != nil {
			b.Fatal(err)
		}
		track, cs := rawRelay(b, api, fanoutSubscribers)
		fanout(b, track, warmUp(b, track, cs)+1, cs)
	})
	b.Run("router", func(b *testing.B) {
		h := newHarness(b)
		subs := make([]string, fanoutSubscribers)
		for i := range subs {
			subs[i] = "sub" + string(rune('a'+i))
		}
		h.join(append([]string{"pub"}, subs...)...)
		pub := h.connect("pub", true)
		cs := newCounters(fanoutSubscribers)
		for i, id := range subs {
			connectWith(b, h.router, h.api, id, false, cs[i].consume)
		}
		track := pub.Out[webrtc.RTPCodecTypeVideo]
		fanout(b, track, warmUp(b, track, cs)+1, cs)
	})
}

// rawRelay is the baseline: the relay pion's broadcast example is, with
// PeerConnections exchanging complete descriptions directly.
func rawRelay(b *testing.B, api *webrtc.API, n int) (*webrtc.TrackLocalStaticRTP, []*counter) {
	b.Helper()
	leakcheck.Check(b)
	var pcs []*webrtc.PeerConnection
	var wg sync.WaitGroup
	newPC := func() *webrtc.PeerConnection {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		pcs = append(pcs, pc)
		return pc
	}
	b.Cleanup(func() {
		for _, pc := range pcs {
			_ = pc.GracefulClose()
		}
		wg.Wait()
	})
	drainRTCP := func(s *webrtc.RTPSender) {
		wg.Go(func() {
			for {
				if _, _, err := s.ReadRTCP(); err != nil {
					return
				}
			}
		})
	}
	vp8 := Codecs()[1].RTPCodecCapability

	pub, in := newPC(), newPC()
	track, err := webrtc.NewTrackLocalStaticRTP(vp8, "video", "pub")
	if err != nil {
		b.Fatal(err)
	}
	s, err := pub.AddTrack(track)
	if err != nil {
		b.Fatal(err)
	}
	drainRTCP(s)
	relayed, err := webrtc.NewTrackLocalStaticRTP(vp8, "video", "pub")
	if err != nil {
		b.Fatal(err)
	}
	in.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		wg.Add(1)
		defer wg.Done()
		for {
			p, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			_ = relayed.WriteRTP(p)
		}
	})
	exchange(b, pub, in)

	cs := newCounters(n)
	for _, c := range cs {
		out, sub := newPC(), newPC()
		s, err := out.AddTrack(relayed)
		if err != nil {
			b.Fatal(err)
		}
		drainRTCP(s)
		sub.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			wg.Add(1)
			defer wg.Done()
			c.consume(remote)
		})
		exchange(b, out, sub)
	}
	return track, cs
}

// exchange negotiates offerer with answerer, without trickle.
func exchange(b *testing.B, offerer, answerer *webrtc.PeerConnection) {
	b.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		b.Fatal(err)
	}
}

// lastWrite is a stage that notes when the last packet of the publisher's
// audio left for the subscribers, in nanoseconds since base.
type lastWrite struct {
	NoOp
	base    time.Time
	at      atomic.Int64
	written atomic.Uint64
}

func (s *lastWrite) BindTrack(info *TrackInfo, next Writer) Writer {
	if info.Kind != webrtc.RTPCodecTypeAudio {
		return next
	}
	return &lastWriteWriter{Writer: next, s: s}
}

type lastWriteWriter struct {
	Writer
	s *lastWrite
}

func (w *lastWriteWriter) WriteRTP(p *rtp.Packet) error {
	err := w.Writer.WriteRTP(p)
	w.s.at.Store(int64(time.Since(w.s.base)))
	w.s.written.Add(1)
	return err
}

// BenchmarkMuteToSilence: each iteration mutes the publisher's audio, sent
// to ten subscribers, and measures from the call of Apply to the end of the
// write of the last packet forwarded (0 when none was in flight), then
// unmutes and waits for packets to flow again. It reports the p50 and p99
// over b.N mutes, how often a packet was in flight, and the p50 and p99 of
// Apply itself: when Apply returns the router guarantees silence.
//
// "1ms" sends audio and video every millisecond; "saturated" sends as fast
// as the subscribers take the video (windowed), so that a packet is nearly
// always in the chain when the mute comes.
func BenchmarkMuteToSilence(b *testing.B) {
	b.Run("1ms", func(b *testing.B) {
		muteToSilence(b, func(pub *client, _ []*counter) { pub.Publish(time.Millisecond) })
	})
	b.Run("saturated", func(b *testing.B) {
		muteToSilence(b, func(pub *client, cs []*counter) {
			pub.Go(func() {
				timer := time.NewTimer(benchStall)
				defer timer.Stop()
				for i := uint32(1); ; i++ {
					for lowest(cs)+benchWindow < i {
						timer.Reset(benchStall)
						select {
						case <-pub.Stopped():
							return
						case <-cs[0].progress:
							continue
						case <-timer.C:
						}
						break
					}
					select {
					case <-pub.Stopped():
						return
					default:
					}
					pub.Send(webrtc.RTPCodecTypeAudio)
					pub.Send(webrtc.RTPCodecTypeVideo)
				}
			})
		})
	})
}

func muteToSilence(b *testing.B, publish func(pub *client, cs []*counter)) {
	stage := &lastWrite{base: time.Now()}
	h := newHarness(b, WithStages(only(stage)))
	subs := make([]string, fanoutSubscribers)
	for i := range subs {
		subs[i] = "sub" + string(rune('a'+i))
	}
	h.join(append([]string{"host", "pub"}, subs...)...)
	pub := h.connect("pub", true)
	cs := newCounters(fanoutSubscribers)
	for i, id := range subs {
		connectWith(b, h.router, h.api, id, false, cs[i].consume)
	}
	publish(pub, cs)
	audio := webrtc.RTPCodecTypeAudio
	mediatest.WaitUntil(b, "audio flowing", func() bool { return stage.written.Load() > 0 && lowest(cs) > 0 })

	silence := make([]time.Duration, 0, b.N)
	applies := make([]time.Duration, 0, b.N)
	inFlight := 0
	b.ResetTimer()
	for range b.N {
		start := time.Since(stage.base)
		h.do(core.Command{Type: core.DisableAudio, Actor: "host", Target: "pub"})
		applies = append(applies, time.Since(stage.base)-start)
		// Wait until the router has read packets sent after Apply returned:
		// the gate has had its chance to drop them.
		s := pub.LastSent(audio)
		spinUntil(b, "the router reading past the mute", func() bool {
			st, _ := h.router.TrackStats("pub", audio)
			return !newer(uint16(s+3), st.LastSequence)
		})
		d := max(time.Duration(stage.at.Load())-start, 0)
		if d > 0 {
			inFlight++
		}
		silence = append(silence, d)

		n := stage.written.Load()
		h.do(core.Command{Type: core.SetAudio, Actor: "pub", Enabled: true})
		spinUntil(b, "audio flowing again", func() bool { return stage.written.Load() > n })
	}
	b.StopTimer()
	slices.Sort(silence)
	slices.Sort(applies)
	b.ReportMetric(float64(silence[len(silence)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(silence[len(silence)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(applies[len(applies)/2].Nanoseconds()), "apply-p50-ns")
	b.ReportMetric(float64(applies[len(applies)*99/100].Nanoseconds()), "apply-p99-ns")
	b.ReportMetric(100*float64(inFlight)/float64(b.N), "%in-flight")
}

// spinUntil is waitUntil with a finer step, for the measuring loop of a
// benchmark (the step bounds its pace, not its figures).
func spinUntil(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(mediatest.WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("still waiting after %v for %s", mediatest.WaitLimit, what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
