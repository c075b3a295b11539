package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// owner is the state of a session's owner goroutine. Only that goroutine
// touches it, except in open, before the goroutine starts.
type owner struct {
	s       *Session
	store   Store
	batcher BatchAppender
	snapper Snapshotter
	header  sessionlog.Header

	state       core.State
	pos         sessionlog.Position // position of the last record read or appended
	dirty       bool                // an append failed: what the store holds is unknown
	lastSnapSeq uint64
	win         window
	recent      recent
	subs        []*Subscription

	now   time.Time  // the clock when the batch being processed was taken
	batch []*request // scratch, reused
	items []item
	recs  []sessionlog.Record
}

// item is one request of a batch once decided.
type item struct {
	req   *request
	rec   sessionlog.Record // decided: the record to append, applied (rec.Err nil) or rejected
	dup   *outcome          // answered from the window
	dupOf int               // > 0: same id as items[dupOf-1] of this batch
	after core.State        // the state after this item
	out   *outcome          // its outcome, once committed
}

// decided reports whether the item has a record to append: it was not
// answered from the window or by an earlier item of its batch.
func (it *item) decided() bool { return it.dup == nil && it.dupOf == 0 }

func newOwner(s *Session, h sessionlog.Header) *owner {
	o := &owner{
		s:      s,
		store:  s.store,
		header: h,
		state:  core.NewState(h.Session, h.Presets),
		win:    newWindow(s.cfg.window),
		recent: recent{max: s.cfg.subBuffer},
	}
	o.batcher, _ = o.store.(BatchAppender)
	o.snapper, _ = o.store.(Snapshotter)
	return o
}

// load starts the owner from the latest snapshot, if any, then reads the
// log's tail.
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
			st, err := core.FromSnapshot(snap.State, o.header.Presets)
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			o.state, o.pos, o.lastSnapSeq = st, snap.Pos, st.Seq()
			from = min(snap.WindowSeq, st.Seq()) + 1
		}
	}
	return o.readTail(ctx, from, true)
}

// readTail reads the records from seq from: later ones than o.pos (the log
// after a snapshot, or another writer's) are folded into the state,
// remembered in the window and published; those at or before o.pos only
// refill the window, if refill is set (when opening: the window is empty).
// Rejections are records like the others: they fold nothing and publish
// nothing, and the window remembers them.
func (o *owner) readTail(ctx context.Context, from uint64, refill bool) error {
	known := o.pos
	// One Builder folds the whole tail (a reopened session's log): what it
	// has built is the state even if reading fails half way, since o.pos
	// moves with it.
	b := core.NewBuilder(o.state)
	defer func() { o.state = b.State() }()
	// Window entries of records before the first with events, whose seq is
	// that event's seq minus one, or the state's if no such record comes.
	var unseq []*outcome
	settle := func(seq uint64) {
		for _, e := range unseq {
			e.before, e.seq = seq, seq
		}
		unseq = unseq[:0]
	}
	for rec, err := range o.store.Records(ctx, o.s.id, from) {
		if err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
		if rec.Pos <= known && !refill {
			continue
		}
		e := &outcome{id: rec.Command.ID, events: rec.Events, err: rec.Err, at: rec.At}
		if rec.Pos <= known {
			if n := len(rec.Events); n > 0 {
				e.before, e.seq = rec.Events[0].Sequence()-1, rec.Events[n-1].Sequence()
				settle(e.before)
			} else {
				unseq = append(unseq, e)
			}
			o.win.add(e)
			continue
		}
		seq := b.Current().Seq()
		settle(seq)
		if err := checkSeqs(seq, rec.Events); err != nil {
			return fmt.Errorf("record at position %d: %w", rec.Pos, err)
		}
		if rec.Err != nil && len(rec.Events) > 0 {
			return fmt.Errorf("record at position %d: rejected, and with events", rec.Pos)
		}
		e.before = seq
		reducer.FoldInto(&b, rec.Events)
		o.pos, e.seq = rec.Pos, b.Current().Seq()
		o.win.add(e)
		o.publish(rec.Events)
	}
	settle(b.Current().Seq())
	o.state = b.State()
	o.s.setState(o.state)
	return nil
}

// checkSeqs checks that evs continue a session whose seq is seq.
func checkSeqs(seq uint64, evs []events.Event) error {
	for _, ev := range evs {
		if seq++; ev.Sequence() != seq {
			return fmt.Errorf("event seq %d where %d was due: the log has a gap", ev.Sequence(), seq)
		}
	}
	return nil
}

