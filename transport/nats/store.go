package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// ErrDuplicateID is matched by the error of Append when the server has
// already stored a record with the same command id, earlier in the session's
// log, within its duplicate window: the command id was reused after the
// runtime's idempotency window forgot it. Nothing was stored.
var ErrDuplicateID = errors.New("gavel/nats: command id already in the log")

// Headers of a record message besides the Nats-* ones.
const (
	// hdrSeq holds the session's seq after the record. Records uses it to
	// find where to start reading without decoding the log from the start.
	hdrSeq = "Gavel-Seq"
	// hdrWriter holds a unique id of the Append call that published the
	// message (the same for all its attempts), so that Append can tell its
	// own record from another writer's with the same command id.
	hdrWriter = "Gavel-Writer"
)

// Store is a session.Store on a JetStream stream. Create it with NewStore;
// it is safe for concurrent use, also by several gavel instances (processes)
// sharing the stream: Append's expected position is enforced by the server.
//
// Layout (subjects under the prefix, WithPrefix; tokens from SessionToken):
//
//	<prefix>.head.<token>  one message: the gavel-log/2 header line
//	<prefix>.log.<token>   one message per command record, applied or
//	                       rejected: the gavel-log/2 record line, with headers
//	                         Nats-Msg-Id: <token>/<escaped command id>
//	                         Nats-Expected-Last-Subject-Sequence: <expected>
//	                         Gavel-Seq: <the session's seq after the record>
//	                         Gavel-Writer: <unique id of the Append call>
//
// A sessionlog.Position is the stream sequence of the record's message; 0 is an
// empty log. Reading a session's messages in stream order gives its
// gavel-log/2 file, line for line.
type Store struct {
	js     jetstream.JetStream
	reader logReader
	// follower reads the stream for Follow, through a JetStream context
	// whose requests time out after attemptTimeout: an ordered consumer
	// recreating itself after a server restart is not held for the
	// default five seconds by a request the old server never answered.
	follower logReader
	snaps    jetstream.ObjectStore // bucket <stream>_SNAP: the latest snapshot of each session
	chunk    uint32                // the size of a snapshot's chunks: fits the connection's max payload

	headers sync.Map // session id → sessionlog.Header; a header never changes
	tails   sync.Map // session id → tail: the last append this store made

	// batches is whether the stream takes atomic batches (AppendBatch).
	batches atomic.Bool

	// Counters, read by the tests.
	wrongSeq      atomic.Int64 // 10071 answers
	wrongSeqConst atomic.Int64 // 10164 answers
	ownLanded     atomic.Int64 // conflicts and duplicates that were our own write
	retried       atomic.Int64 // publishes sent again after an unknown outcome
}

// tail is where a session's log ended after an append of this store.
type tail struct {
	pos sessionlog.Position
	seq uint64
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.Snapshotter   = (*Store)(nil)
	_ session.Follower      = (*Store)(nil)
	_ session.BatchAppender = (*Store)(nil)
)

// NewStore returns a Store on nc's JetStream, creating the stream (WithStream,
// default GAVEL) or updating its configuration: file storage (or
// WithMemoryStorage), WithReplicas replicas, WithDuplicateWindow, message
// deletion denied (a log has no holes), atomic batch publish allowed
// (AppendBatch), reads from the stream leader only.
// Snapshots go to a JetStream object store, bucket <stream>_SNAP (its stream
// is OBJ_<stream>_SNAP), one object per session: an object is cut into
// chunks that fit the server's max_payload, so a snapshot of any size is
// stored.
//
// Options: WithStream, WithPrefix, WithReplicas, WithMemoryStorage,
// WithDuplicateWindow, WithStoreTimeout.
func NewStore(ctx context.Context, nc *gonats.Conn, opts ...StoreOption) (*Store, error) {
	cfg := defaultStore()
	if err := apply(&cfg, opts, StoreOption.applyStore); err != nil {
		return nil, err
	}
	return newStoreWith(ctx, nc, cfg)
}

