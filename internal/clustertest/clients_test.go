package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/clustertest"
	"github.com/gavelrtc/gavel/internal/testwait"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// The clients of the cluster tests. Each sends one command at a time and,
// when an attempt has no answer (its node went away, its connection was
// cut, the answer took too long), sends the same command again, same id,
// through another node, until it has an outcome: as an SDK does.

// errNoAnswer: an attempt ended without an answer; the command may or may
// not have been decided.
var errNoAnswer = errors.New("no answer")

// attemptTimeout bounds one attempt; the next goes to another node. It
// only decides when to retry, never whether the test passes.
const attemptTimeout = 3 * time.Second

// welcomeTimeout bounds the wait for a welcome: more than the five seconds
// a node waits for a resume's seq.
const welcomeTimeout = 10 * time.Second

// outcome is what one attempt of a command was told.
type outcome struct {
	answer gaveltest.Answer
	seq    uint64 // the session's seq after the command, when applied
	dup    bool   // a repeat's answer: the first outcome (on websocket, without events)
}

// wsClient is a participant on websocket: one connection at a time, to
// any node, its events one stream across its connections (each new one
// resumes after the last event it has).
type wsClient struct {
	c      *clustertest.Cluster
	room   string
	self   string
	preset string // the token's: that of self's last join
	rng    *rand.Rand

	conn   *websocket.Conn
	node   int // the node conn is on
	frames chan frameOrErr
	cancel context.CancelFunc
	done   chan struct{}

	welcomes int
	slowest  time.Duration // the longest wait for a welcome
	seq      uint64        // the last event's
	events   []events.Event
	problems []error // what the stream broke: a welcome that does not resume, a seq out of order
}

type frameOrErr struct {
	f   wire.Frame
	err error
}

func newWSClient(c *clustertest.Cluster, room, self, preset string, seed uint64) *wsClient {
	return &wsClient{c: c, room: room, self: self, preset: preset, rng: rand.New(rand.NewPCG(seed, 1)), node: int(seed % clustertest.Size)}
}

