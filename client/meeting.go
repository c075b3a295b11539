package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/view"
)

// Meeting is a joined gavel session, RealtimeKit's meeting object in Go:
// Self is meeting.self, Participants is meeting.participants. All methods
// are safe for concurrent use, handlers included.
type Meeting struct {
	// Self is the local participant.
	Self *Self
	// Participants holds the remote participants.
	Participants *Participants

	urls []string // Dial's and WithURLs's
	self string
	opts options

	ctx     context.Context // the meeting's life; Close cancels it
	cancel  context.CancelFunc
	disp    *dispatcher
	runDone chan struct{} // the connection goroutine has stopped
	done    chan struct{} // every goroutine has stopped
	conn    handlers[func(ConnectionUpdate)]

	sendMu sync.Mutex // orders command frames, resent ones included

	mu       sync.Mutex
	token    string
	v        view.View
	preset   string
	perms    core.Permissions // the welcome's: self's before it joins
	parts    map[string]*Participant
	ws       *websocket.Conn // nil while reconnecting
	at       int             // the index in urls of ws's URL (or the last one's)
	pending  map[string]*call
	idPrefix string
	nextID   uint64
	closing  bool  // Close was called
	over     bool  // the meeting has ended
	err      error // why
}

// call is a command waiting for its result.
type call struct {
	n     uint64 // send order
	frame []byte
	done  chan error // capacity 1
}

// ConnectionState is the state a ConnectionUpdate reports, as the SDK's
// socketConnectionUpdate.
type ConnectionState string

// The connection states.
const (
	// Reconnecting: the connection was lost; Attempt counts the tries.
	Reconnecting ConnectionState = "reconnecting"
	// Reconnected: a new connection is up; Resumed tells whether the
	// missed events were replayed (else a fresh snapshot was applied, and
	// the handlers told what differs).
	Reconnected ConnectionState = "reconnected"
	// Disconnected: the meeting is over and will not reconnect; Err says
	// why (nil after Close).
	Disconnected ConnectionState = "disconnected"
)

// ConnectionUpdate reports a change of the meeting's connection.
type ConnectionUpdate struct {
	State   ConnectionState
	Attempt int
	Resumed bool
	// URL is the URL the meeting is connected to, once Reconnected.
	URL string
	// Reason is the server's goodbye that caused the change, if any.
	Reason wire.Reason
	Err    error
}

// Dial connects to a gavel websocket server at url (ws:// or wss://) with a
// token the service minted, and joins the room unless self is joined
// already (a reconnection from another process). It returns once self is
// in the room. With WithURLs, it tries url and then each of those in turn,
// until one welcomes it; a refused token ends the tries. The meeting then runs until self leaves the room, another
// connection replaces it, it cannot reconnect, or Close.
func Dial(ctx context.Context, url, token string, opts ...Option) (*Meeting, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("client: command ids: %w", err)
	}
	m := &Meeting{urls: append([]string{url}, o.urls...), opts: o, token: token, idPrefix: hex.EncodeToString(rnd[:]) + "-",
		parts: make(map[string]*Participant), pending: make(map[string]*call),
		runDone: make(chan struct{}), done: make(chan struct{})}
	m.Self = &Self{m: m}
	m.Participants = &Participants{m: m, Joined: &ParticipantMap{m: m}, Pinned: &ParticipantMap{m: m, pinned: true}}

	m.ctx, m.cancel = context.WithCancel(context.Background())
	var wc *websocket.Conn
	var w wire.Welcome
	var err error
	for m.at = range m.urls {
		wc, w, err = m.connect(ctx, m.urls[m.at], false, 0)
		if err == nil || errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		m.cancel()
		return nil, err
	}
	st, err := core.FromSnapshot(w.State, w.Presets)
	if err != nil {
		m.cancel()
		wc.CloseNow()
		return nil, fmt.Errorf("%w: welcome: %v", ErrProtocol, err)
	}
	if st.Ended() {
		m.cancel()
		wc.CloseNow()
		return nil, &ClientError{Code: core.CodeSessionEnded, Message: "the session has ended", Remote: true}
	}
	m.self, m.v, m.preset, m.perms, m.ws = w.Self, view.New(w.Self, st), w.Preset, w.Permissions, wc

	if o.setup != nil {
		o.setup(m)
	}
	// The end of the meeting closes the connection of the moment, which
	// ends any read or write on it: they need no context of their own,
	// which would cost a timer registration each.
	context.AfterFunc(m.ctx, func() {
		m.mu.Lock()
		wc := m.ws
		m.mu.Unlock()
		if wc != nil {
			wc.CloseNow()
		}
	})
	m.disp = newDispatcher()
	go func() { // closes done once both goroutines have stopped
		<-m.disp.done
		<-m.runDone
		close(m.done)
	}()
	go m.run(wc)

	if m.Self.RoomState() == StateInit {
		name := o.name
		if name == "" {
			name = m.self
		}
		if err := m.do(ctx, core.Command{Type: core.Join, Name: name, Audio: o.audio, Video: o.video}); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// connect opens a connection to rawURL and reads its welcome.
func (m *Meeting) connect(ctx context.Context, rawURL string, resume bool, after uint64) (*websocket.Conn, wire.Welcome, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, wire.Welcome{}, fmt.Errorf("client: url: %w", err)
	}
	if resume {
		q := u.Query()
		q.Set("after", strconv.FormatUint(after, 10))
		u.RawQuery = q.Encode()
	}
	h := m.opts.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	m.mu.Lock()
	h.Set("Authorization", "Bearer "+m.token)
	m.mu.Unlock()
	wc, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: m.opts.httpClient, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, wire.Welcome{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
		}
		return nil, wire.Welcome{}, fmt.Errorf("client: dial: %w", err)
	}
	wc.SetReadLimit(m.opts.readLimit)
	_, b, err := wc.Read(ctx)
	if err != nil {
		wc.CloseNow()
		return nil, wire.Welcome{}, fmt.Errorf("client: reading the welcome: %w", err)
	}
	f, err := wire.DecodeFrame(b)
	if err == nil && f.Type != wire.TypeWelcome {
		err = fmt.Errorf("%s frame before the welcome", f.Type)
	}
	if err != nil {
		wc.CloseNow()
		return nil, wire.Welcome{}, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return wc, f.Welcome, nil
}