func newStoreWith(ctx context.Context, nc *gonats.Conn, cfg storeConfig) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: jetstream: %w", err)
	}
	subj := newSubjects(cfg.prefix)
	sc := jetstream.StreamConfig{
		Name:        cfg.stream,
		Description: "gavel session logs (gavel-log/2)",
		Subjects:    []string{subj.log + "*", subj.head + "*"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.replicas,
		Duplicates:  cfg.duplicates,
		Retention:   jetstream.LimitsPolicy,
		DenyDelete:  true,
		// AppendBatch's one write per batch (nats-server 2.12 and later;
		// an older server ignores it, and its stream reports it off).
		AllowAtomicPublish: true,
		// AllowDirect stays off: direct gets may be answered by a
		// follower that lags, and conflict checks must see the leader's log.
	}
	if cfg.memory {
		sc.Storage = jetstream.MemoryStorage
	}
	stream, err := createStream(ctx, js, sc, cfg.shared)
	if err != nil {
		return nil, err
	}
	snaps, err := create(ctx, cfg.storeWait, js.CreateOrUpdateObjectStore, jetstream.ObjectStoreConfig{
		Bucket:      cfg.stream + "_SNAP",
		Description: "gavel session snapshots, the latest of each session",
		Storage:     sc.Storage,
		Replicas:    cfg.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: object store %s_SNAP: %w", cfg.stream, err)
	}
	fjs, err := jetstream.New(nc, jetstream.WithDefaultTimeout(attemptTimeout))
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: jetstream: %w", err)
	}
	fstream, err := fjs.Stream(ctx, cfg.stream)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: stream %s: %w", cfg.stream, err)
	}
	// A chunk is a message of its own: leave room for its headers.
	chunk := uint32(min(128<<10, max(nc.MaxPayload()-1024, 512)))
	s := &Store{
		js:       js,
		reader:   logReader{stream: stream, subj: subj, wait: cfg.storeWait},
		follower: logReader{stream: fstream, subj: subj, wait: cfg.storeWait},
		snaps:    snaps,
		chunk:    chunk,
	}
	s.batches.Store(stream.CachedInfo().Config.AllowAtomicPublish)
	return s, nil
}

func createStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, c shared) (jetstream.Stream, error) {
	stream, err := create(ctx, c.storeWait, js.CreateOrUpdateStream, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another instance created it between our lookup and our create.
		stream, err = create(ctx, c.storeWait, js.CreateOrUpdateStream, sc)
	}
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: stream %s: %w", sc.Name, err)
	}
	return stream, nil
}

// Create implements session.Store. The header is published with an expected
// last subject sequence of 0, so of two instances creating one session
// exactly one succeeds, and the other gets session.ErrExists.
func (s *Store) Create(ctx context.Context, h sessionlog.Header) error {
	tok, err := SessionToken(h.Session)
	if err != nil {
		return err
	}
	msg := &gonats.Msg{
		Subject: s.reader.subj.head + tok,
		Header:  gonats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{"0"}},
		Data:    sessionlog.AppendHeader(nil, h),
	}
	if _, err := s.publish(ctx, msg); err != nil {
		if isWrongSeq(err) {
			// Another instance's header is stored or, on a replicated
			// stream, still on its way to the leader's store: wait until it
			// can be read, so that the caller, told ErrExists, finds it.
			_, err := retry(ctx, s.reader.wait, attemptTimeout, func(ctx context.Context) (sessionlog.Header, error) {
				got, err := s.Header(ctx, h.Session)
				if errors.Is(err, session.ErrNotFound) {
					err = ErrUnavailable // not readable yet: read again
				}
				return got, err
			}, nil)
			if err != nil {
				return fmt.Errorf("session %q: create: another instance's header: %w", h.Session, err)
			}
			return fmt.Errorf("session %q: %w", h.Session, session.ErrExists)
		}
		return fmt.Errorf("session %q: create: %w", h.Session, err)
	}
	s.headers.Store(h.Session, h)
	return nil
}