// run is the owner goroutine.
func (o *owner) run(ctx context.Context) {
	defer o.shutdown()
	for {
		select {
		case <-o.s.quit:
			return
		case f := <-o.s.ctrl:
			f(o)
		case req := <-o.s.reqs:
			batch := append(o.batch[:0], req)
		drain:
			for len(batch) < o.s.cfg.maxBatch {
				select {
				case req := <-o.s.reqs:
					batch = append(batch, req)
				default:
					break drain
				}
			}
			o.process(ctx, batch)
			clear(batch)
			o.batch = batch[:0]
		}
	}
}

func (o *owner) shutdown() {
	for _, sub := range o.subs {
		sub.end(ErrClosed)
	}
	o.subs = nil
	o.s.cancel()
	close(o.s.done)
}

// process decides, appends and answers a batch of requests.
func (o *owner) process(ctx context.Context, batch []*request) {
	// One clock reading a batch: its commands are decided together.
	o.now = o.s.cfg.clock().UTC()
	o.s.lastActive.Store(o.now.UnixNano())
	if o.dirty {
		if err := o.readTail(ctx, o.state.Seq()+1, false); err != nil {
			o.fail(batch, fmt.Errorf("session %q: reloading after a failed append: %w", o.s.id, err))
			return
		}
		o.dirty = false
	}
	pending := batch
	for conflicts := 0; ; {
		items := o.decide(pending)
		n, err := o.append(ctx, items)
		o.commit(ctx, items[:n])
		if n == len(items) {
			return
		}
		pending = pending[:0]
		for i := n; i < len(items); i++ {
			pending = append(pending, items[i].req)
		}
		if errors.Is(err, ErrPermanent) {
			// The store can never hold the first record it did not store,
			// and stored nothing of it: that command alone fails, and the
			// others are decided again without it.
			i := n
			for !items[i].decided() {
				i++
			}
			o.fail([]*request{items[i].req}, fmt.Errorf("session %q: command %q: %w", o.s.id, items[i].req.cmd.ID, err))
			pending = slices.Delete(pending, i-n, i-n+1)
			if len(pending) == 0 {
				return
			}
			continue
		}
		if !errors.Is(err, ErrConflict) {
			o.dirty = true
			o.fail(pending, fmt.Errorf("session %q: append: %w", o.s.id, err))
			return
		}
		// Another writer appended first: what it appended (maybe these
		// very commands, sent again through it) decides them now.
		if conflicts == o.s.cfg.conflictRetries {
			o.fail(pending, fmt.Errorf("session %q: gave up after %d retries: %w", o.s.id, conflicts, ErrConflict))
			return
		}
		conflicts++
		if err := o.readTail(ctx, o.state.Seq()+1, false); err != nil {
			o.dirty = true
			o.fail(pending, fmt.Errorf("session %q: reloading after a conflict: %w", o.s.id, err))
			return
		}
	}
}

// decide decides reqs one after the other, each on the state the ones
// before it leave: a record for each, applied or rejected, unless the
// window or an earlier request of the batch answers it.
func (o *owner) decide(reqs []*request) []item {
	items := o.items[:0]
	st := o.state
	for _, req := range reqs {
		it := item{req: req}
		id := req.cmd.ID
		if e := o.win.get(id); e != nil {
			it.dup = e
		} else if j := o.indexOfID(items, id); j >= 0 {
			it.dupOf = j + 1
		} else {
			it.rec = sessionlog.Record{At: o.now, Command: req.cmd}
			evs, err := reducer.Decide(st, req.cmd)
			if err != nil {
				it.rec.Err = asRejection(err)
			} else {
				st = reducer.Fold(st, evs)
				it.rec.Events = evs
			}
		}
		it.after = st
		items = append(items, it)
	}
	o.items = items
	return items
}

// indexOfID returns the index of the item of items deciding command id, or -1.
// A batch is short and most are of one command, so a scan beats a map.
func (o *owner) indexOfID(items []item, id string) int {
	if id == "" || o.win.max == 0 {
		return -1
	}
	for i := range items {
		if items[i].decided() && items[i].req.cmd.ID == id {
			return i
		}
	}
	return -1
}

func asRejection(err error) *core.Error {
	if ce, ok := errors.AsType[*core.Error](err); ok {
		return ce
	}
	return core.Errorf(core.CodeInvalidCommand, "%v", err)
}