// dial connects to node (or the next ones, when it is down), resuming
// after the last event the client has.
func (w *wsClient) dial(ctx context.Context, node int) error {
	w.drop()
	for try := 0; ; try++ {
		n := (node + try) % clustertest.Size
		url := w.c.Node(n).WSURL() + "?token=" + w.c.Token(w.room, w.self, w.preset) + "&after=" + strconv.FormatUint(w.seq, 10)
		dctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		dialed := time.Now()
		conn, _, err := websocket.Dial(dctx, url, nil)
		cancel()
		if err == nil {
			w.start(conn, n)
			wctx, cancel := context.WithTimeout(ctx, welcomeTimeout)
			f, err := w.next(wctx)
			cancel()
			if err == nil && f.Type == wire.TypeWelcome {
				w.welcomes++
				w.slowest = max(w.slowest, time.Since(dialed))
				if !f.Welcome.Resumed || f.Welcome.Seq != w.seq {
					w.problems = append(w.problems, fmt.Errorf("%s: the welcome of node %d after seq %d is at seq %d, resumed %v (%s %v after dialling)",
						w.self, n, w.seq, f.Welcome.Seq, f.Welcome.Resumed, time.Now().Format("15:04:05.000"), time.Since(dialed)))
				}
				return nil
			}
			w.drop()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if try%clustertest.Size == clustertest.Size-1 {
			time.Sleep(20 * time.Millisecond) // every node refused: one is restarting
		}
	}
}

// start reads conn's frames in the background.
func (w *wsClient) start(conn *websocket.Conn, node int) {
	conn.SetReadLimit(16 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	w.conn, w.node, w.cancel = conn, node, cancel
	w.frames, w.done = make(chan frameOrErr, 64), make(chan struct{})
	frames, done := w.frames, w.done
	go func() {
		defer close(done)
		for {
			_, b, err := conn.Read(ctx)
			var f wire.Frame
			if err == nil {
				f, err = wire.DecodeFrame(b)
			}
			select {
			case frames <- frameOrErr{f, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// drop closes the connection, if any, and waits for its reader.
func (w *wsClient) drop() {
	if w.conn == nil {
		return
	}
	w.cancel()
	w.conn.CloseNow()
	<-w.done
	w.conn = nil
}

// next returns the connection's next frame, taking in the events it
// carries.
func (w *wsClient) next(ctx context.Context) (wire.Frame, error) {
	select {
	case fe := <-w.frames:
		if fe.err != nil {
			return wire.Frame{}, fe.err
		}
		switch fe.f.Type {
		case wire.TypeEvent:
			w.take(fe.f.Event)
		case wire.TypeResult:
			for _, e := range fe.f.Result.Events {
				w.take(e)
			}
		}
		return fe.f, nil
	case <-ctx.Done():
		return wire.Frame{}, ctx.Err()
	}
}

func (w *wsClient) take(e events.Event) {
	if e.Sequence() != w.seq+1 {
		w.problems = append(w.problems, fmt.Errorf("%s: event %s with seq %d after seq %d", w.self, e.Type(), e.Sequence(), w.seq))
	}
	w.events = append(w.events, e)
	w.seq = max(w.seq, e.Sequence())
}

// attempt sends cmd once on the connection (connecting to node first if
// there is none) and waits for its result.
func (w *wsClient) attempt(ctx context.Context, node int, cmd core.Command, sent func(node int)) (outcome, error) {
	if w.conn == nil {
		if err := w.dial(ctx, node); err != nil {
			return outcome{}, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	if err := w.conn.Write(actx, websocket.MessageText, wire.AppendCommand(nil, cmd)); err != nil {
		w.drop()
		return outcome{}, errNoAnswer
	}
	if sent != nil {
		sent(w.node)
	}
	for {
		f, err := w.next(actx)
		if err != nil {
			w.drop()
			return outcome{}, errNoAnswer
		}
		switch {
		case f.Type == wire.TypeGoodbye:
			w.drop() // the command is not answered: it goes again on the next connection
			return outcome{}, errNoAnswer
		case f.Type != wire.TypeResult:
			continue
		case f.Result.ID != cmd.ID:
			return outcome{}, fmt.Errorf("%s: the result of %q came for %s", w.self, f.Result.ID, cmd.ID)
		case f.Result.Refused != "" && f.Result.Refused.Permanent():
			return outcome{}, fmt.Errorf("%s: %s refused %s", w.self, cmd.ID, f.Result.Refused)
		case f.Result.Refused != "":
			return outcome{}, errNoAnswer
		case f.Result.Err != nil:
			return outcome{answer: gaveltest.Answer{Command: cmd, Err: f.Result.Err}, dup: f.Result.Duplicate}, nil
		}
		// A repeat's result has no events: the stream had them.
		return outcome{answer: gaveltest.Answer{Command: cmd, Events: f.Result.Events}, seq: f.Result.Seq, dup: f.Result.Duplicate}, nil
	}
}

// catchUp reads the stream until it has every event up to seq.
func (w *wsClient) catchUp(ctx context.Context, seq uint64) error {
	for w.seq < seq {
		if w.conn == nil {
			if err := w.dial(ctx, w.rng.IntN(clustertest.Size)); err != nil {
				return err
			}
		}
		f, err := w.next(ctx)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s has the events up to seq %d of %d: %w", w.self, w.seq, seq, ctx.Err())
		case err != nil, f.Type == wire.TypeGoodbye:
			w.drop()
		}
	}
	return nil
}

// natsClient is a trusted service on NATS: one connection to each server
// (each failing over to the others), every attempt through one of them,
// and a subscription to the session's events.
type natsClient struct {
	room    string
	clients []*gnats.Client
	rng     *rand.Rand
	events  chan events.Event
}

func newNATSClient(t *testing.T, c *clustertest.Cluster, room string, seed uint64) *natsClient {
	t.Helper()
	n := &natsClient{room: room, rng: rand.New(rand.NewPCG(seed, 2)), events: make(chan events.Event, 100_000)}
	for i := range clustertest.Size {
		nc, err := gonats.Connect(c.NATS.URL(i)+","+c.NATS.URLs(), gonats.DontRandomize(), gonats.MaxReconnects(-1),
			gonats.ReconnectWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		opts := []gnats.ClientOption{gnats.WithRequestTimeout(500 * time.Millisecond)}
		if seed%4 == 1 { // half the NATS clients of TestLinearizable send to the homes themselves
			opts = append(opts, gnats.WithDirectToHome())
		}
		cl, err := gnats.NewClient(nc, opts...)
		if err != nil {
			t.Fatal(err)
		}
		n.clients = append(n.clients, cl)
	}
	sub, err := n.clients[seed%clustertest.Size].Subscribe(testwait.Context(t), room, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			e, err := sub.Next(ctx)
			if err != nil {
				return
			}
			n.events <- e
		}
	})
	t.Cleanup(func() {
		cancel()
		sub.Close()
		wg.Wait()
	})
	return n
}

// submit submits cmd through the connection to server node.
func (n *natsClient) submit(ctx context.Context, node int, cmd core.Command) (outcome, error) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	res, err := n.clients[node].Submit(actx, n.room, cmd)
	if _, rejected := errors.AsType[*core.Error](err); err != nil && !rejected {
		return outcome{}, errNoAnswer
	}
	return outcome{answer: gaveltest.Answer{Command: cmd, Events: res.Events, Err: err}, seq: res.Seq, dup: res.Duplicate}, nil
}

// collect reads the subscription's events up to seq.
func (n *natsClient) collect(t *testing.T, seq uint64) []events.Event {
	t.Helper()
	var out []events.Event
	for len(out) == 0 || out[len(out)-1].Sequence() < seq {
		out = append(out, testwait.Recv(t, n.events, fmt.Sprintf("event %d of the subscription", len(out)+1)))
	}
	return out
}
