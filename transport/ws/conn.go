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

// conn is one client connection. Three goroutines serve it: the read loop
// (ServeHTTP's goroutine, which owns the others and waits for them),
// the pump (session subscription → outbound queue) and the writer
// (outbound queue → socket); with media, one more per media connection
// (media peer → outbound queue, see mediaLink). The read loop also writes,
// when nobody else is, so that a command's result leaves without a
// goroutine hop.
//
// Every frame goes through one queue, in order. Only the writer (or the
// read loop writing for it) waits on the socket; the pump waits only for
// room in a full queue, and cuts the client off as slow when the socket
// takes nothing for the write timeout.
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
	wake       chan struct{} // tells the writer the queue has frames
	room       chan struct{} // tells the pump frames were written
	wg         sync.WaitGroup

	mu        sync.Mutex
	queue     []outFrame // frames to write, in order
	spare     []outFrame // the writer's last batch, for reuse
	sent      uint64     // seq of the last event queued for the client
	held      []heldResult
	inflight  bool           // the read loop is submitting a command
	parked    []events.Event // the pump's events while it is
	bye       wire.Reason    // the goodbye, once decided
	byeQueued bool
	writing   bool   // a goroutine is writing queued frames
	written   uint64 // frames written so far
	closed    bool   // the goodbye was written, or a write failed
	cutTimer  *time.Timer
	media     *mediaLink // the client's media connection, if any (WithMedia)
}

// outFrame is a frame to write; the goodbye closes the connection after it.
type outFrame struct {
	b   []byte
	bye wire.Reason
}

// frameBuf returns a buffer for a frame, sized for the common one (an
// event, a result with one event) to be encoded without growing.
func frameBuf() []byte { return make([]byte, 0, 256) }

// heldResult is the result of a command whose events the client has not
// been sent yet: it waits for them, so a client sees a command's events no
// later than its result.
type heldResult struct {
	b   []byte
	seq uint64
}

