package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
)

// A host mutes an attendee, who is told who did it; the attendee may not
// kick anyone, and the SDK refuses before sending. The server here is the
// one a service runs (see package transport/ws).
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
	key := []byte("an example key of 32 bytes or more: use a random secret")
	srv, err := ws.NewServer(m, key)
	if err != nil {
		log.Fatal(err)
	}
	web := httptest.NewServer(srv)
	defer web.Close()
	defer srv.Shutdown(ctx)
	url := "ws" + strings.TrimPrefix(web.URL, "http")
	token := func(participant, preset string) string { // the service's part
		t, err := ws.MintToken(key, ws.Token{Session: "room-1", Participant: participant, Preset: preset,
			Expires: time.Now().Add(time.Hour)})
		if err != nil {
			log.Fatal(err)
		}
		return t
	}

	// Hana hosts; she learns of Bob when he joins.
	joined := make(chan *client.Participant, 1)
	hana, err := client.Dial(ctx, url, token("hana", "host"), client.WithName("Hana"),
		client.WithSetup(func(m *client.Meeting) {
			m.Participants.Joined.OnParticipantJoined(func(p *client.Participant, _ client.ParticipantJoined) { joined <- p })
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer hana.Close()

	// Bob attends with his microphone on, and hears about mutes.
	muted := make(chan client.AudioUpdate, 1)
	bob, err := client.Dial(ctx, url, token("bob", "attendee"), client.WithName("Bob"), client.WithMedia(true, false),
		client.WithSetup(func(m *client.Meeting) {
			m.Self.OnAudioUpdate(func(u client.AudioUpdate) { muted <- u })
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	var p *client.Participant
	select {
	case p = <-joined:
	case <-ctx.Done():
		log.Fatal("Bob never joined")
	}
	fmt.Println("hana sees", p.Name(), "audio", p.AudioEnabled())
	if err := p.DisableAudio(ctx); err != nil {
		log.Fatal(err)
	}
	var u client.AudioUpdate
	select {
	case u = <-muted:
	case <-ctx.Done():
		log.Fatal("Bob was never muted")
	}
	fmt.Println("bob: audio", u.AudioEnabled, "by", u.By)

	hanaAtBob, _ := bob.Participants.Joined.Get("hana")
	err = hanaAtBob.Kick(ctx)
	var cerr *client.ClientError
	if errors.As(err, &cerr) {
		fmt.Println("bob may not kick:", cerr.Code, "sent:", cerr.Remote)
	}

	// Output:
	// hana sees Bob audio true
	// bob: audio false by hana
	// bob may not kick: 1201 sent: false
}
