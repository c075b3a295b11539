// Package client is gavel's Go client SDK: RealtimeKit's web-core meeting
// object in Go idiom, over the websocket protocol of transport/ws
// (docs/ws-protocol.md). Bots, tests and services use it to take part in a
// session as one participant.
//
//	m, err := client.Dial(ctx, "wss://example.com/gavel", token, client.WithName("Hana"),
//		client.WithSetup(func(m *client.Meeting) {    // handlers that must see everything, roomJoined too
//			m.Self.OnRoomLeft(func(l client.RoomLeft) { … l.State … })
//		}))
//	m.Self.Permissions().KickParticipant          // meeting.self.permissions.kickParticipant
//	m.Self.OnAudioUpdate(func(u client.AudioUpdate) { … u.By … })
//	for _, p := range m.Participants.Joined.List() { … }  // meeting.participants.joined.toArray()
//	m.Participants.Joined.OnAudioUpdate(func(p *client.Participant, u client.AudioUpdate) { … })
//	err = p.DisableAudio(ctx)                    // *ClientError code 1201 without the permission
//	err = m.Participants.KickAll(ctx)
//	m.OnConnectionUpdate(func(u client.ConnectionUpdate) { … reconnecting, reconnected … })
//
// # The view
//
// The meeting is built on package view, the pure projection of the session's
// events onto one participant: the view decides which SDK events fire, on
// what (self, a participant, the joined map, the pinned map), with which
// payload, and keeps the joined and pinned maps; this package only connects
// it to the socket and to handlers. So the rules of what a client sees live
// in one place.
//
// # Handlers and state
//
// Dial joins the room before it returns (as the SDK's init then join); the
// handlers that WithSetup adds are in place before that. Handlers run on
// one goroutine per meeting, one at a time, in event order, each seeing the
// events applied after it was added; a handler may call the meeting (a
// command, even, waiting for its result).
// Getters (Self.AudioEnabled, Participants.Joined.List …) read the state as
// the connection last received it, which may already be ahead of the
// handler running; a handler's payload describes its own event. A command
// returns once the server has answered it and its events are applied to
// the state (their handlers may still be queued).
//
// # Permissions
//
// A command that self's preset does not allow fails at once with a
// *ClientError of code 1201 and is not sent, as in the SDK; the server
// checks again regardless. A server rejection is a *ClientError too, with
// Remote set. Both unwrap to a *core.Error, so errors.Is(err,
// core.ErrPermissionDenied) holds for either.
//
// # Reconnection
//
// When the connection is lost, or the server cuts the client off as slow
// or shuts down, the meeting reconnects by itself, resuming from the last
// event it applied: the server replays the missed events, each once, or
// sends a fresh snapshot if too many were missed (the view then fires what
// differs). Commands waiting for a result are sent again with the same id,
// and the server answers them with their first outcome, so none is applied
// twice. With WithURLs the meeting knows several nodes of one deployment
// and moves to the next when its node goes away, resuming there by seq as
// above. OnConnectionUpdate reports each step (reconnecting, reconnected,
// disconnected). The meeting ends, without reconnecting, when self leaves
// the room (left, kicked, ended: roomLeft fires), when another connection
// of the same participant replaces it, after WithMaxReconnects failed
// attempts, or on Close.
//
// Closing the meeting does not leave the room: self stays joined until it
// calls Leave or a host removes it, as the transport never removes a
// participant on a disconnection.
//
// Package client imports core, events, view, transport/ws/wire and the
// websocket library; never the server.
package client
