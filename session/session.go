package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Session is one live session: a machine holding its state, in front of a
// Store, and the goroutines that carry out its plans. All methods are safe
// for concurrent use.
type Session struct {
	id    string
	store Store
	cfg   config
	own   *owner // only the holder of the decider role touches it

	// The decider role: one goroutine at a time holds it and decides
	// (carries out the machine's plans). A Submit that finds the session
	// free takes it and decides its own command; work that finds it taken
	// waits in queue, and the holder hands the role to the owner goroutine
	// (wake) when it is done, which takes the queue in batches.
	mu      sync.Mutex
	busy    bool          // the role is held; !busy means the queue is empty
	stopped bool          // stop was called: no work is taken any more
	queue   []work        // waiting for the role, in order
	wake    chan struct{} // capacity 1: the role is handed to the owner goroutine

	quit       chan struct{} // closed by stop
	done       chan struct{} // closed when the owner has stopped
	stopOnce   sync.Once
	cancel     context.CancelFunc // ends the owner's store calls: Close's ctx ran out
	stopFollow context.CancelFunc // ends the follow stream
	follows    sync.WaitGroup     // the follow goroutine

	stateMu    sync.RWMutex
	state      core.State   // the state the last plan installed
	lastActive atomic.Int64 // clock, unix ns: last command or subscription end
}

// work is what waits for the decider role: a command, a call (do),
// records the follow stream delivered, or the news that it failed.
type work struct {
	req          *request
	call         *call
	recs         []sessionlog.Record
	followFailed bool
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
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	o := newOwner(s, h)
	s.own = o
	if err := o.load(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("session %q: open: %w", id, err)
	}
	s.touch()
	s.setState(o.m.state)
	if o.snapper != nil && cfg.snapshotInterval > 0 {
		o.snaps = startSnapshotter(ownerCtx, o.snapper, id)
	}
	followCtx, stopFollow := context.WithCancel(ownerCtx)
	s.stopFollow = stopFollow
	if f, ok := store.(Follower); ok {
		s.follows.Add(1)
		go o.follow(followCtx, f)
	}
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
	return s.submit(ctx, cmd)
}

// submit is Submit of cmd, well formed (Manager checked it already).
func (s *Session) submit(ctx context.Context, cmd core.Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	req := requestPool.Get().(*request)
	req.cmd = cmd
	switch s.enter(func() { s.queue = append(s.queue, work{req: req}) }) {
	case stopped:
		requestPool.Put(req)
		return Result{}, s.closedErr()
	case entered:
		// The session is free: decide here, with no goroutine hand-off.
		s.own.batch = append(s.own.batch[:0], req)
		s.own.process(ctx, s.own.batch)
		s.own.batch[0] = nil
		s.leave()
	}
	r := s.wait(ctx, req)
	return r.res, r.err
}

// wait waits for the answer to req, queued or decided (then it is there
// already), and puts req back in the pool unless the owner may still
// answer it.
func (s *Session) wait(ctx context.Context, req *request) reply {
	put := func(r reply) reply {
		req.cmd = core.Command{}
		requestPool.Put(req)
		return r
	}
	select {
	case r := <-req.reply: // an answer that is there wins over ctx's end
		return put(r)
	default:
	}
	select {
	case r := <-req.reply:
		return put(r)
	case <-s.done:
		// Every queued request is answered before the owner stops, unless
		// Close gave up waiting: look once more.
		select {
		case r := <-req.reply:
			return r
		default:
			return reply{err: s.closedErr()}
		}
	case <-ctx.Done():
		if s.unqueue(func(w work) bool { return w.req == req }) {
			requestPool.Put(req) // never taken: not decided
		}
		return reply{err: ctx.Err()} // else req is dropped, not reused: the owner still answers it
	}
}

// entry is how enter found the session.
type entry uint8

const (
	queued  entry = iota // busy: the work is queued for the holder
	entered              // free: the caller holds the decider role
	stopped              // stopped: nothing was queued
)

// enter takes the decider role if the session is free; the caller then
// does its work and calls leave. If another holds the role it calls queue,
// under s.mu, to queue the work for the holder instead.
func (s *Session) enter(queue func()) entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return stopped
	case !s.busy:
		s.busy = true
		return entered
	}
	queue()
	return queued
}

