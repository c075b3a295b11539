// Package clustertest runs three gavel nodes inside a test process, as a
// deployment behind a load balancer runs them: a three-node NATS cluster
// (package internal/natscluster) whose stream has three replicas, and on
// each server a node (as transport/nats.Start makes one: the JetStream
// store, a session.Manager that follows it and routes each session's
// commands to its home, the NATS command service and a Client) with a
// websocket endpoint (transport/ws) on a loopback port. Every node
// shares one token key, so a participant's token is good on any node.
// Node i is named NodeName(i); a session's home is relay.Home over the
// three names, whether they run or not (a node that is down is not asked
// twice: its Router finds no responder and decides itself).
//
//	c := clustertest.Start(t, presets)                // skipped under -short
//	url := c.Node(1).WSURL() + "?token=" + c.Token("room-1", "alice", "host")
//	res, err := c.Node(2).Client.Submit(ctx, "room-1", cmd)
//	c.Stop(t, 0)    // gracefully: goodbye shutdown, the service drained
//	c.Kill(0)       // at once: sockets cut, no goodbye, commands in flight unanswered
//	c.Restart(t, 0) // same ports, same data
//
// A test of media over several nodes starts its own servers
// (internal/gavelserver with Config.NATSURL) on natscluster.Start's URLs
// instead.
//
// Package clustertest imports transport/nats, transport/ws,
// transport/ws/wsmedia/relay (its Home), session, core,
// internal/natscluster, internal/testwait and the standard library
// (testing among it). Only tests import it.
package clustertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
)

// Size is the number of nodes.
const Size = natscluster.Size

// NodeName is the name of node i, as its service serves routed commands
// (transport/nats.WithNode) and Home names it.
func NodeName(i int) string { return fmt.Sprintf("n%d", i) }

// Home is the node that decides session's commands when routing is on:
// relay.Home over the names of the three nodes.
func Home(session string) string { return relay.Home(session, names[:]) }

var names = [Size]string{NodeName(0), NodeName(1), NodeName(2)}

// Cluster is three gavel nodes on a three-node NATS cluster.
type Cluster struct {
	// NATS is the NATS cluster; node i runs on its server i.
	NATS *natscluster.Cluster
	// Key signs the tokens every node takes.
	Key []byte

	presets core.Presets
	opts    options
	mu      sync.Mutex
	nodes   [Size]*Node
}

// Node is one gavel node: what transport/nats.Start makes (a connection
// to its server, the JetStream store, a session.Manager on it, the command
// service, a client), assembled here so that a test can wrap the store
// (WithStore), and a websocket endpoint. Its fields are set by Start and
// Restart and not changed after; after a Stop or a Kill they are the
// stopped node's.
type Node struct {
	// Conn is the node's NATS connection, to its own server.
	Conn *gonats.Conn
	// Store is the JetStream store; the manager runs on it, or on what
	// WithStore made of it.
	Store *gnats.Store
	// Manager runs the node's sessions.
	Manager *session.Manager
	// Router routes the node's commands to their sessions' homes (nil
	// with WithoutRouting).
	Router *gnats.Router
	// Service answers commands on NATS; Client submits them there.
	Service *gnats.Service
	Client  *gnats.Client
	// WS is the websocket endpoint, served on WSURL.
	WS *ws.Server

	http   *http.Server
	ln     *trackedListener
	served chan struct{}
	down   chan struct{} // closed when Stop or Kill has stopped the node
	addr   string

	closeOnce sync.Once
	closeErr  error
}

// WSURL is the websocket URL of the node: ws://127.0.0.1:port/. It stays
// the same across Restart.
func (n *Node) WSURL() string { return "ws://" + n.addr + "/" }

// An Option configures Start.
type Option func(*options)

type options struct {
	session   []session.Option
	ws        []ws.Option
	store     func(node int, st *gnats.Store) session.Store
	noRouting bool
}

