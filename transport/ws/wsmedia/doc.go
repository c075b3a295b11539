// Package wsmedia puts gavel's media layer behind its websocket transport:
// a [Hub] is a ws.MediaHub that runs one media.Router per session of a
// session.Manager and gives each participant's connection a peer to signal
// through (the media_connect and signal frames of docs/ws-protocol.md).
//
// It lives under transport/ws because it is the websocket transport's
// bridge to media: it implements ws's MediaHub, speaks ws's signal frames
// and follows the sessions' runtime. Package media knows no transport, and
// package ws knows no WebRTC (a server without media does not link pion);
// only a server that wants both imports wsmedia.
//
//	hub, err := wsmedia.New(manager, wsmedia.WithRouterOptions(media.WithNetwork(media.DefaultNetwork())))
//	srv, err := ws.NewServer(manager, key, ws.WithMedia(hub))
//	mux.Handle("/gavel", srv)
//	…
//	srv.Shutdown(ctx) // every media connection closes with its socket
//	hub.Close(ctx)
//	manager.Close(ctx)
//
// # Rooms
//
// A session's router and the goroutine that feeds it make a room. The
// room starts with the session's first media connection, from
// Manager.Watch: a state and a subscription that starts right after it, so
// the router misses no event and sees none twice. The goroutine runs the
// router over the subscription; when the subscription is cut off
// (session.ErrSlowSubscriber) or the router finds a gap
// (media.ErrSequenceGap), it subscribes again from the router's seq.
//
// The room closes (its router closes, which closes every PeerConnection,
// and its goroutine ends) when the session ends, when its last media
// connection closes, when the manager closes, when the subscription fails
// otherwise (told to WithErrorHandler), or on Close. A later media
// connection starts a new room from the session's current state: the
// router's forwarding state comes from the session's events only, so
// nothing is lost. An idle room holds no subscription, so the manager can
// close an idle session.
//
// # Connect
//
// Connect checks the session first, after a read barrier
// (session.Manager.Sync): on a store shared by several nodes (JetStream),
// the log's tail is read before deciding, so a kick that another node
// stored a moment ago is seen even if this node's follow stream has not
// delivered it yet. An ended session is refused with session_ended, a
// participant who has not joined (or was kicked) with not_joined, at once.
// Then the router, which may lag the session's log a little, is waited for
// until it has applied the seq Connect read (media.Router.ConnectAt, up to
// WithConnectTimeout), so the participant is never admitted on an older
// state; and the participant's PeerConnection is opened. A participant who
// connects again replaces their previous one.
//
// # Goroutines
//
// One per room, owned by the Hub: Close stops them all and waits. The
// routers own their PeerConnections' goroutines (see package media).
//
// Package wsmedia imports core, session, media, transport/ws (the interfaces
// it implements), transport/ws/wire (the signals' types) and pion/webrtc.
package wsmedia
