package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// ending is how a connection of the hub ends: once, with the error its
// Next returns from then on (the context's cause).
type ending struct {
	ended  context.Context
	cancel context.CancelCauseFunc
}

func newEnding() ending {
	ctx, cancel := context.WithCancelCause(context.Background())
	return ending{ended: ctx, cancel: cancel}
}

// finish ends the connection with err, unless it has ended already.
func (e ending) finish(err error) { e.cancel(err) }

// why is the error the connection ended with.
func (e ending) why() error { return context.Cause(e.ended) }

// localPeer is a connection homed at this node for a socket on it: the
// local hub's peer, which ends with ErrMediaMoved when the home moves.
type localPeer struct {
	h       *Hub
	inner   ws.MediaPeer
	session string
	ending
}

func (h *Hub) connectLocal(ctx context.Context, session, participant string) (*localPeer, error) {
	p, err := h.local.Connect(ctx, session, participant)
	if err != nil {
		return nil, err
	}
	return &localPeer{h: h, inner: p, session: session, ending: newEnding()}, nil
}

func (p *localPeer) placement() placement { return placement{session: p.session, home: p.h.node} }

func (p *localPeer) end(verdict) { p.finish(ws.ErrMediaMoved) }

func (p *localPeer) Next(ctx context.Context) (wire.Signal, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.ended, cancel)()
	s, err := p.inner.Next(ctx)
	if p.ended.Err() != nil {
		return wire.Signal{}, p.why()
	}
	return s, err
}

func (p *localPeer) Signal(s wire.Signal) error { return p.inner.Signal(s) }

func (p *localPeer) Close(ctx context.Context) error {
	p.finish(ws.ErrMediaClosed)
	p.h.untrack(p)
	return p.inner.Close(ctx)
}

// remotePeer is a connection homed at another node for a socket on this
// one: its signals come from the home on a subject of this node's, each
// numbered; the participant's go to the home on the connection's subject
// there, in order.
type remotePeer struct {
	h       *Hub
	session string
	home    string
	subject string // the home's: subjects.peer(home, id)
	sub     *nats.Subscription
	msgs    chan *nats.Msg
	seq     uint64 // the last message's number; Next's goroutine only
	ending
}

// signalBuffer is how many of the home's signals a relayed connection
// holds before its transport reads them; one more is a gap, which closes
// the connection. An offer and its candidates are a few.
const signalBuffer = 256

func (h *Hub) connectRemote(ctx context.Context, home, session, participant string) (*remotePeer, error) {
	id := nuid.Next()
	p := &remotePeer{h: h, session: session, home: home, msgs: make(chan *nats.Msg, signalBuffer), ending: newEnding()}
	var err error
	// Subscribed before asking, so that no signal of the home is missed.
	if p.sub, err = h.nc.ChanSubscribe(h.subj.out(h.node, id), p.msgs); err != nil {
		return nil, fmt.Errorf("relay: subscribe: %w", err)
	}
	a, err := h.ask(ctx, h.subj.connect(home), appendConnect(nil, connectRequest{session: session,
		participant: participant, via: h.node, id: id}))
	switch {
	case err != nil:
	case a.peer != "":
		p.subject = h.subj.peer(home, a.peer)
		return p, nil
	case a.err != nil:
		err = a.err
	case a.failure == failNotHome:
		err = fmt.Errorf("%w: %s: %s", errNotHome, home, a.message)
	default:
		err = fmt.Errorf("relay: home %s: %s: %s", home, a.failure, a.message)
	}
	_ = p.sub.Unsubscribe()
	return nil, err
}

// ask sends a request and decodes its answer. A request nobody is
// subscribed to (the home is gone) fails with errNotHome.
func (h *Hub) ask(ctx context.Context, subject string, data []byte) (answer, error) {
	m, err := h.nc.RequestWithContext(ctx, subject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return answer{}, fmt.Errorf("%w: nobody on %s", errNotHome, subject)
	case err != nil:
		return answer{}, fmt.Errorf("relay: %s: %w", subject, err)
	}
	return decodeAnswer(m.Data)
}

func (p *remotePeer) placement() placement { return placement{session: p.session, home: p.home} }

func (p *remotePeer) end(v verdict) {
	if v == moved {
		p.finish(ws.ErrMediaMoved)
		return
	}
	p.finish(ws.ErrMediaClosed)
}

func (p *remotePeer) Next(ctx context.Context) (wire.Signal, error) {
	select {
	case <-ctx.Done():
		return wire.Signal{}, ctx.Err()
	case <-p.ended.Done():
		return wire.Signal{}, p.why()
	case m := <-p.msgs:
		n, ok := parseSeq(m.Header.Get(seqHeader))
		if !ok || n != p.seq+1 {
			p.finish(fmt.Errorf("%w: signal %s from %s after %d: lost", ws.ErrMediaClosed, m.Header.Get(seqHeader), p.home, p.seq))
			return wire.Signal{}, p.why()
		}
		p.seq = n
		f, err := wire.DecodeFrame(m.Data)
		switch {
		case err == nil && f.Type == wire.TypeSignal:
			return f.Signal, nil
		case err == nil && f.Type == wire.TypeMediaClosed && f.Media.Err != nil:
			p.finish(fmt.Errorf("%w: %w", ws.ErrMediaClosed, f.Media.Err))
		case err == nil && f.Type == wire.TypeMediaClosed && f.Media.Reason == wire.MediaMoved:
			p.finish(ws.ErrMediaMoved)
		case err == nil && f.Type == wire.TypeMediaClosed:
			p.finish(ws.ErrMediaClosed)
		default:
			p.finish(fmt.Errorf("%w: from %s: %.60s", ws.ErrMediaClosed, p.home, m.Data))
		}
		return wire.Signal{}, p.why()
	}
}

// Signal sends s to the home. It does not wait: the home's refusal, or
// its going away, ends the connection, as Next then says.
func (p *remotePeer) Signal(s wire.Signal) error {
	if p.ended.Err() != nil {
		return p.why()
	}
	if err := p.h.nc.Publish(p.subject+".signal", wire.AppendSignal(nil, s)); err != nil {
		p.finish(fmt.Errorf("%w: %w", ws.ErrMediaClosed, err))
		return p.why()
	}
	return nil
}

// Close stops taking the home's signals and tells the home to close its
// end; it does not wait for the home (gone, it has closed it).
func (p *remotePeer) Close(context.Context) error {
	p.finish(ws.ErrMediaClosed)
	p.h.untrack(p)
	err := p.sub.Unsubscribe()
	if err == nil {
		err = p.h.nc.Publish(p.subject+".close", nil)
	}
	if errors.Is(err, nats.ErrConnectionClosed) {
		return nil // so is the home's end, once it sees this node go
	}
	return err
}
