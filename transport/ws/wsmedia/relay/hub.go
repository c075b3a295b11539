package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/transport/ws"
)

// Errors of Connect, which the websocket transport turns into media_closed
// with refused unavailable.
var (
	// ErrClosed: the Hub is closed.
	ErrClosed = errors.New("relay: hub closed")
	// ErrNoHome: no node is live, this one included (its heartbeats
	// fail: NATS is out of reach).
	ErrNoHome = errors.New("relay: no live node to be the media home")
)

// errNotHome: the node asked is not the session's home (the nodes' views
// differ for a moment, or it is gone): ask again once the view changes.
var errNotHome = errors.New("relay: not the session's media home")

// Hub is a ws.MediaHub for one node of several: it opens each
// participant's media connection at the session's media home, in local
// (the node's own hub, such as a wsmedia.Hub) when the home is this node,
// else at the home through NATS. It also serves the media connections the
// other nodes relay to this one. See the package doc. Its methods are safe
// for concurrent use.
type Hub struct {
	node  string
	local ws.MediaHub
	nc    *nats.Conn
	subj  subjects
	cfg   config
	reg   *registry
	sub   *nats.Subscription // <prefix>.media.<node>.connect
	slots chan struct{}      // one per connect being served

	life   context.Context // served connections' goroutines; Close ends it
	cancel context.CancelFunc
	wg     sync.WaitGroup // served connections' goroutines

	mu      sync.Mutex
	nodes   []string      // the live nodes, as the registry last said
	changed chan struct{} // closed and replaced when nodes change
	peers   map[tracked]struct{}
	closed  bool
}

// tracked is an open media connection of the hub, of any of the three
// kinds: homed here for a socket here (localPeer), homed elsewhere for a
// socket here (remotePeer), homed here for a socket elsewhere
// (servedPeer).
type tracked interface {
	placement() placement
	// end ends the connection for v (moved or orphaned) or because the
	// hub closes (keep): its transport is told, then closes it. end does
	// not block.
	end(v verdict)
}

// New starts the hub of node on nc: it registers node in the bucket of
// live nodes (creating the bucket if need be), waits until it has read the
// bucket (until ctx ends, and WithRequestTimeout at most), and serves the
// connections other nodes relay to this one. local
// opens the connections of the sessions homed here; the Hub does not close
// it. node is this node's id among the nodes sharing NATS: [A-Za-z0-9_-],
// 1 to 64 bytes, unique. Close the Hub before local.
func New(ctx context.Context, nc *nats.Conn, node string, local ws.MediaHub, opts ...Option) (_ *Hub, err error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	switch {
	case nc == nil:
		return nil, invalid("nil NATS connection")
	case local == nil:
		return nil, invalid("nil local hub")
	case !validToken(node):
		return nil, invalid("node id %q: want [A-Za-z0-9_-], 1 to 64 bytes", node)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("relay: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.requestTimeout)
	defer cancel()
	h := &Hub{node: node, local: local, nc: nc, subj: newSubjects(cfg.prefix), cfg: cfg,
		slots: make(chan struct{}, cfg.maxConnects), changed: make(chan struct{}), peers: make(map[tracked]struct{})}
	h.life, h.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			h.cancel()
		}
	}()
	// Serve before registering: a node that others see can be asked.
	if h.sub, err = nc.Subscribe(h.subj.connect(node), h.handleConnect); err != nil {
		return nil, fmt.Errorf("relay: subscribe: %w", err)
	}
	if err = nc.FlushWithContext(ctx); err == nil {
		h.reg, err = joinRegistry(ctx, js, cfg, node, h.setNodes, h.report)
	}
	if err != nil {
		_ = h.sub.Unsubscribe()
		return nil, err
	}
	return h, nil
}

// Node is this node's id.
func (h *Hub) Node() string { return h.node }

// Nodes returns the live nodes as this node sees them, sorted.
func (h *Hub) Nodes() []string { return slices.Clone(h.liveNodes()) }

// Home returns the media home of session as this node sees it, "" when
// no node is live.
func (h *Hub) Home(session string) string { return Home(session, h.liveNodes()) }

// liveNodes is nodes; the registry replaces the slice, never changes it.
func (h *Hub) liveNodes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodes
}

