package media

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
)

// TrackInfo describes one forwarded track: a participant's audio or video as
// the router sends it on to everyone else. The router gives each forwarded
// track one *TrackInfo for its whole life; stages may key their state by it.
type TrackInfo struct {
	// Participant is the publisher's id.
	Participant string
	// Kind is webrtc.RTPCodecTypeAudio or webrtc.RTPCodecTypeVideo.
	Kind webrtc.RTPCodecType
	// Codec is the codec the publisher sends and the subscribers receive.
	Codec webrtc.RTPCodecCapability
}

// Writer takes the packets of one forwarded track towards its subscribers.
// The router calls a track's writer from one goroutine at a time, in the
// order the publisher's packets arrive.
type Writer interface {
	// WriteRTP forwards p. p and its payload belong to the caller and are
	// valid only during the call; a stage may modify p before passing it on.
	// The router ignores the error of the outermost writer (forwarding goes
	// on with the next packet); stages may act on errors from further down.
	WriteRTP(p *rtp.Packet) error
	// Skip says that a stage upstream withheld p on purpose (the mute gate
	// does), so that stages further down can hide the gap it leaves: a
	// subscriber must not take a mute for packet loss.
	Skip(p *rtp.Packet)
}

// Stage is one step of the forwarding path of every published track, in the
// style of pion/interceptor: for each track the router binds the stages in
// order, each wrapping the writer of the next, so a packet runs through them
// from first to last before it is written to the subscribers.
//
// The router's path is: the mute gate, then the stages given with
// [WithStages] in order, then the sequence rewriter, then the subscribers.
// The gate is first so that no stage ever sees media the session has turned
// off; the rewriter is last so that whatever the stages drop or skip, the
// subscribers see gapless sequence numbers.
//
// The router calls BindTrack, UnbindTrack, Update and Close one at a time,
// never concurrently with each other, but concurrently with the writers
// BindTrack returned. They must not call the Router. Embed [NoOp] to
// implement only what a stage needs. A Stage serves one Router: routers
// are given a [StageFactory], which makes each router its own.
type Stage interface {
	// BindTrack is called when the router starts forwarding a track. It
	// returns the writer the router (or the stage before) calls for each of
	// the track's packets; next leads on towards the subscribers.
	BindTrack(info *TrackInfo, next Writer) Writer
	// UnbindTrack is called when the router stops forwarding the track,
	// after the last call of its writer.
	UnbindTrack(info *TrackInfo)
	// Update is called with the router's session state when the router
	// starts and after each event it applies, before it acts on the event.
	Update(s core.State)
	// Close is called once, when the router closes.
	Close() error
}

// StageFactory makes a router's stage, as pion/interceptor's Factory makes
// an interceptor for each PeerConnection: NewRouter calls NewStage once, so
// every router has a Stage of its own however many routers share the
// options (package transport/ws/wsmedia starts one router per session with
// the same options). session is the id of the router's session.
type StageFactory interface {
	NewStage(session string) (Stage, error)
}

// StageFactoryFunc is a function that is a StageFactory.
type StageFactoryFunc func(session string) (Stage, error)

// NewStage returns f(session).
func (f StageFactoryFunc) NewStage(session string) (Stage, error) { return f(session) }

// NoOp is a Stage that does nothing: BindTrack returns next. Embed it in a
// stage to override only the methods it needs.
type NoOp struct{}

// BindTrack returns next.
func (NoOp) BindTrack(_ *TrackInfo, next Writer) Writer { return next }

// UnbindTrack does nothing.
func (NoOp) UnbindTrack(*TrackInfo) {}

// Update does nothing.
func (NoOp) Update(core.State) {}

// Close returns nil.
func (NoOp) Close() error { return nil }

// kinds are the kinds of media a participant publishes, one track each.
var kinds = [...]webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}

// Forwards reports whether a router in session state s forwards the given
// kind of media of a participant: the participant is joined, the session has
// not ended, and the participant's audio (or video) is enabled. It is the
// whole rule; the router's forwarding state is this function of the state
// folded from the session's events.
func Forwards(s core.State, participant string, kind webrtc.RTPCodecType) bool {
	if s.Ended() {
		return false
	}
	p, ok := s.Participant(participant)
	switch {
	case !ok:
		return false
	case kind == webrtc.RTPCodecTypeAudio:
		return p.AudioEnabled
	case kind == webrtc.RTPCodecTypeVideo:
		return p.VideoEnabled
	}
	return false
}

// bind binds stages to a track, the first stage outermost, and returns the
// writer that takes the track's packets.
func bind(stages []Stage, info *TrackInfo, last Writer) Writer {
	w := last
	for i := len(stages) - 1; i >= 0; i-- {
		w = stages[i].BindTrack(info, w)
	}
	return w
}
