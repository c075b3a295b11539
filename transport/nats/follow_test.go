package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// These tests run several gavel instances on one JetStream stream, each a
// session.Manager on a Store of its own connection, as processes would:
// every instance's runtime follows the log (Store.Follow), so its
// subscribers, its websocket clients and its state see every instance's
// commands as they are stored, in log order, without submitting anything.

// newManager returns a manager on st, closed at the end of the test.
func newManager(t testing.TB, st session.Store) *session.Manager {
	t.Helper()
	m, err := session.NewManager(st, session.WithPresets(presets))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) {
		if err := m.Close(ctx); err != nil {
			t.Errorf("closing a manager: %v", err)
		}
	})
	return m
}

// subscribe subscribes to session id of m from after, closed at the end of
// the test.
func subscribe(t testing.TB, m *session.Manager, id string, after uint64) *session.Subscription {
	t.Helper()
	sub, err := m.Subscribe(testwait.Context(t), id, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// submitRetrying submits cmd through m until it has an outcome: a transient
// failure (a server restarting) is sent again with the same id, which is
// safe.
func submitRetrying(ctx context.Context, m *session.Manager, id string, cmd core.Command) (session.Result, error) {
	for {
		res, err := m.Submit(ctx, id, cmd)
		_, rejected := errors.AsType[*core.Error](err)
		if err == nil || rejected || errors.Is(err, session.ErrPermanent) || ctx.Err() != nil {
			return res, err
		}
	}
}

// raceManagers submits the commands of submitters clients of session id
// (gaveltest.Clients, the same every run), client w through ms[w%len(ms)],
// each client's commands in order, and returns every answer; halfway (if
// not nil) is called once, when half of them are in.
func raceManagers(t *testing.T, ms []*session.Manager, id string, submitters, each int, halfway func()) []gaveltest.Answer {
	t.Helper()
	return raceWith(t, 11, submitters, each, halfway, func(w int, cmd core.Command) (session.Result, error) {
		return submitRetrying(testwait.Context(t), ms[w%len(ms)], id, cmd)
	})
}

// wsClient reads a websocket client's events in the background: the
// welcome's seq, then every event after it.
type wsClient struct {
	welcome chan uint64
	events  chan events.Event
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, _, err := websocket.Dial(testwait.Context(t), url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c.SetReadLimit(16 << 20)
	w := &wsClient{welcome: make(chan uint64, 1), events: make(chan events.Event, 10_000)}
	var done sync.WaitGroup
	done.Go(func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			f, err := wire.DecodeFrame(b)
			switch {
			case err != nil:
				t.Errorf("websocket frame %s: %v", b, err)
				return
			case f.Type == wire.TypeWelcome:
				w.welcome <- f.Welcome.Seq
			case f.Type == wire.TypeEvent:
				w.events <- f.Event
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		c.CloseNow()
		done.Wait()
	})
	return w
}

// collectWS reads n events from a websocket client.
func (w *wsClient) collect(t *testing.T, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for len(out) < n {
		out = append(out, testwait.Recv(t, w.events, fmt.Sprintf("event %d of %d on the websocket", len(out)+1, n)))
	}
	return out
}

// checkStreams checks that each subscriber's events are the log's from
// seq 1, and the websocket client's the log's after its welcome.
func checkStreams(t *testing.T, st *Store, id string, subs []*session.Subscription, ws *wsClient, wsFrom uint64) {
	t.Helper()
	logged := loggedEvents(t, st, id)
	for i, sub := range subs {
		if diff := cmp.Diff(jsonOf(logged), jsonOf(collect(t, sub, len(logged)))); diff != "" {
			t.Errorf("subscriber %d (-log +got):\n%s", i, diff)
		}
	}
	if ws != nil {
		if diff := cmp.Diff(jsonOf(logged[wsFrom:]), jsonOf(ws.collect(t, len(logged)-int(wsFrom)))); diff != "" {
			t.Errorf("the websocket client (-log +got):\n%s", diff)
		}
	}
}

// TestFollowAcrossInstances: three instances on one server; a command on B
// reaches A's subscribers and a websocket client connected to A, A
// submitting nothing; then the three decide at once (conflicts resolved by
// the log), and every subscriber of every instance, a Watch on A and the
// websocket client get exactly the log: no gap, no duplicate, in log
// order.
func TestFollowAcrossInstances(t *testing.T) {
	srv := startServer(t)
	url := srv.ClientURL()
	a := fake.NewServer(t, presets, fake.WithStore(newStore(t, connect(t, url))))
	stB := newStore(t, connect(t, url))
	b, c := newManager(t, stB), newManager(t, newStore(t, connect(t, url)))
	first, err := b.Submit(testwait.Context(t), "room-1", join("host"))
	if err != nil {
		t.Fatal(err)
	}
	subs := []*session.Subscription{subscribe(t, a.Manager, "room-1", 0), subscribe(t, c, "room-1", 0), subscribe(t, b, "room-1", 0)}
	watched, watch, err := a.Manager.Watch(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	ws := dialWS(t, a.URL+"?token="+a.Token("room-1", "viewer", "attendee"))
	wsFrom := testwait.Recv(t, ws.welcome, "the welcome")

	bob := core.Command{ID: "b1", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee"}
	res, err := b.Submit(testwait.Context(t), "room-1", bob)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, subs[0], 2)
	if diff := cmp.Diff(jsonOf(res.Events), jsonOf(got[1:])); diff != "" {
		t.Errorf("B's command at A's subscriber (-B's answer +got):\n%s", diff)
	}
	if diff := cmp.Diff(jsonOf(res.Events), jsonOf(ws.collect(t, 2-int(wsFrom))[1-wsFrom:])); diff != "" {
		t.Errorf("B's command at A's websocket client (-B's answer +got):\n%s", diff)
	}
	// The first subscriber and the websocket client are read up to seq 2.
	subs[0] = subscribe(t, a.Manager, "room-1", 0)

	answers := raceManagers(t, []*session.Manager{a.Manager, b, c}, "room-1", 6, 30, nil)
	want := checkLog(t, stB, "room-1", append(answers, gaveltest.Answer{Command: join("host"), Events: first.Events}, gaveltest.Answer{Command: bob, Events: res.Events}))
	checkStreams(t, stB, "room-1", subs, ws, 2)
	if err := gaveltest.CheckEvents(watched, collect(t, watch, int(want.Seq()-watched.Seq())), want); err != nil {
		t.Errorf("A's Watch: %v", err)
	}
	// Each instance's subscriber has every event: its state is the log's.
	for i, m := range []*session.Manager{a.Manager, b, c} {
		if st, err := m.State(testwait.Context(t), "room-1"); err != nil || !st.Equal(want) {
			t.Errorf("instance %d's state is not the log's (%v): %s", i, err, events.AppendState(nil, st))
		}
	}
}

// TestFollowServerRestart: the server restarts under two instances; A's
// follow stream, cut, resumes from where it was: A's subscriber gets what B
// applies after the restart, and the whole log once, in order.
func TestFollowServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a server")
	}
	dir, port := t.TempDir(), natscluster.FreePort(t)
	var srv *server.Server
	start := func() { srv = embeddedServer(t, natsserver.WithDataDir(dir), natsserver.WithPort(port)) }
	start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	a := newManager(t, newStore(t, connect(t, url)))
	stB := newStore(t, connect(t, url))
	b := newManager(t, stB)
	if _, err := b.Submit(testwait.Context(t), "room-1", join("host")); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, a, "room-1", 0)
	collect(t, sub, 1)
	for round := range 2 {
		// The server goes away and comes back on the same port and data.
		srv.Shutdown()
		srv.WaitForShutdown()
		start()
		cmd := core.Command{ID: fmt.Sprint("after-", round), Type: core.SetAudio, Actor: "host", Enabled: round == 0}
		res, err := submitRetrying(testwait.Context(t), b, "room-1", cmd)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(jsonOf(res.Events), jsonOf(collect(t, sub, len(res.Events)))); diff != "" {
			t.Errorf("round %d: B's command at A's subscriber (-B's answer +got):\n%s", round, diff)
		}
	}
	checkStreams(t, stB, "room-1", []*session.Subscription{subscribe(t, a, "room-1", 0)}, nil, 0)
}

// TestClusterFollow: three instances, each connected to a different server
// of a three-node cluster (R3 stream), decide at once; the server A is
// connected to stops halfway. A's connection moves to another server and
// its follow stream resumes: every instance's subscribers get exactly the
// log.
func TestClusterFollow(t *testing.T) {
	c := startCluster(t)
	var stores []*Store
	var ms []*session.Manager
	for i := range c.servers {
		// Each connects to its own server first, and knows the others.
		nc := connect(t, c.servers[i].ClientURL()+","+c.urls, gonats.DontRandomize())
		st := newStore(t, nc, WithReplicas(3))
		stores = append(stores, st)
		ms = append(ms, newManager(t, st))
	}
	c.streamLeader(t, connect(t, c.urls), DefaultStream, 2)
	first, err := submitRetrying(testwait.Context(t), ms[1], "room-1", join("host"))
	if err != nil {
		t.Fatal(err)
	}
	var subs []*session.Subscription
	for _, m := range ms {
		subs = append(subs, subscribe(t, m, "room-1", 0))
	}
	stopped := make(chan struct{})
	answers := raceManagers(t, ms, "room-1", 6, 20, func() {
		go func() {
			c.servers[0].Shutdown()
			c.servers[0].WaitForShutdown()
			close(stopped)
		}()
	})
	testwait.Recv(t, stopped, "the server to stop")
	c.streamLeader(t, connect(t, c.urls), DefaultStream, 1)
	checkLog(t, stores[1], "room-1", append(answers, gaveltest.Answer{Command: join("host"), Events: first.Events}))
	// One more command after the stop, through B: A's follow stream, on its
	// new server, delivers it.
	if _, err := submitRetrying(testwait.Context(t), ms[1], "room-1", core.Command{ID: "last", Type: core.Join, Actor: "late", Name: "Late", Preset: "attendee"}); err != nil {
		t.Fatal(err)
	}
	checkStreams(t, stores[1], "room-1", subs, nil, 0)
}