// run owns the connection: it reads it, and reconnects when it is lost,
// until the meeting ends.
func (m *Meeting) run(wc *websocket.Conn) {
	defer close(m.runDone)
	for {
		bye, err := m.read(wc)
		m.mu.Lock()
		m.ws = nil
		closing, left := m.closing, m.roomLeftLocked()
		m.mu.Unlock()
		var end error
		switch {
		case closing:
		case left:
			end = ErrRoomLeft
		case bye == wire.ReasonReplaced:
			end = ErrReplaced
		case bye.Final(): // a goodbye for a room self was never in
			end = fmt.Errorf("%w (%s)", ErrRoomLeft, bye)
		default:
			wc, end = m.reconnect(err, bye)
			closing = wc == nil && end == nil // Close stopped the reconnection
		}
		if closing || end != nil {
			m.finish(end, bye)
			return
		}
	}
}

// read reads frames until the connection ends, and returns the server's
// goodbye, if any, and the error that ended it.
func (m *Meeting) read(wc *websocket.Conn) (wire.Reason, error) {
	ka := wire.StartKeepalive(wc, m.opts.pingInterval, m.opts.pingTimeout)
	defer ka.Stop()
	defer wc.CloseNow()
	var bye wire.Reason
	for {
		_, b, err := wc.Read(context.Background())
		if err != nil {
			if ce, ok := errors.AsType[websocket.CloseError](err); ok && bye == "" {
				bye = wire.Reason(ce.Reason) // the goodbye frame was lost, not its close frame
			}
			return bye, err
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			return bye, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch f.Type {
		case wire.TypeEvent:
			m.apply(f.Event)
		case wire.TypeResult:
			m.apply(f.Result.Events...)
			m.complete(f.Result)
		case wire.TypeGoodbye:
			bye = f.Reason
		default:
			return bye, fmt.Errorf("%w: unexpected %s frame", ErrProtocol, f.Type)
		}
	}
}

// apply folds events into the view and queues the handler calls they mean.
func (m *Meeting) apply(evs ...events.Event) {
	if len(evs) == 0 {
		return
	}
	var calls []func()
	m.mu.Lock()
	for _, e := range evs {
		var ns []view.Notification
		m.v, ns = m.v.Apply(e)
		calls = m.notifyLocked(calls, ns)
	}
	m.mu.Unlock()
	m.disp.push(calls...)
}

// notifyLocked appends a handler call for each notification, on the object
// it fires on.
func (m *Meeting) notifyLocked(calls []func(), ns []view.Notification) []func() {
	var gone []string
	for _, n := range ns {
		if n.On == view.OnSelf {
			calls = append(calls, m.Self.call(n))
			continue
		}
		p := m.objectLocked(n.Participant.ID, n.Participant)
		switch n.On {
		case view.OnParticipant:
			calls = append(calls, p.call(n))
		case view.OnJoined:
			if n.Event == view.ParticipantLeft {
				gone = append(gone, p.id)
			}
			calls = append(calls, m.Participants.Joined.call(p, n))
		case view.OnPinned:
			calls = append(calls, m.Participants.Pinned.call(p, n))
		}
	}
	for _, id := range gone { // after the event's notifications: the pinned map's may follow
		delete(m.parts, id)
	}
	return calls
}

// objectLocked returns the participant object of id, as vp now.
func (m *Meeting) objectLocked(id string, vp view.Participant) *Participant {
	p := m.parts[id]
	if p == nil {
		p = &Participant{m: m, id: id}
		m.parts[id] = p
	}
	p.last = vp
	return p
}

func (m *Meeting) roomLeftLocked() bool {
	switch m.v.Self().RoomState {
	case view.StateLeft, view.StateKicked, view.StateEnded:
		return true
	}
	return false
}

// reconnect dials again until it resumes or gives up: the next URL first
// (a node that said goodbye, or went silent, is likely gone), each URL in
// turn, waiting only between whole rounds.
func (m *Meeting) reconnect(lost error, bye wire.Reason) (*websocket.Conn, error) {
	wait, last := time.Duration(0), lost
	m.mu.Lock()
	at := m.at
	m.mu.Unlock()
	for attempt := 1; m.opts.maxReconnects < 0 || attempt <= m.opts.maxReconnects; attempt++ {
		m.disp.push(m.connUpdate(ConnectionUpdate{State: Reconnecting, Attempt: attempt, Reason: bye, Err: last}))
		if (attempt-1)%len(m.urls) == 0 { // a new round
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-m.ctx.Done():
					t.Stop()
					return nil, nil
				}
			}
			wait = min(max(2*wait, m.opts.reconnectWait), MaxReconnectWait)
		}
		at = (at + 1) % len(m.urls)
		wc, err := m.redial(at)
		switch {
		case err == nil:
			return wc, nil
		case m.ctx.Err() != nil:
			return nil, nil
		case errors.Is(err, ErrUnauthorized) && m.opts.refresh == nil:
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("client: gave up reconnecting: %w", last)
}

// redial opens a connection resuming from the view's seq, brings the view
// up to date with its welcome, and sends again the commands still waiting
// for a result: the server answers a command it has seen with its first
// outcome, so none is applied twice.
func (m *Meeting) redial(at int) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(m.ctx, defaultConnectTimeout)
	defer cancel()
	if m.opts.refresh != nil {
		tok, err := m.opts.refresh(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token refresh: %w", err)
		}
		m.mu.Lock()
		m.token = tok
		m.mu.Unlock()
	}
	wc, w, err := m.connect(ctx, m.urls[at], true, m.Seq())
	if err != nil {
		return nil, err
	}
	var st core.State
	if !w.Resumed {
		if st, err = core.FromSnapshot(w.State, w.Presets); err != nil {
			wc.CloseNow()
			return nil, fmt.Errorf("%w: welcome: %v", ErrProtocol, err)
		}
	}

	m.sendMu.Lock()
	defer m.sendMu.Unlock()
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		wc.CloseNow()
		return nil, ErrClosed
	}
	if w.Resumed && w.Seq != m.v.Seq() {
		m.mu.Unlock()
		wc.CloseNow()
		return nil, fmt.Errorf("%w: resumed at %d, asked %d", ErrProtocol, w.Seq, m.v.Seq())
	}
	calls := []func(){m.connUpdate(ConnectionUpdate{State: Reconnected, Resumed: w.Resumed, URL: m.urls[at]})}
	switch {
	case w.Resumed:
	case st.Seq() >= m.v.Seq():
		var ns []view.Notification
		m.v, ns = m.v.Resync(st)
		calls = m.notifyLocked(calls, ns)
	default: // the server's history is not the one this view followed
		m.v = view.New(m.self, st)
		clear(m.parts)
	}
	m.preset, m.perms, m.ws, m.at = w.Preset, w.Permissions, wc, at
	resend := make([]*call, 0, len(m.pending))
	for _, c := range m.pending {
		resend = append(resend, c)
	}
	m.mu.Unlock()
	m.disp.push(calls...)
	slices.SortFunc(resend, func(a, b *call) int { return int(a.n - b.n) })
	for _, c := range resend {
		if wc.Write(context.Background(), websocket.MessageText, c.frame) != nil { // see Dial
			break // the new connection failed already: run sees it
		}
	}
	return wc, nil
}

