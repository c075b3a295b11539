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
)

// owner is the state of a session's owner goroutine. Only that goroutine
// touches it, except in open, before the goroutine starts.
type owner struct {
	s       *Session
	store   Store
	batcher BatchAppender
	snapper Snapshotter
	auditor Auditor
	posr    Positioner
	header  events.Header

	state       core.State
	pos         Position // position of the last record folded into state
	dirty       bool     // an append failed: what the store holds is unknown
	lastSnapSeq uint64
	win         window
	recent      recent
	subs        []*Subscription

	now   time.Time  // the clock when the batch being processed was taken
	batch []*request // scratch, reused
	items []item
	recs  []Record
}

// item is one request of a batch once decided.
type item struct {
	req   *request
	rec   Record      // applied: the record to append (events possibly none)
	rej   *core.Error // rejected
	dup   *entry      // answered from the window
	dupOf int         // > 0: same id as items[dupOf-1] of this batch
	after core.State  // the state after this item
	ent   *entry      // its outcome, once committed
}

func (it *item) applied() bool { return it.rej == nil && it.dup == nil && it.dupOf == 0 }

func newOwner(s *Session, h events.Header) *owner {
	o := &owner{
		s:      s,
		store:  s.cfg.store,
		header: h,
		state:  core.NewState(h.Session, h.Presets),
		win:    newWindow(s.cfg.window),
		recent: recent{max: s.cfg.subBuffer},
	}
	o.batcher, _ = o.store.(BatchAppender)
	o.snapper, _ = o.store.(Snapshotter)
	o.auditor, _ = o.store.(Auditor)
	o.posr, _ = o.store.(Positioner)
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
func (o *owner) readTail(ctx context.Context, from uint64, refill bool) error {
	known := o.pos
	// One Builder folds the whole tail (a reopened session's log): what it
	// has built is the state even if reading fails half way, since o.pos
	// moves with it.
	b := core.NewBuilder(o.state)
	defer func() { o.state = b.State() }()
	// Window entries of records before the first with events, whose seq is
	// that event's seq minus one, or the state's if no such record comes.
	var unseq []*entry
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
		e := &entry{id: rec.Command.ID, events: rec.Events, at: rec.At, inLog: true}
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
			for !items[i].applied() {
				i++
			}
			o.fail([]*request{items[i].req}, fmt.Errorf("session %q: command %q: %w", o.s.id, items[i].req.cmd.ID, err))
			pending = slices.Delete(pending, i-n, i-n+1)
			if len(pending) == 0 {
				return
			}
			continue
		}
		stale := errors.Is(err, errStale)
		if !stale && !errors.Is(err, ErrConflict) {
			o.dirty = true
			o.fail(pending, fmt.Errorf("session %q: append: %w", o.s.id, err))
			return
		}
		if conflicts == o.s.cfg.conflictRetries {
			o.fail(pending, fmt.Errorf("session %q: gave up after %d retries: %w", o.s.id, conflicts, ErrConflict))
			return
		}
		conflicts++
		if stale {
			continue // confirm has read the tail already
		}
		if err := o.readTail(ctx, o.state.Seq()+1, false); err != nil {
			o.dirty = true
			o.fail(pending, fmt.Errorf("session %q: reloading after a conflict: %w", o.s.id, err))
			return
		}
	}
}

