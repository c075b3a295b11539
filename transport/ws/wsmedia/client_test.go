package wsmedia_test

import (
	"context"
	"testing"

	"github.com/pion/webrtc/v4"

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

// from names a forwarded track as a subscriber sees it.
func from(participant string, kind webrtc.RTPCodecType) mediatest.From {
	return mediatest.From{Participant: participant, Kind: kind}
}

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
