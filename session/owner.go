package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/sessionlog"
)

// owner carries out the plans of a session's machine: it holds what they
// act on (the store, the subscribers, the recent events, the snapshotter).
// Only the goroutine holding the session's decider role (see
// Session.enter) touches it, except in open, before anyone can.
type owner struct {
	s       *Session
	store   Store
	batcher BatchAppender
	snapper Snapshotter
	m       *machine

	recent recent
	subs   []*Subscription
	snaps  *snapshotter // nil without snapshots

	// known is m.pos once a plan is carried out: the follow goroutine
	// skips records at or before it without taking the role.
	known atomic.Uint64

	batch []*request           // scratch, reused
	one   [1]sessionlog.Record // scratch for a single delivery
}

func newOwner(s *Session, h sessionlog.Header) *owner {
	o := &owner{s: s, store: s.store, recent: recent{max: s.cfg.subBuffer}}
	o.batcher, _ = o.store.(BatchAppender)
	o.snapper, _ = o.store.(Snapshotter)
	o.m = newMachine(s.id, h, s.cfg, o.batcher != nil, o.snapper != nil)
	return o
}

// load starts the owner from the latest snapshot, if any, then reads the
// log after it (and far enough back to rebuild the window).
func (o *owner) load(ctx context.Context) error {
	from := uint64(1)
	if o.snapper != nil {
		snap, err := o.snapper.LatestSnapshot(ctx, o.s.id)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("snapshot: %w", err)
		default:
			if snap.State.Session != o.s.id {
				return fmt.Errorf("snapshot is of session %q", snap.State.Session)
			}
			st, err := core.FromSnapshot(snap.State, o.m.state.Presets())
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			from = o.m.restore(st, snap.Pos, snap.WindowSeq)
		}
	}
	o.carryOut(ctx, o.m.open(from))
	return o.m.readErr()
}

// process decides, appends and answers a batch of requests, on the clock
// once for all of them.
func (o *owner) process(ctx context.Context, batch []*request) {
	now := o.s.cfg.clock().UTC()
	o.s.lastActive.Store(now.UnixNano())
	o.carryOut(ctx, o.m.propose(now, batch))
}

// carryOut carries out p's actions in order, then its store call, whose
// outcome gives the next plan, until a plan ends with none. The order is
// the plan's: this loop has none of its own.
func (o *owner) carryOut(ctx context.Context, p *plan) {
	for {
		o.act(p.acts)
		switch p.io.kind {
		case ioNone:
			o.known.Store(uint64(o.m.pos))
			return
		case ioAppendBatch:
			pos, err := o.batcher.AppendBatch(ctx, o.s.id, p.io.expected, p.io.recs)
			stored := 0
			if err == nil {
				stored = len(p.io.recs)
			}
			p = o.m.appended(stored, pos, err)
		case ioAppendEach:
			stored, pos := 0, p.io.expected
			var err error
			for _, rec := range p.io.recs {
				var next sessionlog.Position
				if next, err = o.store.Append(ctx, o.s.id, pos, rec); err != nil {
					break
				}
				pos = next
				stored++
			}
			p = o.m.appended(stored, pos, err)
		case ioRead:
			p = o.read(ctx, p.io.from)
		}
	}
}

// act carries out actions, in order.
func (o *owner) act(acts []action) {
	for i := range acts {
		switch a := &acts[i]; a.kind {
		case actInstall:
			o.s.setState(a.state)
		case actCommit:
			o.publish(a.out.events)
		case actAnswer:
			a.req.reply <- a.rep
		case actSnapshot:
			o.snaps.offer(a.snap)
		}
	}
}

// read hands the machine the records from seq from, carrying out its plan
// every few hundred records, and returns the plan that ends the read.
//
// A conflict's read first pauses (conflictPause), then takes the records
// the follow stream has delivered meanwhile and the queue holds (another
// writer's, which this batch held back), and reads from the store only what
// they do not hold: on JetStream a long read costs a consumer, tens of
// milliseconds, while the other writers go on appending.
func (o *owner) read(ctx context.Context, from uint64) *plan {
	o.m.beginRead()
	if n := o.m.conflictRead(); n > 0 {
		pause(ctx, conflictPause(n))
		for _, rec := range o.s.takeDelivered() {
			if !o.take(rec) {
				return o.m.endRead(nil)
			}
		}
		from = max(from, o.m.readSeq()+1)
	}
	for rec, err := range o.store.Records(ctx, o.s.id, from) {
		if err != nil {
			return o.m.endRead(fmt.Errorf("reading the log: %w", err))
		}
		if !o.take(rec) {
			break
		}
	}
	return o.m.endRead(nil)
}