// decide decides reqs one after the other, each on the state the ones
// before it leave.
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
		} else if evs, err := reducer.Decide(st, req.cmd); err != nil {
			it.rej = asRejection(err)
		} else {
			st = reducer.Fold(st, evs)
			it.rec = Record{At: o.now, Command: req.cmd, Events: evs}
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
		if items[i].dup == nil && items[i].dupOf == 0 && items[i].req.cmd.ID == id {
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
// first, are settled: every record among them is stored.
func (o *owner) append(ctx context.Context, items []item) (int, error) {
	recs := o.recs[:0]
	for i := range items {
		if items[i].applied() {
			recs = append(recs, items[i].rec)
		}
	}
	o.recs = recs
	defer clear(recs)
	if len(recs) == 0 {
		return o.confirm(ctx, items)
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
	stored := 0
	for _, rec := range recs {
		pos, err := o.store.Append(ctx, o.s.id, o.pos, rec)
		if err != nil {
			if stored == 0 {
				return 0, err
			}
			// Settled: everything before the first record not stored. A
			// rejection decided after stored record k-1 holds: the log
			// ended at k-1 right after that append. One decided before the
			// first record would need the first append to prove the same.
			n := 0
			for seen := 0; n < len(items); n++ {
				if items[n].applied() {
					if seen == stored {
						break
					}
					seen++
				}
			}
			return n, err
		}
		o.pos = pos
		stored++
	}
	return len(items), nil
}

// errStale: commands were decided on a state the log has moved past.
var errStale = errors.New("the log moved on")

// confirm settles a batch with nothing to append. Rejections decided on a
// state another writer has moved past would be wrong, and no append
// conflict reveals it, so if there is one the tail is read first; if it
// brought records, the batch is decided again (errStale).
func (o *owner) confirm(ctx context.Context, items []item) (int, error) {
	if !slices.ContainsFunc(items, func(it item) bool { return it.rej != nil }) {
		return len(items), nil
	}
	if o.posr != nil {
		last, err := o.posr.LastPosition(ctx, o.s.id)
		if err != nil {
			return 0, err
		}
		if last == o.pos {
			return len(items), nil
		}
	}
	pos := o.pos
	if err := o.readTail(ctx, o.state.Seq()+1, false); err != nil {
		return 0, err
	}
	if o.pos != pos {
		return 0, errStale
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
			it.ent = it.dup
		case it.dupOf > 0:
			it.ent = items[it.dupOf-1].ent
		case it.rej != nil:
			it.ent = &entry{id: it.req.cmd.ID, err: it.rej, before: o.state.Seq(), seq: o.state.Seq(), at: o.now}
			o.win.add(it.ent)
			o.audit(ctx, it)
		default:
			it.ent = &entry{id: it.req.cmd.ID, events: it.rec.Events, before: o.state.Seq(), at: it.rec.At, inLog: true}
			o.state = it.after
			it.ent.seq = o.state.Seq()
			o.win.add(it.ent)
			o.publish(it.rec.Events)
		}
	}
	o.s.setState(o.state)
	for i := range items {
		it := &items[i]
		it.req.reply <- it.ent.reply(it.dup != nil || it.dupOf > 0)
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

func (o *owner) audit(ctx context.Context, it *item) {
	if o.auditor == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, bestEffortTimeout)
	defer cancel()
	// Best effort, as Auditor says: a lost audit line does not fail the command.
	_ = o.auditor.Audit(ctx, o.s.id, Record{At: o.now, Command: it.req.cmd, Err: it.rej})
}

// bestEffortTimeout bounds the store calls whose failure fails no command:
// Audit and SaveSnapshot.
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

// entry is what the window remembers of a command.
type entry struct {
	id     string
	events []events.Event
	err    *core.Error
	before uint64 // the session's seq before the command
	seq    uint64 // and after it
	at     time.Time
	inLog  bool // applied, so in the log; rejections are not
}

func (e *entry) reply(dup bool) reply {
	if e.err != nil {
		return reply{res: Result{Duplicate: dup}, err: e.err}
	}
	return reply{res: Result{Events: e.events, Seq: e.seq, At: e.at, Duplicate: dup}}
}

// window remembers the last max applied commands (those in the log, so
// that a reopened session remembers the same ones) and, apart, the last max
// rejected ones (remembered while the session is open).
type window struct {
	max      int
	applied  idRing
	rejected idRing
}

func newWindow(max int) window {
	return window{max: max, applied: newIDRing(max), rejected: newIDRing(max)}
}

// get returns what is remembered of command id. An id is never in both
// rings, except when another writer applied an id this runtime rejected:
// the log wins.
func (w *window) get(id string) *entry {
	if e := w.applied.get(id); e != nil {
		return e
	}
	return w.rejected.get(id)
}

func (w *window) add(e *entry) {
	if e.inLog {
		w.applied.add(e)
	} else {
		w.rejected.add(e)
	}
}

// startSeq is the seq before the oldest remembered applied command, or cur
// when there is none: reading the log from startSeq+1 finds them all again.
func (w *window) startSeq(cur uint64) uint64 {
	if e := w.applied.oldest(); e != nil {
		return e.before
	}
	return cur
}

// idRing remembers the last max entries by id, oldest out first.
type idRing struct {
	max  int
	m    map[string]*entry
	ring []*entry // insertion order from head, once full
	head int
}

func newIDRing(max int) idRing { return idRing{max: max, m: make(map[string]*entry)} }

func (r *idRing) get(id string) *entry {
	if id == "" {
		return nil
	}
	return r.m[id]
}

func (r *idRing) add(e *entry) {
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

func (r *idRing) oldest() *entry {
	if len(r.ring) == 0 {
		return nil
	}
	return r.ring[r.head%len(r.ring)]
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