// Header implements session.Store.
func (s *Store) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	if h, ok := s.headers.Load(id); ok {
		return h.(sessionlog.Header), nil
	}
	tok, err := SessionToken(id)
	if err != nil {
		return sessionlog.Header{}, fmt.Errorf("session %q: %w: %w", id, session.ErrNotFound, err)
	}
	m, err := s.reader.last(ctx, s.reader.subj.head+tok)
	if err != nil {
		return sessionlog.Header{}, fmt.Errorf("session %q: header: %w", id, err)
	}
	if m == nil {
		return sessionlog.Header{}, fmt.Errorf("session %q: %w", id, session.ErrNotFound)
	}
	h, err := sessionlog.DecodeHeader(m.Data)
	if err != nil {
		return sessionlog.Header{}, fmt.Errorf("session %q: stream message %d: %w", id, m.Sequence, err)
	}
	if h.Session != id {
		return sessionlog.Header{}, fmt.Errorf("session %q: stream message %d is the header of %q", id, m.Sequence, h.Session)
	}
	s.headers.Store(id, h)
	return h, nil
}

// known returns the subject token of a session whose header exists.
func (s *Store) known(ctx context.Context, id string) (string, error) {
	if _, err := s.Header(ctx, id); err != nil {
		return "", err
	}
	return SessionToken(id) // cannot fail: the header exists
}

// Append implements session.Store: one message, published with
// Nats-Expected-Last-Subject-Sequence = expected and Nats-Msg-Id from the
// command id.
//
// When the outcome of a publish is unknown (a timeout, no responders while a
// new stream leader is elected) the same message is sent again, for up to
// WithStoreTimeout. The answer to a later attempt may then be a duplicate
// acknowledgement (the server checks Nats-Msg-Id before the sequence) or a
// wrong sequence (10071, or 10164 from a replicated stream with a write to
// the subject in flight): Append looks at the first record after expected,
// and if it is its own (Gavel-Writer) an earlier attempt landed and Append
// succeeds with its position. Otherwise a wrong sequence is
// session.ErrConflict, and so is a duplicate of a record after expected
// (another writer stored the same command first); a duplicate of a record
// at or before expected is ErrDuplicateID.
func (s *Store) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return s.append(ctx, id, expected, rec, nuid.Next())
}

// append is Append as writer.
func (s *Store) append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record, writer string) (sessionlog.Position, error) {
	tok, err := s.known(ctx, id)
	if err != nil {
		return 0, err
	}
	subject := s.reader.subj.log + tok
	after, err := s.afterSeq(ctx, id, subject, expected, rec)
	if err != nil {
		return 0, err
	}
	msg := recordMsg(subject, tok, expected, rec, after, writer)
	ack, err := s.publish(ctx, msg)
	pos := sessionlog.Position(0)
	switch {
	case err == nil && !ack.Duplicate:
		pos = sessionlog.Position(ack.Sequence)
	case err == nil:
		if pos, _, err = s.landed(ctx, subject, expected, writer, 1); err == nil && pos == 0 {
			err = session.ErrConflict
			if ack.Sequence <= uint64(expected) {
				err = ErrDuplicateID
			}
			err = fmt.Errorf("command %q is at position %d: %w", rec.Command.ID, ack.Sequence, err)
		}
	case isWrongSeq(err):
		pos, _, err = s.ownOrConflict(ctx, subject, expected, writer, 1, err)
	}
	if err != nil {
		return 0, fmt.Errorf("session %q: append after position %d: %w", id, expected, err)
	}
	s.noteTail(id, pos, after)
	return pos, nil
}

