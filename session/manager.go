package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
)

// Manager keeps a service's live sessions, all in one store: it opens a
// session on first use, closes sessions idle for WithIdleTimeout (no
// command, no subscriber), and closes everything on Close. Submit and
// Session create a session the store does not have, with the presets of
// WithPresets; Subscribe, Watch and State do not: for them a session that
// does not exist is an error matching ErrNotFound. All methods are safe for
// concurrent use.
//
// Prefer the Manager's methods to holding a *Session: a session the manager
// closed for idleness answers ErrClosed, and the Manager's methods reopen it.
type Manager struct {
	store Store
	cfg   config
	// life is the manager's own lifetime: sessions are opened under it,
	// never under a caller's context, and Close ends it.
	life context.Context
	end  context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*slot
	leaving  []*Session // stopped, no longer in sessions, maybe not done: Close waits for them
	closed   bool

	quit chan struct{} // stops the janitor
	done chan struct{} // closed when the janitor has stopped
}

// slot is a session being opened (ready open) or open. s and err are set
// before ready closes. create tells whether it is opened to be created if
// need be.
type slot struct {
	ready  chan struct{}
	create bool
	s      *Session
	err    error
}

// NewManager returns a Manager of the sessions kept in store (NewMemStore,
// filestore.Open, a JetStream store …); opts apply to every session it
// opens. Close does not close the store. With an idle timeout it runs one
// goroutine, stopped by Close.
func NewManager(store Store, opts ...Option) (*Manager, error) {
	cfg, err := newConfig(store, opts)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		store:    store,
		cfg:      cfg,
		sessions: make(map[string]*slot),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	m.life, m.end = context.WithCancel(context.Background())
	if cfg.idleTimeout > 0 {
		go m.janitor()
	} else {
		close(m.done)
	}
	return m, nil
}

// janitor closes idle sessions from time to time, on a real-time ticker;
// idleness itself is measured on the clock.
func (m *Manager) janitor() {
	defer close(m.done)
	t := time.NewTicker(max(m.cfg.idleTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.idleTimeout)
			_ = m.CloseIdle(ctx) // a session too busy to answer is not idle
			cancel()
		}
	}
}

// Session returns the open session id, opening it if needed, and creating
// it with the presets of WithPresets if the store does not have it. The
// session is opened under the manager's lifetime, within WithOpenTimeout,
// not under ctx: a caller that goes away stops waiting, and the others
// waiting for the same session still get it. ctx bounds only this caller's
// wait.
func (m *Manager) Session(ctx context.Context, id string) (*Session, error) {
	return m.session(ctx, id, true)
}

// session is Session; unless create is set, a session the store does not
// have is an error matching ErrNotFound.
func (m *Manager) session(ctx context.Context, id string, create bool) (*Session, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, fmt.Errorf("session manager: %w", ErrClosed)
		}
		sl := m.sessions[id]
		if sl == nil {
			sl = &slot{ready: make(chan struct{}), create: create}
			m.sessions[id] = sl
			go m.open(sl, id) // Close waits for it, through sl.ready
		}
		m.mu.Unlock()
		select {
		case <-sl.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if create && !sl.create && errors.Is(sl.err, ErrNotFound) {
			continue // opened by a caller that would not create it: create it
		}
		if sl.err != nil {
			return nil, sl.err
		}
		select {
		case <-sl.s.quit:
			// Closed for idleness: it decides nothing any more. Open it
			// again at once, without waiting for what it does on its way
			// out (its last snapshot, best effort): that is no command's
			// business. Close waits for it.
			m.mu.Lock()
			if m.sessions[id] == sl {
				delete(m.sessions, id)
				m.leaving = append(slices.DeleteFunc(m.leaving, (*Session).isDone), sl.s)
			}
			m.mu.Unlock()
			continue
		default:
		}
		return sl.s, nil
	}
}

// open opens the session of sl, for every caller waiting on it.
func (m *Manager) open(sl *slot, id string) {
	ctx, cancel := context.WithTimeout(m.life, m.cfg.openTimeout)
	defer cancel()
	s, err := open(ctx, id, m.store, m.cfg, sl.create)
	if err != nil && m.life.Err() != nil {
		// Close cancelled the open: the callers see the manager closed, not
		// the cancellation of a context they never gave.
		err = fmt.Errorf("session manager: %w", ErrClosed)
	}
	m.mu.Lock()
	sl.s, sl.err = s, err
	if err != nil && m.sessions[id] == sl {
		delete(m.sessions, id)
	}
	m.mu.Unlock()
	close(sl.ready)
}

// retry runs f on session id (opened as session does), again on a fresh
// session if the one it got was closed for idleness in between. f fails
// with ErrClosed only before the session took the call, so running it again
// is safe.
func (m *Manager) retry(ctx context.Context, id string, create bool, f func(s *Session) error) error {
	for {
		s, err := m.session(ctx, id, create)
		if err != nil {
			return err
		}
		if err = f(s); errors.Is(err, ErrClosed) {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if !closed {
				continue
			}
		}
		return err
	}
}

