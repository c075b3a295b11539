package ws_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// A service serves a session manager over websockets and mints a token per
// participant; a client (a browser, here raw frames) connects with it,
// gets the welcome, and sends commands. docs/ws-protocol.md has every
// frame.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(core.Presets{
		"host":     {DisableParticipantAudio: true, KickParticipant: true},
		"attendee": {},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close(ctx)
	key := []byte("an example key of 32 bytes or more: use a random secret") // shared with whoever mints tokens
	srv, err := ws.NewServer(m, key)
	if err != nil {
		log.Fatal(err)
	}
	web := httptest.NewServer(srv) // in a service: mux.Handle("/gavel", srv)
	defer web.Close()
	defer srv.Shutdown(ctx)

	// The service mints Alice's token: session, participant, preset, expiry.
	token, err := ws.MintToken(key, ws.Token{Session: "room-1", Participant: "alice", Preset: "host",
		Expires: time.Now().Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	// Alice connects with it, and the first frame is the welcome.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(web.URL, "http")+"?token="+token, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	next := func() wire.Frame {
		_, b, err := c.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			log.Fatal(err)
		}
		return f
	}
	w := next().Welcome
	fmt.Printf("welcome %s as %s at seq %d, may kick: %v\n", w.Self, w.Preset, w.Seq, w.Permissions.KickParticipant)

	// She joins: the actor and the preset come from the token.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"command","cmd":{"id":"c1","type":"join","name":"Alice","audio":true}}`)); err != nil {
		log.Fatal(err)
	}
	r := next().Result
	fmt.Printf("result %s: seq %d, %s\n", r.ID, r.Seq, r.Events[0].Type())

	// A command for someone else is refused: the connection is bound to her.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"command","cmd":{"id":"c2","type":"leave","actor":"bob"}}`)); err != nil {
		log.Fatal(err)
	}
	r = next().Result
	fmt.Printf("result %s: %d %s\n", r.ID, r.Err.Code, r.Err.Name())

	// Output:
	// welcome alice as host at seq 0, may kick: true
	// result c1: seq 1, participant_joined
	// result c2: 1201 permission_denied
}
