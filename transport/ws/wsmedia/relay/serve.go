package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// servedPeer is a connection homed at this node for a participant whose
// socket is on another node (via): the local hub's peer, whose signals one
// goroutine sends to via, numbered, and which takes the participant's
// signals and via's close on a subscription of its own (so that they keep
// their order).
type servedPeer struct {
	h       *Hub
	inner   ws.MediaPeer
	session string
	via     string
	out     string // subjects.out(via, the via node's id)
	sub     *nats.Subscription
	heard   atomic.Bool // via has sent something
	ending
}

// handleConnect runs on the connect subscription's goroutine: it hands the
// request to a goroutine of its own, waiting for a free slot (so a flood
// waits in the subscription's buffer, not in goroutines).
func (h *Hub) handleConnect(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	select {
	case h.slots <- struct{}{}:
	case <-h.life.Done():
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		<-h.slots
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer func() {
			<-h.slots
			h.wg.Done()
		}()
		a := h.serveConnect(m.Data)
		_ = m.Respond(appendAnswer(nil, a)) // lost: the requester times out and asks again
	}()
}

// serveConnect opens a connection for another node's participant, if this
// node is the session's home, and starts serving it.
func (h *Hub) serveConnect(data []byte) answer {
	req, err := decodeConnect(data)
	if err != nil {
		return answer{failure: failUnavailable, message: err.Error()}
	}
	if home := h.Home(req.session); home != h.node {
		return answer{failure: failNotHome, message: fmt.Sprintf("the home of %q is %q", req.session, home)}
	}
	ctx, cancel := context.WithTimeout(h.life, h.cfg.requestTimeout)
	defer cancel()
	inner, err := h.local.Connect(ctx, req.session, req.participant)
	if err != nil {
		if e, ok := errors.AsType[*core.Error](err); ok {
			return answer{err: e}
		}
		return answer{failure: failUnavailable, message: err.Error()}
	}
	p := &servedPeer{h: h, inner: inner, session: req.session, via: req.via, out: h.subj.out(req.via, req.id),
		ending: newEnding()}
	id := nuid.Next()
	if p.sub, err = h.nc.Subscribe(h.subj.peer(h.node, id)+".*", p.handle); err != nil {
		h.closeInner(inner)
		return answer{failure: failUnavailable, message: err.Error()}
	}
	if !h.track(p) {
		_ = p.sub.Unsubscribe()
		h.closeInner(inner)
		return answer{failure: failNotHome, message: "the session's media moved"}
	}
	h.wg.Add(1) // the hub is not closed: track said so, and Close waits for this connect's own
	go p.run()
	return answer{peer: id}
}

func (h *Hub) closeInner(p ws.MediaPeer) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.requestTimeout)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		h.report(fmt.Errorf("relay: closing a served media connection: %w", err))
	}
}

func (p *servedPeer) placement() placement {
	return placement{session: p.session, home: p.h.node, via: p.via}
}

func (p *servedPeer) end(v verdict) {
	if v == orphaned {
		p.finish(ws.ErrMediaClosed)
		return
	}
	p.finish(ws.ErrMediaMoved)
}

// run sends the connection's signals to via, numbered, until it ends (it
// closed, via asked to close it, the home moved, the hub closed), then
// tells via how it ended and closes it.
func (p *servedPeer) run() {
	defer p.h.wg.Done()
	ctx, cancel := context.WithCancel(p.h.life)
	defer cancel()
	defer context.AfterFunc(p.ended, cancel)()
	// A participant answers the offer at once. Silence means that via
	// never had the answer to its connect (it timed out): nobody would
	// close this connection, which holds the session's router.
	silent := time.AfterFunc(p.h.cfg.requestTimeout, func() {
		if !p.heard.Load() {
			p.finish(errUnanswered)
		}
	})
	defer silent.Stop()
	var seq uint64
	for {
		s, err := p.inner.Next(ctx)
		if err != nil {
			if p.ended.Err() == nil {
				p.finish(err) // it closed by itself (its ICE failed, the participant left)
			}
			break
		}
		seq++
		if err := p.send(seq, wire.AppendSignal(nil, s)); err != nil {
			p.finish(fmt.Errorf("%w: %w", ws.ErrMediaClosed, err))
			break
		}
	}
	p.h.untrack(p)
	_ = p.sub.Unsubscribe()
	var mc wire.MediaClosed
	if e, ok := errors.AsType[*core.Error](p.why()); ok {
		mc.Err = e
	} else if errors.Is(p.why(), ws.ErrMediaMoved) {
		mc.Reason = wire.MediaMoved
	}
	if !errors.Is(p.why(), errClosedByVia) {
		_ = p.send(seq+1, wire.AppendMediaClosed(nil, mc)) // via may be gone: it has closed its end then
	}
	p.h.closeInner(p.inner)
}

// errClosedByVia: the node whose socket the participant is on asked to
// close the connection.
var errClosedByVia = fmt.Errorf("%w: closed by its relay", ws.ErrMediaClosed)

// errUnanswered: the relaying node sent nothing within the request
// timeout.
var errUnanswered = fmt.Errorf("%w: no word from its relay", ws.ErrMediaClosed)

func (p *servedPeer) send(seq uint64, frame []byte) error {
	m := nats.NewMsg(p.out)
	m.Header.Set(seqHeader, formatSeq(seq))
	m.Data = frame
	return p.h.nc.PublishMsg(m)
}

// handle runs on the connection's subscription: a signal from the
// participant, or via's close. A signal the local peer refuses ends the
// connection with invalid_command, which via tells the participant.
func (p *servedPeer) handle(m *nats.Msg) {
	p.heard.Store(true)
	switch {
	case p.ended.Err() != nil:
	case strings.HasSuffix(m.Subject, ".signal"):
		f, err := wire.DecodeClientFrame(m.Data)
		if err == nil && f.Type != wire.TypeSignal {
			err = fmt.Errorf("a %s frame is not a signal", f.Type)
		}
		if err == nil {
			err = p.inner.Signal(f.Signal)
		}
		if err != nil && !errors.Is(err, ws.ErrMediaClosed) {
			p.finish(fmt.Errorf("%w: %w", ws.ErrMediaClosed, core.Errorf(core.CodeInvalidCommand, "signal refused: %v", err)))
		}
	case strings.HasSuffix(m.Subject, ".close"):
		p.finish(errClosedByVia)
	}
}