// recordMsg returns the message of rec, the session's seq after it being
// after, for the log subject of the session whose token is tok, published
// by writer; its first message (Append's only one) expects the subject's
// last record at expected.
func recordMsg(subject, tok string, expected sessionlog.Position, rec sessionlog.Record, after uint64, writer string) *gonats.Msg {
	msg := &gonats.Msg{
		Subject: subject,
		Header: gonats.Header{
			jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(uint64(expected), 10)},
			hdrSeq:                              []string{strconv.FormatUint(after, 10)},
			hdrWriter:                           []string{writer},
		},
		Data: sessionlog.AppendRecord(nil, rec),
	}
	if rec.Command.ID != "" {
		// Duplicate detection is stream wide: the session is part of the id.
		msg.Header[jetstream.MsgIDHeader] = []string{string(escape(append([]byte(tok), '/'), rec.Command.ID))}
	}
	return msg
}

// Headers of JetStream's atomic batch publish (nats-server 2.12 and later).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence" // 1, 2, … in the batch
	hdrBatchCommit = "Nats-Batch-Commit"   // "1" on the last message
)

// JetStream error codes of atomic batch publish.
const (
	jsErrCodeBatchesOff      jetstream.ErrorCode = 10174 // the stream's AllowAtomicPublish is off
	jsErrCodeBatchIncomplete jetstream.ErrorCode = 10176 // the server does not hold the batch whole
	jsErrCodeBatchTooLarge   jetstream.ErrorCode = 10199 // more messages than the server takes in one batch
	jsErrCodeBatchDuplicate  jetstream.ErrorCode = 10201 // a message's Nats-Msg-Id is in the duplicate window
)

// maxBatch is the most messages an atomic batch holds: the server's
// default (its jetstream limit max_batch_size may lower it; the answer
// then says so).
const maxBatch = 1000

// errNotAsBatch is matched by the error of AppendBatch when the records
// cannot be stored as one batch, however often it is asked, and nothing was
// stored: the runtime then appends them one at a time, each with its own
// outcome.
var errNotAsBatch error = notAsBatch("gavel/nats: the records cannot be stored as one batch")

type notAsBatch string

func (e notAsBatch) Error() string { return string(e) }

// Is makes errNotAsBatch match session.ErrPermanent, which sends the
// runtime to one append per record.
func (e notAsBatch) Is(target error) bool { return target == session.ErrPermanent }

// AppendBatch implements session.BatchAppender with JetStream's atomic
// batch publish (nats-server 2.12 and later; NewStore turns the stream's
// AllowAtomicPublish on): the records' messages, as Append makes them, are
// stored all at once, at consecutive stream sequences, or none is. Only the
// first carries Nats-Expected-Last-Subject-Sequence = expected (the server
// takes it on a batch's first message only, and stores the batch as one
// write, so the others follow it directly). Each message carries
// Nats-Batch-Id (new for each attempt) and Nats-Batch-Sequence, the last
// Nats-Batch-Commit; all but the last are published without waiting for an
// answer, and the last is a request answered with the batch's
// acknowledgement: one round trip, whatever the batch's size.
//
// Outcomes are resolved as Append's: an unknown one (also "batch
// incomplete", a batch the server did not hold whole) sends the batch
// again, with a new batch id; a wrong sequence or a command id in the
// server's duplicate window (which fails a whole batch) makes AppendBatch
// look at the first record after expected, and if it is its own an earlier
// attempt landed. Otherwise a wrong sequence, or a duplicate when the log
// has moved on past expected, is session.ErrConflict. A duplicate of a
// record at or before expected (a reused command id), a record larger than
// the server takes (session.ErrTooLarge), more records than a batch holds,
// and a stream that takes no atomic batches (a server before 2.12, or
// AllowAtomicPublish turned off since NewStore: AppendBatch stops trying)
// are errors matching session.ErrPermanent, and nothing was stored: the
// runtime then appends the records one at a time, and each gets its own
// outcome.
func (s *Store) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	return s.appendBatch(ctx, id, expected, recs, nuid.Next())
}

