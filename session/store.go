package session

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// Errors a Store returns, matched with errors.Is. A store may wrap them with
// context.
var (
	// ErrConflict: Append's expected position is not the session's last
	// position, because another writer appended first. Nothing was stored.
	ErrConflict = errors.New("session: conflict: the log moved on")
	// ErrNotFound: the session (or, for Snapshotter, a snapshot) does not exist.
	ErrNotFound = errors.New("session: not found")
	// ErrExists: Create of a session that exists already.
	ErrExists = errors.New("session: already exists")
)

// ErrPermanent is matched (errors.Is) by every error after which doing the
// same again would fail the same way: submitting the command again with the
// same id, saving the same snapshot again. Every other error the runtime
// returns, other than a *core.Error, is transient: the command may or may
// not have been applied, and sending it again is the way to learn which.
//
// Transports carry the distinction: a permanent failure is never retried
// by the NATS client, and is its own refusal on the websocket.
var ErrPermanent = errors.New("session: permanent failure")

// ErrTooLarge is matched by the error of a store that can never hold a
// record or a snapshot, however often it is asked: it is larger than the
// store takes (a JetStream server's max_payload, the 64 MiB line of a log
// file). It also matches ErrPermanent. A store returns it only when it
// stored nothing; the runtime then fails that command alone, at once, and
// goes on.
var ErrTooLarge error = permanent("session: too large for the store")

// permanent is an error that matches ErrPermanent.
type permanent string

func (e permanent) Error() string { return string(e) }

// Is makes every permanent error match ErrPermanent.
func (e permanent) Is(target error) bool { return target == ErrPermanent }

// Position is where a record sits in a session's log. Positions are chosen by
// the store and increase strictly with every record of a session; 0 is the
// position of an empty log (before the first record). Nothing else may be
// assumed: the memory and file stores count records (1, 2, 3 …), a JetStream
// store uses the stream sequence of the record's message, so that expected
// maps to Nats-Expected-Last-Subject-Sequence.
//
// A position is not an event seq: a command that changes nothing still takes
// a position, so that the idempotency window can find it after a restart.
type Position uint64

// Record is one command that was applied (or, for an Auditor, rejected): the
// command, the time the runtime's clock gave it, and what it produced.
type Record struct {
	// Pos is the record's position: set by the store on every record Records
	// yields; Append ignores it.
	Pos Position
	// At is the record's time, from the runtime's clock (UTC); zero when the
	// log did not say.
	At time.Time
	// Command is the command. Its ID is what a store may deduplicate on (a
	// JetStream store sends it as Nats-Msg-Id).
	Command core.Command
	// Events are the command's events, numbered with consecutive seqs that
	// continue the session's; empty when the command changed nothing.
	Events []events.Event
	// Err is the rejection of a record given to an Auditor; always nil for a
	// record appended to the log.
	Err *core.Error
}

// LastSeq returns the seq of the record's last event, or before when it has
// none: the session's seq after the record, given its seq before.
func (r Record) LastSeq(before uint64) uint64 {
	if n := len(r.Events); n > 0 {
		return r.Events[n-1].Sequence()
	}
	return before
}

// Store is a durable log of sessions: a header per session, then its
// command records in order. The runtime is its only user; implementations
// must be safe for concurrent use by many sessions (one owner goroutine
// each) and by readers of a session while it is being appended to.
//
// The contracts are checked by storetest.Run; every Store should run it.
type Store interface {
	// Create stores the header of a new session with no records. It returns
	// an error matching ErrExists when the session exists already (another
	// writer may have created it first: read its Header).
	Create(ctx context.Context, h events.Header) error

	// Header returns a session's header, or an error matching ErrNotFound.
	Header(ctx context.Context, session string) (events.Header, error)

	// Append stores rec as the session's next record, provided the
	// session's last record is at expected (0: the log is empty), and
	// returns rec's position. If the last record is elsewhere it stores
	// nothing and returns an error matching ErrConflict. When Append returns
	// nil the record is durable to the store's standard (the file store has
	// synced it to disk). An unknown session is an error matching
	// ErrNotFound. rec.Err is nil.
	Append(ctx context.Context, session string, expected Position, rec Record) (Position, error)

	// Records yields the session's records in append order, each with its
	// Pos, and stops at the end of the log as it was when reading started
	// or later. It yields a suffix of the log that holds every event with
	// seq ≥ from and every record appended after the record holding event
	// from-1 (so from ≤ 1 yields everything); it may start earlier, so the
	// caller skips what it does not need. An error (ErrNotFound for an
	// unknown session, a read or decode error, ctx's error) is yielded once,
	// last.
	Records(ctx context.Context, session string, from uint64) iter.Seq2[Record, error]

	// Sessions yields the id of every session, in no particular order. An
	// error is yielded once, last.
	Sessions(ctx context.Context) iter.Seq2[string, error]
}

// BatchAppender is a Store that can append several records of one session
// with one durable write: this is how group commit reaches the disk. The
// runtime uses it whenever it has more than one record ready.
type BatchAppender interface {
	// AppendBatch is Append for recs, in order, all or nothing: the first
	// goes after expected, and the position of the last is returned.
	AppendBatch(ctx context.Context, session string, expected Position, recs []Record) (Position, error)
}

// Positioner is a Store that tells cheaply where a session's log ends. The
// runtime asks before it answers commands that were all rejected (a
// rejection appends nothing, so no conflict would reveal that another
// writer moved the log on); without Positioner it reads the log from its
// last seq instead.
type Positioner interface {
	// LastPosition returns the position of the session's last record (0
	// when it has none), or an error matching ErrNotFound.
	LastPosition(ctx context.Context, session string) (Position, error)
}

// Snapshot is a session's state at one point of its log, with what the
// runtime needs to reopen from it.
type Snapshot struct {
	// State is the session state after the record at Pos.
	State core.Snapshot
	// Pos is the position of the last record folded into State.
	Pos Position
	// WindowSeq tells where the idempotency window starts: Records(ctx,
	// session, WindowSeq+1) yields every record the window held when the
	// snapshot was taken. A store may use it to keep that read cheap.
	WindowSeq uint64
}

// Snapshotter is a Store that keeps snapshots. Only the latest matters.
type Snapshotter interface {
	// SaveSnapshot stores snap as the session's latest snapshot. snap.Pos is
	// a position the session's log holds.
	SaveSnapshot(ctx context.Context, session string, snap Snapshot) error
	// LatestSnapshot returns the session's latest snapshot, or an error
	// matching ErrNotFound when it has none.
	LatestSnapshot(ctx context.Context, session string) (Snapshot, error)
}

// Auditor is a Store that keeps rejected commands, outside the log: they
// take no position and are never yielded by Records.
type Auditor interface {
	// Audit stores rec, a rejected command (rec.Err set, no events). It is
	// best effort: the runtime does not fail the command if Audit fails.
	Audit(ctx context.Context, session string, rec Record) error
}
