package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
)

// Service answers commands on <prefix>.cmd.<session> for a session.Manager.
// Every instance of a deployment joins one queue group (WithQueue), so each
// command is served by one of them; their managers share the JetStream
// store, whose expected sequences keep the instances from forking a session.
// With WithNode, it also decides the commands other nodes' Routers route
// to this node, on <prefix>.decide.<node>.<session>.
type Service struct {
	mgr    *session.Manager
	nc     *gonats.Conn
	subs   []*gonats.Subscription // Close ends them
	prefix string                 // <prefix>.cmd.
	decide string                 // <prefix>.decide.<node>., "" without WithNode
	node   string                 // WithNode
	home   func(string) string    // WithNode: the home its answers name
	max    int
	limit  int // workers at most: WithConcurrency

	// life is the service's lifetime, the context of every Submit it makes:
	// cancelled when Close gives up waiting (as http.Server's BaseContext).
	life   context.Context
	cancel context.CancelFunc

	closed  atomic.Bool // set with mu held
	mu      sync.Mutex  // guards workers and serving.Add against Close
	workers int         // started and not ended, of every feed
	serving sync.WaitGroup
}

// feed is a synchronous subscription the service's workers take commands
// from (each keeps nats.go's pending limits: 65,536 messages, 64 MiB).
type feed struct {
	sub  *gonats.Subscription
	idle atomic.Int32 // workers waiting for a message
}

// spareWorkers is how many idle workers the service keeps after a burst: a
// worker that finishes a command while as many others wait ends.
const spareWorkers = 4

// NewService subscribes to the command subjects on nc (a connection to the
// server or cluster that holds the store's stream) and serves commands with
// mgr until Close. It returns once the server has the subscriptions. Options:
// WithPrefix, WithQueue, WithMaxCommand, WithConcurrency, WithNode.
func NewService(ctx context.Context, nc *gonats.Conn, mgr *session.Manager, opts ...ServiceOption) (*Service, error) {
	cfg := defaultService()
	if err := apply(&cfg, opts, ServiceOption.applyService); err != nil {
		return nil, err
	}
	return newServiceWith(ctx, nc, mgr, cfg)
}

func newServiceWith(ctx context.Context, nc *gonats.Conn, mgr *session.Manager, cfg serviceConfig) (_ *Service, err error) {
	life, cancel := context.WithCancel(context.Background())
	subj := newSubjects(cfg.prefix)
	s := &Service{
		mgr:    mgr,
		nc:     nc,
		prefix: subj.cmd,
		node:   cfg.node,
		home:   cfg.home,
		max:    cfg.maxCommand,
		limit:  cfg.concurrency,
		life:   life,
		cancel: cancel,
	}
	add := func(sub *gonats.Subscription, err error) error {
		if err == nil {
			s.subs = append(s.subs, sub)
		}
		return err
	}
	// ">" rather than "*": a subject with too many tokens is answered too.
	err = add(nc.QueueSubscribeSync(s.prefix+">", cfg.queue))
	if err == nil && cfg.node != "" {
		s.decide = subj.decide + cfg.node + "."
		if err = add(nc.SubscribeSync(s.decide + ">")); err == nil {
			err = add(nc.Subscribe(subj.decide+cfg.node, s.answerWhere))
		}
	}
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		cancel()
		return nil, fmt.Errorf("gavel/nats: subscribe to %s>: %w", s.prefix, err)
	}
	// A feed of workers for each synchronous subscription: the commands,
	// and with WithNode those routed here.
	for _, sub := range s.subs {
		if sub.Type() == gonats.SyncSubscription {
			s.spawn(&feed{sub: sub}, true)
		}
	}
	return s, nil
}

// Commands are served by workers that each take a message from a feed
// and serve it themselves: the connection's reader hands a message
// straight to a waiting worker, which decides it (the session runtime
// decides a free session's command on the submitter's goroutine) and
// replies, with no goroutine hop of the service's own. A worker that takes
// its feed's last waiting worker's place starts another, up to
// WithConcurrency over all feeds; past that, commands wait in the feed's
// buffer. Each feed keeps a worker of its own.

// spawn starts a worker on f unless the service is closed or, but for
// the feed's first (always), has its limit.
func (s *Service) spawn(f *feed, always bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() || s.workers >= s.limit && !always {
		return
	}
	s.workers++
	s.serving.Add(1)
	f.idle.Add(1) // before it runs: no other worker starts one for nothing
	go s.work(f)
}