// finish ends the meeting: waiting commands fail, handlers still queued run.
func (m *Meeting) finish(end error, bye wire.Reason) {
	m.mu.Lock()
	m.over, m.err = true, end
	pending := m.pending
	m.pending = nil
	err := m.closedErrLocked()
	m.mu.Unlock()
	for _, c := range pending {
		c.done <- err
	}
	m.disp.push(m.connUpdate(ConnectionUpdate{State: Disconnected, Reason: bye, Err: end}))
	m.disp.end(false)
}

func (m *Meeting) closedErrLocked() error {
	if m.err == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, m.err)
}

func (m *Meeting) connUpdate(u ConnectionUpdate) func() {
	return bind(&m.conn, func(h func(ConnectionUpdate)) { h(u) })
}

// complete answers the call a result is for.
func (m *Meeting) complete(r wire.Result) {
	m.mu.Lock()
	c := m.pending[r.ID]
	delete(m.pending, r.ID)
	m.mu.Unlock()
	if c == nil {
		return // answered before a reconnection, or given up by its caller
	}
	var err error
	switch {
	case r.Refused == wire.RefusedRateLimited:
		err = ErrRateLimited
	case r.Refused.Permanent():
		err = fmt.Errorf("%w (%s)", ErrFailed, r.Refused)
	case r.Refused != "":
		err = fmt.Errorf("%w (%s)", ErrUnavailable, r.Refused)
	case r.Err != nil:
		err = &ClientError{Code: r.Err.Code, Message: r.Err.Message, Remote: true}
	}
	c.done <- err
}

