// Package media is gavel's media layer: a selective forwarding unit (SFU) on
// pion/webrtc that enforces the session's moderation on the media path, so
// that a muted participant whose client ignores the mute still reaches
// nobody.
//
// A [Router] serves one session. Each participant has one PeerConnection
// with it ([Router.Connect]); the audio and video a participant publishes
// are forwarded to every other participant. The router follows the
// session's events ([Router.Run] over an [EventSource], such as a
// subscription of the session runtime, or [Router.Apply] one at a time):
//
//   - audio_update / video_update with the media off withholds that
//     participant's track from everyone at the router; on again resumes it.
//     Video resumes with a key frame: while it is withheld, subscribers' key
//     frame requests are not passed to the publisher (its key frame would be
//     dropped at the gate and spend its budget: browsers ignore requests
//     that come too soon after a key frame), and when it is on again the
//     router asks the publisher for one every 100 ms until one has passed.
//   - participant_left closes the participant's PeerConnection and takes
//     their tracks off everyone else's: a new offer to each, in which the
//     track's m-section is inactive. A browser then mutes the track and
//     removes it from its stream (removetrack); a pion receiver's reads end.
//   - session_ended closes every PeerConnection.
//
// # Forwarding state comes from events only
//
// The router folds the events into a core.State with reducer.Evolve, as
// every other gavel package does, and forwards a participant's media exactly
// when [Forwards] holds in that state. Nothing else (no client request, no
// arrival order of tracks) decides it, so a router rebuilt from a session's
// log, or restarted from the state at some seq ([NewRouter]) and fed the
// events after it, forwards what the original did.
//
// # The forwarding path
//
// Each forwarded track runs through a chain of stages in the style of
// pion/interceptor ([Stage], [Writer], [NoOp]): the mute gate first, then
// the stages given with [WithStages], then the sequence rewriter, then the
// subscribers. The gate is an ordinary stage that passes a track's packets
// only while [Forwards] holds; it hands withheld packets on as skips, from
// which the rewriter keeps every subscriber's sequence numbers gapless across
// mutes, so SRTP replay protection and jitter buffers see one continuous
// stream. When Apply returns after a mute, no packet of the track is in the
// chain and none will enter it.
//
// A participant's forwarded track lives from the first packet they publish
// of that kind until they leave: when they reconnect, the new source feeds
// the same track (re-based), and the subscribers need no new offer.
//
// # Signalling
//
// The router makes every offer; participants answer and trickle ICE
// candidates ([Signal], [Peer.Next], [Peer.Signal]). A transport carries
// these messages as they are. Forwarded tracks carry the publisher's
// participant id as their stream id and "audio" or "video" as their track
// id. Each participant is offered one audio and one video track to publish
// (Opus and VP8, see [Codecs]). Package transport/ws/wsmedia runs a router
// per session behind gavel's websocket transport, which carries the
// signals; media itself knows no transport.
//
// # Network
//
// [LoopbackNetwork] works on a loopback-only machine (loopback candidates,
// UDP over IPv4, no mDNS, no STUN); [DefaultNetwork] is for real hosts. Pass
// one with [WithNetwork].
//
// # Goroutines
//
// Each published track has one read loop and each forwarded track one RTCP
// loop per subscriber; all belong to a participant's Peer and stop when its
// PeerConnection closes. [Router.Close] closes everything and waits for it.
//
// Package media imports core, events and reducer; nothing in gavel imports
// it but transports and services.
package media
