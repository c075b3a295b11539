package nats

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// TestFigureCrossNodeVisibility measures issue 13's cross-node visibility
// on a three-node cluster on loopback (R3 streams led by the same server,
// logged): a command submitted on instance B (connected to server 3) until
// a websocket client of instance A (connected to server 1) has its event,
// against, in the same process and interleaved, the raw paths across the
// same two servers: a core NATS publish until a subscriber has it, and a
// JetStream publish (R3, acknowledged) until an ordered consumer (pulling as
// the store's follow stream does) has it. A figure, not a test: it asserts
// nothing of the times and runs only with GAVEL_FIGURES=1:
//
//	GAVEL_FIGURES=1 go test -run TestFigureCrossNodeVisibility -v ./transport/nats/
func TestFigureCrossNodeVisibility(t *testing.T) {
	if os.Getenv("GAVEL_FIGURES") != "1" {
		t.Skip("a figure: run with GAVEL_FIGURES=1")
	}
	const warmup, n = 50, 1000
	c := startCluster(t)
	ncA, ncB := connect(t, c.servers[0].ClientURL()), connect(t, c.servers[2].ClientURL())
	a := fake.NewServer(t, presets, fake.WithStore(newStore(t, ncA, WithReplicas(3))))
	b := newManager(t, newStore(t, ncB, WithReplicas(3)))
	if _, err := b.Submit(testwait.Context(t), "fig", join("host")); err != nil {
		t.Fatal(err)
	}

	// A's websocket client: the time each event arrives, by seq.
	wsc, _, err := websocket.Dial(testwait.Context(t), a.URL+"?token="+a.Token("fig", "viewer", "attendee"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wsc.CloseNow()
	arrivals := make(chan arrival, 2*(warmup+n))
	go func() {
		for {
			_, msg, err := wsc.Read(context.Background())
			at := time.Now()
			if err != nil {
				return
			}
			if f, err := wire.DecodeFrame(msg); err == nil && f.Type == wire.TypeEvent {
				arrivals <- arrival{f.Event.Sequence(), at}
			}
		}
	}()

	// A's Manager subscriber, to tell the websocket's hop from the rest.
	asub := subscribe(t, a.Manager, "fig", 1)
	subArrivals := make(chan arrival, 2*(warmup+n))
	go func() {
		for {
			ev, err := asub.Next(context.Background())
			at := time.Now()
			if err != nil {
				return
			}
			subArrivals <- arrival{ev.Sequence(), at}
		}
	}()

	// Raw core NATS: B's server to A's.
	coreAt := make(chan time.Time, 16)
	sub, err := ncA.Subscribe("raw.visibility", func(*gonats.Msg) { coreAt <- time.Now() })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := ncA.Flush(); err != nil {
		t.Fatal(err)
	}
	// Raw JetStream: an R3 stream like gavel's, an ordered consumer on A.
	jsA, _ := jetstream.New(ncA)
	jsB, _ := jetstream.New(ncB)
	// The raw stream is made again until the same server leads it as leads
	// gavel's (where the cluster put that one: logged).
	leader := c.streamLeader(t, ncA, DefaultStream, 2)
	for try := 0; ; try++ {
		if _, err := jsB.CreateStream(testwait.Context(t), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.js"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
		if c.streamLeader(t, ncA, "RAW", 2) == leader {
			break
		}
		if try == 20 {
			t.Fatal("the raw stream's leader is never gavel's")
		}
		if err := jsB.DeleteStream(testwait.Context(t), "RAW"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("both streams led by %s; A is connected to %s, B to %s", leader.Name(), c.servers[0].Name(), c.servers[2].Name())
	cons, err := jsA.OrderedConsumer(testwait.Context(t), "RAW", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"raw.js"}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256), jetstream.PullExpiry(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	js := make(chan time.Time, 16)
	go func() {
		for {
			if _, err := it.Next(); err != nil {
				return
			}
			js <- time.Now()
		}
	}()

	payload := make([]byte, 200) // about a record's size
	var gavel, coreT, jsT, acked, atSub []time.Duration
	for i := 1; i <= warmup+n; i++ {
		keep := i > warmup
		// gavel: B's Submit until A's websocket client has the event.
		start := time.Now()
		res, err := b.Submit(testwait.Context(t), "fig", toggle("host", i))
		if err != nil || len(res.Events) != 1 {
			t.Fatalf("submit %d: %+v, %v", i, res, err)
		}
		if keep {
			acked = append(acked, time.Since(start))
		}
		atWS, atManager := arrived(t, arrivals, res.Seq), arrived(t, subArrivals, res.Seq)
		if keep {
			gavel, atSub = append(gavel, atWS.Sub(start)), append(atSub, atManager.Sub(start))
		}
		start = time.Now()
		if err := ncB.Publish("raw.visibility", payload); err != nil {
			t.Fatal(err)
		}
		if at := testwait.Recv(t, coreAt, "the core NATS message at A"); keep {
			coreT = append(coreT, at.Sub(start))
		}
		start = time.Now()
		if _, err := jsB.Publish(testwait.Context(t), "raw.js", payload); err != nil {
			t.Fatal(err)
		}
		if at := testwait.Recv(t, js, "the JetStream message at A"); keep {
			jsT = append(jsT, at.Sub(start))
		}
	}
	p := func(d []time.Duration, q int) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)*q/100]
	}
	row := func(name string, d []time.Duration) string {
		return fmt.Sprintf("%-44s p50 %8v  p99 %8v", name, p(d, 50).Round(time.Microsecond), p(d, 99).Round(time.Microsecond))
	}
	t.Log("cross-node visibility, " + strconv.Itoa(n) + " samples each, interleaved:")
	t.Log(row("gavel: Submit on B → ws client on A", gavel))
	t.Log(row("  of which: Submit on B answered", acked))
	t.Log(row("  of which: A's Manager subscriber has it", atSub))
	t.Log(row("raw core NATS: publish on B → subscriber on A", coreT))
	t.Log(row("raw JetStream R3: publish on B → consumer on A", jsT))
	t.Logf("gavel / raw core: p50 %.2f×, p99 %.2f×", float64(p(gavel, 50))/float64(p(coreT, 50)), float64(p(gavel, 99))/float64(p(coreT, 99)))
	t.Logf("gavel / raw JetStream: p50 %.2f×, p99 %.2f×", float64(p(gavel, 50))/float64(p(jsT, 50)), float64(p(gavel, 99))/float64(p(jsT, 99)))
}

// arrival is when a reader had the event of seq seq.
type arrival struct {
	seq uint64
	at  time.Time
}

// arrived returns when the event of seq seq arrived, skipping earlier ones.
func arrived(t *testing.T, arrivals <-chan arrival, seq uint64) time.Time {
	t.Helper()
	for {
		if ar := testwait.Recv(t, arrivals, fmt.Sprintf("event %d at A", seq)); ar.seq == seq {
			return ar.at
		}
	}
}
