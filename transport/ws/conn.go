package ws

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// conn is one client connection: a few thin goroutines around its outbox,
// which decides everything about what the client is sent (see outbox).
// The read loop (ServeHTTP's goroutine, which owns the others and waits
// for them) reads the client's frames and submits its commands; the pump
// moves the session's events in; the writer writes frames out; with media,
// one more goroutine per media connection moves its signals in (see
// mediaLink). The read loop and the pump also write, when nobody else is,
// so that a command's result and an event leave without a goroutine hop;
// the writer writes what is left when they stop.
//
// Each producer waits while the outbox has no room for what it adds: the
// read loop reads no frame, the pump takes no event (the session buffers
// them, then they are read back from the store). One goroutine at a time
// writes (outbox.Next); while it waits on the socket the others go on
// adding, and the slow rule's timer (outbox.Tick) ends a client that takes
// nothing.
type conn struct {
	srv     *Server
	ws      *websocket.Conn
	tok     Token
	limiter *rate.Limiter // nil: no limit

	ctx    context.Context // the connection's life
	cancel context.CancelFunc
	// pumpCtx stops the pump once the goodbye is decided.
	pumpCtx    context.Context
	pumpCancel context.CancelFunc
	wake       chan struct{} // tells the writer frames are pending
	wg         sync.WaitGroup

	mu      sync.Mutex
	out     outbox
	room    chan struct{}         // closed on the outbox's next change; nil when nobody waits for room
	timer   *time.Timer           // the slow rule's clock
	ticking bool                  // timer runs
	byeSeen bool                  // the goodbye's decision has been carried out
	media   *mediaLink            // the client's media connection, if any (WithMedia)
	sub     *session.Subscription // the pump's, held while a command is submitted and answered
}

func newConn(s *Server, wc *websocket.Conn, tok Token) *conn {
	c := &conn{srv: s, ws: wc, tok: tok, wake: make(chan struct{}, 1), out: newOutbox(tok.Participant, s.cfg.queue)}
	if s.cfg.rate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(s.cfg.rate), s.cfg.burst)
	}
	c.ctx, c.cancel = context.WithCancel(s.base)
	c.pumpCtx, c.pumpCancel = context.WithCancel(c.ctx)
	// The end of c.ctx closes the socket, which ends any read or write on
	// it: so reads and writes need no context of their own, which would
	// cost a timer registration each.
	context.AfterFunc(c.ctx, func() { wc.CloseNow() })
	return c
}

func (c *conn) key() connKey { return connKey{c.tok.Session, c.tok.Participant} }

// serve runs the connection to its end; st is the session's state when the
// token was checked.
func (c *conn) serve(st core.State, resume bool, after uint64) {
	defer c.cancel()
	var readErr error
	defer func() {
		c.srv.unregister(c)
		if h := c.srv.cfg.onDisconnect; h != nil {
			c.mu.Lock()
			bye := c.out.Bye()
			c.mu.Unlock()
			h(disconnect(c.tok, bye, readErr))
		}
	}()
	if !c.srv.register(c) {
		c.cut(wire.ReasonShutdown) // said in the close frame only: nothing is written yet
		c.ws.Close(websocket.StatusGoingAway, string(wire.ReasonShutdown))
		return
	}
	w, sub, ended, err := c.start(st, resume, after)
	if err != nil {
		readErr = err
		c.ws.Close(websocket.StatusTryAgainLater, string(wire.RefusedUnavailable))
		return
	}
	c.mu.Lock()
	c.out.Welcome(w, ended)
	c.sub = sub
	c.mu.Unlock()

	ka := wire.StartKeepalive(c.ws, c.srv.cfg.pingInterval, c.srv.cfg.pingTimeout)
	c.wg.Add(2)
	go c.pump(sub)
	go c.writeLoop()
	c.mu.Lock()
	c.stepLocked(true)
	c.mu.Unlock()

	readErr = c.readLoop()

	c.cancel()
	c.wg.Wait()
	ka.Stop()
	c.ws.CloseNow()
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}