// WithoutRouting starts nodes without routers: each decides the commands
// it is given, and their appends conflict.
func WithoutRouting() Option {
	return func(o *options) { o.noRouting = true }
}

// WithStore runs node i's manager on wrap(i, st) instead of its store st:
// a wrapper that injects a fault, or watches the appends. A wrapper that
// embeds *gnats.Store keeps its capabilities (session.Follower among
// them); one that hides Follow makes a node that does not follow.
func WithStore(wrap func(node int, st *gnats.Store) session.Store) Option {
	return func(o *options) { o.store = wrap }
}

// WithSessionOptions adds options to every node's session.Manager, after
// the presets.
func WithSessionOptions(opts ...session.Option) Option {
	return func(o *options) { o.session = append(o.session, opts...) }
}

// WithWSOptions adds options to every node's websocket endpoint.
func WithWSOptions(opts ...ws.Option) Option {
	return func(o *options) { o.ws = append(o.ws, opts...) }
}

// Start starts a NATS cluster and a node on each server, whose sessions
// have presets, and stops them when the test ends; it skips the test under
// -short. It returns once the stream has a leader and two current
// followers.
func Start(t testing.TB, presets core.Presets, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{NATS: natscluster.Start(t), Key: make([]byte, ws.MinKeySize), presets: presets}
	rand.Read(c.Key)
	for _, o := range opts {
		o(&c.opts)
	}
	testwait.Cleanup(t, func(ctx context.Context) {
		for i := range Size {
			c.mu.Lock()
			n := c.nodes[i]
			c.mu.Unlock()
			if n != nil {
				n.close(ctx)
			}
		}
	})
	for i := range Size {
		// One at a time: the first creates the stream.
		c.start(t, i, "127.0.0.1:0")
	}
	c.NATS.StreamLeader(t, c.Node(0).Conn, gnats.DefaultStream, 2)
	return c
}

// start starts node i on its server, its websocket endpoint on addr.
func (c *Cluster) start(t testing.TB, i int, addr string) {
	t.Helper()
	n := &Node{served: make(chan struct{}), down: make(chan struct{})}
	fail := func(err error) {
		t.Helper()
		if n.WS != nil {
			n.WS.Close()
		}
		n.closeParts(testwait.Context(t))
		t.Fatalf("node %d: %v", i, err)
	}
	var err error
	ctx := testwait.Context(t)
	// In process, as transport/nats.Start connects to its embedded server.
	// The 2 s default reconnect wait would dominate a failover.
	if n.Conn, err = gonats.Connect(c.NATS.URL(i), gonats.InProcessServer(c.NATS.Server(i)),
		gonats.MaxReconnects(-1), gonats.ReconnectWait(20*time.Millisecond)); err != nil {
		fail(err)
	}
	// A server just back may not answer JetStream requests at once: try
	// again, as a process that restarts would.
	for n.Store, err = gnats.NewStore(ctx, n.Conn, gnats.WithReplicas(Size)); err != nil && ctx.Err() == nil; {
		time.Sleep(50 * time.Millisecond)
		n.Store, err = gnats.NewStore(ctx, n.Conn, gnats.WithReplicas(Size))
	}
	if err != nil {
		fail(err)
	}
	var st session.Store = n.Store
	if c.opts.store != nil {
		st = c.opts.store(i, n.Store)
	}
	sopts := append([]session.Option{session.WithPresets(c.presets)}, c.opts.session...)
	if !c.opts.noRouting {
		if n.Router, err = gnats.NewRouter(n.Conn, NodeName(i), Home); err != nil {
			fail(err)
		}
		sopts = append(sopts, session.WithRouter(n.Router))
	}
	if n.Manager, err = session.NewManager(st, sopts...); err != nil {
		fail(err)
	}
	if n.Service, err = gnats.NewService(ctx, n.Conn, n.Manager, gnats.WithNode(NodeName(i), Home)); err != nil {
		fail(err)
	}
	if n.Client, err = gnats.NewClient(n.Conn); err != nil {
		fail(err)
	}
	if n.WS, err = ws.NewServer(n.Manager, c.Key, c.opts.ws...); err != nil {
		fail(err)
	}
	var ln net.Listener
	for attempt := 0; ; attempt++ { // a restart's port may be held a moment longer
		if ln, err = net.Listen("tcp", addr); err == nil || attempt == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		fail(err)
	}
	n.ln = &trackedListener{Listener: ln, conns: map[net.Conn]bool{}}
	n.addr = ln.Addr().String()
	n.http = &http.Server{Handler: n.WS, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(n.served)
		n.http.Serve(n.ln)
	}()
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
}