// appendBatch is AppendBatch as writer.
func (s *Store) appendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record, writer string) (sessionlog.Position, error) {
	switch {
	case len(recs) == 1:
		return s.append(ctx, id, expected, recs[0], writer)
	case len(recs) == 0:
		return 0, fmt.Errorf("session %q: append of no records", id)
	case !s.batches.Load():
		return 0, fmt.Errorf("session %q: stream without atomic batch publish: %w", id, errNotAsBatch)
	case len(recs) > maxBatch:
		return 0, fmt.Errorf("session %q: %d records, more than a batch holds (%d): %w", id, len(recs), maxBatch, errNotAsBatch)
	}
	tok, err := s.known(ctx, id)
	if err != nil {
		return 0, err
	}
	subject := s.reader.subj.log + tok
	after, err := s.afterSeq(ctx, id, subject, expected, recs[0])
	if err != nil {
		return 0, err
	}
	msgs := make([]*gonats.Msg, len(recs))
	for i, rec := range recs {
		after = rec.LastSeq(after)
		msgs[i] = recordMsg(subject, tok, expected, rec, after, writer)
		if i > 0 {
			delete(msgs[i].Header, jetstream.ExpectedLastSubjSeqHeader)
		}
	}
	ack, err := s.publish(ctx, msgs...)
	pos := sessionlog.Position(0)
	switch code := apiCode(err); {
	case err == nil:
		pos = sessionlog.Position(ack.Sequence)
	case code == jsErrCodeBatchDuplicate || isWrongSeq(err):
		cause := err
		var moved bool
		pos, moved, err = s.ownOrConflict(ctx, subject, expected, writer, len(recs), cause)
		if code == jsErrCodeBatchDuplicate && !moved && errors.Is(err, session.ErrConflict) {
			// Nothing after expected: a record at or before it has the id.
			err = fmt.Errorf("%w: %w (%w)", errNotAsBatch, ErrDuplicateID, cause)
		}
	case code == jsErrCodeBatchesOff:
		s.batches.Store(false)
		err = fmt.Errorf("%w (%w)", errNotAsBatch, err)
	case code == jsErrCodeBatchTooLarge:
		err = fmt.Errorf("%w (%w)", errNotAsBatch, err)
	}
	if err != nil {
		return 0, fmt.Errorf("session %q: append of %d records after position %d: %w", id, len(recs), expected, err)
	}
	s.noteTail(id, pos, after)
	return pos, nil
}

// noteTail remembers that the session's log holds a record at pos, after
// which its seq is seq, unless a later record is known already: so that
// Append of a record with no events after it needs no read.
func (s *Store) noteTail(id string, pos sessionlog.Position, seq uint64) {
	next := tail{pos: pos, seq: seq}
	for {
		old, loaded := s.tails.LoadOrStore(id, next)
		if !loaded || old.(tail).pos >= pos || s.tails.CompareAndSwap(id, old, next) {
			return
		}
	}
}

// noteMsg is noteTail for the record message m (of session id) read from
// the stream.
func (s *Store) noteMsg(id string, seq uint64, h gonats.Header) {
	if after, err := seqHeader(h); err == nil {
		s.noteTail(id, sessionlog.Position(seq), after)
	}
}

// landed returns the position of the last of the n records after expected
// if writer published them (an earlier attempt of this append landed), else
// 0; moved tells whether the log holds a record after expected. A batch is
// stored at consecutive stream sequences: its last record is checked too.
func (s *Store) landed(ctx context.Context, subject string, expected sessionlog.Position, writer string, n int) (pos sessionlog.Position, moved bool, err error) {
	m, err := s.reader.first(ctx, subject, uint64(expected)+1)
	if err != nil || m == nil {
		return 0, false, err
	}
	if m.Header.Get(hdrWriter) != writer {
		return 0, true, nil
	}
	if last := m.Sequence + uint64(n) - 1; last != m.Sequence {
		if m, err = s.reader.get(ctx, last); err != nil {
			return 0, true, err
		}
		if m == nil || m.Subject != subject || m.Header.Get(hdrWriter) != writer {
			return 0, true, fmt.Errorf("batch of %d records at position %d: position %d is not its last", n, last-uint64(n)+1, last)
		}
	}
	s.ownLanded.Add(1)
	return sessionlog.Position(m.Sequence), true, nil
}