// disconnect describes the end of a connection: the goodbye, or what ended
// it otherwise (err, the read loop's). A close frame from the client with
// a normal status is a clean end, not an error.
func disconnect(tok Token, bye wire.Reason, err error) Disconnect {
	d := Disconnect{Session: tok.Session, Participant: tok.Participant, Reason: bye}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
	default:
		if bye == "" {
			d.Err = err
		}
	}
	return d
}

// start subscribes to the session and builds the welcome: a resume from
// after when it is within the resume window of st, else the current state.
// ended tells that the session is over with nothing left to send.
func (c *conn) start(st core.State, resume bool, after uint64) (_ wire.Welcome, _ *session.Subscription, ended bool, _ error) {
	m, id := c.srv.m, c.tok.Session
	if resume && after > st.Seq() && c.srv.cfg.resumeWait > 0 && c.reaches(st.Seq(), after) {
		// The client had these events from another node of the service,
		// and this node's runtime, which follows the store, has them now.
		var err error
		if st, err = c.srv.state(c.ctx, id); err != nil {
			return wire.Welcome{}, nil, false, err
		}
	}
	if cur := st.Seq(); resume && after <= cur && cur-after <= c.srv.cfg.resumeWindow {
		// Subscribe from after, not Watch: events after st are not missed.
		sub, err := m.Subscribe(c.ctx, id, after)
		if err != nil {
			return wire.Welcome{}, nil, false, err
		}
		w := c.welcome(st)
		w.Seq, w.Resumed = after, true
		return w, sub, st.Ended() && after == cur, nil
	}
	st, sub, err := m.Watch(c.ctx, id)
	if err != nil {
		return wire.Welcome{}, nil, false, err
	}
	w := c.welcome(st)
	w.State = st.Snapshot()
	return w, sub, st.Ended(), nil
}

// reaches reports whether the session, at seq cur, reaches seq after
// within the resume wait (WithResumeWait).
func (c *conn) reaches(cur, after uint64) bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.resumeWait)
	defer cancel()
	sub, err := c.srv.m.Subscribe(ctx, c.tok.Session, cur)
	if err != nil {
		return false
	}
	defer sub.Close()
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			return false
		}
		if ev.Sequence() >= after {
			return true
		}
	}
}

func (c *conn) welcome(st core.State) wire.Welcome {
	preset := c.tok.Preset
	if p, ok := st.Participant(c.tok.Participant); ok {
		preset = p.Preset // what the reducer checks
	}
	perms, _ := st.Preset(preset)
	return wire.Welcome{Session: st.Session(), Self: c.tok.Participant, Preset: preset, Permissions: perms,
		Presets: st.Presets(), Seq: st.Seq()}
}

// readLoop reads the client's frames until the connection fails or closes.
// It reads no frame while the outbox has no room for its answer.
func (c *conn) readLoop() error {
	for {
		c.mu.Lock()
		c.waitLocked(c.out.CommandRoom, c.ctx.Done())
		c.mu.Unlock()
		typ, b, err := c.ws.Read(context.Background()) // c.ctx closes the socket: see newConn
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			c.ws.Close(websocket.StatusUnsupportedData, "text frames only")
			return errors.New("ws: binary frame")
		}
		f, err := wire.DecodeClientFrame(b)
		switch {
		case errors.Is(err, wire.ErrBadFrame):
			c.ws.Close(websocket.StatusPolicyViolation, "not a client frame")
			return err
		case f.Type == wire.TypeCommand:
			c.command(f.Command, err)
		case f.Type == wire.TypeMediaConnect:
			c.mediaConnect()
		case f.Type == wire.TypeSignal:
			c.mediaSignal(f.Signal)
		}
	}
}