// setNodes takes the registry's new view and ends the connections it
// displaces.
func (h *Hub) setNodes(nodes []string) {
	h.mu.Lock()
	h.nodes = nodes
	close(h.changed)
	h.changed = make(chan struct{})
	var ends []tracked
	var why []verdict
	for p := range h.peers {
		if v := judge(nodes, p.placement()); v != keep {
			ends, why = append(ends, p), append(why, v)
		}
	}
	h.mu.Unlock()
	for i, p := range ends {
		p.end(why[i])
	}
}

// Connect opens participant's media connection at session's media home
// (ws.MediaHub). When the home moves, the connection ends and Next's error
// matches ws.ErrMediaMoved. It fails with the *core.Error of the home's
// hub (not_joined, session_ended), ErrNoHome, ErrClosed, or another error
// when the home could not be reached in time (WithRequestTimeout).
func (h *Hub) Connect(ctx context.Context, session, participant string) (ws.MediaPeer, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.requestTimeout)
	defer cancel()
	wait := 10 * time.Millisecond
	for {
		h.mu.Lock()
		closed, nodes, changed := h.closed, h.nodes, h.changed
		h.mu.Unlock()
		home := Home(session, nodes)
		switch {
		case closed:
			return nil, ErrClosed
		case home == "":
			return nil, ErrNoHome
		}
		var p interface {
			tracked
			ws.MediaPeer
		}
		var err error
		if home == h.node {
			p, err = h.connectLocal(ctx, session, participant)
		} else {
			p, err = h.connectRemote(ctx, home, session, participant)
		}
		if err == nil {
			if h.track(p) {
				return p, nil
			}
			// The home moved meanwhile.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.requestTimeout)
			_ = p.Close(cctx)
			ccancel()
			err = errNotHome
		}
		if !errors.Is(err, errNotHome) {
			return nil, err
		}
		// The nodes' views differ: ask again once this one's changes, or
		// a little later (the home's may be the one behind).
		timer := time.NewTimer(wait)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("relay: connecting %q in %q (home %s): %w", participant, session, home, ctx.Err())
		}
		timer.Stop()
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// track adds p to the hub's connections, unless the hub is closed or p's
// session is homed elsewhere now.
func (h *Hub) track(p tracked) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || judge(h.nodes, p.placement()) != keep {
		return false
	}
	h.peers[p] = struct{}{}
	return true
}

func (h *Hub) untrack(p tracked) {
	h.mu.Lock()
	delete(h.peers, p)
	h.mu.Unlock()
}

func (h *Hub) report(err error) {
	if h.cfg.onError != nil {
		h.cfg.onError(err)
	}
}

// Close stops serving, deregisters the node (the others move its sessions'
// media at once; when the key cannot be deleted, the cluster having lost
// its quorum say, the error handler hears of it and the key expires within
// the TTL), ends every media connection of the hub (those homed here
// with reason moved) and waits until the connections it served for other
// nodes are closed, or ctx ends. Connect fails with ErrClosed from now on.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	peers := make([]tracked, 0, len(h.peers))
	for p := range h.peers {
		peers = append(peers, p)
	}
	h.mu.Unlock()
	var errs []error
	if err := h.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		errs = append(errs, fmt.Errorf("relay: unsubscribe: %w", err))
	}
	errs = append(errs, h.reg.leave(ctx))
	for _, p := range peers {
		p.end(keep)
	}
	h.cancel()
	done := make(chan struct{})
	go func() { // ends when the last served connection has
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("relay: closing: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// subjects are the relay's subjects, under <prefix>.media:
//
//	<prefix>.media.<home>.connect             connect requests to a home
//	<prefix>.media.<home>.peer.<id>.signal    a participant's signal, to the connection the home serves
//	<prefix>.media.<home>.peer.<id>.close     close it
//	<prefix>.media.<via>.out.<id>             the home's signals, to the node whose socket the participant is on
type subjects struct{ media string }

func newSubjects(prefix string) subjects { return subjects{media: prefix + ".media."} }

func (s subjects) connect(node string) string  { return s.media + node + ".connect" }
func (s subjects) peer(node, id string) string { return s.media + node + ".peer." + id }
func (s subjects) out(node, id string) string  { return s.media + node + ".out." + id }
