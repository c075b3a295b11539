package nats

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// presets are the presets of the sessions the tests create.
var presets = storetest.Presets

// script is a session's commands, with what the reducer makes of them.
type script struct {
	cmds   []core.Command
	events [][]events.Event // per command; nil when rejected
	errs   []error
	state  core.State
}

// newScript decides cmds one after the other, as the runtime will.
func newScript(id string, cmds []core.Command) script {
	s := script{cmds: cmds, state: core.NewState(id, presets)}
	for _, c := range cmds {
		next, evs, err := reducer.Apply(s.state, c)
		s.events = append(s.events, evs)
		s.errs = append(s.errs, err)
		s.state = next
	}
	return s
}

// from returns the script from command i on.
func (s script) from(i int) script {
	return script{cmds: s.cmds[i:], events: s.events[i:], errs: s.errs[i:], state: s.state}
}

// all returns every event of the script, in order.
func (s script) all() []events.Event {
	var out []events.Event
	for _, evs := range s.events {
		out = append(out, evs...)
	}
	return out
}

// jsonOf encodes events, for diffs that read well.
func jsonOf(evs []events.Event) string { return string(events.AppendEvents(nil, evs)) }

// classroom is a short session: joins, a host muting, a refused kick, pins.
var classroom = []core.Command{
	{ID: "1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true, Video: true},
	{ID: "2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true, Video: true},
	{ID: "3", Type: core.Join, Actor: "carol", Name: "Carol", Preset: "attendee", Audio: true},
	{ID: "4", Type: core.DisableAudio, Actor: "alice", Target: "bob"},
	{ID: "5", Type: core.Kick, Actor: "bob", Target: "alice"}, // permission_denied
	{ID: "6", Type: core.Pin, Actor: "alice", Target: "carol"},
	{ID: "7", Type: core.SetAudio, Actor: "carol", Enabled: true}, // changes nothing
	{ID: "8", Type: core.DisableAllAudio, Actor: "alice"},
	{ID: "9", Type: core.Pin, Actor: "alice", Target: "bob"},
}

// submitScript submits every command of s through c and checks each outcome
// against the reducer's.
func submitScript(t *testing.T, c *Client, id string, s script) {
	t.Helper()
	for i, cmd := range s.cmds {
		res, err := c.Submit(testwait.Context(t), id, cmd)
		checkOutcome(t, cmd, res, err, s.events[i], s.errs[i])
	}
}

func checkOutcome(t *testing.T, cmd core.Command, res session.Result, err error, want []events.Event, wantErr error) {
	t.Helper()
	if wantErr != nil {
		wc, _ := core.CodeOf(wantErr)
		var cerr *core.Error
		if !errors.As(err, &cerr) || cerr.Code != wc {
			t.Fatalf("command %s: err = %v, want code %d", cmd.ID, err, wc)
		}
		return
	}
	if err != nil {
		t.Fatalf("command %s: %v", cmd.ID, err)
	}
	if diff := cmp.Diff(jsonOf(want), jsonOf(res.Events)); diff != "" {
		t.Fatalf("command %s events (-want +got):\n%s", cmd.ID, diff)
	}
}

// collect reads n events from sub.
func collect(t *testing.T, sub interface {
	Next(context.Context) (events.Event, error)
}, n int) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []events.Event
	for len(out) < n {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, e)
	}
	return out
}

