package nats

import (
	"context"
	"errors"
	"sync"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
)

// Router is a session.Router on NATS: it sends each command of a session
// to the session's home, the node its home function names, as a request
// on <prefix>.decide.<home>.<session>, which the home's Service
// (WithNode) serves by deciding the command itself. All nodes must share
// the prefix and give every session the same home (relay.Hub.Home, a
// rendezvous choice over the live nodes, is such a function); when they
// do not, for a moment, commands are decided on more than one node, which
// costs conflicts, not correctness.
//
// A home on another NATS server of the cluster is reached directly: the
// Router asks it once for its server's URL (a request on
// <prefix>.decide.<home>) and connects there, with the options of its own
// connection (credentials, TLS), so that a command and its answer do not
// cross a route between two servers on their way (BENCHMARKS.md,
// "Throughput across nodes"). Until that connection is up, and whenever it
// is down, commands go through the Router's own connection.
//
// Each command is its own request, sent at once: batching a node's
// routed commands (one request in flight per home, the commands routed
// meanwhile in the next) was tried and gave less, not more. It is safe
// for concurrent use; Close it when done.
type Router struct {
	nc      *gonats.Conn
	node    string
	home    func(session string) string
	subject string // <prefix>.decide.
	timeout time.Duration

	life   context.Context // the dials'; Close ends it
	cancel context.CancelFunc
	dials  sync.WaitGroup

	mu     sync.Mutex
	direct map[string]*direct // by home
	closed bool
}

// direct is the Router's connection to one home's server.
type direct struct {
	nc      *gonats.Conn // nil: none; the Router's own serves
	dialing bool
	next    time.Time // no dial before: after a failure, or a home on the Router's own server
}

// redialWait is how long a Router waits before it asks a home for its
// server again, after it could not connect there or found the home on
// its own server.
const redialWait = 5 * time.Second

// NewRouter returns the Router of node, on nc: home(session) names the
// node that decides session ("" for none: decide here). Options:
// WithPrefix (as the services'), WithForwardTimeout.
func NewRouter(nc *gonats.Conn, node string, home func(session string) string, opts ...RouterOption) (*Router, error) {
	cfg := defaultRouter()
	if err := apply(&cfg, opts, RouterOption.applyRouter); err != nil {
		return nil, err
	}
	return newRouterWith(nc, node, home, cfg)
}

func newRouterWith(nc *gonats.Conn, node string, home func(session string) string, cfg routerConfig) (*Router, error) {
	if nc == nil {
		return nil, invalid("nil NATS connection")
	}
	if err := checkRouting(node, home); err != nil {
		return nil, err
	}
	r := &Router{nc: nc, node: node, home: home, subject: newSubjects(cfg.prefix).decide, timeout: cfg.timeout,
		direct: make(map[string]*direct)}
	r.life, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Route implements session.Router: it asks the home to decide cmd, for
// WithForwardTimeout at most, and returns its outcome. It returns routed
// false, for this node to decide cmd, when this node is the home, when
// there is none, and when the home gave no outcome: no node of that name
// listens (it is gone), no answer came in time, the answer was a passing
// failure (ErrUnavailable: its store out of reach, its manager closing)
// or not a reply.
func (r *Router) Route(ctx context.Context, id string, cmd core.Command) (session.Result, bool, error) {
	home := r.home(id)
	if home == "" || home == r.node || !validNode(home) {
		return session.Result{}, false, nil
	}
	tok, err := SessionToken(id)
	if err != nil {
		return session.Result{}, false, nil // the manager refuses it as it would anyway
	}
	buf := cmdBufs.Get().(*[]byte)
	*buf = events.AppendCommand((*buf)[:0], cmd)
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	m, err := r.conn(home).RequestWithContext(rctx, r.subject+home+"."+tok, *buf) // copies *buf
	cancel()
	cmdBufs.Put(buf)
	if err != nil {
		if ctx.Err() != nil {
			return session.Result{}, true, ctx.Err()
		}
		return session.Result{}, false, nil
	}
	res, err := decodeReply(m.Data)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBadReply) {
		return session.Result{}, false, nil
	}
	return res, true, err
}

// cmdBufs holds command buffers, reused from one routed command to the
// next.
var cmdBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// conn returns the connection to send home's commands on: the direct one
// when it is up, else the Router's own, starting a dial in the
// background when one is due.
func (r *Router) conn(home string) *gonats.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.direct[home]
	if d == nil {
		d = &direct{}
		r.direct[home] = d
	}
	if d.nc != nil && d.nc.IsConnected() {
		return d.nc
	}
	if !d.dialing && !r.closed && !time.Now().Before(d.next) {
		d.dialing = true
		r.dials.Add(1)
		go r.dial(home, d)
	}
	return r.nc
}

// dial connects d to home's server, and closes the connection it
// replaces.
func (r *Router) dial(home string, d *direct) {
	defer r.dials.Done()
	nc, err := r.connect(home)
	r.mu.Lock()
	d.dialing = false
	if err != nil {
		d.next = time.Now().Add(redialWait)
	}
	stale := nc // Close has taken the connections: this one too
	if !r.closed {
		stale, d.nc = d.nc, nc
	}
	r.mu.Unlock()
	if stale != nil {
		stale.Close()
	}
}

// errSameServer: the home is on the Router's own server: no connection
// of its own needed.
var errSameServer = errors.New("gavel/nats: the home is on this server")

// connect asks home for its server and connects there.
func (r *Router) connect(home string) (*gonats.Conn, error) {
	ctx, cancel := context.WithTimeout(r.life, r.timeout)
	defer cancel()
	m, err := r.nc.RequestWithContext(ctx, r.subject+home, nil)
	if err != nil {
		return nil, err
	}
	url, server := m.Header.Get(headerURL), m.Header.Get(headerServer)
	switch {
	case url == "" || server == "":
		return nil, ErrBadReply
	case server == r.nc.ConnectedServerName():
		return nil, errSameServer
	}
	o := r.nc.Opts // its credentials, TLS, timeouts
	o.Url, o.Servers, o.InProcessServer, o.Name = url, nil, nil, "gavel router to "+home
	o.AllowReconnect, o.IgnoreDiscoveredServers, o.NoRandomize = false, true, true
	o.ClosedCB, o.DisconnectedCB, o.DisconnectedErrCB, o.ConnectedCB, o.ReconnectedCB = nil, nil, nil, nil, nil
	o.DiscoveredServersCB, o.AsyncErrorCB, o.LameDuckModeHandler = nil, nil, nil
	nc, err := o.Connect()
	if err != nil {
		return nil, err
	}
	if nc.ConnectedServerName() != server { // the URL is not the home's from here (0.0.0.0, another network)
		nc.Close()
		return nil, errors.New("gavel/nats: the home's server URL leads to another server")
	}
	return nc, nil
}

// Headers of the services' answers: to a request on <prefix>.decide.<node>,
// where the node's service is connected; to a command on
// <prefix>.cmd.<session> (WithNode), the session's home.
const (
	headerURL    = "Gavel-Url"
	headerServer = "Gavel-Server"
	headerHome   = "Gavel-Home"
)

// Close closes the Router's connections to the homes' servers, once the
// dials under way have ended. Route goes on working, through the Router's
// own connection.
func (r *Router) Close() {
	r.mu.Lock()
	r.closed = true
	var conns []*gonats.Conn
	for _, d := range r.direct {
		if d.nc != nil {
			conns = append(conns, d.nc)
			d.nc = nil
		}
	}
	r.mu.Unlock()
	r.cancel()
	r.dials.Wait()
	for _, nc := range conns {
		nc.Close()
	}
}