// take hands rec, read, to the machine, carrying out its plan so far when
// it has folded enough, and reports whether the read goes on.
func (o *owner) take(rec sessionlog.Record) bool {
	if !o.m.take(rec) {
		return false
	}
	if o.m.full() {
		o.act(o.m.flush().acts)
	}
	return true
}

// conflictStep and maxConflictSteps shape conflictPause.
const (
	conflictStep     = 500 * time.Microsecond
	maxConflictSteps = 10
)

// conflictPause is how long a batch waits after its n-th conflict in a
// row before it reads the log and decides again: a random time below n
// steps, at most maxConflictSteps. The writer that won is most likely in
// the middle of a batch of its own, which a store without BatchAppender
// (or a JetStream server before 2.12) appends one record at a time:
// deciding again at once conflicts again with its next record, and each
// round costs the store a read. The jitter keeps several losers from
// retrying together.
func conflictPause(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(min(n, maxConflictSteps)) * int64(conflictStep)))
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// deliver folds records the follow stream delivered.
func (o *owner) deliver(recs []sessionlog.Record) {
	o.carryOut(context.Background(), o.m.deliver(recs)) // a delivery's plan makes no store call
}

// publish hands evs, one command's, to every subscriber; one that has no
// room for them is cut off (see Subscription.offer).
func (o *owner) publish(evs []events.Event) {
	if len(evs) == 0 {
		return
	}
	o.recent.add(evs)
	live := o.subs[:0]
	for _, sub := range o.subs {
		if sub.offer(evs) {
			live = append(live, sub)
		}
	}
	clear(o.subs[len(live):])
	o.subs = live
}

// subscribe registers a subscription to the events after seq after.
func (o *owner) subscribe(after uint64) *Subscription {
	sub := newSubscription(o.s, after)
	if cur := o.m.state.Seq(); after < cur {
		if evs, ok := o.recent.since(after); ok && len(evs) <= o.s.cfg.subBuffer/2 {
			sub.offer(evs)
		} else {
			sub.catchUpTo = cur
		}
	}
	o.pruneSubs()
	o.subs = append(o.subs, sub)
	return sub
}

func (o *owner) pruneSubs() {
	o.subs = slices.DeleteFunc(o.subs, func(sub *Subscription) bool { return sub.closed.Load() })
}

// closeIfIdle stops the session if it has had no command and no subscriber
// for timeout, on the clock, and reports whether it did.
func (o *owner) closeIfIdle(now time.Time, timeout time.Duration) bool {
	o.pruneSubs()
	if len(o.subs) > 0 || now.Sub(time.Unix(0, o.s.lastActive.Load())) < timeout {
		return false
	}
	o.s.stop()
	return true
}

// run is the owner goroutine: it takes the decider role when a holder
// hands it over because work is queued (group commit: the requests queued
// meanwhile are decided and appended together), and at the end.
func (o *owner) run(ctx context.Context) {
	defer o.shutdown()
	for {
		select {
		case <-o.s.wake:
			if !o.drain(ctx) {
				return
			}
		case <-o.s.quit:
			o.s.mu.Lock()
			mine := !o.s.busy
			o.s.busy = true
			o.s.mu.Unlock()
			if !mine {
				<-o.s.wake // the holder hands it over: the session is stopped
			}
			return
		}
	}
}

// drain carries out the queued work, holding the role: consecutive
// commands as one batch (up to WithMaxBatch), every other piece of work on
// its own. It gives the role up when the queue is empty, and returns false,
// keeping it, when the session is stopped.
func (o *owner) drain(ctx context.Context) bool {
	s := o.s
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return false
		}
		if len(s.queue) == 0 {
			s.busy = false
			s.mu.Unlock()
			return true
		}
		w := s.queue[0]
		n := 1
		if w.req != nil {
			o.batch = o.batch[:0]
			for _, w := range s.queue {
				if w.req == nil || len(o.batch) == s.cfg.maxBatch {
					break
				}
				o.batch = append(o.batch, w.req)
			}
			n = len(o.batch)
		}
		k := copy(s.queue, s.queue[n:])
		clear(s.queue[k:])
		s.queue = s.queue[:k]
		s.mu.Unlock()
		switch {
		case w.req != nil:
			o.process(ctx, o.batch)
			clear(o.batch)
		case w.call != nil:
			w.call.run(o)
		case w.followFailed:
			o.m.followFailed()
		default:
			o.deliver(w.recs)
		}
	}
}

// shutdown ends the session, holding the role for good: the follow
// stream stops, queued work fails with ErrClosed, subscriptions end, the
// snapshotter saves what it was given last.
func (o *owner) shutdown() {
	s := o.s
	s.stopFollow()
	s.follows.Wait()
	s.mu.Lock()
	queue := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, w := range queue {
		switch {
		case w.req != nil:
			w.req.reply <- reply{err: s.closedErr()}
		case w.call != nil:
			w.call.fail(s.closedErr())
		}
	}
	for _, sub := range o.subs {
		sub.end(ErrClosed)
	}
	o.subs = nil
	if o.snaps != nil {
		o.snaps.stop()
	}
	s.cancel()
	close(s.done)
}

