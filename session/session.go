package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// Errors of the runtime, matched with errors.Is.
var (
	// ErrClosed: the session (or manager) is closed, or closed while the
	// call waited. A command submitted when it closed may have been applied.
	ErrClosed = errors.New("session: closed")
	// ErrSlowSubscriber: the subscription fell behind its buffer and was cut
	// off. Every event before it was delivered; resume with
	// Subscribe(ctx, sub.Seq()).
	ErrSlowSubscriber = errors.New("session: subscriber too slow, cut off")
)

// Result is the outcome of a command that was applied.
type Result struct {
	// Events are the command's events with their seqs; empty when it changed
	// nothing. The slice is the one the subscribers and the idempotency
	// window hold: read it, do not modify it.
	Events []events.Event
	// Seq is the session's seq right after the command.
	Seq uint64
	// At is the time the clock gave the command when it was applied.
	At time.Time
	// Duplicate is set when the command's id had been seen: the result (or
	// rejection) is the original one and nothing was applied now.
	Duplicate bool
}

// Session is one live session: an owner goroutine holding its state, in
// front of a Store. All methods are safe for concurrent use.
type Session struct {
	id    string
	store Store
	cfg   config

	reqs     chan *request       // Submit → owner; unbuffered, so a sent request is the owner's
	ctrl     chan func(o *owner) // other calls → owner
	quit     chan struct{}       // closed by stop
	done     chan struct{}       // closed when the owner has stopped
	stopOnce sync.Once
	cancel   context.CancelFunc // ends the owner's store calls: Close's ctx ran out

	stateMu    sync.RWMutex
	state      core.State   // the owner's state, after each commit
	lastActive atomic.Int64 // clock, unix ns: last command or subscription end
}

// request is one Submit waiting for the owner.
type request struct {
	cmd   core.Command
	reply chan reply // capacity 1: the owner never blocks on it
}

type reply struct {
	res Result
	err error
}

var requestPool = sync.Pool{New: func() any { return &request{reply: make(chan reply, 1)} }}

// Open opens the session id kept in store, creating it with the presets of
// WithPresets if the store does not have it, and starts its owner. It loads
// the latest snapshot if the store keeps them, folds the records after it
// and rebuilds the idempotency window from the log's tail. Close the
// session when done; it does not close the store.
func Open(ctx context.Context, id string, store Store, opts ...Option) (*Session, error) {
	cfg, err := newConfig(store, opts)
	if err != nil {
		return nil, err
	}
	return open(ctx, id, store, cfg, true)
}

