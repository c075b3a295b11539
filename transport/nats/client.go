package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// ErrGap is matched by the error of Subscription.Next when the log skips a
// seq: the stream was tampered with or is not a gavel log. It does not
// happen to a log that gavel wrote.
var ErrGap = errors.New("gavel/nats: gap in the event seqs")

// Client submits commands to the command service and follows sessions'
// events from the stream. It is for trusted services (see the package doc)
// and safe for concurrent use.
type Client struct {
	nc             *gonats.Conn
	js             jetstream.JetStream
	stream         string
	subj           subjects
	storeWait      time.Duration
	requestTimeout time.Duration
	submitTimeout  time.Duration

	homes *homes // WithDirectToHome; nil without
}

// homes are the sessions' homes a Client has learnt from the services'
// answers (WithDirectToHome).
type homes struct {
	mu sync.Mutex
	of map[string]string // session → node
}

// maxHomes bounds what a Client remembers: past it, it forgets them all
// and learns again (each costs one command through <prefix>.cmd).
const maxHomes = 4096

func (h *homes) get(id string) string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.of[id]
}

// set remembers home as id's, or forgets id's when home is "".
func (h *homes) set(id, home string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case home == "":
		delete(h.of, id)
	case h.of[id] != home:
		if len(h.of) >= maxHomes {
			clear(h.of)
		}
		h.of[id] = home
	}
}

// NewClient returns a client on nc. Options: WithPrefix and WithStream (as
// the service's), WithRequestTimeout, WithSubmitTimeout, WithStoreTimeout
// (for Subscribe's reads), WithDirectToHome.
func NewClient(nc *gonats.Conn, opts ...ClientOption) (*Client, error) {
	cfg := defaultClient()
	if err := apply(&cfg, opts, ClientOption.applyClient); err != nil {
		return nil, err
	}
	return newClientWith(nc, cfg)
}

func newClientWith(nc *gonats.Conn, cfg clientConfig) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: jetstream: %w", err)
	}
	c := &Client{
		nc:             nc,
		js:             js,
		stream:         cfg.stream,
		subj:           newSubjects(cfg.prefix),
		storeWait:      cfg.storeWait,
		requestTimeout: cfg.requestTimeout,
		submitTimeout:  cfg.submitTimeout,
	}
	if cfg.direct {
		c.homes = &homes{of: make(map[string]string)}
	}
	return c, nil
}

// Submit sends cmd to session id's command subject and returns its outcome
// as session.Submit does: the Result, or the *core.Error that rejected it
// (unwrapped, so errors.As and core.CodeOf see it). With WithDirectToHome,
// once an answer has named the session's home, Submit sends the session's
// commands to that node (<prefix>.decide.<home>.<session>), and again
// through the command subject after an attempt there gave no outcome.
//
// When no answer comes (no service instance listening, a lost request, an
// instance restarting) or the answer is a transient failure
// (ErrUnavailable), Submit sends the same command again, until ctx ends (or
// WithSubmitTimeout, when ctx has no deadline). That is safe, whichever
// instance each attempt reaches: the runtime decides a command id once,
// records the decision (applied or rejected) in the log, and answers a
// repeat with the original outcome (Result.Duplicate). If ctx ends first,
// the error wraps ctx's and the last attempt's, and cmd may or may not have
// been decided. A permanent failure (session.ErrPermanent, such as
// session.ErrTooLarge: the store can never hold the command's record) is
// returned at once: sending it again would fail the same way. A command
// that is not well formed (check 1) is answered invalid_command without
// being sent.
func (c *Client) Submit(ctx context.Context, id string, cmd core.Command) (session.Result, error) {
	tok, err := SessionToken(id)
	if err != nil {
		return session.Result{}, err
	}
	// Check 1 needs no state: a command that fails it is answered here, as
	// the service would, and one whose strings are not valid UTF-8 is never
	// sent (its encoding would change them).
	if err := reducer.WellFormed(cmd); err != nil {
		return session.Result{}, err
	}
	wait := c.submitTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d) // ctx ends it
	}
	data := events.AppendCommand(nil, cmd)
	res, err := retry(ctx, wait, c.requestTimeout, func(ctx context.Context) (session.Result, error) {
		subject, home := c.subj.cmd+tok, c.homes.get(id)
		if home != "" {
			subject = c.subj.decide + home + "." + tok
		}
		m, err := c.nc.RequestWithContext(ctx, subject, data)
		if err != nil {
			c.homes.set(id, "") // the next attempt goes through any service
			return session.Result{}, err
		}
		res, err := decodeReply(m.Data)
		switch next := m.Header.Get(headerHome); {
		case unknownOutcome(err) || errors.Is(err, ErrBadReply): // no outcome
			c.homes.set(id, "")
		case home == "" || next != "":
			c.homes.set(id, next) // a routed answer names the home only when it moved
		}
		return res, err
	}, nil)
	var cerr *core.Error
	if err != nil && !errors.As(err, &cerr) {
		err = fmt.Errorf("gavel/nats: submit %q to %q: %w", cmd.ID, id, err)
	}
	return res, err
}

