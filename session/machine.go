package session

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// machine is the pure core of a session's owner, as etcd raft's RawNode is
// to its Node: the session's committed state, its position in the log, the
// idempotency window, and the batch of commands it is deciding. Each step
// takes an input (commands and a clock reading, the outcome of an append,
// records read from the store or delivered by its follow stream) and
// returns a plan: what the caller must do, in order, and then which store
// call to make, whose outcome is the next step's input. The machine does
// no IO, reads no clock and starts no goroutine; it is not safe for
// concurrent use, and a plan is valid until the next step.
//
// The machine advances its own state, position and window when it steps;
// the plan tells the world: the state to install (what State returns), the
// outcomes committed (the window's new entries, whose events go to the
// subscribers), the callers to answer, the snapshot to save.
type machine struct {
	id        string
	state     core.State
	pos       sessionlog.Position // of the last record folded or appended
	win       window
	stale     bool // the store may hold records after pos: read them before deciding
	retries   int  // WithConflictRetries
	batches   bool // the store appends several records with one write
	snapEvery uint64
	snapSeq   uint64 // the seq of the last snapshot asked for (or loaded)

	// The batch being decided.
	now       time.Time
	pending   []*request
	items     []item
	recs      []sessionlog.Record
	appending ioKind // the append the plan asked for
	conflicts int

	// A read in progress (beginRead … endRead).
	rd reading

	p plan // reused from step to step
}

// plan is a step's output: acts, carried out in order, then io.
type plan struct {
	acts []action
	io   storeIO
}

// actionKind says what an action does.
type actionKind uint8

const (
	// actInstall makes state the session's state, the one State returns
	// (and the one the machine decides on already).
	actInstall actionKind = iota + 1
	// actCommit: out joined the session's history and the window; its
	// events go to the subscribers now.
	actCommit
	// actAnswer answers req with rep.
	actAnswer
	// actSnapshot hands snap to the snapshotter, which saves it beside the
	// owner.
	actSnapshot
)

// action is one thing a plan asks for; which fields are set depends on
// kind.
type action struct {
	kind  actionKind
	state core.State // actInstall
	out   *outcome   // actCommit
	req   *request   // actAnswer
	rep   reply      // actAnswer
	snap  snapJob    // actSnapshot
}

// snapJob is a snapshot to take: the state (immutable, turned into a
// core.Snapshot by the snapshotter), its position and where the window
// starts.
type snapJob struct {
	state     core.State
	pos       sessionlog.Position
	windowSeq uint64
}

// ioKind is the store call a plan ends with.
type ioKind uint8

const (
	ioNone ioKind = iota
	// ioAppendBatch: AppendBatch of recs after expected, all or nothing.
	ioAppendBatch
	// ioAppendEach: Append of recs one after the other, the first after
	// expected, each after the one before; stop at the first failure.
	ioAppendEach
	// ioRead: Records from seq from, each handed to take, then endRead.
	ioRead
)

