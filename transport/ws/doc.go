// Package ws is gavel's websocket transport: the way untrusted
// participants (browsers, apps, the Go client SDK) reach a session of a
// session.Manager. The protocol is docs/ws-protocol.md; package wire holds
// its frames.
//
//	key := …                                  // ≥ 32 secret bytes, shared with the code that mints tokens
//	srv, err := ws.NewServer(manager, key, ws.WithOriginPatterns("app.example.com"))
//	mux.Handle("/gavel", srv)
//	tok, err := ws.MintToken(key, ws.Token{Session: "room-1", Participant: "alice", Preset: "host", Expires: time.Now().Add(time.Hour)})
//	…
//	srv.Shutdown(ctx)                         // goodbye "shutdown" to every client
//
// # Authentication and binding
//
// A connection carries a token (query parameter "token" or an
// Authorization: Bearer header): HMAC-SHA256, by the service's key, over
// the session, the participant id, the preset and the expiry (MintToken,
// VerifyToken; compared in constant time). A token is valid in exactly one
// spelling: strict base64url, strict JSON. A missing, altered or expired
// token is refused with HTTP 401 before the upgrade, and a token whose
// preset the session does not have with 403; a token is checked when the
// connection opens, not during it. A genuine token authorizes its session:
// the service minted it, so the check before the upgrade opens the session
// and creates it, with the manager's presets, if the store does not have it
// (the first participant to connect opens the room). Nothing else in the
// transport creates a session.
//
// The connection is bound to the token's participant: a command's actor
// must be that participant (an empty actor means it), else the command is
// rejected with permission_denied (1201) and nothing is applied. A join
// takes its preset from the token: an empty preset means the token's, and
// another is rejected with permission_denied, so that a client cannot
// raise its own permissions. The session then checks every command as for
// any caller.
//
// # Ordering
//
// Each connection has one outbox, whose rules (order, bound, the slow
// rule, the goodbye) live in one pure type, tested without sockets. The
// server sends the welcome first: a snapshot of the session at a seq, or,
// for a client resuming from seq N within the resume window, nothing but
// N, then every event after it (an N beyond the session's seq, which a
// client brings from another node of the service while this node's
// runtime follows the log a moment behind, is waited for up to five seconds).
// Every event reaches a connection exactly
// once, in seq order: in an event frame, or in the result of the
// connection's own command that produced it, which then carries it (so the
// result leaves with one write and no goroutine hop). A result never
// overtakes the events before its command's: it waits for them. Results
// leave in the order of the commands. A duplicate's result carries no
// events: they reach the client in the stream, as anyone's.
//
// A connection ends with a goodbye: kicked, left or ended after the event
// that removed self (participant_left for self, session_ended) and the
// result of a command in flight; replaced when a second connection of the
// same participant opens; shutdown from Shutdown or when the manager
// closes; slow when the client's socket takes nothing for the write
// timeout while frames wait for it. Then the server closes the socket (status 1000, 1001 for
// shutdown, 1008 for slow, the reason as the close reason). A participant
// that left joins again on a new connection. A connection that ends, with
// or without a goodbye, never removes its participant from the session:
// see WithDisconnectHandler.
//
// # Limits
//
// A frame above WithMaxFrameSize (64 KiB) closes the connection (1009); a
// binary frame (1003) or a frame that is not a command frame (1008) too. A
// command over the connection's token bucket (WithCommandRate) is refused
// with rate_limited and not applied.
//
// The outbox (WithOutboundQueue) bounds everything that waits for one
// client: events, answers, media signalling. When it is full the
// connection stops taking the session's events until the socket takes
// frames (the session buffers them for it, and past its buffer the
// connection reads them back from the store, so that a burst or a long
// catch-up reaches the client at its own pace, complete), and it stops
// reading the client's frames: a client that sends commands and reads
// nothing holds at most an outbox of answers, in a quiet session too. A
// client whose socket takes no frame for WithWriteTimeout while frames
// wait for it is cut off as slow: what waited is dropped and goodbye slow
// sent; if the socket takes nothing for another write timeout, the
// connection is dropped. Nothing of this ever delays the session or the
// other clients: only the connection's own goroutines wait on its socket.
// Pings (WithKeepalive) close a connection whose peer stopped answering
// (a connection not read from, its outbox full, sees no pong either).
//
// # Media
//
// With WithMedia, a connection also carries its participant's WebRTC
// signalling to a MediaHub (package transport/ws/wsmedia runs gavel's SFU as
// one): media_connect opens the participant's PeerConnection with the
// media server, whose offers and ICE candidates reach the client in signal
// frames, in order (an offer before its candidates, again on every
// renegotiation); the client's answers and candidates go back in signal
// frames. The transport knows nothing of WebRTC: it passes signals through
// wire.Signal, which has the browsers' JSON.
//
// A connection has at most one media connection: media_connect again
// replaces it. It ends with media_closed when the PeerConnection closes
// while the socket stays open (the connection failed, say; with reason
// moved when the peer's error matches ErrMediaMoved: the session's media
// moved to another node), just before the goodbye (but slow's), when the
// hub refuses (a
// *core.Error: not_joined, session_ended; anything else is unavailable),
// when the peer refuses a signal (invalid_command), and when media_connect
// or a signal goes over the command rate (rate_limited). A signal with no
// open media connection is late and dropped. When the socket closes, the
// media connection is closed too; the participant stays in the session,
// as always.
//
// # Goroutines
//
// The goroutines are thin loops around the outbox. ServeHTTP's goroutine
// reads the connection and owns two more, the pump (session → outbox) and
// the writer (outbox → socket), and one per media connection (hub →
// outbox, which also closes its peer), which it stops and waits for before
// it returns; keepalive pings and the slow rule run from timers. Shutdown
// and Close return when every connection's goroutines have stopped.
//
// Package ws imports core, events, session, transport/ws/wire, the
// websocket library and golang.org/x/time/rate; never media or pion.
package ws