// work serves f's commands until the subscription ends, the service
// closes, or spareWorkers others wait on f for the next command.
func (s *Service) work(f *feed) {
	defer func() {
		s.mu.Lock()
		s.workers--
		s.mu.Unlock()
		s.serving.Done()
	}()
	for {
		m, err := f.sub.NextMsgWithContext(s.life)
		switch {
		case errors.Is(err, gonats.ErrSlowConsumer):
			continue // messages were dropped (their requesters retry); the subscription goes on
		case err != nil:
			f.idle.Add(-1)
			return // unsubscribed, the connection closed, or Close gave up waiting
		}
		if f.idle.Add(-1) == 0 {
			s.spawn(f, false) // someone waits for the next command
		}
		// A command nobody waits for is not served: its outcome would be
		// lost. Nor is one taken after Close began.
		if m.Reply != "" && !s.closed.Load() {
			s.serve(m)
		}
		if f.idle.Load() >= spareWorkers {
			return
		}
		f.idle.Add(1)
	}
}

// answerWhere answers a request on <prefix>.decide.<node>: where this
// node's service is connected, for a Router that connects to its server.
func (s *Service) answerWhere(m *gonats.Msg) {
	r := gonats.NewMsg(m.Reply)
	r.Header.Set(headerURL, s.nc.ConnectedUrl())
	r.Header.Set(headerServer, s.nc.ConnectedServerName())
	_ = m.RespondMsg(r)
}

// serve decides m and replies.
func (s *Service) serve(m *gonats.Msg) {
	id, routed, res, err := s.submit(m)
	buf := replyBufs.Get().(*[]byte)
	*buf = appendReply((*buf)[:0], res, err)
	// An error of Respond means the connection is gone: the requester times
	// out and retries with the same id, which the runtime answers from its
	// idempotency window. Both copy *buf into the connection's buffer.
	if home := s.homeOf(id, routed); home != "" {
		r := &gonats.Msg{Subject: m.Reply, Data: *buf, Header: gonats.Header{headerHome: []string{home}}}
		_ = m.RespondMsg(r)
	} else {
		_ = m.Respond(*buf)
	}
	replyBufs.Put(buf)
}

// homeOf is the home of session id that an answer names, if any (a
// service with WithNode): for a command that came on <prefix>.cmd, and for
// one routed here when the home is another node now, so that a Client
// sending there directly moves on.
func (s *Service) homeOf(id string, routed bool) string {
	if s.home == nil || id == "" {
		return ""
	}
	if h := s.home(id); validNode(h) && (!routed || h != s.node) {
		return h
	}
	return ""
}

// replyBufs holds reply buffers, reused from one command to the next.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// submit decodes m and submits it, or decides it here when another node
// routed it to this one, and returns the session's id ("" when the
// subject names none) and whether the command was routed here with the
// outcome. Bad input is answered with invalid_command before anything
// reaches the runtime, so it neither creates a session nor appends
// anything.
func (s *Service) submit(m *gonats.Msg) (id string, routed bool, _ session.Result, _ error) {
	submit, tok := s.mgr.Submit, strings.TrimPrefix(m.Subject, s.prefix)
	if s.decide != "" && strings.HasPrefix(m.Subject, s.decide) {
		submit, tok, routed = s.mgr.Decide, m.Subject[len(s.decide):], true
	}
	id, err := SessionFromToken(tok)
	if err != nil {
		return "", routed, session.Result{}, core.Errorf(core.CodeInvalidCommand, "subject %q does not name a session: %v", m.Subject, err)
	}
	if len(m.Data) > s.max {
		return id, routed, session.Result{}, core.Errorf(core.CodeInvalidCommand, "command of %d bytes, more than %d", len(m.Data), s.max)
	}
	cmd, err := events.DecodeCommand(m.Data)
	if err != nil {
		return id, routed, session.Result{}, err
	}
	if err := reducer.WellFormed(cmd); err != nil {
		return id, routed, session.Result{}, err
	}
	res, err := submit(s.life, id, cmd)
	return id, routed, res, err
}

// Close stops taking commands, waits until those taken are answered, and
// returns. If ctx ends first, the commands still waiting on the runtime are
// cancelled (they may or may not be applied; their requesters retry) and
// Close returns ctx's error once their goroutines have ended. It does not
// close the manager or the connection.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed.Swap(true)
	s.mu.Unlock()
	var err error
	if !already {
		for _, sub := range s.subs {
			if e := sub.Unsubscribe(); !errors.Is(e, gonats.ErrConnectionClosed) && !errors.Is(e, gonats.ErrBadSubscription) {
				err = errors.Join(err, e)
			}
		}
		// Best effort: once the server has the unsubscriptions, a requester
		// gets no responders at once rather than waiting for an answer.
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = s.nc.FlushWithContext(fctx)
		cancel()
	}
	done := make(chan struct{})
	go func() {
		s.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
		err = errors.Join(err, ctx.Err())
	}
	s.cancel()
	return err
}
