package media

import "errors"

// Errors of the media layer. Session conditions (the session has ended, a
// participant is not joined) are *core.Error values with their SPEC codes.
var (
	// ErrClosed: the Router is closed.
	ErrClosed = errors.New("media: router closed")
	// ErrPeerClosed: the participant's PeerConnection is closed (the
	// participant left, was kicked, reconnected elsewhere, or failed).
	ErrPeerClosed = errors.New("media: peer connection closed")
	// ErrSequenceGap: an event's seq is past the one after the router's
	// state: events were missed. Resubscribe from State().Seq().
	ErrSequenceGap = errors.New("media: event sequence gap")
	// ErrBadSignal: a participant sent a signal the router does not take (an
	// offer: the router always makes the offers; or an empty signal).
	ErrBadSignal = errors.New("media: bad signal")
	// ErrPeerFailed: a participant's PeerConnection failed (ICE or DTLS).
	// The router closes it and tells the ErrorHandler.
	ErrPeerFailed = errors.New("media: peer connection failed")
)