// TestNode runs a session on the embedded server: commands through the
// command service, their retries, subscriptions from every seq; then the
// node and its server restart on the same directory, the session is intact,
// and a subscription made before the restart (from another process's
// connection) goes on.
func TestNode(t *testing.T) {
	leakcheck.Check(t) // and nothing keeps running after Close
	dir, port := t.TempDir(), natscluster.FreePort(t)
	opts := []NodeOption{WithSessionOptions(session.WithPresets(presets), session.WithSnapshotInterval(4))}
	server := func() NodeOption {
		return WithEmbeddedServer(embeddedServer(t, natsserver.WithDataDir(dir), natsserver.WithPort(port)))
	}
	n, err := Start(testwait.Context(t), append(opts, server())...)
	if err != nil {
		t.Fatal(err)
	}
	s := newScript("room-1", classroom)
	submitScript(t, n.Client(), "room-1", s)
	all := s.all()

	// A retry of an applied command is answered with the original outcome.
	res, err := n.Client().Submit(testwait.Context(t), "room-1", classroom[3])
	if err != nil || !res.Duplicate {
		t.Fatalf("retry of command 4: %+v, %v; want the duplicate", res, err)
	}
	if diff := cmp.Diff(jsonOf(s.events[3]), jsonOf(res.Events)); diff != "" {
		t.Errorf("retry of command 4 (-want +got):\n%s", diff)
	}

	// Another process's connection, over TCP.
	other := newClient(t, connect(t, n.URL()))
	for after := range uint64(len(all)) + 1 {
		sub, err := other.Subscribe(testwait.Context(t), "room-1", after)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(jsonOf(all[after:]), jsonOf(collect(t, sub, len(all)-int(after)))); diff != "" {
			t.Errorf("Subscribe(after %d) (-want +got):\n%s", after, diff)
		}
		sub.Close()
	}
	live, err := other.Subscribe(testwait.Context(t), "room-1", uint64(len(all)))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Restarted on the same directory and port: the same log and state,
	// from the latest snapshot and the records after it.
	n = startNode(t, append(opts, server())...)
	if snap, err := n.Store().LatestSnapshot(testwait.Context(t), "room-1"); err != nil || snap.State.Seq < 4 {
		t.Errorf("latest snapshot: %+v, %v; want one at seq 4 or later", snap, err)
	}
	if diff := cmp.Diff(jsonOf(all), jsonOf(loggedEvents(t, n.Store(), "room-1"))); diff != "" {
		t.Errorf("log after the restart (-want +got):\n%s", diff)
	}
	st, err := n.Manager().Session(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.State(testwait.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(s.state) {
		t.Errorf("state after the restart:\n%s\nwant\n%s", events.AppendState(nil, got), events.AppendState(nil, s.state))
	}
	// The idempotency window came back from the log.
	if res, err := n.Client().Submit(testwait.Context(t), "room-1", classroom[0]); err != nil || !res.Duplicate {
		t.Errorf("command 1 again after the restart: %+v, %v; want the duplicate", res, err)
	}
	// The session goes on, and the subscription made before sees it.
	more := newScript("room-1", append(classroom[:len(classroom):len(classroom)],
		core.Command{ID: "10", Type: core.SetAudio, Actor: "bob", Enabled: true}))
	submitScript(t, n.Client(), "room-1", more.from(len(classroom)))
	if diff := cmp.Diff(jsonOf(more.from(len(classroom)).all()), jsonOf(collect(t, live, 1))); diff != "" {
		t.Errorf("subscription across the restart (-want +got):\n%s", diff)
	}
}

// newClient is NewClient for tests.
func newClient(t *testing.T, nc *gonats.Conn, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOptions checks that bad option values are refused, by the
// constructor of their kind and by Start.
func TestOptions(t *testing.T) {
	nc := connect(t, startServer(t).ClientURL())
	bad := []struct {
		name string
		opt  NodeOption
		new  func() error // the constructor of the option's kind
	}{
		{"WithStream", WithStream("a.b"), func() error { _, err := NewClient(nc, WithStream("a.b")); return err }},
		{"WithPrefix a..b", WithPrefix("a..b"), func() error { _, err := NewService(testwait.Context(t), nc, nil, WithPrefix("a..b")); return err }},
		{"WithPrefix empty", WithPrefix(""), func() error { _, err := NewClient(nc, WithPrefix("")); return err }},
		{"WithReplicas", WithReplicas(0), func() error { _, err := NewStore(testwait.Context(t), nc, WithReplicas(0)); return err }},
		{"WithDuplicateWindow", WithDuplicateWindow(0), func() error { _, err := NewStore(testwait.Context(t), nc, WithDuplicateWindow(0)); return err }},
		{"WithStoreTimeout", WithStoreTimeout(0), func() error { _, err := NewStore(testwait.Context(t), nc, WithStoreTimeout(0)); return err }},
		{"WithQueue", WithQueue(""), func() error { _, err := NewService(testwait.Context(t), nc, nil, WithQueue("")); return err }},
		{"WithMaxCommand", WithMaxCommand(1), func() error { _, err := NewService(testwait.Context(t), nc, nil, WithMaxCommand(1)); return err }},
		{"WithConcurrency", WithConcurrency(0), func() error { _, err := NewService(testwait.Context(t), nc, nil, WithConcurrency(0)); return err }},
		{"WithRequestTimeout", WithRequestTimeout(0), func() error { _, err := NewClient(nc, WithRequestTimeout(0)); return err }},
		{"WithSubmitTimeout", WithSubmitTimeout(-1), func() error { _, err := NewClient(nc, WithSubmitTimeout(-1)); return err }},
		{"WithURL", WithURL(""), nil},
		{"WithEmbeddedServer", WithEmbeddedServer(nil), nil},
	}
	for _, tc := range bad {
		if tc.new == nil {
			// A node option: Start is its constructor.
		} else if err := tc.new(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: its constructor's error = %v, want ErrInvalidOption", tc.name, err)
		}
		if _, err := Start(testwait.Context(t), WithURL(nc.ConnectedUrl()), tc.opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: Start's error = %v, want ErrInvalidOption", tc.name, err)
		}
	}
	if _, err := NewClient(nc, nil, WithPrefix("acme.gavel")); err != nil {
		t.Errorf("nil option and a dotted prefix: %v", err)
	}
}

// TestOptionKinds: each option configures the constructors it means
// something to, and no other, even through an interface conversion.
func TestOptionKinds(t *testing.T) {
	kinds := func(o any) string {
		var k []string
		if _, ok := o.(StoreOption); ok {
			k = append(k, "store")
		}
		if _, ok := o.(ServiceOption); ok {
			k = append(k, "service")
		}
		if _, ok := o.(ClientOption); ok {
			k = append(k, "client")
		}
		if _, ok := o.(RouterOption); ok {
			k = append(k, "router")
		}
		if _, ok := o.(NodeOption); ok {
			k = append(k, "node")
		}
		return strings.Join(k, " ")
	}
	got := map[string]string{
		"WithURL":             kinds(WithURL("nats://127.0.0.1:4222")),
		"WithEmbeddedServer":  kinds(WithEmbeddedServer(nil)),
		"WithNATSOptions":     kinds(WithNATSOptions()),
		"WithSessionOptions":  kinds(WithSessionOptions()),
		"WithStream":          kinds(WithStream("S")),
		"WithPrefix":          kinds(WithPrefix("p")),
		"WithStoreTimeout":    kinds(WithStoreTimeout(time.Second)),
		"WithReplicas":        kinds(WithReplicas(1)),
		"WithMemoryStorage":   kinds(WithMemoryStorage()),
		"WithDuplicateWindow": kinds(WithDuplicateWindow(time.Minute)),
		"WithQueue":           kinds(WithQueue("q")),
		"WithMaxCommand":      kinds(WithMaxCommand(1024)),
		"WithConcurrency":     kinds(WithConcurrency(1)),
		"WithRequestTimeout":  kinds(WithRequestTimeout(time.Second)),
		"WithSubmitTimeout":   kinds(WithSubmitTimeout(time.Second)),
		"WithNode":            kinds(WithNode("n1", func(string) string { return "" })),
		"WithForwardTimeout":  kinds(WithForwardTimeout(time.Second)),
		"WithRouting":         kinds(WithRouting("n1", func(string) string { return "" })),
	}
	want := map[string]string{
		"WithURL":             "node",
		"WithEmbeddedServer":  "node",
		"WithNATSOptions":     "node",
		"WithSessionOptions":  "node",
		"WithStream":          "store client node",
		"WithPrefix":          "store service client router node",
		"WithStoreTimeout":    "store client node",
		"WithReplicas":        "store node",
		"WithMemoryStorage":   "store node",
		"WithDuplicateWindow": "store node",
		"WithQueue":           "service node",
		"WithMaxCommand":      "service node",
		"WithConcurrency":     "service node",
		"WithRequestTimeout":  "client node",
		"WithSubmitTimeout":   "client node",
		"WithNode":            "service node",
		"WithForwardTimeout":  "router node",
		"WithRouting":         "node",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("what each option configures (-want +got):\n%s", d)
	}
}

// TestOptionsReachTheirPart: Start hands each option to the part it
// configures.
func TestOptionsReachTheirPart(t *testing.T) {
	cfg := defaultNode()
	for _, o := range []NodeOption{WithPrefix("p"), WithStream("S"), WithStoreTimeout(time.Second), WithReplicas(3),
		WithQueue("q"), WithRequestTimeout(3 * time.Second), WithForwardTimeout(time.Second), WithNode("n1", func(string) string { return "n1" })} {
		if err := o.applyNode(&cfg); err != nil {
			t.Fatal(err)
		}
	}
	want := defaultNode()
	for _, sh := range []*shared{&want.store.shared, &want.service.shared, &want.client.shared, &want.router.shared} {
		sh.prefix = "p"
	}
	for _, sh := range []*shared{&want.store.shared, &want.client.shared} {
		sh.stream, sh.storeWait = "S", time.Second
	}
	want.store.replicas, want.service.queue, want.client.requestTimeout = 3, "q", 3*time.Second
	want.router.timeout, want.service.node = time.Second, "n1"
	if cfg.service.home == nil || cfg.service.home("x") != "n1" {
		t.Error("WithNode's home function did not reach the service")
	}
	cfg.service.home = nil // funcs do not compare
	if d := cmp.Diff(want, cfg, cmp.AllowUnexported(nodeConfig{}, storeConfig{}, serviceConfig{}, clientConfig{}, routerConfig{}, shared{})); d != "" {
		t.Errorf("node config (-want +got):\n%s", d)
	}
}

// TestStartNeedsOneServer: Start refuses options that name no server or
// two, and shuts down the embedded server it was given when it fails.
func TestStartNeedsOneServer(t *testing.T) {
	if _, err := Start(testwait.Context(t), WithSessionOptions()); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Start without a server: %v, want ErrInvalidOption", err)
	}
	srv := embeddedServer(t)
	_, err := Start(testwait.Context(t), WithReplicas(0), WithURL(srv.ClientURL()), WithEmbeddedServer(srv))
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Start with two servers and a bad option: %v, want ErrInvalidOption", err)
	}
	done := make(chan struct{})
	go func() {
		srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		srv.Shutdown()
		t.Error("the embedded server of a failed Start is still running")
	}
}

// TestClientLinksNoServer: package nats does not depend on nats-server;
// natsserver does, alone.
func TestClientLinksNoServer(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gobin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/nats-io/nats-server") || strings.HasSuffix(dep, "/natsserver") {
			t.Errorf("transport/nats depends on %s", dep)
		}
	}
}
