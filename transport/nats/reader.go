package nats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// shortRead is how many records are read by gets, one after the other,
// before the rest of the read is fetched another way: a conflict's tail is
// short.
const shortRead = 8

// Reads longer than shortRead: the stream sequences up to the last record
// are fetched by spanGets gets at a time when there are at most spanRead
// of them (another writer's batch), else an ordered consumer takes over:
// creating one costs a round trip through the stream's Raft group, tens of
// milliseconds under load (in issue 13's throughput figure, some rounds on
// a 3-node cluster spent about two seconds in such reads).
const (
	spanRead = 128
	spanGets = 16
)

// logReader reads session logs from the stream. The store and the client
// share it.
type logReader struct {
	stream jetstream.Stream
	subj   subjects
	wait   time.Duration // how long one read may retry, see retry
}

// last returns the last message on subject, or nil when it has none.
func (r logReader) last(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := retry(ctx, r.wait, attemptTimeout, func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		return r.stream.GetLastMsgForSubject(ctx, subject)
	}, nil)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	return m, err
}

// first returns the first message on subject at stream sequence seq or
// later, or nil when there is none.
func (r logReader) first(ctx context.Context, subject string, seq uint64) (*jetstream.RawStreamMsg, error) {
	return r.get(ctx, seq, jetstream.WithGetMsgSubject(subject))
}

// get returns the message at seq (or, with WithGetMsgSubject, the first on
// that subject from seq), or nil when there is none.
func (r logReader) get(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	m, err := retry(ctx, r.wait, attemptTimeout, func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		return r.stream.GetMsg(ctx, seq, opts...)
	}, nil)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	return m, err
}

// start returns the stream sequence to read subject from so that every event
// with seq ≥ from, and every record after the one holding event from-1, is
// read: the first record whose seq-after is ≥ from-1. last is the subject's
// last message; ok is false when no record is needed (from-1 is beyond the
// log's seq).
//
// Seq-after grows with the stream sequence, so the first such record is
// found by a search: galloping back from the end, which is where a
// runtime's tail read starts, then bisecting.
func (r logReader) start(ctx context.Context, subject string, from uint64, last *jetstream.RawStreamMsg) (seq uint64, ok bool, err error) {
	if from <= 1 {
		return 1, true, nil
	}
	target := from - 1
	after, err := seqHeader(last.Header)
	if err != nil {
		return 0, false, fmt.Errorf("stream message %d: %w", last.Sequence, err)
	}
	if after < target {
		return 0, false, nil
	}
	// best is the earliest known record with seq-after ≥ target; records in
	// [lo, hi) are yet to be looked at, and hi ≤ best.
	best, lo, hi := last.Sequence, uint64(1), last.Sequence
	probe := func(at uint64) (*jetstream.RawStreamMsg, uint64, error) {
		m, err := r.first(ctx, subject, at)
		if err != nil {
			return nil, 0, err
		}
		if m == nil { // cannot be: best is on subject and ≥ at
			return nil, 0, fmt.Errorf("no message on %s from %d", subject, at)
		}
		a, err := seqHeader(m.Header)
		if err != nil {
			return nil, 0, fmt.Errorf("stream message %d: %w", m.Sequence, err)
		}
		return m, a, nil
	}
	for d := uint64(1); hi > lo; d *= 2 {
		at := lo
		if hi-lo > d {
			at = hi - d
		}
		m, a, err := probe(at)
		if err != nil {
			return 0, false, err
		}
		if a < target {
			lo = m.Sequence + 1
			break
		}
		if m.Sequence < hi {
			best = m.Sequence
		}
		hi = at
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, a, err := probe(mid)
		if err != nil {
			return 0, false, err
		}
		switch {
		case m.Sequence >= hi: // nothing on subject in [mid, hi)
			hi = mid
		case a >= target:
			best, hi = m.Sequence, mid
		default:
			lo = m.Sequence + 1
		}
	}
	return best, true, nil
}

// records yields the records of subject as Store.Records does, up to the
// subject's last message when reading started, which it hands to onLast
// first.
func (r logReader) records(ctx context.Context, subject string, from uint64, onLast func(*jetstream.RawStreamMsg), yield func(sessionlog.Record) bool) error {
	last, err := r.last(ctx, subject)
	if err != nil || last == nil {
		return err
	}
	onLast(last)
	next, ok, err := r.start(ctx, subject, from, last)
	if err != nil || !ok {
		return err
	}
	for range shortRead {
		m, err := r.first(ctx, subject, next)
		if err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("no message on %s from %d, before the last at %d", subject, next, last.Sequence)
		}
		rec, err := parseRecord(m.Data, m.Sequence)
		if err != nil {
			return err
		}
		if !yield(rec) || m.Sequence >= last.Sequence {
			return nil
		}
		next = m.Sequence + 1
	}
	if last.Sequence-next < spanRead {
		msgs, err := r.span(ctx, next, last.Sequence)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m == nil || m.Subject != subject {
				continue // another session's
			}
			rec, err := parseRecord(m.Data, m.Sequence)
			if err != nil {
				return err
			}
			if !yield(rec) {
				return nil
			}
		}
		return nil
	}
	// Creating the consumer is a request like the gets above: sent again
	// when unanswered (a server going away, a meta leader election).
	msgs, err := retry(ctx, r.wait, attemptTimeout, func(actx context.Context) (jetstream.MessagesContext, error) {
		return r.follow(actx, subject, next, 0)
	}, nil)
	if err != nil {
		return err
	}
	defer msgs.Stop()
	for {
		m, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		rec, err := parseRecord(m.Data(), meta.Sequence.Stream)
		if err != nil {
			return err
		}
		if !yield(rec) || meta.Sequence.Stream >= last.Sequence {
			return nil
		}
	}
}

