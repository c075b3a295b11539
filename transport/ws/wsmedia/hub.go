package wsmedia

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
)

// DefaultConnectTimeout is how long Connect waits for a router to catch up
// with the session by default.
const DefaultConnectTimeout = 5 * time.Second

// ErrClosed: the Hub is closed.
var ErrClosed = errors.New("wsmedia: hub closed")

// Option configures New. A nil Option is skipped.
type Option func(*config) error

type config struct {
	router         []media.Option
	connectTimeout time.Duration
	onError        func(error)
}

// WithRouterOptions sets the options of every router the hub starts, such
// as media.WithNetwork. The hub starts a router per session with media, so
// the factories of media.WithStages make each router stages of its own.
func WithRouterOptions(opts ...media.Option) Option {
	return func(c *config) error {
		c.router = append(c.router, opts...)
		return nil
	}
}

// WithConnectTimeout sets how long Connect waits for the session's router
// to have the participant joined (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("wsmedia: connect timeout not above 0")
		}
		c.connectTimeout = d
		return nil
	}
}

// WithErrorHandler sets f to be told why a room stopped following its
// session when nobody asked it to (a subscription that failed, a store
// error), and of errors closing a router. It is called from the room's
// goroutine and must not block. The routers' own errors go to
// media.WithErrorHandler, in WithRouterOptions.
func WithErrorHandler(f func(error)) Option {
	return func(c *config) error {
		c.onError = f
		return nil
	}
}

// Hub runs the media routers of a session.Manager's sessions for the
// websocket transport (see the package doc). Its methods are safe for
// concurrent use.
type Hub struct {
	m   *session.Manager
	cfg config

	ctx    context.Context // the parent of every room's context; Close ends it
	cancel context.CancelFunc

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
	wg     sync.WaitGroup // one per room's goroutine
}

// room is one session's router, with the media connections that use it.
type room struct {
	id    string
	ready chan struct{} // closed once r (or err) is set

	// Set before ready is closed.
	r   *media.Router
	err error

	// Guarded by Hub.mu.
	peers int                // Connects in progress and peers not yet closed
	stop  context.CancelFunc // ends the room's goroutine
}

// New returns a Hub for the sessions of m. The Hub does not close m.
func New(m *session.Manager, opts ...Option) (*Hub, error) {
	if m == nil {
		return nil, errors.New("wsmedia: nil session manager")
	}
	cfg := config{connectTimeout: DefaultConnectTimeout}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	h := &Hub{m: m, cfg: cfg, rooms: make(map[string]*room)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Connect opens participant's PeerConnection with the router of session
// (ws.MediaHub). It fails at once with session_ended or not_joined (a
// *core.Error) when the session says so, as read from the store's log
// (Manager.Sync: a record another node stored is seen, even before this
// node's follow stream delivers it).
func (h *Hub) Connect(ctx context.Context, session, participant string) (ws.MediaPeer, error) {
	st, err := h.m.Sync(ctx, session)
	switch {
	case err != nil:
		return nil, err
	case st.Ended():
		return nil, core.Errorf(core.CodeSessionEnded, "session %q has ended", session)
	case !st.Joined(participant):
		return nil, core.Errorf(core.CodeNotJoined, "%q has not joined session %q", participant, session)
	}
	rm, err := h.acquire(ctx, session)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.connectTimeout)
	p, err := rm.r.ConnectAt(cctx, participant, st.Seq())
	cancel()
	if err != nil {
		h.release(rm)
		return nil, err
	}
	return &peer{p: p, release: sync.OnceFunc(func() { h.release(rm) })}, nil
}

// acquire returns the session's room, started if need be, counting one
// more user of it; release gives it back.
func (h *Hub) acquire(ctx context.Context, id string) (*room, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		rm := h.rooms[id]
		if rm == nil {
			rm = &room{id: id, ready: make(chan struct{}), peers: 1}
			h.rooms[id] = rm
			h.mu.Unlock()
			rm.err = h.start(ctx, rm)
			if rm.err != nil {
				h.forget(rm)
			}
			close(rm.ready)
			return rm, rm.err
		}
		rm.peers++
		h.mu.Unlock()
		select {
		case <-rm.ready:
		case <-ctx.Done():
			h.release(rm)
			return nil, ctx.Err()
		}
		if rm.err == nil {
			return rm, nil
		}
		// Its opener failed (its own ctx, say): try again.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// start makes the room's router from the session's state and starts the
// goroutine that feeds it the session's events.
func (h *Hub) start(ctx context.Context, rm *room) error {
	st, sub, err := h.m.Watch(ctx, rm.id)
	if err != nil {
		return err
	}
	r, err := media.NewRouter(st, h.cfg.router...)
	if err != nil {
		sub.Close()
		return err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		sub.Close()
		return errors.Join(ErrClosed, r.Close(context.Background()))
	}
	ctx, cancel := context.WithCancel(h.ctx)
	rm.r, rm.stop = r, cancel
	h.wg.Add(1)
	h.mu.Unlock()
	go h.run(ctx, rm, sub)
	return nil
}

// run feeds the room's router the session's events until the session ends,
// the room is stopped, or the events cannot be had; then it closes the
// router.
func (h *Hub) run(ctx context.Context, rm *room, sub *session.Subscription) {
	defer h.wg.Done()
	for {
		err := rm.r.Run(ctx, sub)
		sub.Close()
		if err == nil || ctx.Err() != nil || errors.Is(err, session.ErrClosed) {
			break // the session ended, the room was stopped, or the manager closed
		}
		if !errors.Is(err, session.ErrSlowSubscriber) && !errors.Is(err, media.ErrSequenceGap) {
			h.report(fmt.Errorf("wsmedia: session %q: %w", rm.id, err))
			break
		}
		if sub, err = h.m.Subscribe(ctx, rm.id, rm.r.State().Seq()); err != nil {
			if ctx.Err() == nil && !errors.Is(err, session.ErrClosed) {
				h.report(fmt.Errorf("wsmedia: session %q: resubscribing: %w", rm.id, err))
			}
			break
		}
	}
	h.forget(rm)
	h.mu.Lock()
	rm.stop()
	h.mu.Unlock()
	if err := rm.r.Close(context.Background()); err != nil {
		h.report(fmt.Errorf("wsmedia: session %q: closing the router: %w", rm.id, err))
	}
}

// Router returns the router of session's room while one runs, for its
// State and TrackStats. The hub feeds it the session's events and closes
// it: do neither.
func (h *Hub) Router(session string) (*media.Router, bool) {
	h.mu.Lock()
	rm := h.rooms[session]
	h.mu.Unlock()
	if rm == nil {
		return nil, false
	}
	select {
	case <-rm.ready:
		return rm.r, rm.err == nil
	default:
		return nil, false
	}
}

// release gives back one use of the room; the last stops it.
func (h *Hub) release(rm *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rm.peers--
	if rm.peers == 0 && h.rooms[rm.id] == rm {
		delete(h.rooms, rm.id)
		rm.stop() // set: its opener counts until the room is ready
	}
}

// forget takes the room out of the hub, if it is still there: a later
// Connect starts a new one.
func (h *Hub) forget(rm *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[rm.id] == rm {
		delete(h.rooms, rm.id)
	}
}

func (h *Hub) report(err error) {
	if h.cfg.onError != nil {
		h.cfg.onError(err)
	}
}

// Close closes every room (their routers close every PeerConnection) and
// returns when their goroutines have stopped, or with ctx's error when ctx
// ends first (they still stop). Connect fails with ErrClosed from now on.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() { // ends when the last room has
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wsmedia: closing: %w", ctx.Err())
	}
}
