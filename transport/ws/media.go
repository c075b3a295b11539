package ws

import (
	"context"
	"errors"
	"fmt"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// MediaHub opens participants' media connections for a Server (WithMedia):
// one WebRTC PeerConnection per participant with a media server, such as
// the SFU of package media (transport/ws/wsmedia adapts it). The server makes every
// offer; the participant answers and both trickle ICE candidates.
type MediaHub interface {
	// Connect opens participant's media connection in session, replacing
	// one they have, and returns the peer whose signals the connection
	// carries; its first offer is waiting in Next. It fails with a
	// *core.Error when the session refuses: not_joined, session_ended. It
	// waits until ctx ends at most.
	Connect(ctx context.Context, session, participant string) (MediaPeer, error)
}

// MediaPeer is one participant's media connection, as the transport sees
// it. The transport calls Next from one goroutine and Signal from another,
// and Close once, when it is done with the peer, whatever happened.
type MediaPeer interface {
	// Next returns the next signal for the participant, in the order they
	// are to be sent (an offer before its candidates), waiting until ctx
	// ends. It returns an error matching ErrMediaClosed once the peer has
	// closed, and one matching ErrMediaMoved too when it closed because
	// the session's media moved to another node (the client is told to
	// connect again at once). An error that also holds a *core.Error is
	// told to the client as that error (a signal the peer refused after
	// Signal had returned: invalid_command).
	Next(ctx context.Context) (wire.Signal, error)
	// Signal takes a signal from the participant: an answer to the latest
	// offer, or an ICE candidate. It returns an error matching
	// ErrMediaClosed if the peer has closed, and another error when it
	// refuses the signal.
	Signal(s wire.Signal) error
	// Close closes the PeerConnection; the participant stays in the
	// session. It waits until the peer is closed or ctx ends.
	Close(ctx context.Context) error
}

// ErrMediaClosed is matched by a MediaPeer's errors once it has closed.
var ErrMediaClosed = errors.New("ws: media connection closed")

// ErrMediaMoved is matched by a MediaPeer's errors once it has closed
// because the session's media moved to another node; it matches
// ErrMediaClosed too. The client gets media_closed with reason moved.
var ErrMediaMoved = fmt.Errorf("%w: moved to another node", ErrMediaClosed)

// mediaLink is one media connection of a conn: from media_connect until its
// peer closes, the client asks for another, a signal is refused, or the
// connection ends. One goroutine, owned by the conn, opens the peer, sends
// its signals and closes it.
type mediaLink struct {
	ctx    context.Context // cancelled: the link is over, close the peer
	cancel context.CancelFunc
	done   chan struct{} // closed when the peer is closed
	peer   MediaPeer     // set under conn.mu once open
}

// mediaConnect opens a media connection for the client, replacing the one
// it has. A refused media_connect leaves the client with none.
func (c *conn) mediaConnect() {
	hub := c.srv.cfg.media
	var refused wire.Refusal
	switch {
	case c.overRate():
		refused = wire.RefusedRateLimited
	case hub == nil:
		refused = wire.RefusedUnavailable
	}
	c.mu.Lock()
	switch {
	case c.out.Bye() != "":
		c.mu.Unlock()
		return
	case refused != "":
		c.closeMediaLocked(wire.MediaClosed{Refused: refused})
		c.mu.Unlock()
		return
	}
	old := c.media
	l := &mediaLink{done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(c.ctx)
	c.media = l
	c.out.MediaOpen()
	c.wg.Add(1)
	c.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	go c.runMedia(hub, l, old)
}

// runMedia is a media link's goroutine: it waits for the link it replaces
// to close its peer, opens the new one, and sends its signals to the client
// in order until the link is over. Then it closes the peer.
func (c *conn) runMedia(hub MediaHub, l, old *mediaLink) {
	defer c.wg.Done()
	defer close(l.done)
	if old != nil {
		<-old.done
	}
	p, err := hub.Connect(l.ctx, c.tok.Session, c.tok.Participant)
	if err != nil {
		if l.ctx.Err() == nil {
			mc := wire.MediaClosed{Refused: wire.RefusedUnavailable}
			if e, ok := errors.AsType[*core.Error](err); ok {
				mc = wire.MediaClosed{Err: e}
			}
			c.endMedia(l, mc)
		}
		return
	}
	defer func() {
		// The connection may be gone: the peer still closes, within bounds.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), c.srv.cfg.writeTimeout)
		defer cancel()
		_ = p.Close(ctx)
	}()
	c.mu.Lock()
	l.peer = p
	c.mu.Unlock()
	for {
		s, err := p.Next(l.ctx)
		if err != nil {
			if l.ctx.Err() == nil { // the peer closed by itself
				var mc wire.MediaClosed
				if e, ok := errors.AsType[*core.Error](err); ok {
					mc.Err = e
				} else if errors.Is(err, ErrMediaMoved) {
					mc.Reason = wire.MediaMoved
				}
				c.endMedia(l, mc)
			}
			return
		}
		c.queueSignal(l, s)
	}
}

// mediaSignal hands a signal from the client to its media peer. A signal
// with no open peer is late (the peer closed, or the client asked for a new
// one) and is dropped. A signal the peer refuses, or one over the command
// rate, closes the media connection.
func (c *conn) mediaSignal(s wire.Signal) {
	c.mu.Lock()
	l := c.media
	var p MediaPeer
	if l != nil {
		p = l.peer
	}
	c.mu.Unlock()
	switch {
	case l == nil:
		return
	case c.overRate():
		c.endMedia(l, wire.MediaClosed{Refused: wire.RefusedRateLimited})
		return
	case p == nil:
		return
	}
	if err := p.Signal(s); err != nil && !errors.Is(err, ErrMediaClosed) {
		c.endMedia(l, wire.MediaClosed{Err: core.Errorf(core.CodeInvalidCommand, "signal refused: %v", err)})
	}
}

// queueSignal queues a signal of l's peer for the client, once the outbox
// has room, while l is the connection's media link.
func (c *conn) queueSignal(l *mediaLink, s wire.Signal) {
	c.mu.Lock()
	if c.waitLocked(c.out.Room, l.ctx.Done()) && c.media == l {
		c.out.Signal(s)
		c.stepLocked(true)
	}
	c.mu.Unlock()
}

// endMedia ends l, if it is still the client's media connection, and tells
// the client.
func (c *conn) endMedia(l *mediaLink, mc wire.MediaClosed) {
	c.mu.Lock()
	if c.media == l {
		c.closeMediaLocked(mc)
	}
	c.mu.Unlock()
}

// closeMediaLocked ends the client's media connection, if it has one, and
// tells the client with mc.
func (c *conn) closeMediaLocked(mc wire.MediaClosed) {
	if l := c.media; l != nil {
		c.media = nil
		l.cancel()
	}
	c.out.MediaClosed(mc)
	c.stepLocked(true)
}
