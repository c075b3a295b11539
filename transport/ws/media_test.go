package ws_test

import (
	"errors"
	"testing"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// TestMediaWithoutHub: a server without WithMedia answers media_connect
// with media_closed (unavailable, or rate_limited over the command rate)
// and drops signals; a signal frame that is not one closes the connection.
// Media with a hub is tested in transport/ws/wsmedia.
func TestMediaWithoutHub(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t, ws.WithCommandRate(0.001, 2))
	c := dial(t, srv, srv.Token(room, "alice", "attendee"), nil)

	c.sendRaw(wire.AppendSignal(nil, wire.Signal{Candidate: &wire.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}))
	id := c.send(core.Command{Type: core.Join, Name: "Alice"})
	if f := c.next(); f.Type != wire.TypeResult || f.Result.ID != id {
		t.Fatalf("after a signal without media and a command: %+v, want the result", f)
	}
	for _, want := range []wire.Refusal{wire.RefusedUnavailable, wire.RefusedRateLimited} {
		c.sendRaw(wire.AppendMediaConnect(nil))
		if f := c.next(); f.Type != wire.TypeMediaClosed || f.Media != (wire.MediaClosed{Refused: want}) {
			t.Errorf("media_connect: %+v, want media_closed refused %s", f, want)
		}
	}

	c.sendRaw([]byte(`{"type":"signal","description":{"type":"answer"},"candidate":{"candidate":""}}`))
	if ce := c.closed(); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("a bad signal frame closed the connection with %d, want 1008", ce.Code)
	}
	if !srv.State(t, room).Joined("alice") {
		t.Error("alice left with her connection")
	}
}

// Options given a value that means nothing are refused.
func TestInvalidOptions(t *testing.T) {
	m, err := session.NewManager(session.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(testwait.Context(t))
	for name, opt := range map[string]ws.Option{
		"WithMedia(nil)":      ws.WithMedia(nil),
		"WithResumeWait(-1)":  ws.WithResumeWait(-1),
		"WithWriteTimeout(0)": ws.WithWriteTimeout(0),
	} {
		if _, err := ws.NewServer(m, make([]byte, ws.MinKeySize), opt); !errors.Is(err, ws.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}