// leave gives the decider role up, to the owner goroutine if work waits
// or the session is stopped.
func (s *Session) leave() {
	s.mu.Lock()
	if len(s.queue) == 0 && !s.stopped {
		s.busy = false
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.wake <- struct{}{} // never blocks: only a holder sends, and the owner took the last
}

// unqueue removes the first queued work that match finds, and reports
// whether there was one.
func (s *Session) unqueue(match func(work) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.queue, match); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
		return true
	}
	return false
}

func (s *Session) closedErr() error { return fmt.Errorf("session %q: %w", s.id, ErrClosed) }

// do runs f as the holder of the decider role, here if the session is
// free, and waits for it. f must not block.
func (s *Session) do(ctx context.Context, f func(o *owner)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var c *call
	switch s.enter(func() {
		c = &call{f: f, ran: make(chan struct{})}
		s.queue = append(s.queue, work{call: c})
	}) {
	case stopped:
		return s.closedErr()
	case entered:
		f(s.own)
		s.leave()
		return nil
	}
	select {
	case <-c.ran:
	case <-ctx.Done():
		if s.unqueue(func(w work) bool { return w.call == c }) {
			return ctx.Err()
		}
		<-c.ran // taken: it runs, or fails, without blocking
	}
	return c.err
}

// deliver hands a record the follow stream delivered to the decider: here,
// if the session is free, else through the queue (after the records queued
// already). It reports false once the session is stopped.
func (s *Session) deliver(rec sessionlog.Record) bool {
	switch s.enter(func() {
		if n := len(s.queue); n > 0 && s.queue[n-1].recs != nil {
			s.queue[n-1].recs = append(s.queue[n-1].recs, rec)
		} else {
			s.queue = append(s.queue, work{recs: []sessionlog.Record{rec}})
		}
	}) {
	case stopped:
		return false
	case entered:
		s.own.one[0] = rec
		s.own.deliver(s.own.one[:])
		s.own.one[0] = sessionlog.Record{}
		s.leave()
	}
	return true
}

// takeDelivered takes the follow stream's deliveries out of the queue, up
// to its first piece of work that is neither a delivery nor a command
// (a call, a failed follow stream), and returns their records in order.
// Commands waiting there are decided later, on a state that holds these
// records either way.
func (s *Session) takeDelivered() []sessionlog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []sessionlog.Record
	q := s.queue[:0]
	for i, w := range s.queue {
		switch {
		case w.recs != nil:
			recs = append(recs, w.recs...)
		case w.req != nil:
			q = append(q, w)
		default:
			q = append(q, s.queue[i:]...)
			clear(s.queue[len(q):])
			s.queue = q
			return recs
		}
	}
	clear(s.queue[len(q):])
	s.queue = q
	return recs
}

// followFailed tells the machine that the follow stream failed, and
// reports false once the session is stopped.
func (s *Session) followFailed() bool {
	switch s.enter(func() { s.queue = append(s.queue, work{followFailed: true}) }) {
	case stopped:
		return false
	case entered:
		s.own.m.followFailed()
		s.leave()
	}
	return true
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

// Sync reads the session's log in the store to its end, folds the records
// other writers appended there that the follow stream has not delivered
// yet, and returns the state after them: a read barrier. Every command
// whose record any writer had stored when Sync was called is in the state
// it returns, so what is decided on it (admitting a participant's media,
// say) is not decided on a state that lags the log. It costs a read of the
// log's tail; it fails with the store's error, after which the session
// reads the store before its next decision. With a store that is not a
// Follower the runtime is the log's only writer, and Sync is State.
func (s *Session) Sync(ctx context.Context) (core.State, error) {
	if _, ok := s.store.(Follower); !ok {
		return s.State(ctx)
	}
	var (
		st  core.State
		err error
	)
	if derr := s.do(ctx, func(o *owner) {
		o.carryOut(ctx, o.m.sync())
		st, err = o.m.state, o.m.readErr()
	}); derr != nil {
		return core.State{}, derr
	}
	if err != nil {
		return core.State{}, fmt.Errorf("session %q: sync: %w", s.id, err)
	}
	return st, nil
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
	if err := s.do(ctx, func(o *owner) { st, sub = o.m.state, o.subscribe(o.m.state.Seq()) }); err != nil {
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

func (s *Session) stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.quit)
	})
}

// isDone reports whether the session has stopped.
func (s *Session) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Done is closed when the session has stopped, by Close or by a Manager.
func (s *Session) Done() <-chan struct{} { return s.done }