// Node is node i (0, 1 or 2): the running one, or the last one that ran.
func (c *Cluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Token mints a token for participant in session with preset, good on
// every node for an hour. It panics if one of them is empty: that is the
// test's mistake.
func (c *Cluster) Token(session, participant, preset string) string {
	tok, err := ws.MintToken(c.Key, ws.Token{Session: session, Participant: participant, Preset: preset, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	return tok
}

// Stop stops node i as an operator does: its websocket clients get
// goodbye shutdown, its command service answers the commands it took, its
// sessions close; then its NATS server stops.
func (c *Cluster) Stop(t testing.TB, i int) {
	t.Helper()
	n := c.Node(i)
	defer close(n.down)
	if err := n.close(testwait.Context(t)); err != nil {
		t.Errorf("stopping node %d: %v", i, err)
	}
	c.NATS.Stop(i)
}

// Kill stops node i as a crash does: at once its sockets are cut (no
// goodbye) and its NATS connection closes, so a command in flight there
// may or may not have been stored, and its client is never told. Kill
// returns then, and what is left of the node winds down in the background
// (Restart waits for it), its NATS server stopping last: so a store
// wrapper (WithStore) may kill its node in the middle of an append.
func (c *Cluster) Kill(i int) {
	n := c.Node(i)
	n.ln.cut()
	n.Conn.Close()
	go func() {
		defer close(n.down)
		ctx, cancel := context.WithTimeout(context.Background(), testwait.Limit)
		defer cancel()
		n.close(ctx) // nothing it does reaches anyone now
		c.NATS.Stop(i)
	}()
}

// Restart starts node i again after Stop or Kill: its NATS server on the
// same ports and data, a new node on it, the websocket endpoint on the
// same address.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	old := c.Node(i)
	testwait.Recv(t, old.down, fmt.Sprintf("node %d to stop", i))
	c.NATS.Restart(t, i)
	c.start(t, i, old.addr)
}

// close shuts the node down: the websocket endpoint (goodbye shutdown to
// clients still there), the HTTP server, then the parts closeParts closes.
func (n *Node) close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		errs := []error{n.WS.Shutdown(ctx)}
		if err := n.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		<-n.served
		n.closeErr = errors.Join(append(errs, n.closeParts(ctx))...)
	})
	return n.closeErr
}

// closeParts closes what the node has of the service (waiting for the
// commands it took), the sessions and the connection, as
// transport/nats.Node.Close does.
func (n *Node) closeParts(ctx context.Context) error {
	var errs []error
	if n.Service != nil {
		errs = append(errs, n.Service.Close(ctx))
	}
	if n.Manager != nil {
		errs = append(errs, n.Manager.Close(ctx))
	}
	if n.Router != nil {
		n.Router.Close()
	}
	if n.Conn != nil {
		n.Conn.Close()
	}
	return errors.Join(errs...)
}

// trackedListener keeps the connections it accepted, so that a kill cuts
// the websocket connections too (the HTTP server forgets hijacked ones).
type trackedListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	dead  bool
}

func (l *trackedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		conn.Close()
		return nil, net.ErrClosed
	}
	l.conns[conn] = true
	return conn, nil
}

// cut closes the listener and every connection it accepted.
func (l *trackedListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead = true
	l.Listener.Close()
	for conn := range l.conns {
		conn.Close()
	}
}
