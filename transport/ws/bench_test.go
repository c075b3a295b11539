package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/benchpair"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// echoServer is the raw baseline: a coder/websocket server that writes
// back every message, or that only holds its connections.
type echoServer struct {
	*httptest.Server
	url      string
	mu       sync.Mutex
	conns    []*websocket.Conn
	accepted chan struct{} // one per connection held
	stop     chan struct{}
}

func newEchoServer(tb testing.TB, echo bool) *echoServer {
	e := &echoServer{stop: make(chan struct{}), accepted: make(chan struct{}, 10_000)}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		if !echo {
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.accepted <- struct{}{}
			ctx := c.CloseRead(context.Background())
			select {
			case <-ctx.Done():
			case <-e.stop:
			}
			return
		}
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if c.Write(context.Background(), typ, b) != nil {
				return
			}
		}
	}))
	e.url = "ws" + strings.TrimPrefix(e.URL, "http")
	tb.Cleanup(func() {
		close(e.stop)
		e.CloseClientConnections()
		e.Close()
	})
	return e
}

// BenchmarkRoundTrip: one command over the socket and its answer, against
// a raw coder/websocket echo of a frame of the same size, alternately.
// toggle and no-op use a raw protocol client that decodes nothing (the
// server's work and the socket's, as in the echo): a command with its one
// event, and one that changes nothing. sdk is the client SDK's whole path.
func BenchmarkRoundTrip(b *testing.B) {
	srv := wstest.New(b, ws.WithCommandRate(0, 0))
	echo := newEchoServer(b, true)
	ctx := context.Background()
	frame := wire.AppendCommand(nil, core.Command{ID: "0123456789abcdef-1", Type: core.SetAudio, Actor: "alice", Enabled: true})
	rawEcho := func(c *websocket.Conn) func() {
		return func() {
			if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.Read(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, name := range []string{"toggle", "no-op"} {
		b.Run(name, func(b *testing.B) {
			run := strconv.FormatInt(ids.Add(1), 10) + "-"
			alice := dial(b, srv, srv.Token(room, run+name, "attendee"), nil)
			alice.join()
			var buf []byte
			i := 0
			benchpair.Paired(b, rawEcho(dialPlain(b, echo.url)), func() {
				i++
				buf = wire.AppendCommand(buf[:0], core.Command{ID: run + strconv.Itoa(i), Type: core.SetAudio,
					Enabled: name == "toggle" && i%2 == 1})
				if err := alice.c.Write(ctx, websocket.MessageText, buf); err != nil {
					b.Fatal(err)
				}
				for {
					_, msg, err := alice.c.Read(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if bytes.HasPrefix(msg, []byte(`{"type":"result"`)) {
						return
					}
				}
			})
		})
	}
	b.Run("sdk", func(b *testing.B) {
		m, err := client.Dial(ctx, srv.URL, srv.Token(room, "sdk-"+strconv.FormatInt(ids.Add(1), 10), "attendee"))
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		i := 0
		benchpair.Paired(b, rawEcho(dialPlain(b, echo.url)), func() {
			i++
			set := m.Self.DisableAudio
			if i%2 == 1 {
				set = m.Self.EnableAudio
			}
			if err := set(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// fanout is n clients that each read every frame sent to them, and count
// the frames all of them have read.
type fanout struct {
	n    int64
	read atomic.Int64
	all  chan struct{}
}

func newFanout(tb testing.TB, n int, dial func(i int) *websocket.Conn) *fanout {
	f := &fanout{n: int64(n), all: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	tb.Cleanup(wg.Wait) // after the connections close: cleanups run last in, first out
	for i := range n {
		c := dial(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				if f.read.Add(1) == f.n {
					f.all <- struct{}{}
				}
			}
		}()
	}
	return f
}

// round runs send and waits until every client has read one frame.
func (f *fanout) round(tb testing.TB, send func()) {
	f.read.Store(0)
	send()
	select {
	case <-f.all:
	case <-time.After(wait):
		tb.Fatalf("%d frames read by %d clients in %v", f.read.Load(), f.n, wait)
	}
}

// fanoutServer starts a server whose session has its host, hana, for a
// fan-out to n clients: n is GAVEL_FANOUT_N if set, else def.
func fanoutServer(b *testing.B, def int) (_ *wstest.Server, n int) {
	b.Helper()
	n = def
	if s := os.Getenv("GAVEL_FANOUT_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	srv := wstest.New(b, ws.WithCommandRate(0, 0))
	srv.Submit(b, room, core.Command{ID: "host", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host"})
	return srv, n
}

// BenchmarkFanout1000: one event to 1,000 connected clients (from Submit
// until every client has read it), against a raw broadcast of the same
// bytes to 1,000 coder/websocket connections from one loop, alternately.
// The clients and their reading are the same in both. It reports the
// process's CPU time per fan-out too: the work, which a loaded machine
// blurs less than the wall time.
func BenchmarkFanout1000(b *testing.B) {
	srv, n := fanoutServer(b, 1000)
	gavel := newFanout(b, n, func(i int) *websocket.Conn {
		c := dial(b, srv, srv.Token(room, "p"+strconv.Itoa(i), "attendee"), nil)
		return c.c
	})
	raw := newEchoServer(b, false)
	plain := newFanout(b, n, func(int) *websocket.Conn { return dialPlain(b, raw.url) })
	frame := wire.AppendEvent(nil, &events.AudioUpdate{Seq: 123456, Participant: "hana", AudioEnabled: true, By: "hana"})
	ctx := context.Background()

	for range n { // the server side may lag the clients' handshakes
		<-raw.accepted
	}
	raw.mu.Lock()
	conns := raw.conns
	raw.mu.Unlock()
	i := 0
	benchpair.PairedCPU(b, func() {
		plain.round(b, func() {
			for _, c := range conns {
				if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}, func() {
		i++
		gavel.round(b, func() {
			srv.Submit(b, room, core.Command{ID: "t" + strconv.FormatInt(ids.Add(1), 10), Type: core.SetAudio, Actor: "hana", Enabled: i%2 == 1})
		})
	})
}

// BenchmarkIdleConnMemory: the server's heap and goroutine stacks per idle
// connection, the clients in a child process so that only the server is
// measured; next to a raw coder/websocket server holding as many. Run it
// with -benchtime 1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	b.Run("raw", func(b *testing.B) {
		e := newEchoServer(b, false)
		measureIdle(b, n, e.url, nil)
	})
	b.Run("gavel", func(b *testing.B) {
		srv := wstest.New(b)
		measureIdle(b, n, srv.URL, srv.Key)
	})
	// The session's own buffer per subscriber (1,024 events by default)
	// is most of the heap; behind the transport's outbound queue a small one
	// does: it only has to cover the pump's scheduling.
	b.Run("gavel-subscriber-buffer-64", func(b *testing.B) {
		srv := wstest.NewWith(b, []session.Option{session.WithSubscriberBuffer(64)})
		measureIdle(b, n, srv.URL, srv.Key)
	})
}

// startHelper starts this test binary again, as a child process that runs
// the test named and has env added to its environment. Closing its stdin
// stops it; it is waited for when the benchmark ends.
func startHelper(b *testing.B, test string, env ...string) (stdin io.WriteCloser, stdout io.Reader) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	stdin, _ = cmd.StdinPipe()
	stdout, _ = cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return stdin, stdout
}

func measureIdle(b *testing.B, n int, url string, key []byte) {
	before := memNow()
	stdin, stdout := startHelper(b, "TestIdleClientsHelper",
		"GAVEL_IDLE_URL="+url, "GAVEL_IDLE_N="+strconv.Itoa(n), "GAVEL_IDLE_KEY="+hex.EncodeToString(key))
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("helper: %q, %v", line, err)
	}
	after := memNow()
	heap := float64(after.heap-before.heap) / float64(n)
	stack := float64(after.stack-before.stack) / float64(n)
	b.ReportMetric(heap, "heap-B/conn")
	b.ReportMetric(stack, "stack-B/conn")
	b.ReportMetric(heap+stack, "B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
}

type mem struct{ heap, stack, goroutines int64 }

func memNow() mem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mem{int64(ms.HeapAlloc), int64(ms.StackInuse), int64(runtime.NumGoroutine())}
}

// TestIdleClientsHelper is the child process of BenchmarkIdleConnMemory:
// it opens the connections, says ready, and holds them until its stdin
// closes. Run alone it does nothing.
func TestIdleClientsHelper(t *testing.T) {
	url := os.Getenv("GAVEL_IDLE_URL")
	if url == "" {
		t.Skip("the child process of BenchmarkIdleConnMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("GAVEL_IDLE_N"))
	key, _ := hex.DecodeString(os.Getenv("GAVEL_IDLE_KEY"))
	ctx := context.Background()
	for i := range n {
		u := url
		if len(key) > 0 {
			tok, err := ws.MintToken(key, ws.Token{Session: room, Participant: "p" + strconv.Itoa(i), Preset: "attendee", Expires: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			u += "?token=" + tok
		}
		c, _, err := websocket.Dial(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if len(key) > 0 {
			if _, _, err := c.Read(ctx); err != nil { // the welcome
				t.Fatal(err)
			}
		}
		c.CloseRead(ctx) // answers pings
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
}
