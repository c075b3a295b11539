// Package relay spreads the media of a websocket server over several gavel
// nodes that share NATS: each session's media has one home node at a time,
// which runs the session's router, and a participant whose socket is on
// another node gets media from the home, the node the socket is on
// relaying the signalling. ICE and RTP go straight between the participant
// and the home: the home's router makes the offers, with the home's own
// candidates (its media.Network). The websocket protocol does not change,
// but for media_closed with reason moved.
//
//	store, err := nats.NewStore(ctx, nc, nats.WithReplicas(3)) // gavel's transport/nats: the shared log
//	manager, err := session.NewManager(store)                  // this node's runtime, following the log
//	local, err := wsmedia.New(manager, wsmedia.WithRouterOptions(media.WithNetwork(network)))
//	hub, err := relay.New(ctx, nc, "node-1", local, relay.WithReplicas(3))
//	srv, err := ws.NewServer(manager, key, ws.WithMedia(hub))
//	…
//	hub.Close(ctx)   // leave first: the others take its sessions at once
//	srv.Shutdown(ctx)
//	local.Close(ctx)
//	manager.Close(ctx)
//
// A single node needs none of this: it is every session's home, and serves
// its wsmedia.Hub directly.
//
// # The home
//
// The home of a session is Home(session, live nodes): rendezvous
// (highest-random-weight) hashing, a pure function, so every node that
// sees the same live nodes agrees on every home without asking anyone; a
// node that goes away moves only the sessions it was home of, and one that
// joins takes only its share.
//
// The live nodes are the keys of a JetStream key-value bucket (GAVEL_NODES,
// on file so that it outlives a restart of the NATS server; WithReplicas(3)
// in a three-server cluster, so that it outlives a server). Each node puts
// its key every third of the TTL (WithTTL, 3 s by default) and watches the
// bucket; the bucket's
// TTL removes the key of a node that stopped beating (a crash, a network
// partition), and its limit markers tell every watcher when it does. A
// node that stops gracefully deletes its key (Close), which every watcher
// sees at once. A node whose puts failed for the TTL less a beat counts
// itself out before the others do, so that it stops serving as a home
// before they move on. The bucket rather than the NATS micro service API:
// micro finds services by asking (a ping whose answers are gathered until
// a timeout), so a node learns of a death only by polling, and two nodes
// polling at different moments disagree; the bucket's watch gives every
// node the same changes in the same order, pushed as they happen.
//
// When the live nodes change, every media connection whose session's home
// moved ends: its transport tells the client media_closed with reason
// moved, the client sends media_connect again, and that reaches the new
// home, which starts the session's router from the session's state (a
// muted participant stays muted). A connection served for a node that is
// gone (the participant's socket went with it) is closed.
//
// # Relaying
//
// Subjects, under WithPrefix (default gavel):
//
//	<prefix>.media.<home>.connect            request/reply: open a participant's connection
//	<prefix>.media.<home>.peer.<id>.signal   the participant's signals, in order
//	<prefix>.media.<home>.peer.<id>.close    the relaying node is done with it
//	<prefix>.media.<node>.out.<id>           the home's signals to the relaying node
//
// A connect request names the session, the participant, the relaying node
// and its id of the connection; the relaying node subscribes to its out
// subject first, so it misses nothing. The home answers with its own id
// of the connection, or the *core.Error its hub refused with
// (not_joined, session_ended: the home's hub checks the session), or
// not_home when it does not see itself as the session's home: the views
// differ for a moment, and the relaying node asks again once its view
// changes (or a little later). Each of the home's messages on the out
// subject is a websocket frame (a signal, or a final media_closed) with a
// Gavel-Seq header, 1, 2, …: a message lost (a slow consumer, say) is a
// gap, and the relaying node closes the connection rather than go on with
// a corrupt negotiation; the client connects again. The participant's
// signals and the close are one-way messages on the connection's subject,
// so a home that dies never holds up a socket: a signal the home refuses
// ends the connection with invalid_command, which reaches the client in
// the final media_closed. A connection the home serves closes when the
// relaying node is gone, and when it hears nothing from it within the
// request timeout (a participant answers the offer at once; silence means
// the relaying node never had the answer to its connect).
//
// # Trust
//
// As for package transport/nats: whoever may publish on <prefix>.media.>
// can open and drive media connections as any participant, so only gavel
// nodes get it. A node needs publish and subscribe on <prefix>.media.>,
// publish on $KV.<bucket>.> and the JetStream API, and subscribe on
// _INBOX.> for replies.
//
// # Control state
//
// The home's hub decides from the session's state as its own node's
// runtime has it, and every node's runtime follows the session's log
// (session.Follower: each node has its own session.Manager on a
// JetStream store, transport/nats, on a stream all nodes share): a mute
// or a kick that any node applies reaches the home's router through the
// home's follow stream, within milliseconds, with no node asking
// another. Admitting a media_connect is decided after a read barrier
// (session.Manager.Sync, which wsmedia.Hub.Connect calls): the home reads
// the log's tail from the stream first, so a kick applied anywhere before
// the media_connect arrived refuses it (not_joined) even when the home's
// follow stream, or the relaying node's, has not delivered it yet, and a
// join applied through another node a moment ago admits it; the router
// then serves the participant at that state or a later one
// (media.Router.ConnectAt). The relaying node decides nothing: it may lag
// as it likes.
//
// A node's watch of the bucket checks itself against its own heartbeats,
// which it delivers too: one that a beat later it has not delivered means
// the watch stalled (its consumer was on a NATS server that died; the
// client would learn it only from missed heartbeats, after some ten
// seconds), and the node watches again.
//
// # Goroutines
//
// The Hub owns the registry's goroutine (heartbeats and the bucket's
// watch), a goroutine per connect request it serves and one per
// connection it serves for another node (the home's signals to it); Close
// stops them all. A relayed connection of its own has no goroutine: the
// websocket transport reads it.
//
// Package relay imports core, events, internal/jsonscan, transport/ws and
// transport/ws/wire (the interfaces it implements, the frames it carries),
// and nats.go; not
// media or pion (the local hub brings them).
package relay