// Subscribe follows session id's events with seq > after, in order, each
// once, from the stream itself (an ordered consumer on the session's log
// subject): it needs no gavel instance, it does not notice one restarting,
// and it resumes after a server restart or a change of stream leader. The
// session need not exist yet. Close the subscription when done.
func (c *Client) Subscribe(ctx context.Context, id string, after uint64) (*Subscription, error) {
	r, tok, err := c.logReader(ctx, id)
	if err != nil {
		return nil, err
	}
	subject := c.subj.log + tok
	start := uint64(1)
	last, err := r.last(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: subscribe to %q: %w", id, err)
	}
	if last != nil {
		seq, ok, err := r.start(ctx, subject, after+1, last)
		switch {
		case err != nil:
			return nil, fmt.Errorf("gavel/nats: subscribe to %q: %w", id, err)
		case ok:
			start = seq
		default:
			start = last.Sequence + 1
		}
	}
	msgs, err := r.follow(ctx, subject, start, 0)
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: subscribe to %q: %w", id, err)
	}
	return &Subscription{session: id, msgs: msgs, seq: after}, nil
}

// logReader returns a reader of the client's stream, and session id's
// subject token.
func (c *Client) logReader(ctx context.Context, id string) (logReader, string, error) {
	tok, err := SessionToken(id)
	if err != nil {
		return logReader{}, "", err
	}
	stream, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return logReader{}, "", fmt.Errorf("gavel/nats: stream %s: %w", c.stream, err)
	}
	return logReader{stream: stream, subj: c.subj, wait: c.storeWait}, tok, nil
}

// Subscription delivers one session's events, as session.Subscription does
// for a live session. It is meant for one reader goroutine; Close may be
// called from any goroutine.
type Subscription struct {
	session string
	msgs    jetstream.MessagesContext
	seq     uint64         // of the last event Next returned
	pending []events.Event // decoded, not yet returned
	err     error          // sticky
	closed  atomic.Bool
}

// Next returns the next event, waiting for it until ctx ends. It returns
// ctx's error when ctx ends (the subscription stays usable),
// session.ErrClosed after Close, and an error matching ErrGap, or a decoding
// error, if the log is not a gavel log; those last errors are sticky.
func (s *Subscription) Next(ctx context.Context) (events.Event, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		m, err := s.msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			if s.closed.Load() || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				s.err = fmt.Errorf("session %q: subscription: %w", s.session, session.ErrClosed)
				return nil, s.err
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("session %q: subscription: %w", s.session, err)
		}
		rec, err := sessionlog.DecodeRecord(m.Data())
		if err != nil {
			s.err = fmt.Errorf("session %q: subscription: %w", s.session, err)
			return nil, s.err
		}
		next := s.seq + 1
		for _, e := range rec.Events {
			switch seq := e.Sequence(); {
			case seq < next:
				continue // before the start: the read began at an earlier record
			case seq > next:
				s.err = fmt.Errorf("session %q: event %d after %d: %w", s.session, seq, next-1, ErrGap)
				return nil, s.err
			}
			s.pending = append(s.pending, e)
			next++
		}
	}
	e := s.pending[0]
	s.pending = s.pending[1:]
	s.seq = e.Sequence()
	return e, nil
}

// Seq is the seq of the last event Next returned (the subscription's start
// before the first): where to resume with Client.Subscribe.
func (s *Subscription) Seq() uint64 { return s.seq }

// Close ends the subscription and deletes its consumer.
func (s *Subscription) Close() {
	if s.closed.CompareAndSwap(false, true) {
		s.msgs.Stop()
	}
}
