package session

import (
	"context"
	"errors"
	"iter"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/sessionlog"
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

// Store is a durable log of sessions: a header per session, then its
// command records in order, applied and rejected ones alike
// (sessionlog.Record), each at the sessionlog.Position the store gives it.
// The runtime is its only writer; implementations must be safe for
// concurrent use by many sessions (one owner goroutine each) and by readers
// of a session while it is being appended to.
//
// The contracts are checked by storetest.Run; every Store should run it.
type Store interface {
	// Create stores the header of a new session with no records. It returns
	// an error matching ErrExists when the session exists already (another
	// writer may have created it first: read its Header).
	Create(ctx context.Context, h sessionlog.Header) error

	// Header returns a session's header, or an error matching ErrNotFound.
	Header(ctx context.Context, session string) (sessionlog.Header, error)

	// Append stores rec as the session's next record, provided the
	// session's last record is at expected (0: the log is empty), and
	// returns rec's position. If the last record is elsewhere it stores
	// nothing and returns an error matching ErrConflict. When Append returns
	// nil the record is durable to the store's standard (the file store has
	// synced it to disk). An unknown session is an error matching
	// ErrNotFound. rec.Pos is ignored.
	Append(ctx context.Context, session string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error)

	// Records yields the session's records in append order, each with its
	// Pos, and stops at the end of the log as it was when reading started
	// or later. It yields a suffix of the log that holds every event with
	// seq ≥ from and every record appended after the record holding event
	// from-1 (so from ≤ 1 yields everything); it may start earlier, so the
	// caller skips what it does not need. An error (ErrNotFound for an
	// unknown session, a read or decode error, ctx's error) is yielded once,
	// last.
	Records(ctx context.Context, session string, from uint64) iter.Seq2[sessionlog.Record, error]

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
	AppendBatch(ctx context.Context, session string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error)
}

// Snapshot is a session's state at one point of its log, with what the
// runtime needs to reopen from it.
type Snapshot struct {
	// State is the session state after the record at Pos.
	State core.Snapshot
	// Pos is the position of the last record folded into State.
	Pos sessionlog.Position
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

// Follower is a Store shared by several writers (several gavel instances
// on one JetStream stream) that delivers a session's records as they are
// stored, whoever appended them. A live session follows its log through
// it: another writer's records reach its state, idempotency window and
// subscribers at once, in log order, interleaved with its own appends. A
// store with one writer (memory, files) needs none.
//
// The runtime checks what it is given as when it opens a session: the
// events of the records after its position continue its seq without a gap;
// a record that does not makes it read the store before it decides again.
type Follower interface {
	// Follow yields the session's records stored after position after, in
	// log order, each with its Pos, as they are stored, the caller's own
	// appends included; it waits for more until ctx ends. It skips none:
	// a stream that could not go on from where it was (a lost connection
	// it could not resume) yields an error and ends, and the runtime then
	// reads the store before its next decision and calls Follow again from
	// its position. ctx's end ends it too (its error may be yielded).
	Follow(ctx context.Context, session string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error]
}