// command checks cmd against the connection's token and its rate, then
// submits it; either way it answers.
func (c *conn) command(cmd core.Command, decodeErr error) {
	res := wire.Result{ID: cmd.ID}
	switch {
	case c.overRate():
		res.Refused = wire.RefusedRateLimited
	case decodeErr != nil:
		res.Err = asCoreError(decodeErr)
	case cmd.Actor != "" && cmd.Actor != c.tok.Participant:
		res.Err = core.Errorf(core.CodePermissionDenied, "actor %q: this connection is %q's", cmd.Actor, c.tok.Participant)
	case cmd.Type == core.Join && cmd.Preset != "" && cmd.Preset != c.tok.Preset:
		res.Err = core.Errorf(core.CodePermissionDenied, "preset %q: the token grants %q", cmd.Preset, c.tok.Preset)
	default:
		c.submit(cmd)
		return
	}
	c.mu.Lock()
	c.out.Reply(res) // the writer writes it: a flood of refusals fills the outbox, which stops the reading
	c.stepLocked(true)
	c.mu.Unlock()
}

// overRate takes a token from the connection's bucket (commands,
// media_connect and signals share it) and reports whether there was none.
func (c *conn) overRate() bool { return c.limiter != nil && !c.limiter.Allow() }

func asCoreError(err error) *core.Error {
	if e, ok := errors.AsType[*core.Error](err); ok {
		return e
	}
	return core.Errorf(core.CodeInvalidCommand, "%v", err)
}

// submit applies cmd, bound to the token's participant and preset, and
// writes its answer itself unless another goroutine is writing.
func (c *conn) submit(cmd core.Command) {
	cmd.Actor = c.tok.Participant
	if cmd.Type == core.Join {
		cmd.Preset = c.tok.Preset
	}
	c.mu.Lock()
	ok := c.out.Begin()
	sub := c.sub
	c.mu.Unlock()
	if !ok {
		return // the connection is ending: commands are no longer answered
	}
	// The answer carries the command's events: the pump, which would only
	// drop them, is woken once the answer is out, not on its path.
	sub.Hold()
	defer sub.Release()

	r, err := c.srv.m.Submit(c.ctx, c.tok.Session, cmd)
	res, evs := wire.Result{ID: cmd.ID, Seq: r.Seq, Duplicate: r.Duplicate}, r.Events
	switch e, rejected := errors.AsType[*core.Error](err); {
	case rejected:
		res.Err, res.Seq = e, 0
	case errors.Is(err, session.ErrTooLarge):
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedTooLarge}
	case errors.Is(err, session.ErrPermanent):
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedFailed}
	case err != nil: // if the connection is gone, nothing is written anyway
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedUnavailable}
	}
	if err != nil || r.Duplicate {
		evs = nil // a duplicate's events are in the stream, as anyone's
	}
	c.mu.Lock()
	c.out.Answer(res, evs)
	c.stepLocked(false)
	c.mu.Unlock()
	c.flush(true)
}

// pump moves the session's events to the outbox until the goodbye is
// decided or the connection ends.
func (c *conn) pump(sub *session.Subscription) {
	defer c.wg.Done()
	defer func() { sub.Close() }()
	for {
		ev, err := sub.Next(c.pumpCtx)
		switch {
		case err == nil:
			if !c.pushEvent(ev) {
				return
			}
		case errors.Is(err, session.ErrSlowSubscriber):
			// The pump waited for room while the session went on (a
			// burst, or a catch-up): go on from the store, at the
			// client's pace.
			next, err := c.srv.m.Subscribe(c.pumpCtx, c.tok.Session, sub.Seq())
			sub.Close()
			if err != nil {
				c.cut(wire.ReasonShutdown)
				return
			}
			sub = next
			c.mu.Lock()
			c.sub = sub
			c.mu.Unlock()
		case errors.Is(err, session.ErrClosed):
			c.cut(wire.ReasonShutdown)
			return
		default:
			if c.pumpCtx.Err() == nil {
				c.cut(wire.ReasonShutdown) // the store failed under a catch-up
			}
			return
		}
	}
}