// ownOrConflict resolves a publish of writer's n records after expected
// that the server refused with cause (a wrong sequence, or a duplicate of a
// batch): if an earlier attempt landed, the position of its last record
// (landed); otherwise session.ErrConflict, wrapping cause.
func (s *Store) ownOrConflict(ctx context.Context, subject string, expected sessionlog.Position, writer string, n int, cause error) (sessionlog.Position, bool, error) {
	pos, moved, err := s.landed(ctx, subject, expected, writer, n)
	if err == nil && pos == 0 {
		err = fmt.Errorf("%w (%w)", session.ErrConflict, cause)
	}
	return pos, moved, err
}

// lastPosition returns the stream sequence of the last message on the
// session's log subject.
func (s *Store) lastPosition(ctx context.Context, id string) (sessionlog.Position, error) {
	tok, err := s.known(ctx, id)
	if err != nil {
		return 0, err
	}
	m, err := s.reader.last(ctx, s.reader.subj.log+tok)
	if err != nil || m == nil {
		return 0, err
	}
	return sessionlog.Position(m.Sequence), nil
}

// afterSeq returns the session's seq after rec: its last event's, or for a
// record with no events the seq after the record at expected, which this
// store remembers from the last record it appended, read or delivered to a
// follower: so on the path of a command, the append is the one round trip.
func (s *Store) afterSeq(ctx context.Context, id, subject string, expected sessionlog.Position, rec sessionlog.Record) (uint64, error) {
	if n := len(rec.Events); n > 0 {
		return rec.Events[n-1].Sequence(), nil
	}
	if expected == 0 {
		return 0, nil
	}
	if t, ok := s.tails.Load(id); ok && t.(tail).pos == expected {
		return t.(tail).seq, nil
	}
	m, err := s.reader.get(ctx, uint64(expected))
	switch {
	case err != nil:
		return 0, err
	case m == nil:
		return 0, fmt.Errorf("position %d: %w", expected, session.ErrConflict)
	case m.Subject != subject:
		// Not a position of this session: the server would refuse it too.
		return 0, fmt.Errorf("position %d is not in this log: %w", expected, session.ErrConflict)
	}
	return seqHeader(m.Header)
}