// open opens session id; unless create is set, a session the store does
// not have is an error matching ErrNotFound.
func open(ctx context.Context, id string, store Store, cfg config, create bool) (*Session, error) {
	if id == "" {
		return nil, errors.New("session: empty session id")
	}
	h, err := store.Header(ctx, id)
	if errors.Is(err, ErrNotFound) && create {
		h = sessionlog.Header{Session: id, Presets: cfg.presets}
		if err = store.Create(ctx, h); errors.Is(err, ErrExists) {
			h, err = store.Header(ctx, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("session %q: open: %w", id, err)
	}
	ownerCtx, cancel := context.WithCancel(context.Background())
	s := &Session{
		id:     id,
		store:  store,
		cfg:    cfg,
		reqs:   make(chan *request),
		ctrl:   make(chan func(*owner)),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	o := newOwner(s, h)
	if err := o.load(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("session %q: open: %w", id, err)
	}
	s.touch()
	s.setState(o.state)
	go o.run(ownerCtx)
	return s, nil
}

// ID is the session id.
func (s *Session) ID() string { return s.id }

// Submit decides cmd and appends its record, applied or rejected, to the
// store, then publishes its events and answers (see the package doc).
// Subscribers are given the command's events before Submit returns, so
// they may read them before the caller has its answer. It returns the
// Result, or the *core.Error that rejected cmd (a rejection; Result.Duplicate
// tells if it was the remembered one), or another error: an infrastructure
// failure after which cmd may or may not have been decided.
//
// A command that is not well formed (check 1: reducer.WellFormed) is
// answered invalid_command at once, before the owner: that check needs no
// state, so its answer is the same wherever and however often the command
// is sent, and such a command, like one malformed on the wire, is not in
// the log.
//
// If ctx ends while the owner works on cmd, Submit returns ctx's error and
// cmd may still be applied; submit it again with the same id to learn its
// outcome.
func (s *Session) Submit(ctx context.Context, cmd core.Command) (Result, error) {
	if err := reducer.WellFormed(cmd); err != nil {
		return Result{}, err
	}
	req := requestPool.Get().(*request)
	req.cmd = cmd
	select {
	case s.reqs <- req:
	case <-s.quit:
		requestPool.Put(req)
		return Result{}, s.closedErr()
	case <-ctx.Done():
		requestPool.Put(req)
		return Result{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		req.cmd = core.Command{}
		requestPool.Put(req)
		return r.res, r.err
	case <-s.done:
		// The owner answers every request it took before it stops, unless
		// Close gave up waiting: look once more.
		select {
		case r := <-req.reply:
			return r.res, r.err
		default:
			return Result{}, s.closedErr()
		}
	case <-ctx.Done():
		return Result{}, ctx.Err() // req is dropped, not reused: the owner still answers it
	}
}

func (s *Session) closedErr() error { return fmt.Errorf("session %q: %w", s.id, ErrClosed) }

// do runs f on the owner goroutine and waits for it.
func (s *Session) do(ctx context.Context, f func(o *owner)) error {
	ran := make(chan struct{})
	select {
	case s.ctrl <- func(o *owner) { f(o); close(ran) }:
	case <-s.quit:
		return s.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ran // f does not block
	return nil
}

// State returns the session's current state: that of the last command
// answered.
func (s *Session) State(ctx context.Context) (core.State, error) {
	if err := ctx.Err(); err != nil {
		return core.State{}, err
	}
	select {
	case <-s.done:
		return core.State{}, s.closedErr()
	default:
	}
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	return s.state, nil
}

func (s *Session) setState(st core.State) {
	s.stateMu.Lock()
	s.state = st
	s.stateMu.Unlock()
}

func (s *Session) touch() { s.lastActive.Store(s.cfg.clock().UnixNano()) }

// Subscribe returns a subscription to every event with seq > after, in
// order, each once. after may be any seq from 0 (the whole history) to the
// current one; events the owner no longer holds are read from the store. An
// after beyond the current seq waits for those events.
func (s *Session) Subscribe(ctx context.Context, after uint64) (*Subscription, error) {
	var sub *Subscription
	if err := s.do(ctx, func(o *owner) { sub = o.subscribe(after) }); err != nil {
		return nil, err
	}
	return sub, nil
}

// Watch returns the current state and a subscription to the events after
// it (seq > state.Seq()), taken together so that none is missed or doubled.
func (s *Session) Watch(ctx context.Context) (core.State, *Subscription, error) {
	var (
		st  core.State
		sub *Subscription
	)
	if err := s.do(ctx, func(o *owner) { st, sub = o.state, o.subscribe(o.state.Seq()) }); err != nil {
		return core.State{}, nil, err
	}
	return st, sub, nil
}

// Close stops the owner once the commands it has taken are answered; later
// and waiting calls fail with ErrClosed, subscriptions end with ErrClosed
// after their buffered events. It returns when the owner has stopped, or
// ctx's error if ctx ends first (the owner's store calls are then cancelled
// and it still stops). Closing twice is harmless.
func (s *Session) Close(ctx context.Context) error {
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

func (s *Session) stop() { s.stopOnce.Do(func() { close(s.quit) }) }

// Done is closed when the session has stopped, by Close or by a Manager.
func (s *Session) Done() <-chan struct{} { return s.done }