// do checks self's permission for cmd, sends it and waits for its result.
func (m *Meeting) do(ctx context.Context, cmd core.Command) error {
	if !m.permissions().Allows(cmd.Type) {
		return &ClientError{Code: core.CodePermissionDenied, Message: fmt.Sprintf("self's preset does not allow %s", cmd.Type)}
	}
	cmd.Actor = m.self
	c := &call{done: make(chan error, 1)}
	m.sendMu.Lock()
	m.mu.Lock()
	if m.over || m.closing {
		err := m.closedErrLocked()
		m.mu.Unlock()
		m.sendMu.Unlock()
		return err
	}
	m.nextID++
	c.n = m.nextID
	cmd.ID = m.idPrefix + strconv.FormatUint(c.n, 10)
	c.frame = wire.AppendCommand(nil, cmd)
	m.pending[cmd.ID] = c
	wc := m.ws
	m.mu.Unlock()
	if wc != nil {
		// A failed write fails the connection: the command goes again
		// after the reconnection.
		_ = wc.Write(context.Background(), websocket.MessageText, c.frame) // see Dial
	}
	m.sendMu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		m.mu.Lock()
		delete(m.pending, cmd.ID)
		m.mu.Unlock()
		return ctx.Err()
	}
}

func (m *Meeting) permissions() core.Permissions {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.v.Self(); s.RoomState == view.StateJoined {
		return s.Permissions
	}
	return m.perms
}

// Seq is the seq of the last session event the meeting has applied.
func (m *Meeting) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v.Seq()
}

// URL is the URL of the meeting's connection (while it reconnects, of the
// last one).
func (m *Meeting) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.urls[m.at]
}

// OnConnectionUpdate calls h when the connection is lost, comes back, or
// ends for good. It returns the function that removes h.
func (m *Meeting) OnConnectionUpdate(h func(ConnectionUpdate)) (off func()) { return m.conn.add(h) }

// Close closes the connection without leaving the room (self stays joined
// until it leaves or is kicked, as when a browser tab closes) and stops the
// meeting. It returns once the connection is closed; a handler running
// then may still finish, and queued ones are dropped: Done is closed when
// the handler goroutine has stopped too. Close may be called from a
// handler.
func (m *Meeting) Close() error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		<-m.runDone
		return nil
	}
	m.closing = true
	wc := m.ws
	m.mu.Unlock()
	if wc != nil {
		wc.Close(websocket.StatusNormalClosure, "")
	}
	m.cancel()
	<-m.runDone
	m.disp.end(true)
	return nil
}

// Done is closed when the meeting has ended and all its goroutines have
// stopped.
func (m *Meeting) Done() <-chan struct{} { return m.done }

// Err returns why the meeting ended: nil while it runs and after Close, an
// error matching ErrRoomLeft, ErrReplaced, or the last error reconnecting.
func (m *Meeting) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}