// publish sends msgs, one message or an atomic batch of several (see
// stage), and sends them again while the outcome is unknown, for up to the
// store timeout. A wrong-sequence answer is returned as it came (an error
// holding the *jetstream.APIError); a message larger than the server takes
// is session.ErrTooLarge, at once.
func (s *Store) publish(ctx context.Context, msgs ...*gonats.Msg) (*jetstream.PubAck, error) {
	msg := msgs[len(msgs)-1]
	ack, err := retry(ctx, s.reader.wait, attemptTimeout, func(ctx context.Context) (*jetstream.PubAck, error) {
		if err := s.stage(msgs); err != nil {
			return nil, err
		}
		return s.js.PublishMsg(ctx, msg, jetstream.WithRetryAttempts(0))
	}, &s.retried)
	// A wrong sequence is not retried, so it is always the error as it came.
	switch code := apiCode(err); {
	case err == nil:
	case code == jetstream.JSErrCodeStreamWrongLastSequence:
		s.wrongSeq.Add(1)
	case code == jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		s.wrongSeqConst.Add(1)
	case tooLarge(err):
		size := 0
		for _, m := range msgs {
			size = max(size, len(m.Data))
		}
		err = fmt.Errorf("publish to %s: a message of %d bytes, more than the server takes: %w (%w)",
			msg.Subject, size, session.ErrTooLarge, err)
	default:
		err = fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	return ack, err
}

// stage makes msgs, if more than one, a new atomic batch, and publishes
// all but the last (its commit) without waiting: the connection keeps them
// in order, and a batch the server did not get whole is refused at its
// commit ("batch incomplete").
func (s *Store) stage(msgs []*gonats.Msg) error {
	if len(msgs) == 1 {
		return nil
	}
	batch := []string{nuid.Next()}
	for i, m := range msgs {
		m.Header[hdrBatchID] = batch
		m.Header[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
	}
	msgs[len(msgs)-1].Header[hdrBatchCommit] = []string{"1"}
	for _, m := range msgs[:len(msgs)-1] {
		if err := s.js.Conn().PublishMsg(m); err != nil {
			return err
		}
	}
	return nil
}

// tooLarge reports whether err says a message is larger than the
// connection's max payload or the stream's largest message.
func tooLarge(err error) bool {
	return errors.Is(err, gonats.ErrMaxPayload) || apiCode(err) == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// apiCode returns the JetStream error code in err's chain, or 0.
func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// isWrongSeq reports whether err is a wrong-last-sequence answer. The codes
// decide: errors.Is against jetstream sentinels compares codes too loosely
// (ErrKeyExists shares 10071).
func isWrongSeq(err error) bool {
	c := apiCode(err)
	return c == jetstream.JSErrCodeStreamWrongLastSequence || c == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Headers of a snapshot object, whose data is the SPEC's state JSON.
const (
	hdrPos    = "Gavel-Pos"        // session.Snapshot.Pos
	hdrWindow = "Gavel-Window-Seq" // session.Snapshot.WindowSeq
)

// SaveSnapshot implements session.Snapshotter: the session's object in the
// snapshot bucket, replaced. Readers see the old snapshot or the new one,
// never a mix: the object's chunks go first, its metadata last.
func (s *Store) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	last, err := s.lastPosition(ctx, id)
	if err != nil {
		return err
	}
	if snap.Pos > last {
		return fmt.Errorf("session %q: snapshot at position %d, beyond the log's last %d", id, snap.Pos, last)
	}
	tok, _ := SessionToken(id) // the header exists
	meta := jetstream.ObjectMeta{
		Name: tok,
		Headers: gonats.Header{
			hdrPos:    []string{strconv.FormatUint(uint64(snap.Pos), 10)},
			hdrWindow: []string{strconv.FormatUint(snap.WindowSeq, 10)},
		},
		Opts: &jetstream.ObjectMetaOptions{ChunkSize: s.chunk},
	}
	if _, err := s.snaps.Put(ctx, meta, bytes.NewReader(events.AppendSnapshot(nil, snap.State))); err != nil {
		if tooLarge(err) {
			err = fmt.Errorf("%w (%w)", session.ErrTooLarge, err)
		}
		return fmt.Errorf("session %q: snapshot: %w", id, err)
	}
	return nil
}

// LatestSnapshot implements session.Snapshotter.
func (s *Store) LatestSnapshot(ctx context.Context, id string) (session.Snapshot, error) {
	tok, err := s.known(ctx, id)
	if err != nil {
		return session.Snapshot{}, err
	}
	// A snapshot being replaced meanwhile can take the chunks of the one
	// being read away: read the new one.
	for attempt := 1; ; attempt++ {
		snap, err := s.readSnapshot(ctx, tok)
		switch {
		case errors.Is(err, jetstream.ErrObjectNotFound):
			return session.Snapshot{}, fmt.Errorf("session %q: no snapshot: %w", id, session.ErrNotFound)
		case err != nil && attempt < 3 && ctx.Err() == nil:
			continue
		case err != nil:
			return session.Snapshot{}, fmt.Errorf("session %q: snapshot: %w", id, err)
		}
		return snap, nil
	}
}

func (s *Store) readSnapshot(ctx context.Context, tok string) (session.Snapshot, error) {
	res, err := s.snaps.Get(ctx, tok)
	if err != nil {
		return session.Snapshot{}, err
	}
	defer res.Close()
	data, err := io.ReadAll(res)
	if err != nil {
		return session.Snapshot{}, err
	}
	info, err := res.Info()
	if err != nil {
		return session.Snapshot{}, err
	}
	state, err := events.DecodeSnapshot(data)
	if err != nil {
		return session.Snapshot{}, err
	}
	pos, err1 := strconv.ParseUint(info.Headers.Get(hdrPos), 10, 64)
	window, err2 := strconv.ParseUint(info.Headers.Get(hdrWindow), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return session.Snapshot{}, err
	}
	return session.Snapshot{State: state, Pos: sessionlog.Position(pos), WindowSeq: window}, nil
}

// Records implements session.Store. It finds the record holding event from-1
// by a search over stream sequences (reading the Gavel-Seq header of a few
// messages, starting from the end of the log), then reads the subject in
// order: a few gets one after the other, then, when the rest lies within
// 128 stream sequences (another writer's batch), gets of those 16 at a
// time, and an ordered consumer for anything longer.
func (s *Store) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		tok, err := s.known(ctx, id)
		if err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		err = s.reader.records(ctx, s.reader.subj.log+tok, from,
			func(last *jetstream.RawStreamMsg) { s.noteMsg(id, last.Sequence, last.Header) },
			func(r sessionlog.Record) bool { return yield(r, nil) })
		if err != nil {
			yield(sessionlog.Record{}, fmt.Errorf("session %q: records: %w", id, err))
		}
	}
}

// Follow implements session.Follower: an ordered consumer on the session's
// log subject from stream sequence after+1, which delivers every record
// stored there, by any instance, as it is stored. The consumer recreates
// itself from the last record it delivered when it misses heartbeats (a
// lost connection, a server restart, a change of stream leader) or finds a
// gap; if recreating it fails, Follow yields the error and ends, and the
// runtime reads the log before its next decision and follows again from
// its position. ctx's end stops it without an error.
func (s *Store) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		tok, err := s.known(ctx, id)
		if err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		msgs, err := s.follower.follow(ctx, s.reader.subj.log+tok, uint64(after)+1, 1)
		if err != nil {
			if ctx.Err() == nil {
				yield(sessionlog.Record{}, fmt.Errorf("session %q: follow: %w", id, err))
			}
			return
		}
		defer msgs.Stop()
		// A consumer being recreated waits for Stop, not for ctx.
		defer context.AfterFunc(ctx, msgs.Stop)()
		for {
			m, err := msgs.Next(jetstream.NextContext(ctx))
			if ctx.Err() != nil {
				return
			}
			var meta *jetstream.MsgMetadata
			if err == nil {
				meta, err = m.Metadata()
			}
			var rec sessionlog.Record
			if err == nil {
				rec, err = parseRecord(m.Data(), meta.Sequence.Stream)
			}
			if err != nil {
				yield(sessionlog.Record{}, fmt.Errorf("session %q: follow: %w", id, err))
				return
			}
			s.noteMsg(id, meta.Sequence.Stream, m.Headers())
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// Sessions implements session.Store: the subjects holding a header.
func (s *Store) Sessions(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		info, err := s.reader.stream.Info(ctx, jetstream.WithSubjectFilter(s.reader.subj.head+"*"))
		if err != nil {
			yield("", fmt.Errorf("gavel/nats: sessions: %w", err))
			return
		}
		for subject := range info.State.Subjects {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			id, err := SessionFromToken(strings.TrimPrefix(subject, s.reader.subj.head))
			if err != nil {
				continue // not written by gavel
			}
			if !yield(id, nil) {
				return
			}
		}
	}
}

// seqHeader reads the Gavel-Seq header of a record message.
func seqHeader(h gonats.Header) (uint64, error) {
	v := h.Get(hdrSeq)
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("record message without a valid %s header (%q)", hdrSeq, v)
	}
	return seq, nil
}