// append stores the records of items and returns how many items, from the
// first, are settled: every record among them is stored. A rejection is
// stored as an applied command is: it takes the same place in the log, so
// that another writer deciding the same command conflicts with it.
func (o *owner) append(ctx context.Context, items []item) (int, error) {
	recs := o.recs[:0]
	for i := range items {
		if items[i].decided() {
			recs = append(recs, items[i].rec)
		}
	}
	o.recs = recs
	defer clear(recs)
	if len(recs) == 0 {
		return len(items), nil
	}
	if o.batcher != nil && len(recs) > 1 {
		pos, err := o.batcher.AppendBatch(ctx, o.s.id, o.pos, recs)
		if err == nil {
			o.pos = pos
			return len(items), nil
		}
		if !errors.Is(err, ErrPermanent) {
			return 0, err
		}
		// One of them can never be stored, and nothing was: find which
		// by appending them one at a time.
	}
	for stored, rec := range recs {
		pos, err := o.store.Append(ctx, o.s.id, o.pos, rec)
		if err != nil {
			// Settled: everything before the first record not stored.
			n := 0
			for seen := 0; n < len(items); n++ {
				if items[n].decided() {
					if seen == stored {
						break
					}
					seen++
				}
			}
			return n, err
		}
		o.pos = pos
	}
	return len(items), nil
}

// commit makes settled items the session's history: state, window and
// subscribers first, then the callers' answers, so that a caller who has
// its answer finds it in State.
func (o *owner) commit(ctx context.Context, items []item) {
	if len(items) == 0 {
		return
	}
	for i := range items {
		it := &items[i]
		switch {
		case it.dup != nil:
			it.out = it.dup
		case it.dupOf > 0:
			it.out = items[it.dupOf-1].out
		default:
			it.out = &outcome{id: it.req.cmd.ID, events: it.rec.Events, err: it.rec.Err, before: o.state.Seq(), at: it.rec.At}
			o.state = it.after
			it.out.seq = o.state.Seq()
			o.win.add(it.out)
			o.publish(it.rec.Events)
		}
	}
	o.s.setState(o.state)
	for i := range items {
		it := &items[i]
		it.req.reply <- it.out.reply(!it.decided())
	}
	clear(items)
	o.maybeSnapshot(ctx)
}

// fail answers reqs with err.
func (o *owner) fail(reqs []*request, err error) {
	for _, req := range reqs {
		req.reply <- reply{err: err}
	}
}

// bestEffortTimeout bounds the store call whose failure fails no command:
// SaveSnapshot.
const bestEffortTimeout = 5 * time.Second

func (o *owner) maybeSnapshot(ctx context.Context) {
	iv := o.s.cfg.snapshotInterval
	if o.snapper == nil || iv == 0 || o.state.Seq()-o.lastSnapSeq < iv {
		return
	}
	snap := Snapshot{State: o.state.Snapshot(), Pos: o.pos, WindowSeq: o.win.startSeq(o.state.Seq())}
	ctx, cancel := context.WithTimeout(ctx, bestEffortTimeout)
	defer cancel()
	// A snapshot only shortens the next Open; on failure the next interval tries again.
	if o.snapper.SaveSnapshot(ctx, o.s.id, snap) == nil {
		o.lastSnapSeq = o.state.Seq()
	}
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
	if cur := o.state.Seq(); after < cur {
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

// outcome is what the window remembers of a command: its record's outcome.
type outcome struct {
	id     string
	events []events.Event
	err    *core.Error
	before uint64 // the session's seq before the command
	seq    uint64 // and after it
	at     time.Time
}

func (e *outcome) reply(dup bool) reply {
	if e.err != nil {
		return reply{res: Result{Duplicate: dup}, err: e.err}
	}
	return reply{res: Result{Events: e.events, Seq: e.seq, At: e.at, Duplicate: dup}}
}

// window is the idempotency window: the outcomes of the last max records
// of the log, applied and rejected alike, by command id, oldest out first.
// It holds what the log holds, so a reopened session, or another writer
// that reads the same log, remembers the same.
type window struct {
	max  int
	m    map[string]*outcome
	ring []*outcome // insertion order from head, once full
	head int
}

func newWindow(max int) window { return window{max: max, m: make(map[string]*outcome)} }

// get returns the outcome of command id, or nil.
func (r *window) get(id string) *outcome {
	if id == "" {
		return nil
	}
	return r.m[id]
}

func (r *window) add(e *outcome) {
	if r.max == 0 || e.id == "" {
		return
	}
	if len(r.ring) < r.max {
		r.ring = append(r.ring, e)
	} else {
		old := r.ring[r.head]
		if r.m[old.id] == old {
			delete(r.m, old.id)
		}
		r.ring[r.head] = e
		r.head = (r.head + 1) % r.max
	}
	r.m[e.id] = e
}

// startSeq is the seq before the oldest remembered command, or cur when
// there is none: reading the log from startSeq+1 finds them all again.
func (r *window) startSeq(cur uint64) uint64 {
	if len(r.ring) == 0 {
		return cur
	}
	return r.ring[r.head%len(r.ring)].before
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