// pushEvent hands ev to the outbox once it has room, writes what is
// pending unless another goroutine is writing, and reports whether the
// pump should go on. Waiting (for room, or on the socket) delays nobody:
// the session buffers this subscription's events, and past its buffer the
// pump reads them from the store.
func (c *conn) pushEvent(ev events.Event) bool {
	c.mu.Lock()
	if !c.waitLocked(c.out.Room, c.pumpCtx.Done()) {
		c.mu.Unlock()
		return false
	}
	more := c.out.Event(ev)
	c.stepLocked(false)
	c.mu.Unlock()
	c.flush(true) // a failed write ends the connection, and so the pump
	return more
}

// cut ends the connection with a goodbye from outside: replaced, shutdown.
func (c *conn) cut(r wire.Reason) {
	c.mu.Lock()
	c.out.Finish(r)
	c.stepLocked(true)
	c.mu.Unlock()
}

// waitLocked waits, with c.mu held (and released meanwhile), until room()
// holds or done ends, and reports whether the outbox takes more: room and
// no goodbye.
func (c *conn) waitLocked(room func() bool, done <-chan struct{}) bool {
	for !room() {
		if c.room == nil {
			c.room = make(chan struct{})
		}
		ch := c.room
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-done:
			c.mu.Lock()
			return false
		}
	}
	return c.out.Bye() == ""
}

// stepLocked carries out what the outbox asks after a change: wake the
// writer for pending frames (unless the caller writes them itself), run
// the slow rule's clock, stop the pump once the goodbye is decided, and let
// goroutines waiting for room look again.
func (c *conn) stepLocked(wakeWriter bool) {
	if wakeWriter && c.out.Pending() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	if c.out.Clock() && !c.ticking {
		c.ticking = true
		if c.timer == nil {
			c.timer = time.AfterFunc(c.srv.cfg.writeTimeout, c.tick)
		} else {
			c.timer.Reset(c.srv.cfg.writeTimeout)
		}
	}
	if c.out.Bye() != "" && !c.byeSeen {
		c.byeSeen = true
		c.pumpCancel()
		if l := c.media; l != nil { // the outbox says media_closed before the goodbye
			c.media = nil
			l.cancel()
		}
	}
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// tick runs the outbox's slow rule when the write timeout has passed.
func (c *conn) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.out.Tick() {
	case tickAgain:
		c.timer.Reset(c.srv.cfg.writeTimeout)
	case tickIdle:
		c.ticking = false
	case tickDrop:
		c.ticking = false
		c.cancel()
	}
	c.stepLocked(true)
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		if !c.flush(false) {
			return
		}
	}
}

// flush writes pending frames unless another goroutine is writing (which
// then writes them, or wakes the writer when it stops): once, the frames
// pending now, for the read loop answering a command and the pump adding
// an event; else until none is left. It reports false once the connection can write no more.
func (c *conn) flush(once bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := math.MaxInt
	if once {
		n = c.out.unwritten()
	}
	for ; n > 0; n-- {
		f, ok := c.out.Next()
		if !ok {
			break
		}
		c.mu.Unlock()
		err := c.write(f)
		c.mu.Lock()
		if err != nil {
			return false
		}
		c.out.Wrote()
		c.stepLocked(false)
	}
	c.stepLocked(true) // what is left goes to the writer
	return true
}

// write writes one frame. After the goodbye frame it closes the
// connection, with the reason as the close frame's, and reports
// errGoodbye.
func (c *conn) write(f outFrame) error {
	err := c.ws.Write(context.Background(), websocket.MessageText, f.b) // c.ctx closes the socket: see newConn
	switch {
	case err != nil:
	case f.bye == "":
		return nil
	case f.bye == wire.ReasonShutdown:
		c.ws.Close(websocket.StatusGoingAway, string(f.bye))
	case f.bye == wire.ReasonSlow:
		c.ws.Close(websocket.StatusPolicyViolation, string(f.bye))
	default:
		c.ws.Close(websocket.StatusNormalClosure, string(f.bye))
	}
	c.cancel()
	if err == nil {
		err = errGoodbye
	}
	return err
}

// errGoodbye ends writing once the goodbye is out.
var errGoodbye = errors.New("ws: goodbye sent")
