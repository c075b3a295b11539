package ws_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/benchpair"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// BenchmarkFanoutDisableAll: a disable_all_audio in a session followed by
// 5,000 websocket clients, from Submit until the last client has read it,
// against a raw coder/websocket broadcast of one 100-byte frame to 5,000
// clients from one loop; median of each and their ratio, alternately in
// blocks. The disable-all is one event, so one frame a client. The clients
// are in a child process (a process may hold 20,000 sockets here), which
// says on its stdout when all of a set have read a frame. Before each timed
// disable-all, the host turns its microphone on again (untimed), so that
// there is one to turn off.
//
//	go test ./transport/ws/ -run '^$' -bench FanoutDisableAll -benchtime 40x
func BenchmarkFanoutDisableAll(b *testing.B) {
	srv, n := fanoutServer(b, 5000)
	raw := newEchoServer(b, false)
	_, stdout := startHelper(b, "TestFanoutClientsHelper", "GAVEL_FANOUT_RAW="+raw.url, "GAVEL_FANOUT_GAVEL="+srv.URL,
		"GAVEL_FANOUT_KEY="+hex.EncodeToString(srv.Key), "GAVEL_FANOUT_CLIENTS="+strconv.Itoa(n))
	lines := bufio.NewScanner(stdout)
	next := func(want string) {
		b.Helper()
		if !lines.Scan() || lines.Text() != want {
			b.Fatalf("helper said %q (%v), want %q", lines.Text(), lines.Err(), want)
		}
	}
	next("ready")
	for range n {
		<-raw.accepted
	}
	raw.mu.Lock()
	conns := raw.conns
	raw.mu.Unlock()

	frame := wire.AppendEvent(nil, &events.AllAudioDisabled{Seq: 123456, Count: 1, By: "hana"})
	frame = append(frame[:len(frame)-1], `,"p":"`...) // padded to 100 bytes
	for len(frame) < 98 {
		frame = append(frame, 'x')
	}
	frame = append(frame, `"}`...)
	ctx := context.Background()
	const block = 8
	var tr, tg []time.Duration
	for i := 0; b.Loop(); i++ {
		if i/block%2 == 0 {
			t0 := time.Now()
			for _, c := range conns {
				if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
					b.Fatal(err)
				}
			}
			next("raw")
			tr = append(tr, time.Since(t0))
			continue
		}
		srv.Submit(b, room, core.Command{ID: "on" + strconv.Itoa(i), Type: core.SetAudio, Actor: "hana", Enabled: true})
		next("gavel")
		t0 := time.Now()
		srv.Submit(b, room, core.Command{ID: "off" + strconv.Itoa(i), Type: core.DisableAllAudio, Actor: "hana"})
		next("gavel")
		tg = append(tg, time.Since(t0))
	}
	if len(tr) == 0 || len(tg) == 0 {
		b.Skip("run it with -benchtime 40x or more: both sides need a block")
	}
	mr, mg := benchpair.Median(tr), benchpair.Median(tg)
	b.ReportMetric(float64(len(frame)), "raw-frame-B")
	b.ReportMetric(float64(mr.Nanoseconds()), "raw-ns/op")
	b.ReportMetric(float64(mg.Nanoseconds()), "gavel-ns/op")
	b.ReportMetric(float64(mg)/float64(mr), "ratio")
}

// TestFanoutClientsHelper is the child process of BenchmarkFanoutDisableAll:
// n raw clients and n gavel clients, each reading every frame. It prints
// "raw" or "gavel" each time all the clients of a set have read one more
// frame, and stops when its stdin closes.
func TestFanoutClientsHelper(t *testing.T) {
	rawURL := os.Getenv("GAVEL_FANOUT_RAW")
	if rawURL == "" {
		t.Skip("the child process of BenchmarkFanoutDisableAll")
	}
	n, _ := strconv.Atoi(os.Getenv("GAVEL_FANOUT_CLIENTS"))
	key, _ := hex.DecodeString(os.Getenv("GAVEL_FANOUT_KEY"))
	gavelURL := os.Getenv("GAVEL_FANOUT_GAVEL")
	ctx := context.Background()
	var out sync.Mutex
	say := func(s string) {
		out.Lock()
		fmt.Println(s)
		out.Unlock()
	}
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
		wg.Wait()
	}()
	for _, set := range []string{"raw", "gavel"} {
		var read atomic.Int64
		for i := range n {
			u := rawURL
			if set == "gavel" {
				tok, err := ws.MintToken(key, ws.Token{Session: room, Participant: "p" + strconv.Itoa(i), Preset: "attendee",
					Expires: time.Now().Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				u = gavelURL + "?token=" + tok
			}
			c, _, err := websocket.Dial(ctx, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if set == "gavel" {
				if _, _, err := c.Read(ctx); err != nil { // the welcome
					t.Fatal(err)
				}
			}
			wg.Go(func() {
				for {
					if _, _, err := c.Read(ctx); err != nil {
						return
					}
					if read.Add(1)%int64(n) == 0 {
						say(set)
					}
				}
			})
		}
	}
	say("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
}