// Submit submits cmd to session id (see Session.Submit), opening it if
// needed and creating it if the store does not have it. With WithRouter,
// a command the Router routes to another instance is decided there, and
// this instance does not open the session for it.
func (m *Manager) Submit(ctx context.Context, id string, cmd core.Command) (Result, error) {
	if err := reducer.WellFormed(cmd); err != nil {
		return Result{}, err // creates nothing: see Session.Submit
	}
	if m.cfg.router != nil {
		select {
		case <-m.quit: // closed: routes nothing (see Close)
			return Result{}, fmt.Errorf("session manager: %w", ErrClosed)
		default:
		}
		if res, routed, err := m.cfg.router.Route(ctx, id, cmd); routed {
			return res, err
		}
	}
	return m.decide(ctx, id, cmd)
}

// Decide is Submit without the Router of WithRouter: this instance
// decides cmd. It is for the receiving end of a Router (a command another
// instance routed here is decided here, whatever this instance takes the
// home to be, so a command is routed once at most).
func (m *Manager) Decide(ctx context.Context, id string, cmd core.Command) (Result, error) {
	if err := reducer.WellFormed(cmd); err != nil {
		return Result{}, err
	}
	return m.decide(ctx, id, cmd)
}

// decide submits cmd, well formed, to session id here.
func (m *Manager) decide(ctx context.Context, id string, cmd core.Command) (Result, error) {
	var res Result
	err := m.retry(ctx, id, true, func(s *Session) (err error) {
		res, err = s.submit(ctx, cmd) // well formed: Submit and Decide checked it
		return err
	})
	return res, err
}

// Subscribe subscribes to session id (see Session.Subscribe), opening it if
// needed; a session the store does not have is an error matching
// ErrNotFound. The session stays open while the subscription is.
func (m *Manager) Subscribe(ctx context.Context, id string, after uint64) (*Subscription, error) {
	var sub *Subscription
	err := m.retry(ctx, id, false, func(s *Session) (err error) {
		sub, err = s.Subscribe(ctx, after)
		return err
	})
	return sub, err
}

// Watch is Session.Watch on session id, opening it if needed; a session
// the store does not have is an error matching ErrNotFound.
func (m *Manager) Watch(ctx context.Context, id string) (core.State, *Subscription, error) {
	var (
		st  core.State
		sub *Subscription
	)
	err := m.retry(ctx, id, false, func(s *Session) (err error) {
		st, sub, err = s.Watch(ctx)
		return err
	})
	return st, sub, err
}

// State is Session.State on session id, opening it if needed; a session
// the store does not have is an error matching ErrNotFound.
func (m *Manager) State(ctx context.Context, id string) (core.State, error) {
	return m.state(ctx, id, (*Session).State)
}

// Sync is Session.Sync on session id, opening it if needed (opening reads
// the whole log); a session the store does not have is an error matching
// ErrNotFound.
func (m *Manager) Sync(ctx context.Context, id string) (core.State, error) {
	return m.state(ctx, id, (*Session).Sync)
}

// state is get (Session.State or Session.Sync) on session id, opened as
// for State.
func (m *Manager) state(ctx context.Context, id string, get func(*Session, context.Context) (core.State, error)) (core.State, error) {
	var st core.State
	err := m.retry(ctx, id, false, func(s *Session) (err error) {
		st, err = get(s, ctx)
		return err
	})
	return st, err
}

// openSessions lists the sessions that are open.
func (m *Manager) openSessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ss []*Session
	for _, sl := range m.sessions {
		select {
		case <-sl.ready:
			if sl.s != nil {
				ss = append(ss, sl.s)
			}
		default:
		}
	}
	return ss
}

// CloseIdle closes now every session idle for the idle timeout (on the
// clock), as the manager does by itself from time to time, and waits for
// them to stop. A session's owner decides, so a session that takes a
// command or a subscriber meanwhile stays open.
func (m *Manager) CloseIdle(ctx context.Context) error {
	if m.cfg.idleTimeout == 0 {
		return nil
	}
	now := m.cfg.clock()
	for _, s := range m.openSessions() {
		var closed bool
		err := s.do(ctx, func(o *owner) { closed = o.closeIfIdle(now, m.cfg.idleTimeout) })
		if errors.Is(err, ErrClosed) {
			continue
		}
		if err != nil {
			return err
		}
		if closed {
			select {
			case <-s.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			m.forget(s)
		}
	}
	return nil
}

// forget drops s from the open sessions if it is still there.
func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sl := m.sessions[s.id]; sl != nil && sl.s == s {
		delete(m.sessions, s.id)
	}
}

// Close closes every session and stops the manager; later calls fail with
// ErrClosed. It returns when all their goroutines have stopped, or ctx's
// error if ctx ends first. It does not close the store.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.quit)
		m.end() // sessions being opened give up
	}
	// Sessions being opened are waited for, so none escapes.
	slots := make([]*slot, 0, len(m.sessions))
	for _, sl := range m.sessions {
		slots = append(slots, sl)
	}
	leaving := m.leaving
	m.leaving = nil
	m.mu.Unlock()
	var errs []error
	for _, sl := range slots {
		select {
		case <-sl.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		if sl.s != nil {
			sl.s.stop()
		}
	}
	for _, sl := range slots {
		if sl.s != nil {
			if err := sl.s.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, s := range leaving {
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return errors.Join(errs...)
}
