package wsmedia_test

import (
	"context"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/internal/wsmediatest"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

const room = "room-1"

// startServer starts a websocket server whose media runs on a Hub on
// loopback. The hub closes after the server and the manager.
func startServer(t testing.TB, opts ...ws.Option) (*wstest.Server, *wsmedia.Hub) {
	t.Helper()
	return startServerWith(t, fake.WithTransportOptions(opts...))
}

// startServerWith is startServer with the fake server's options (its
// store, say).
func startServerWith(t testing.TB, opts ...fake.Option) (*wstest.Server, *wsmedia.Hub) {
	t.Helper()
	var hub *wsmedia.Hub
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), mediatest.WaitLimit)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	srv := wstest.NewMedia(t, func(m *session.Manager) ws.MediaHub {
		h, err := wsmedia.New(m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork())),
			wsmedia.WithErrorHandler(func(err error) { t.Errorf("hub: %v", err) }))
		if err != nil {
			t.Fatal(err)
		}
		hub = h
		return h
	}, opts...)
	return srv, hub
}

// hostAndPublisher dials hana (host, receiving) and bob (attendee,
// publishing) to srv, joins them, connects their media, and returns them
// and the room's router once hana receives bob's audio and video.
func hostAndPublisher(t *testing.T, srv *wstest.Server, hub *wsmedia.Hub) (hana, bob *wsmediatest.Participant, r *media.Router) {
	t.Helper()
	hana = dial(t, srv, "hana", "host", withPC)
	bob = dial(t, srv, "bob", "attendee", publishing)
	hana.Join()
	bob.Join()
	hana.ConnectMedia()
	bob.ConnectMedia()
	bob.Publish(mediatest.PacketInterval)
	for _, f := range []mediatest.From{from("bob", webrtc.RTPCodecTypeAudio), from("bob", webrtc.RTPCodecTypeVideo)} {
		mediatest.WaitUntil(t, "hana receiving bob's "+f.Kind.String(), func() bool { return hana.Received(f, 2) })
	}
	r, ok := hub.Router(room)
	if !ok {
		t.Fatal("no router for the room")
	}
	return hana, bob, r
}

// checkMuted checks that bob's audio, once r has his mute, stops reaching
// hana while bob goes on sending and his video goes on, and returns the
// last audio packet bob had sent when r had the mute.
func checkMuted(t *testing.T, r *media.Router, hana, bob *wsmediatest.Participant) uint32 {
	t.Helper()
	audio, video := from("bob", webrtc.RTPCodecTypeAudio), from("bob", webrtc.RTPCodecTypeVideo)
	// The router has the event: packets written after this one are read
	// with the gate closed; the next one may have been on its way.
	mediatest.WaitUntil(t, "the router muting bob", func() bool { return !media.Forwards(r.State(), "bob", webrtc.RTPCodecTypeAudio) })
	s := bob.LastSent(webrtc.RTPCodecTypeAudio)
	wsmediatest.ServerRead(t, r, "bob", webrtc.RTPCodecTypeAudio, s+mediatest.Window)
	mediatest.WaitUntil(t, "hana receiving bob's video past the mute", func() bool { return hana.Received(video, s+mediatest.Window) })
	late := hana.After(audio, s)
	if len(late) > 1 || len(late) == 1 && late[0] != s+1 {
		t.Errorf("after the mute (bob had sent %d), hana got %v", s, late)
	}
	t.Logf("hana got %d of bob's audio packets before the mute, %d in flight after it; bob sent %d",
		len(hana.After(audio, 0))-len(late), len(late), bob.LastSent(webrtc.RTPCodecTypeAudio))
	if sent := bob.LastSent(webrtc.RTPCodecTypeAudio); sent < s+mediatest.Window {
		t.Errorf("bob stopped sending: %d after %d", sent, s)
	}
	return s
}

// from names a forwarded track as a subscriber sees it.
var from = wsmediatest.From

// What a participant dial makes has: frames only, a PeerConnection, or a
// PeerConnection that publishes.
const (
	framesOnly = wsmediatest.FramesOnly
	withPC     = wsmediatest.WithPC
	publishing = wsmediatest.Publishing
)

// dial connects participant id to srv with a token for preset and reads
// the welcome.
func dial(t testing.TB, srv *wstest.Server, id, preset string, mode wsmediatest.Mode) *wsmediatest.Participant {
	t.Helper()
	return wsmediatest.Dial(t, srv.URL+"?token="+srv.Token(room, id, preset), id, mode)
}