// follow runs the store's follow stream from the owner's position: every
// record it delivers takes the decider role, as commands do (or waits in
// the queue for it). When the stream fails, the machine learns it is
// stale, and the stream starts again from the owner's position, after a
// pause that grows while it keeps failing.
func (o *owner) follow(ctx context.Context, f Follower) {
	defer o.s.follows.Done()
	const minPause, maxPause = 20 * time.Millisecond, 2 * time.Second
	wait := minPause
	for {
		after := sessionlog.Position(o.known.Load())
		delivered := false
		for rec, err := range f.Follow(ctx, o.s.id, after) {
			if err != nil {
				break
			}
			delivered = true
			if uint64(rec.Pos) <= o.known.Load() {
				continue // an own append, or read already
			}
			if !o.s.deliver(rec) {
				return // stopped
			}
		}
		if ctx.Err() != nil || !o.s.followFailed() {
			return
		}
		if delivered {
			wait = minPause
		}
		if pause(ctx, wait); ctx.Err() != nil {
			return
		}
		wait = min(2*wait, maxPause)
	}
}

// call is a function run by the holder of the decider role (Session.do).
type call struct {
	f   func(o *owner)
	err error         // set before ran closes: the call did not run
	ran chan struct{} // closed once f has run, or will not
}

func (c *call) run(o *owner) {
	c.f(o)
	close(c.ran)
}

func (c *call) fail(err error) {
	c.err = err
	close(c.ran)
}

// bestEffortTimeout bounds the store call whose failure fails no command:
// SaveSnapshot.
const bestEffortTimeout = 5 * time.Second

// snapshotter saves snapshots beside the owner: the owner hands it the
// latest state to save and goes on, never waiting for the store. It holds
// one job at a time: a newer one replaces one not started yet.
type snapshotter struct {
	store Snapshotter
	id    string

	mu   sync.Mutex
	job  snapJob
	has  bool
	wake chan struct{} // capacity 1
	quit chan struct{}
	done chan struct{}
}

func startSnapshotter(ctx context.Context, store Snapshotter, id string) *snapshotter {
	sn := &snapshotter{store: store, id: id, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go sn.run(ctx)
	return sn
}

// offer hands j over, replacing the job not started yet, if any.
func (sn *snapshotter) offer(j snapJob) {
	sn.mu.Lock()
	sn.job, sn.has = j, true
	sn.mu.Unlock()
	select {
	case sn.wake <- struct{}{}:
	default:
	}
}

func (sn *snapshotter) take() (snapJob, bool) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	j, ok := sn.job, sn.has
	sn.job, sn.has = snapJob{}, false
	return j, ok
}

func (sn *snapshotter) run(ctx context.Context) {
	defer close(sn.done)
	for {
		select {
		case <-sn.wake:
		case <-sn.quit:
			// The last job given is saved before the session stops: the
			// next Open starts from it.
			if j, ok := sn.take(); ok {
				sn.save(ctx, j)
			}
			return
		}
		if j, ok := sn.take(); ok {
			sn.save(ctx, j)
		}
	}
}

// save saves j. A snapshot only shortens the next Open: on failure the next
// interval tries again.
func (sn *snapshotter) save(ctx context.Context, j snapJob) {
	ctx, cancel := context.WithTimeout(ctx, bestEffortTimeout)
	defer cancel()
	_ = sn.store.SaveSnapshot(ctx, sn.id, Snapshot{State: j.state.Snapshot(), Pos: j.pos, WindowSeq: j.windowSeq})
}

// stop stops the snapshotter once it has saved its last job.
func (sn *snapshotter) stop() {
	close(sn.quit)
	<-sn.done
}

// recent keeps the last max events, so that a subscriber starting near the
// present is served from memory.
type recent struct {
	max  int
	evs  []events.Event // ring
	head int            // oldest, once full
}

func (r *recent) add(evs []events.Event) {
	for _, ev := range evs {
		if len(r.evs) < r.max {
			r.evs = append(r.evs, ev)
			continue
		}
		r.evs[r.head] = ev
		r.head = (r.head + 1) % r.max
	}
}

// since returns the held events with seq > after, and false if some of
// those are no longer held.
func (r *recent) since(after uint64) ([]events.Event, bool) {
	n := len(r.evs)
	if n == 0 {
		return nil, false
	}
	oldest := r.evs[r.head%n].Sequence()
	if oldest > after+1 {
		return nil, false
	}
	var out []events.Event
	for i := range n {
		if ev := r.evs[(r.head+i)%n]; ev.Sequence() > after {
			out = append(out, ev)
		}
	}
	return out, true
}