// storeIO is the store call a plan ends with.
type storeIO struct {
	kind     ioKind
	expected sessionlog.Position
	recs     []sessionlog.Record
	from     uint64
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

func newMachine(id string, h sessionlog.Header, cfg config, batches bool, snaps bool) *machine {
	m := &machine{
		id:      id,
		state:   core.NewState(h.Session, h.Presets),
		win:     newWindow(cfg.window),
		retries: cfg.conflictRetries,
		batches: batches,
	}
	if snaps {
		m.snapEvery = cfg.snapshotInterval
	}
	return m
}

// restore starts the machine from a snapshot, and returns the seq from
// which the log must be read (with a refilling read) to rebuild the window.
func (m *machine) restore(st core.State, pos sessionlog.Position, windowSeq uint64) uint64 {
	m.state, m.pos, m.snapSeq = st, pos, st.Seq()
	return min(windowSeq, st.Seq()) + 1
}

// reset empties the plan for a new step.
func (m *machine) reset() *plan {
	clear(m.p.acts)
	m.p.acts = m.p.acts[:0]
	m.p.io = storeIO{}
	return &m.p
}

func (m *machine) act(a action) { m.p.acts = append(m.p.acts, a) }

// propose starts deciding reqs, a batch of commands taken together at now.
func (m *machine) propose(now time.Time, reqs []*request) *plan {
	p := m.reset()
	m.now, m.conflicts = now, 0
	m.pending = append(m.pending[:0], reqs...)
	if m.stale {
		m.askRead(readReload)
		return p
	}
	m.decide()
	return p
}

// decide decides the pending requests one after the other, each on the
// state the ones before it leave, and asks for their records to be
// appended: a record for each, applied or rejected, unless the window or
// an earlier request of the batch answers it. A batch with nothing to
// append is settled at once.
func (m *machine) decide() {
	items := m.items[:0]
	st := m.state
	for _, req := range m.pending {
		it := item{req: req}
		id := req.cmd.ID
		if e := m.win.get(id); e != nil {
			it.dup = e
		} else if j := m.indexOfID(items, id); j >= 0 {
			it.dupOf = j + 1
		} else {
			it.rec = sessionlog.Record{At: m.now, Command: req.cmd}
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
	m.items = items
	recs := m.recs[:0]
	for i := range items {
		if items[i].decided() {
			recs = append(recs, items[i].rec)
		}
	}
	m.recs = recs
	switch {
	case len(recs) == 0:
		m.settle(len(items))
		m.endBatch()
	case len(recs) > 1 && m.batches:
		m.askAppend(ioAppendBatch)
	default:
		m.askAppend(ioAppendEach)
	}
}

func (m *machine) askAppend(kind ioKind) {
	m.appending = kind
	m.p.io = storeIO{kind: kind, expected: m.pos, recs: m.recs}
}

// indexOfID returns the index of the item of items deciding command id, or -1.
// A batch is short and most are of one command, so a scan beats a map.
func (m *machine) indexOfID(items []item, id string) int {
	if id == "" || m.win.max == 0 {
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

// appended takes the outcome of the append the plan asked for: the first
// stored records were stored, the last of them at pos, and err is why the
// others were not (nil when all were).
func (m *machine) appended(stored int, pos sessionlog.Position, err error) *plan {
	p := m.reset()
	if stored > 0 {
		m.pos = pos
	}
	n := m.settledBy(stored)
	m.settle(n)
	if n == len(m.items) {
		m.endBatch()
		return p
	}
	// The rest is decided again, or fails. m.items[n] is the first item
	// whose record was not stored.
	m.pending = m.pending[:0]
	for _, it := range m.items[n:] {
		m.pending = append(m.pending, it.req)
	}
	switch {
	case errors.Is(err, ErrPermanent) && m.appending == ioAppendBatch:
		// One of them can never be stored, and nothing was: find which
		// by appending them one at a time.
		m.items = slices.Delete(m.items, 0, n)
		m.askAppend(ioAppendEach)
	case errors.Is(err, ErrPermanent):
		// The store can never hold that record, and stored nothing of it:
		// its command alone fails, and the others are decided again
		// without it.
		m.answer(m.pending[0], reply{err: fmt.Errorf("session %q: command %q: %w", m.id, m.pending[0].cmd.ID, err)})
		m.pending = slices.Delete(m.pending, 0, 1)
		if len(m.pending) == 0 {
			m.endBatch()
			return p
		}
		m.decide()
	case errors.Is(err, ErrConflict) && m.conflicts == m.retries:
		m.failPending(fmt.Errorf("session %q: gave up after %d retries: %w", m.id, m.conflicts, ErrConflict))
	case errors.Is(err, ErrConflict):
		// Another writer appended first: what it appended (maybe these
		// very commands, sent again through it) decides them now.
		m.conflicts++
		m.askRead(readConflict)
	default:
		// What the store holds is unknown: read it before deciding again.
		m.stale = true
		m.failPending(fmt.Errorf("session %q: append: %w", m.id, err))
	}
	return p
}

// settledBy returns how many items, from the first, are settled when the
// first stored records of the batch are stored: those before the first
// decided item whose record was not.
func (m *machine) settledBy(stored int) int {
	n := 0
	for seen := 0; n < len(m.items); n++ {
		if m.items[n].decided() {
			if seen == stored {
				break
			}
			seen++
		}
	}
	return n
}

// settle makes the first n items the session's history, in the order of
// the package doc: the state, the window and the subscribers, then the
// callers' answers, so that a caller who has its answer finds it in
// State and in every subscription.
func (m *machine) settle(n int) {
	items := m.items[:n]
	if len(items) == 0 {
		return
	}
	before := m.state.Seq()
	for i := range items {
		if it := &items[i]; it.decided() {
			m.state = it.after
		}
	}
	if m.state.Seq() != before {
		m.act(action{kind: actInstall, state: m.state})
	}
	seq := before
	for i := range items {
		it := &items[i]
		switch {
		case it.dup != nil:
			it.out = it.dup
		case it.dupOf > 0:
			it.out = items[it.dupOf-1].out
		default:
			it.out = &outcome{id: it.req.cmd.ID, events: it.rec.Events, err: it.rec.Err, before: seq, at: it.rec.At}
			seq = it.rec.LastSeq(seq)
			it.out.seq = seq
			m.win.add(it.out)
			m.act(action{kind: actCommit, out: it.out})
		}
	}
	for i := range items {
		it := &items[i]
		m.answer(it.req, it.out.reply(!it.decided()))
	}
	m.maybeSnapshot()
}

func (m *machine) answer(req *request, rep reply) {
	m.act(action{kind: actAnswer, req: req, rep: rep})
}

// failPending answers every pending request with err and ends the batch.
func (m *machine) failPending(err error) {
	for _, req := range m.pending {
		m.answer(req, reply{err: err})
	}
	m.endBatch()
}

// endBatch forgets the batch.
func (m *machine) endBatch() {
	clear(m.pending)
	m.pending = m.pending[:0]
	clear(m.items)
	m.items = m.items[:0]
	clear(m.recs)
	m.recs = m.recs[:0]
}

// maybeSnapshot asks for a snapshot when WithSnapshotInterval events have
// passed since the last. A snapshot only shortens the next Open: it is
// asked for once, and one that fails is replaced at the next interval.
func (m *machine) maybeSnapshot() {
	if m.snapEvery == 0 || m.state.Seq()-m.snapSeq < m.snapEvery {
		return
	}
	m.snapSeq = m.state.Seq()
	m.act(action{kind: actSnapshot, snap: snapJob{state: m.state, pos: m.pos, windowSeq: m.win.startSeq(m.state.Seq())}})
}

// readMode says why records are being read, and so what becomes of them.
type readMode uint8

const (
	// readOpen: opening the session. Records at or before pos (the
	// snapshot's) refill the window; later ones are folded.
	readOpen readMode = iota + 1
	// readReload: the store may hold records the machine has not seen
	// (stale): fold them, then decide the pending batch.
	readReload
	// readConflict: another writer appended first: fold its records,
	// then decide the pending batch again.
	readConflict
	// readFollow: records the follow stream delivered: fold those after
	// pos.
	readFollow
	// readSync: a read barrier (sync): fold every record the store holds
	// after pos.
	readSync
)

// reading is a read in progress: one Builder folds its records, so that a
// long log (a reopened session's) folds as fast as replay does.
type reading struct {
	mode    readMode
	known   sessionlog.Position // pos when reading began
	b       core.Builder
	taken   int   // records folded since the last install
	flushed bool  // the plan was handed out by flush: start a new one
	err     error // why the first record that could not be folded was not
	// Window entries of records before the first with events, whose seq
	// is that event's seq minus one, or the state's if no such record
	// comes.
	unseq []*outcome
}

// maxTaken is how many records a read folds before its plan is carried
// out (flush): a long read's plan stays small.
const maxTaken = 256

// askRead ends the plan with a read of the records after the state's seq.
func (m *machine) askRead(mode readMode) {
	m.rd.mode = mode
	m.p.io = storeIO{kind: ioRead, from: m.state.Seq() + 1}
}

// open starts a session whose log must be read from seq from: its state
// is the header's or a snapshot's (restore).
func (m *machine) open(from uint64) *plan {
	p := m.reset()
	m.rd.mode = readOpen
	p.io = storeIO{kind: ioRead, from: from}
	return p
}

// beginRead starts the read the plan asked for: take each record the
// store yields, then endRead.
func (m *machine) beginRead() {
	m.reset()
	r := &m.rd
	r.known, r.b, r.taken, r.flushed, r.err = m.pos, core.NewBuilder(m.state), 0, false, nil
}

// take folds one record of a read. It returns false when the read must
// stop: the record breaks the log (a gap in the seqs, a rejection with
// events), and endRead will say so.
func (m *machine) take(rec sessionlog.Record) bool {
	r := &m.rd
	if r.flushed {
		m.reset()
		r.flushed = false
	}
	if rec.Pos <= m.pos {
		if r.mode == readOpen && rec.Pos <= r.known {
			m.refill(rec)
		}
		return true
	}
	seq := r.b.Current().Seq()
	m.settleUnseq(seq)
	if err := checkSeqs(seq, rec.Events); err != nil {
		r.err = fmt.Errorf("record at position %d: %w", rec.Pos, err)
		return false
	}
	if rec.Err != nil && len(rec.Events) > 0 {
		r.err = fmt.Errorf("record at position %d: rejected, and with events", rec.Pos)
		return false
	}
	e := &outcome{id: rec.Command.ID, events: rec.Events, err: rec.Err, at: rec.At, before: seq}
	reducer.FoldInto(&r.b, rec.Events)
	m.pos, e.seq = rec.Pos, r.b.Current().Seq()
	m.win.add(e)
	m.act(action{kind: actCommit, out: e})
	r.taken++
	return true
}

// refill puts a record the state holds already (before the snapshot) into
// the window.
func (m *machine) refill(rec sessionlog.Record) {
	r := &m.rd
	e := &outcome{id: rec.Command.ID, events: rec.Events, err: rec.Err, at: rec.At}
	if n := len(rec.Events); n > 0 {
		e.before, e.seq = rec.Events[0].Sequence()-1, rec.Events[n-1].Sequence()
		m.settleUnseq(e.before)
	} else {
		r.unseq = append(r.unseq, e)
	}
	m.win.add(e)
}

func (m *machine) settleUnseq(seq uint64) {
	for _, e := range m.rd.unseq {
		e.before, e.seq = seq, seq
	}
	clear(m.rd.unseq)
	m.rd.unseq = m.rd.unseq[:0]
}

// conflictRead returns, when the read in progress is a conflict's, how
// many conflicts in a row the batch has met; else 0. A conflict's records
// may come from the follow stream's deliveries before the store.
func (m *machine) conflictRead() int {
	if m.rd.mode != readConflict {
		return 0
	}
	return m.conflicts
}

// readSeq is the seq of the state the read in progress has folded so far.
func (m *machine) readSeq() uint64 { return m.rd.b.Current().Seq() }

// full reports whether the read has folded enough records that its plan
// should be carried out before it goes on (see flush).
func (m *machine) full() bool { return m.rd.taken >= maxTaken }

// flush returns the plan of the records folded so far: the state to
// install, then their commits. Carry it out before the next take.
func (m *machine) flush() *plan {
	m.installRead()
	m.rd.flushed = true
	return &m.p
}

// installRead puts the install of the state read so far in front of the
// commits taken since the last flush.
func (m *machine) installRead() {
	r := &m.rd
	if r.flushed {
		m.reset()
		r.flushed = false
	}
	m.state = r.b.State()
	if r.taken > 0 {
		m.p.acts = slices.Insert(m.p.acts, 0, action{kind: actInstall, state: m.state})
	}
	r.taken = 0
}

// endRead ends a read that stopped with err (nil: the store yielded
// everything), and returns the plan: the install and commits of what was
// folded, then, for a batch's read, the batch decided again or failed.
func (m *machine) endRead(err error) *plan {
	r := &m.rd
	m.settleUnseq(r.b.Current().Seq())
	m.installRead()
	r.b = core.Builder{}
	if err == nil {
		err = r.err
	}
	r.err = nil
	switch r.mode {
	case readOpen:
		r.err = err // see readErr
	case readSync:
		r.err = err // see readErr
		m.stale = err != nil
		m.maybeSnapshot()
	case readFollow:
		if err != nil {
			// The follow stream delivered a record that does not continue
			// the state: it missed some. Read the store before deciding.
			m.stale = true
		}
		m.maybeSnapshot()
	case readReload:
		if err != nil {
			m.failPending(fmt.Errorf("session %q: reloading after a failed append: %w", m.id, err))
			break
		}
		m.stale = false
		m.maybeSnapshot()
		m.decide()
	case readConflict:
		if err != nil {
			m.stale = true
			m.failPending(fmt.Errorf("session %q: reloading after a conflict: %w", m.id, err))
			break
		}
		m.maybeSnapshot()
		m.decide()
	}
	return &m.p
}

// readErr returns the error of the read that opened the session, or of
// the last sync.
func (m *machine) readErr() error { return m.rd.err }

// sync starts a read barrier, between batches: the records the store holds
// after pos, whoever appended them, are folded (as the follow stream would
// deliver them, a little later) before the caller reads the state. A sync
// that fails leaves the machine stale: it reads the store before its next
// decision.
func (m *machine) sync() *plan {
	p := m.reset()
	m.askRead(readSync)
	return p
}

// deliver folds records the follow stream delivered, between batches:
// another writer's are the session's next records; the machine's own
// appends, and records a read folded already, are skipped by position.
func (m *machine) deliver(recs []sessionlog.Record) *plan {
	m.rd.mode = readFollow
	m.beginRead()
	for _, rec := range recs {
		if !m.take(rec) {
			break
		}
	}
	return m.endRead(nil)
}

// followFailed notes that the follow stream ended: records may have been
// stored since the last it delivered, so the store is read before the next
// decision.
func (m *machine) followFailed() { m.stale = true }

// checkSeqs checks that evs continue a session whose seq is seq.
func checkSeqs(seq uint64, evs []events.Event) error {
	for _, ev := range evs {
		if seq++; ev.Sequence() != seq {
			return fmt.Errorf("event seq %d where %d was due: the log has a gap", ev.Sequence(), seq)
		}
	}
	return nil
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
