package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// countingAppends is a store that counts the appends made through it: a
// node that decided nothing made none.
type countingAppends struct {
	*Store
	appends atomic.Int64
}

func (s *countingAppends) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	s.appends.Add(1)
	return s.Store.Append(ctx, id, expected, rec)
}

func (s *countingAppends) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	s.appends.Add(1)
	return s.Store.AppendBatch(ctx, id, expected, recs)
}

// TestRouter runs node a, whose Router sends each session's commands to
// the home its home function names, beside node b (Start with
// WithRouting), on one server: a command a routes to b is decided by b
// (a appends nothing) and answered with b's outcome, rejections included;
// b decides what is routed to it even when its own home function names
// another node (a command is routed once); and a decides itself, with
// the same outcome per id, when the home gives no outcome: it is gone,
// silent (WithForwardTimeout), answers a passing failure or not a reply.
// When the caller's context ends first, the caller gets its error and a
// decides nothing.
func TestRouter(t *testing.T) {
	srv := startServer(t)
	homeA := map[string]string{"to-b": "b", "loop": "b", "gone": "b", "silent": "c", "failing": "d", "garbage": "e", "ctx": "c"}
	homeB := map[string]string{"loop": "a"}
	b := startNode(t, WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets)),
		WithRouting("b", func(id string) string { return homeB[id] }))

	nc := connect(t, srv.ClientURL())
	st := &countingAppends{Store: newStore(t, nc)}
	r, err := NewRouter(nc, "a", func(id string) string { return homeA[id] }, WithForwardTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	a, err := session.NewManager(st, session.WithPresets(presets), session.WithRouter(r))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { a.Close(ctx) })
	// a serves what is routed to it too: were a routed command routed on,
	// "loop" would go from a to b and back until a's forward timed out.
	svc, err := NewService(testwait.Context(t), nc, a, WithNode("a", func(id string) string { return homeA[id] }))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { svc.Close(ctx) })

	// Nodes c, d and e: c never answers, d fails, e answers nonsense.
	other := connect(t, srv.ClientURL())
	for node, reply := range map[string]string{"c": "", "d": `{"failure":"store out of reach"}`, "e": `nonsense`} {
		if _, err := other.Subscribe("gavel.decide."+node+".>", func(m *gonats.Msg) {
			if reply != "" {
				m.Respond([]byte(reply))
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx := testwait.Context(t)
	submit := func(id string, cmd core.Command) (session.Result, int64, error) {
		t.Helper()
		before := st.appends.Load()
		res, err := a.Submit(ctx, id, cmd)
		return res, st.appends.Load() - before, err
	}

	for _, id := range []string{"to-b", "loop"} {
		res, appends, err := submit(id, join("alice"))
		if err != nil || appends != 0 || res.Seq != 1 {
			t.Fatalf("%s: join routed to b: seq %d, %v, %d appends on a (want seq 1, none)", id, res.Seq, err, appends)
		}
		state, err := b.Manager().State(ctx, id)
		if _, ok := state.Participant("alice"); err != nil || !ok {
			t.Fatalf("%s: b's state has no alice (%v): b did not decide the join", id, err)
		}
		res, appends, err = submit(id, join("alice"))
		if err != nil || !res.Duplicate || appends != 0 {
			t.Errorf("%s: the join again: duplicate %v, %v, %d appends on a; want b's first outcome", id, res.Duplicate, err, appends)
		}
	}
	bad := core.Command{ID: "x1", Type: core.DisableAudio, Actor: "nobody", Target: "alice"}
	if _, appends, err := submit("to-b", bad); !errors.Is(err, core.ErrNotJoined) || appends != 0 {
		t.Errorf("a command b rejects: %v, %d appends on a; want b's rejection, none", err, appends)
	}

	// The home gives no outcome: a decides.
	for _, id := range []string{"silent", "failing", "garbage"} {
		res, appends, err := submit(id, join("bob"))
		if err != nil || res.Seq != 1 || appends == 0 {
			t.Errorf("%s: seq %d, %v, %d appends on a; want a to decide the join", id, res.Seq, err, appends)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	res, appends, err := submit("gone", join("carol"))
	if err != nil || res.Seq != 1 || appends == 0 {
		t.Errorf("home gone: seq %d, %v, %d appends on a; want a to decide the join", res.Seq, err, appends)
	}
	// Decided by b before it went, the same id decided again on a: b's
	// outcome, from the log.
	res, _, err = submit("to-b", join("alice"))
	if err != nil || !res.Duplicate || res.Seq != 1 {
		t.Errorf("to-b, home gone: seq %d, duplicate %v, %v; want b's first outcome", res.Seq, res.Duplicate, err)
	}

	// The caller goes away while the home is silent: a decides nothing.
	r2, err := NewRouter(nc, "a", func(string) string { return "c" }, WithForwardTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r2.Close)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, routed, err := r2.Route(short, "ctx", join("dave"))
	if !routed || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller gone: routed %v, %v; want routed, context.DeadlineExceeded", routed, err)
	}
}

// TestRouterSkips: a Router leaves to its own node the sessions it is
// the home of, those with no home, and those whose home is not a node
// name, without a request.
func TestRouterSkips(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	homes := map[string]string{"mine": "a", "none": "", "bad": "a.b"}
	r, err := NewRouter(nc, "a", func(id string) string { return homes[id] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	before := nc.Stats().OutMsgs
	for id := range homes {
		if res, routed, err := r.Route(testwait.Context(t), id, join("alice")); routed || err != nil || !cmp.Equal(res, session.Result{}) {
			t.Errorf("%s: routed %v, %+v, %v; want not routed", id, routed, res, err)
		}
	}
	if sent := nc.Stats().OutMsgs - before; sent != 0 {
		t.Errorf("%d messages sent", sent)
	}
}

// TestRouterOptions: NewRouter, WithNode and WithRouting refuse what
// cannot name a node, a nil connection or home function, a timeout not
// above 0.
func TestRouterOptions(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	home := func(string) string { return "" }
	for name, f := range map[string]func() error{
		"empty node":       func() error { _, err := NewRouter(nc, "", home); return err },
		"dotted node":      func() error { _, err := NewRouter(nc, "a.b", home); return err },
		"long node":        func() error { _, err := NewRouter(nc, strings.Repeat("n", 65), home); return err },
		"nil conn":         func() error { _, err := NewRouter(nil, "a", home); return err },
		"nil home":         func() error { _, err := NewRouter(nc, "a", nil); return err },
		"zero timeout":     func() error { _, err := NewRouter(nc, "a", home, WithForwardTimeout(0)); return err },
		"service node":     func() error { return WithNode("a b", home).applyService(&serviceConfig{}) },
		"service nil home": func() error { return WithNode("a", nil).applyService(&serviceConfig{}) },
		"routing nil home": func() error { return WithRouting("a", nil).applyNode(&nodeConfig{}) },
	} {
		if err := f(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// TestRouterDirect: a Router whose home is on another server of the
// cluster connects to that server (the one the home's service names) and
// sends the home's commands there, still decided by the home; when the
// home goes, its commands are decided here; Close closes the connection.
// A home on the Router's own server gets no connection of its own.
func TestRouterDirect(t *testing.T) {
	c := startCluster(t)
	opts := func(i int, name string) []NodeOption {
		return []NodeOption{WithURL(c.URL(i)), WithReplicas(3), WithSessionOptions(session.WithPresets(presets)),
			WithRouting(name, func(string) string { return "b" })}
	}
	b := startNode(t, opts(1, "b")...)
	startNode(t, opts(0, "near")...) // a home on a's server
	nc := connect(t, c.URL(0))
	st := &countingAppends{Store: newStore(t, nc, WithReplicas(3))}
	homes := map[string]string{"far": "b", "near": "near"}
	r, err := NewRouter(nc, "a", func(id string) string { return homes[id] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close) // after the manager's: cleanups run last in, first out
	a, err := session.NewManager(st, session.WithPresets(presets), session.WithRouter(r))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { a.Close(ctx) })
	ctx := testwait.Context(t)

	// The first commands go through a's own connection while the Router
	// connects (a command starts a dial unless one is under way or one
	// failed less than redialWait ago); then through the connection to b's
	// server.
	var direct *gonats.Conn
	for i := 0; direct == nil; i++ {
		if res, err := a.Submit(ctx, "far", join(fmt.Sprintf("p%d", i))); err != nil || res.Duplicate {
			t.Fatalf("far: %v", err)
		}
		testwait.Wait(t, "the dial to b's server", r.dials.Wait)
		r.mu.Lock()
		if d := r.direct["b"]; d != nil && d.nc != nil {
			direct = d.nc
		}
		r.mu.Unlock()
		if direct == nil && ctx.Err() != nil {
			t.Fatal("no connection to b's server")
		}
	}
	if got, want := direct.ConnectedServerName(), c.Server(1).Name(); got != want {
		t.Errorf("the Router connected to server %s; b is on %s", got, want)
	}
	before := direct.Stats().OutMsgs
	if _, err := a.Submit(ctx, "far", join("q")); err != nil {
		t.Fatal(err)
	}
	if direct.Stats().OutMsgs == before {
		t.Error("the command did not go through the connection to b's server")
	}
	if n := st.appends.Load(); n != 0 {
		t.Errorf("a appended %d times: b decides far", n)
	}

	if _, err := a.Submit(ctx, "near", join("n")); err != nil {
		t.Fatal(err)
	}
	testwait.Wait(t, "the dials", r.dials.Wait)
	r.mu.Lock()
	if d := r.direct["near"]; d == nil || d.nc != nil || d.next.IsZero() {
		t.Errorf("near, on a's server: %+v, want no connection of its own", d)
	}
	r.mu.Unlock()

	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Submit(ctx, "far", join("late")); err != nil {
		t.Fatal(err)
	}
	if st.appends.Load() == 0 {
		t.Error("b is gone, and a did not decide far's command")
	}
	r.Close()
	if !direct.IsClosed() {
		t.Error("Close left the connection to b's server open")
	}
}

// TestDirectToHome: a Client with WithDirectToHome learns a session's
// home from a service's answer and sends the session's next commands
// there itself; when the home is gone it goes through the command subject
// again (and is answered); when a home's answer names another home, it
// moves there. A Client without the option never sends to a home.
func TestDirectToHome(t *testing.T) {
	srv := startServer(t)
	var home atomic.Value
	home.Store("b")
	homeOf := func(string) string { return home.Load().(string) }
	nodeOpts := func(name string) []NodeOption {
		return []NodeOption{WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets)), WithRouting(name, homeOf)}
	}
	// b alone at first: it is the home, and decides what it is given
	// itself, so a message on its decide subject is a client's own.
	b := startNode(t, nodeOpts("b")...)

	spy := connect(t, srv.ClientURL())
	var toA, toB atomic.Int64
	var spies []*gonats.Subscription
	for node, n := range map[string]*atomic.Int64{"a": &toA, "b": &toB} {
		sub, err := spy.Subscribe("gavel.decide."+node+".room-1", func(*gonats.Msg) { n.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		spies = append(spies, sub)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	plain := newClient(t, connect(t, srv.ClientURL()))
	direct := newClient(t, connect(t, srv.ClientURL()), WithDirectToHome())
	submit := func(c *Client, cmd core.Command) {
		t.Helper()
		if _, err := c.Submit(ctx, "room-1", cmd); err != nil {
			t.Fatalf("%s: %v", cmd.ID, err)
		}
	}
	flush := func() {
		t.Helper()
		if err := spy.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	submit(plain, join("p1")) // its answer names b
	submit(plain, join("p2"))
	submit(direct, join("d1")) // learns b
	flush()
	if n := toB.Load(); n != 0 {
		t.Fatalf("%d commands went to b itself before the direct client learnt its home, want none", n)
	}
	submit(direct, join("d2"))
	flush()
	if n := toB.Load(); n != 1 {
		t.Fatalf("d2 went to b %d times, want once", n)
	}
	submit(plain, join("p3"))
	flush()
	if n := toB.Load(); n != 1 {
		t.Errorf("the plain client's command went to b itself")
	}

	// b says the home is a now: the direct client moves.
	startNode(t, nodeOpts("a")...)
	home.Store("a")
	submit(direct, join("d3")) // to b, which names a
	submit(direct, join("d4"))
	flush()
	if toA.Load() != 1 {
		t.Errorf("d4 went to a %d times, want once", toA.Load())
	}

	// The home is gone: the command goes through the command subject.
	home.Store("b")
	submit(direct, join("d5")) // to a, which names b
	for _, sub := range spies {
		if err := sub.Unsubscribe(); err != nil { // or b would not be gone, only silent
			t.Fatal(err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	submit(direct, join("d6")) // b gone: no responders, then a
}

// TestDirectToHomeBadReply: a Client WithDirectToHome whose home answers
// something that is not a reply (no outcome) gets ErrBadReply, and sends
// the session's next command through the command subject again, as
// WithDirectToHome says, rather than to that home for good.
func TestDirectToHomeBadReply(t *testing.T) {
	srv := startServer(t)
	fake := connect(t, srv.ClientURL())
	var viaCmd atomic.Int64
	if _, err := fake.Subscribe("gavel.cmd.room-1", func(m *gonats.Msg) {
		viaCmd.Add(1)
		m.RespondMsg(&gonats.Msg{Data: []byte(`{"seq":1,"events":[]}`), Header: gonats.Header{headerHome: []string{"x"}}})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Subscribe("gavel.decide.x.room-1", func(m *gonats.Msg) { m.Respond([]byte("nonsense")) }); err != nil {
		t.Fatal(err)
	}
	if err := fake.Flush(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, connect(t, srv.ClientURL()), WithDirectToHome())
	ctx := testwait.Context(t)
	if _, err := c.Submit(ctx, "room-1", join("a")); err != nil { // learns x
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, "room-1", join("b")); !errors.Is(err, ErrBadReply) {
		t.Fatalf("x's nonsense: %v, want ErrBadReply", err)
	}
	if _, err := c.Submit(ctx, "room-1", join("c")); err != nil || viaCmd.Load() != 2 {
		t.Errorf("after x's nonsense: %v, %d commands through gavel.cmd; want the command sent there again", err, viaCmd.Load())
	}
}

// TestServiceBounded: every subscription a service with WithNode reads
// commands from keeps a bound in messages and in bytes, so a flood of
// commands costs the node bounded memory (its requesters retry what is
// dropped).
func TestServiceBounded(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(presets))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { m.Close(ctx) })
	svc, err := NewService(testwait.Context(t), nc, m, WithNode("a", func(string) string { return "a" }))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { svc.Close(ctx) })
	if len(svc.subs) != 3 {
		t.Fatalf("%d subscriptions, want 3 (commands, routed commands, where)", len(svc.subs))
	}
	for _, sub := range svc.subs {
		msgs, bytes, err := sub.PendingLimits()
		if err != nil || msgs <= 0 || bytes <= 0 {
			t.Errorf("%s: pending limits %d messages, %d bytes (%v): want both bounded", sub.Subject, msgs, bytes, err)
		}
	}
}