func newConn(s *Server, wc *websocket.Conn, tok Token) *conn {
	c := &conn{srv: s, ws: wc, tok: tok, wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
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

// serve runs the connection to its end.
func (c *conn) serve(resume bool, after uint64) {
	defer c.cancel()
	var readErr error
	defer func() {
		c.srv.unregister(c)
		if h := c.srv.cfg.onDisconnect; h != nil {
			c.mu.Lock()
			bye := c.bye
			c.mu.Unlock()
			h(Disconnect{Session: c.tok.Session, Participant: c.tok.Participant, Reason: bye, Err: readErr})
		}
	}()
	if !c.srv.register(c) {
		c.ws.Close(websocket.StatusGoingAway, string(wire.ReasonShutdown))
		return
	}
	w, sub, ended, err := c.start(resume, after)
	if err != nil {
		readErr = err
		c.ws.Close(websocket.StatusTryAgainLater, string(wire.RefusedUnavailable))
		return
	}
	c.mu.Lock()
	c.sent = w.Seq
	c.queue = append(c.queue, outFrame{b: wire.AppendWelcome(nil, w)})
	if ended {
		c.finishLocked(wire.ReasonEnded)
	}
	c.mu.Unlock()

	ka := wire.StartKeepalive(c.ws, c.srv.cfg.pingInterval, c.srv.cfg.pingTimeout)
	c.wg.Add(2)
	go c.pump(sub)
	go c.writeLoop()
	c.signal()

	readErr = c.readLoop()

	c.cancel()
	c.wg.Wait()
	ka.Stop()
	c.ws.CloseNow()
	c.mu.Lock()
	if c.cutTimer != nil {
		c.cutTimer.Stop()
	}
	c.mu.Unlock()
}

// start subscribes to the session and builds the welcome: a resume from
// after when it is within the resume window, else the current state.
// ended tells that the session is over with nothing left to send.
func (c *conn) start(resume bool, after uint64) (_ wire.Welcome, _ *session.Subscription, ended bool, _ error) {
	m, id := c.srv.m, c.tok.Session
	if resume {
		s, err := m.Session(c.ctx, id)
		if err != nil {
			return wire.Welcome{}, nil, false, err
		}
		st, err := s.State(c.ctx)
		if err != nil {
			return wire.Welcome{}, nil, false, err
		}
		if cur := st.Seq(); after <= cur && cur-after <= c.srv.cfg.resumeWindow {
			// Subscribe from after, not Watch: events after st are not missed.
			sub, err := m.Subscribe(c.ctx, id, after)
			if err != nil {
				return wire.Welcome{}, nil, false, err
			}
			w := c.welcome(st)
			w.Seq, w.Resumed = after, true
			return w, sub, st.Ended() && after == cur, nil
		}
	}
	st, sub, err := m.Watch(c.ctx, id)
	if err != nil {
		return wire.Welcome{}, nil, false, err
	}
	w := c.welcome(st)
	w.State = st.Snapshot()
	return w, sub, st.Ended(), nil
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
func (c *conn) readLoop() error {
	for {
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
// submits it and queues its result.
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
	c.queueResult(res)
	c.flushOnce()
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

// submit applies cmd, bound to the token's participant and preset.
//
// While it is submitted the pump parks the session's events instead of
// queueing them: the ones before the command's go out first, then the
// result, carrying the command's own events, then the ones after. So a
// command's answer is one frame, written by this goroutine, and no event is
// sent twice.
func (c *conn) submit(cmd core.Command) {
	cmd.Actor = c.tok.Participant
	if cmd.Type == core.Join {
		cmd.Preset = c.tok.Preset
	}
	c.mu.Lock()
	if c.bye != "" {
		c.mu.Unlock()
		return // the connection is ending: commands are no longer read
	}
	c.inflight = true
	c.mu.Unlock()

	r, err := c.srv.m.Submit(c.ctx, c.tok.Session, cmd)
	res, answer := wire.Result{ID: cmd.ID, Seq: r.Seq, Duplicate: r.Duplicate}, true
	first := uint64(math.MaxUint64) // the parked events before it go first
	switch e, rejected := errors.AsType[*core.Error](err); {
	case rejected:
		res.Err, res.Seq = e, 0
	case err != nil && c.ctx.Err() != nil:
		answer = false // the connection is gone
	case errors.Is(err, session.ErrTooLarge):
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedTooLarge}
	case errors.Is(err, session.ErrPermanent):
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedFailed}
	case err != nil:
		res = wire.Result{ID: cmd.ID, Refused: wire.RefusedUnavailable}
	case len(r.Events) > 0:
		first = r.Events[0].Sequence()
	default:
		first = r.Seq + 1
	}

	c.mu.Lock()
	parked := c.parked
	c.parked = nil
	split := 0
	for split < len(parked) && parked[split].Sequence() < first {
		split++
	}
	c.queueEventsLocked(parked[:split])
	if answer {
		c.resultLocked(res, r.Events)
	}
	c.queueEventsLocked(parked[split:])
	c.inflight = false
	if c.bye != "" && !c.byeQueued {
		c.queueByeLocked()
	}
	c.mu.Unlock()
	c.flushOnce()
}

// queueResult queues an answer that waits for no event: a refusal or a
// rejection by the transport.
func (c *conn) queueResult(res wire.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bye == "" {
		c.queue = append(c.queue, outFrame{b: wire.AppendResult(frameBuf(), res)})
	}
}

// resultLocked queues the result of a command. If the client was last sent
// the event just before the command's, the command's events go in the
// result; if the client has its events already, the result goes as it is;
// else it is held until the pump has queued them.
func (c *conn) resultLocked(res wire.Result, evs []events.Event) {
	if c.byeQueued {
		return
	}
	if n := len(evs); n > 0 && res.Err == nil && res.Refused == "" && c.sent == evs[0].Sequence()-1 {
		res.Events = evs
		c.queue = append(c.queue, outFrame{b: wire.AppendResult(frameBuf(), res)})
		c.sent = evs[n-1].Sequence()
		c.releaseLocked()
		for _, ev := range evs {
			if r := c.departure(ev); r != "" {
				c.finishLocked(r)
			}
		}
		return
	}
	b := wire.AppendResult(frameBuf(), res)
	if res.Seq <= c.sent {
		c.queue = append(c.queue, outFrame{b: b})
		return
	}
	c.held = append(c.held, heldResult{b: b, seq: res.Seq})
}

// releaseLocked queues the held results whose events have been queued.
func (c *conn) releaseLocked() {
	n := 0
	for n < len(c.held) && c.held[n].seq <= c.sent {
		c.queue = append(c.queue, outFrame{b: c.held[n].b})
		n++
	}
	if n > 0 {
		c.held = append(c.held[:0], c.held[n:]...)
	}
}

// departure returns the goodbye an event means for this connection: its
// participant left or was kicked, or the session ended.
func (c *conn) departure(ev events.Event) wire.Reason {
	switch e := ev.(type) {
	case *events.ParticipantLeft:
		if e.Participant == c.tok.Participant {
			if e.Reason == events.ReasonKicked {
				return wire.ReasonKicked
			}
			return wire.ReasonLeft
		}
	case *events.SessionEnded:
		return wire.ReasonEnded
	}
	return ""
}

// pump moves the session's events to the outbound queue until the goodbye
// is decided or the connection ends.
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
			// The pump waited on a full queue while the session went on
			// (a burst, or a catch-up): go on from the store, at the
			// client's pace.
			next, err := c.srv.m.Subscribe(c.pumpCtx, c.tok.Session, sub.Seq())
			sub.Close()
			if err != nil {
				c.cut(wire.ReasonShutdown)
				return
			}
			sub = next
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

// pushEvent queues ev for the client (parks it while a command is
// submitted) and reports whether the pump should go on. When the queue is
// full it waits for the socket to take frames: a client is slow, and cut
// off, only when it has taken none for the write timeout while frames
// wait. Waiting delays nobody: the session buffers this subscription's
// events, and past its buffer the pump reads them from the store.
func (c *conn) pushEvent(ev events.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		timer *time.Timer
		since uint64 // frames written when the timer started
	)
	for len(c.queue)+len(c.parked) >= c.srv.cfg.queue && ev.Sequence() > c.sent && c.bye == "" {
		if timer == nil {
			timer, since = time.NewTimer(c.srv.cfg.writeTimeout), c.written
			defer timer.Stop()
		}
		c.mu.Unlock()
		select {
		case <-c.room:
			c.mu.Lock()
		case <-timer.C:
			c.mu.Lock()
			if c.written == since {
				c.finishLocked(wire.ReasonSlow)
				return false
			}
			timer.Reset(c.srv.cfg.writeTimeout)
			since = c.written
		case <-c.pumpCtx.Done():
			c.mu.Lock()
			return false
		}
	}
	switch {
	case c.bye != "":
		return false
	case c.inflight:
		c.parked = append(c.parked, ev)
		return true
	}
	n := len(c.queue)
	ok := c.queueEventLocked(ev)
	if len(c.queue) > n {
		c.signal()
	}
	return ok
}

func (c *conn) queueEventsLocked(evs []events.Event) {
	for _, ev := range evs {
		if !c.queueEventLocked(ev) {
			return
		}
	}
}

// queueEventLocked queues ev unless the client has it, and reports whether
// later events may follow: not after a departure.
func (c *conn) queueEventLocked(ev events.Event) bool {
	switch {
	case c.bye != "":
		return false
	case ev.Sequence() <= c.sent:
		return true
	}
	c.queue = append(c.queue, outFrame{b: wire.AppendEvent(frameBuf(), ev)})
	c.sent = ev.Sequence()
	c.releaseLocked()
	if r := c.departure(ev); r != "" {
		c.finishLocked(r)
		return false
	}
	return true
}

// cut ends the connection with a goodbye from outside: replaced, shutdown.
func (c *conn) cut(r wire.Reason) {
	c.mu.Lock()
	c.finishLocked(r)
	c.mu.Unlock()
}

// finishLocked decides the goodbye. Frames already queued go first, except
// for a slow client, whose queue is dropped; the goodbye waits for a
// command being submitted, so that its result is not lost.
func (c *conn) finishLocked(r wire.Reason) {
	if c.bye != "" {
		return
	}
	c.bye = r
	c.pumpCancel()
	if r == wire.ReasonSlow {
		clear(c.queue)
		c.queue, c.held, c.parked = c.queue[:0], nil, nil
		// A client too slow to take even its goodbye is dropped.
		c.cutTimer = time.AfterFunc(c.srv.cfg.writeTimeout, c.cancel)
	}
	if !c.inflight {
		c.queueByeLocked()
	}
	c.signal()
}

func (c *conn) queueByeLocked() {
	for _, h := range c.held { // the events they wait for will not come
		c.queue = append(c.queue, outFrame{b: h.b})
	}
	c.held = nil
	c.queue = append(c.queue, outFrame{b: wire.AppendGoodbye(nil, c.bye), bye: c.bye})
	c.byeQueued = true
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		if c.flush(false) {
			return
		}
	}
}

// flushOnce writes what is queued now if no other goroutine is writing,
// and leaves the rest to the writer.
func (c *conn) flushOnce() { c.flush(true) }

// flush writes queued frames unless another goroutine is writing; once
// stops after one batch. It reports whether the connection is closed.
func (c *conn) flush(once bool) (closed bool) {
	c.mu.Lock()
	if c.writing || c.closed {
		closed = c.closed
		c.mu.Unlock()
		return closed
	}
	c.writing = true
	for len(c.queue) > 0 {
		batch := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()
		n, err := c.write(batch)
		clear(batch)
		c.mu.Lock()
		c.spare = batch[:0]
		c.written += uint64(n)
		select {
		case c.room <- struct{}{}:
		default:
		}
		if err != nil {
			c.closed = true
			c.writing = false
			c.mu.Unlock()
			return true
		}
		if once {
			break
		}
	}
	c.writing = false
	if len(c.queue) > 0 {
		c.signal()
	}
	c.mu.Unlock()
	return false
}

// errGoodbye ends a write loop once the goodbye is out.
var errGoodbye = errors.New("ws: goodbye sent")

func (c *conn) write(batch []outFrame) (written int, _ error) {
	for i, f := range batch {
		if f.bye != "" {
			c.goodbye(f)
			return i, errGoodbye
		}
		if err := c.ws.Write(context.Background(), websocket.MessageText, f.b); err != nil { // c.ctx closes the socket: see newConn
			c.cancel()
			return i, err
		}
	}
	return len(batch), nil
}

// goodbye writes the goodbye frame and closes the connection with the
// reason as the close frame's.
func (c *conn) goodbye(f outFrame) {
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.writeTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, f.b); err != nil {
		c.cancel()
		return
	}
	code := websocket.StatusNormalClosure
	switch f.bye {
	case wire.ReasonShutdown:
		code = websocket.StatusGoingAway
	case wire.ReasonSlow:
		code = websocket.StatusPolicyViolation
	}
	c.ws.Close(code, string(f.bye))
	c.cancel()
}
