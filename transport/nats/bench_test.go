package nats

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/benchpair"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// benchService serves commands with a manager on st under prefix, on its own
// connection to url.
func benchService(b *testing.B, url, prefix string, st session.Store) {
	b.Helper()
	mgr, err := session.NewManager(st, session.WithPresets(presets))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := NewService(b.Context(), connect(b, url), mgr, WithPrefix(prefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Close(ctx)
		_ = mgr.Close(ctx)
	})
}

// toggle returns the i-th command of a benchmark's actor: its microphone
// on and off, one event each.
func toggle(actor string, i int) core.Command {
	return core.Command{ID: actor + "-" + strconv.Itoa(i), Type: core.SetAudio, Actor: actor, Enabled: i%2 == 1}
}

func join(actor string) core.Command {
	return core.Command{ID: actor + "-join", Type: core.Join, Actor: actor, Name: actor, Preset: "host", Audio: false}
}

// BenchmarkRoundTrip is one command's round trip, one submitter, against
// the raw NATS path it is built of, alternately in blocks
// (benchpair.Paired), on one server (file storage, default sync), every
// connection over TCP as between processes:
//
//	memory     Client.Submit through the service on the memory store,
//	           against request/reply to a responder that answers at once
//	jetstream  Client.Submit through the service on the JetStream store,
//	           against request/reply to a responder that first publishes a
//	           record-sized message with an expected last subject sequence
//	           and waits for its ack
//
// Each reports both medians and their ratio.
func BenchmarkRoundTrip(b *testing.B) {
	srv := startServer(b)
	url := srv.ClientURL()
	nc := connect(b, url)
	cmd := events.AppendCommand(nil, toggle("bench", 1))
	reply := appendReply(nil, session.Result{Seq: 2, At: time.Now(), Events: []events.Event{
		&events.AudioUpdate{Seq: 2, Participant: "bench", AudioEnabled: true, By: "bench"}}}, nil)
	record := sessionlog.AppendRecord(nil, sessionlog.Record{At: time.Now(), Command: toggle("bench", 1), Events: []events.Event{
		&events.AudioUpdate{Seq: 2, Participant: "bench", AudioEnabled: true, By: "bench"}}})

	responder := connect(b, url)
	if _, err := responder.Subscribe("raw.echo", func(m *gonats.Msg) { _ = m.Respond(reply) }); err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(responder)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(b.Context(), jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.log.*"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	var last uint64 // the responder's callbacks run one at a time
	if _, err := responder.Subscribe("raw.js", func(m *gonats.Msg) {
		ack, err := js.PublishMsg(context.Background(), &gonats.Msg{Subject: "raw.log.bench", Data: record},
			jetstream.WithExpectLastSequencePerSubject(last))
		if err != nil {
			b.Error(err)
			return
		}
		last = ack.Sequence
		_ = m.Respond(reply)
	}); err != nil {
		b.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		b.Fatal(err)
	}
	benchService(b, url, "mem", session.NewMemStore())
	benchService(b, url, "js", newStore(b, connect(b, url), WithPrefix("js")))

	raw := func(subject string) func() {
		return func() {
			if _, err := nc.Request(subject, cmd, 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
	var runs atomic.Int64
	service := func(b *testing.B, prefix string) func() {
		c, err := NewClient(nc, WithPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("s%d", runs.Add(1)) // a fresh session each run
		if _, err := c.Submit(b.Context(), id, join("bench")); err != nil {
			b.Fatal(err)
		}
		i := 0
		return func() {
			i++
			if _, err := c.Submit(b.Context(), id, toggle("bench", i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) { benchpair.Paired(b, raw("raw.echo"), service(b, "mem")) })
	b.Run("jetstream", func(b *testing.B) { benchpair.Paired(b, raw("raw.js"), service(b, "js")) })
}

// BenchmarkThroughput is commands per second with 64 concurrent submitters
// (each its own actor) over 100 sessions and over one session, through the
// command service on the JetStream store (file storage, default sync) and on
// the memory store.
func BenchmarkThroughput(b *testing.B) {
	srv := startServer(b)
	url := srv.ClientURL()
	benchService(b, url, "mem", session.NewMemStore())
	benchService(b, url, "js", newStore(b, connect(b, url), WithPrefix("js")))
	var workers atomic.Int64
	for _, store := range []string{"js", "mem"} {
		c, err := NewClient(connect(b, url), WithPrefix(store))
		if err != nil {
			b.Fatal(err)
		}
		for _, sessions := range []int{100, 1} {
			b.Run(fmt.Sprintf("%s/sessions=%d", store, sessions), func(b *testing.B) {
				b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 goroutines
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					w := int(workers.Add(1))
					id := fmt.Sprintf("t%d-%d", sessions, w%sessions)
					actor := "w" + strconv.Itoa(w)
					if _, err := c.Submit(context.Background(), id, join(actor)); err != nil {
						b.Error(err)
						return
					}
					for i := 1; pb.Next(); i++ {
						if _, err := c.Submit(context.Background(), id, toggle(actor, i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
			})
		}
	}
}