// span returns the messages at stream sequences from to to, nil where
// there is none, fetched by spanGets gets at a time.
func (r logReader) span(ctx context.Context, from, to uint64) ([]*jetstream.RawStreamMsg, error) {
	msgs := make([]*jetstream.RawStreamMsg, to-from+1)
	errs := make([]error, len(msgs))
	next := make(chan int, len(msgs))
	for i := range msgs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(spanGets, len(msgs)) {
		wg.Go(func() {
			for i := range next {
				if msgs[i], errs[i] = r.get(ctx, from+uint64(i)); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return msgs, errors.Join(errs...)
}

// follow returns the messages of subject from stream sequence seq on, in
// order and without gaps, through an ordered consumer (it recreates itself
// after a gap, a server restart or a leader change). With resets > 0 it
// tries that many times to recreate itself, and Next then returns the
// error; else it tries for ever, one to ten seconds apart.
//
// Its pull requests expire after two seconds (the default is thirty), so
// that a consumer lost with its server is noticed, by two missed
// heartbeats, and recreated within two seconds rather than ten.
func (r logReader) follow(ctx context.Context, subject string, seq uint64, resets int) (jetstream.MessagesContext, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, MaxResetAttempts: resets}
	if seq > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = seq
	}
	cons, err := r.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return cons.Messages(jetstream.PullMaxMessages(256), jetstream.PullExpiry(2*time.Second))
}

// parseRecord decodes a record message.
func parseRecord(data []byte, seq uint64) (sessionlog.Record, error) {
	rec, err := sessionlog.DecodeRecord(data)
	if err != nil {
		return sessionlog.Record{}, fmt.Errorf("stream message %d: %w", seq, err)
	}
	rec.Pos = sessionlog.Position(seq)
	return rec, nil
}

// ReadLog returns session id's log as the stream holds it, a gavel-log/2
// file: its header line, then one line per record message, in order, up to
// the last record stored when ReadLog was called. Line n of it (n ≥ 2) is
// the session's (n-1)th record. It is what `replay -verify
// nats://host:port/<session>` reads: sessionlog.Verify checks a live
// clustered session with it. Reading holds one message at a time; ctx
// bounds ReadLog and every Read after it. Close the reader when done. A
// session that does not exist is an error matching session.ErrNotFound.
func (c *Client) ReadLog(ctx context.Context, id string) (io.ReadCloser, error) {
	r, tok, err := c.logReader(ctx, id)
	if err != nil {
		return nil, err
	}
	head, err := r.last(ctx, r.subj.head+tok)
	switch {
	case err != nil:
		return nil, fmt.Errorf("gavel/nats: session %q: header: %w", id, err)
	case head == nil:
		return nil, fmt.Errorf("gavel/nats: session %q: %w", id, session.ErrNotFound)
	}
	subject := r.subj.log + tok
	last, err := r.last(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: session %q: %w", id, err)
	}
	lr := &logLines{ctx: ctx, line: append(slices.Clip(head.Data), '\n')}
	lr.buf = lr.line
	if last == nil {
		return lr, nil
	}
	if lr.msgs, err = r.follow(ctx, subject, 1, 0); err != nil {
		return nil, fmt.Errorf("gavel/nats: session %q: %w", id, err)
	}
	lr.last = last.Sequence
	return lr, nil
}

// logLines is ReadLog's reader: the lines of buf, then a message at a time
// from msgs up to stream sequence last.
type logLines struct {
	ctx  context.Context // ReadLog's: a Read is a call of it
	msgs jetstream.MessagesContext
	last uint64 // the stream sequence of the last record to read
	line []byte // the line being read, reused
	buf  []byte // what is left of it
	done bool
}

func (l *logLines) Read(p []byte) (int, error) {
	for len(l.buf) == 0 {
		if l.done || l.msgs == nil {
			return 0, io.EOF
		}
		m, err := l.msgs.Next(jetstream.NextContext(l.ctx))
		if err != nil {
			return 0, err
		}
		meta, err := m.Metadata()
		if err != nil {
			return 0, err
		}
		l.line = append(append(l.line[:0], m.Data()...), '\n')
		l.buf = l.line
		l.done = meta.Sequence.Stream >= l.last
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// Close stops reading and deletes the consumer.
func (l *logLines) Close() error {
	if l.msgs != nil {
		l.msgs.Stop()
	}
	return nil
}
