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
// costs conflicts, not correctness. It is safe for concurrent use and
// needs no Close.
//
// Each command is its own request, sent at once: batching a node's
// routed commands (one request in flight per home, the commands routed
// meanwhile in the next) was tried and gave less, not more (BENCHMARKS.md,
// "Throughput across nodes").
type Router struct {
	nc      *gonats.Conn
	node    string
	home    func(session string) string
	subject string // <prefix>.decide.
	timeout time.Duration
}

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
	switch {
	case nc == nil:
		return nil, invalid("nil NATS connection")
	case home == nil:
		return nil, invalid("nil home function")
	case !validNode(node):
		return nil, invalid("node name %q: want 1 to 64 bytes of [A-Za-z0-9_-]", node)
	}
	return &Router{nc: nc, node: node, home: home, subject: newSubjects(cfg.prefix).decide, timeout: cfg.timeout}, nil
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
	m, err := r.nc.RequestWithContext(rctx, r.subject+home+"."+tok, *buf) // copies *buf
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
