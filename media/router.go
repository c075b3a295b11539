package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// EventSource is a session's event stream, such as a subscription of the
// session runtime: Next returns the events in seq order, waiting for the next
// one until ctx ends.
type EventSource interface {
	Next(ctx context.Context) (events.Event, error)
}

// Router forwards the media of one session between its participants (see
// the package doc). Its methods are safe for concurrent use.
type Router struct {
	api     *webrtc.API
	cert    webrtc.Certificate
	ice     []webrtc.ICEServer
	stages  []Stage // the gate, the user's stages, the rewriter
	onError func(error)

	applyMu sync.Mutex // one Apply (or Close) at a time, so effects keep event order

	mu       sync.Mutex
	state    core.State
	peers    map[string]*Peer
	forwards map[trackKey]*forward
	changed  chan struct{} // closed and replaced when state changes or the router closes
	quit     chan struct{} // closed when the router closes
	closed   bool
	runs     map[int]context.CancelFunc // the contexts of running Runs, cancelled by Close
	nextRun  int

	wg sync.WaitGroup // goroutines started by spawn
}

type trackKey struct {
	participant string
	kind        webrtc.RTPCodecType
}

// NewRouter returns a router for the session whose state is s: a new
// session's core.NewState, or the state folded from a session's log up to
// some seq when a router is restarted. It forwards nothing until
// participants Connect and publish.
func NewRouter(s core.State, opts ...Option) (*Router, error) {
	o := Options{Network: DefaultNetwork()}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	api, err := o.Network.API()
	if err != nil {
		return nil, err
	}
	// One DTLS certificate for all the router's PeerConnections: generating
	// one per participant costs a key generation on every Connect.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("media: certificate key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("media: certificate: %w", err)
	}
	stages := []Stage{newMuteGate()}
	for _, f := range o.Stages {
		st, err := f.NewStage(s.Session())
		if err == nil && st == nil {
			err = errors.New("media: a stage factory made a nil stage")
		}
		if err != nil {
			for _, made := range stages[1:] {
				_ = made.Close() // it served no router; the factory's error is the one to tell
			}
			return nil, fmt.Errorf("media: new stage: %w", err)
		}
		stages = append(stages, st)
	}
	stages = append(stages, rewriter{now: time.Now})
	r := &Router{
		api:      api,
		cert:     *cert,
		ice:      o.Network.ICEServers,
		stages:   stages,
		onError:  o.ErrorHandler,
		state:    s,
		peers:    make(map[string]*Peer),
		forwards: make(map[trackKey]*forward),
		changed:  make(chan struct{}),
		quit:     make(chan struct{}),
		runs:     make(map[int]context.CancelFunc),
	}
	for _, st := range stages {
		st.Update(s)
	}
	return r, nil
}

// State returns the session state the router has folded so far.
func (r *Router) State() core.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Run applies the events of src in order until src or ctx ends, the
// router closes (ErrClosed), or an event does not follow on
// (ErrSequenceGap). It returns nil once session_ended is applied.
//
// Events at or below State().Seq() are skipped, so a source may start
// anywhere up to the router's seq: to resume after an error, subscribe
// again from State().Seq().
func (r *Router) Run(ctx context.Context, src EventSource) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	id := r.nextRun
	r.nextRun++
	r.runs[id] = cancel
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.runs, id)
		r.mu.Unlock()
	}()

	for {
		ev, err := src.Next(ctx)
		if err != nil {
			if r.isClosed() {
				return ErrClosed
			}
			return err
		}
		if err := r.Apply(ev); err != nil {
			return err
		}
		if ev.Type() == events.TypeSessionEnded {
			return nil
		}
	}
}

// Apply folds one event into the router's state and brings forwarding in
// line with it:
//
//   - audio_update / video_update: the participant's track is gated off or
//     on for every subscriber. When Apply returns after turning a track off,
//     no packet of it is being forwarded and none will be until it is turned
//     on again. Turning video on asks the publisher for a key frame, again
//     and again until one has passed the gate.
//   - all_audio_disabled / all_video_disabled: the same, for every track of
//     that kind that was on: the router works out which from its state.
//   - participant_left: the participant's PeerConnection is closed and its
//     tracks are removed from everyone else's (with a new offer to each)
//     before Apply returns.
//   - session_ended: every PeerConnection is closed; Connect fails from now
//     on with core.ErrSessionEnded.
//
// An event at or below State().Seq() is skipped (nil): sources may deliver
// twice. An event further on than State().Seq()+1 is refused with
// ErrSequenceGap and changes nothing.
func (r *Router) Apply(ev events.Event) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	seq := r.state.Seq()
	switch {
	case ev.Sequence() <= seq:
		r.mu.Unlock()
		return nil
	case ev.Sequence() != seq+1:
		r.mu.Unlock()
		return fmt.Errorf("%w: router at seq %d, event %s has seq %d", ErrSequenceGap, seq,
			ev.Type(), ev.Sequence())
	}
	prev := r.state
	r.state = reducer.Evolve(prev, ev)
	for _, st := range r.stages {
		st.Update(r.state)
	}
	var stopped, resumedVideo []*forward
	for k, f := range r.forwards {
		was, is := Forwards(prev, k.participant, k.kind), Forwards(r.state, k.participant, k.kind)
		f.open.Store(is)
		switch {
		case was && !is:
			stopped = append(stopped, f)
		case !was && is && k.kind == webrtc.RTPCodecTypeVideo:
			resumedVideo = append(resumedVideo, f)
		}
	}
	gone := r.removeGoneLocked(events.Participant(ev))
	r.notifyLocked()
	r.mu.Unlock()

	for _, f := range stopped {
		f.barrier()
	}
	for _, f := range resumedVideo {
		f.wantKeyframe(r.spawn, r.quit)
	}
	r.teardown(gone)
	return nil
}

// departure is what a participant who is no longer joined leaves behind:
// their PeerConnection, their forwarded tracks, and the peers that
// subscribe to those tracks.
type departure struct {
	peer        *Peer
	forwards    []*forward
	subscribers []*Peer
}

// removeGoneLocked takes the peers and tracks of participants who are no
// longer joined out of the router: everyone once the session has ended,
// else the participant the event was about if they are gone.
func (r *Router) removeGoneLocked(about string) []departure {
	ids := make(map[string]bool)
	switch {
	case r.state.Ended():
		for id := range r.peers {
			ids[id] = true
		}
		for k := range r.forwards {
			ids[k.participant] = true
		}
	case about != "" && !r.state.Joined(about):
		ids[about] = true
	}
	var gone []departure
	for id := range ids {
		d := departure{peer: r.peers[id]}
		delete(r.peers, id)
		for _, kind := range kinds {
			k := trackKey{id, kind}
			if f, ok := r.forwards[k]; ok {
				f.gone.Store(true) // before the subscribers are listed: see Peer.addForward
				d.forwards = append(d.forwards, f)
				delete(r.forwards, k)
			}
		}
		if d.peer != nil || d.forwards != nil {
			gone = append(gone, d)
		}
	}
	if len(gone) > 0 {
		subs := make([]*Peer, 0, len(r.peers))
		for _, p := range r.peers {
			subs = append(subs, p)
		}
		for i := range gone {
			gone[i].subscribers = subs
		}
	}
	return gone
}

// teardown closes what departed participants leave behind, all at once, and
// returns when it is done.
func (r *Router) teardown(gone []departure) {
	var wg sync.WaitGroup
	for _, d := range gone {
		if d.peer != nil {
			wg.Go(d.peer.close)
		}
		for _, f := range d.forwards {
			wg.Go(func() {
				f.stop()
				for _, s := range d.subscribers {
					s.removeForward(f)
				}
			})
		}
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range gone {
		for _, f := range d.forwards {
			r.unbindLocked(f)
		}
	}
}

func (r *Router) unbindLocked(f *forward) {
	for _, st := range r.stages {
		st.UnbindTrack(f.info)
	}
}

func (r *Router) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Router) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Connect opens the participant's PeerConnection with the router and returns
// the Peer that carries its signalling; the router's first offer is already
// waiting in Peer.Next. The participant is offered one audio and one video
// track to publish and every track the others publish.
//
// Connect waits, until ctx ends, for the router's state to have the
// participant joined (the router may lag the session's log a little). It
// fails with core.ErrSessionEnded once the session has ended. A participant
// who connects again replaces their previous PeerConnection.
func (r *Router) Connect(ctx context.Context, participant string) (*Peer, error) {
	return r.ConnectAt(ctx, participant, 0)
}

// ConnectAt is Connect for a caller that has read the session at seq (a
// read barrier, such as session.Manager.Sync) and found the participant
// joined: it waits, until ctx ends, for the router to have applied every
// event up to seq, so that the participant is never admitted on an older
// state than the caller's (one before a kick, say), and then fails at once
// with not_joined (a *core.Error) if the participant has left or been
// kicked since. ConnectAt with seq 0 is Connect.
func (r *Router) ConnectAt(ctx context.Context, participant string, seq uint64) (*Peer, error) {
	for {
		r.mu.Lock()
		caught := r.state.Seq() >= seq
		switch {
		case r.closed:
			r.mu.Unlock()
			return nil, ErrClosed
		case r.state.Ended():
			r.mu.Unlock()
			return nil, core.ErrSessionEnded
		case caught && r.state.Joined(participant):
			// Admitted, with r.mu held.
		case caught && seq > 0:
			r.mu.Unlock()
			return nil, core.Errorf(core.CodeNotJoined, "%q is no longer in session %q", participant, r.state.Session())
		default:
			changed := r.changed
			r.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				return nil, fmt.Errorf("media: waiting for %q to join (seq %d): %w", participant, seq, ctx.Err())
			}
			continue
		}
		break
	}
	// r.mu is held. p is locked before anyone can see it, so tracks that
	// appear meanwhile wait for its PeerConnection (see forwardFor).
	p := newPeer(r, participant)
	p.mu.Lock()
	old := r.peers[participant]
	r.peers[participant] = p
	var fs []*forward
	for k, f := range r.forwards {
		if k.participant != participant {
			fs = append(fs, f)
		}
	}
	r.mu.Unlock()

	if old != nil {
		old.close()
	}
	err := p.startLocked(fs)
	p.mu.Unlock()
	if err != nil {
		r.dropPeer(p)
		return nil, err
	}
	return p, nil
}

// dropPeer closes p and forgets it, unless the participant has connected
// again meanwhile. The participant stays joined; their tracks stay with the
// subscribers, silent until they connect and publish again.
func (r *Router) dropPeer(p *Peer) {
	// Closed before it leaves the map, so that a Connect that replaces it
	// finds it and waits until its read loops are over.
	p.close()
	r.mu.Lock()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
	r.mu.Unlock()
}

// report hands an error no caller will see to the ErrorHandler.
func (r *Router) report(err error) {
	if r.onError != nil {
		r.onError(err)
	}
}

// spawn runs f in a goroutine the router owns (Close waits for it); not
// once the router is closed.
func (r *Router) spawn(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.wg.Go(f)
}

// forwardFor returns the forwarded track that remote, a track p publishes,
// feeds: the one the participant already has of that kind, or a new one,
// then bound to the stages and offered to every other peer. It returns nil
// (and no error) if p is no longer the participant's peer.
func (r *Router) forwardFor(p *Peer, remote *webrtc.TrackRemote) (*forward, error) {
	k := trackKey{p.id, remote.Kind()}
	codec := remote.Codec().RTPCodecCapability
	r.mu.Lock()
	if r.closed || r.peers[p.id] != p {
		r.mu.Unlock()
		return nil, nil
	}
	// One codec per kind (Codecs): every source of a participant's track
	// fits the forwarded track.
	if f, ok := r.forwards[k]; ok {
		r.mu.Unlock()
		return f, nil
	}
	local, err := webrtc.NewTrackLocalStaticRTP(codec, k.kind.String(), p.id)
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("media: track for %s %s: %w", p.id, k.kind, err)
	}
	f := newForward(&TrackInfo{Participant: p.id, Kind: k.kind, Codec: codec}, local)
	f.open.Store(Forwards(r.state, p.id, k.kind))
	f.head = bind(r.stages, f.info, f)
	r.forwards[k] = f
	subs := make([]*Peer, 0, len(r.peers))
	for id, s := range r.peers {
		if id != p.id {
			subs = append(subs, s)
		}
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.addForward(f)
	}
	return f, nil
}

// TrackStats counts the packets of one forwarded track.
type TrackStats struct {
	// Received is the number of packets read from the publisher.
	Received uint64
	// Forwarded is the number written to the subscribers; the rest were
	// withheld (muted) or dropped by a stage.
	Forwarded uint64
	// LastSequence is the publisher's sequence number of the last packet
	// read, before any rewriting.
	LastSequence uint16
}

// TrackStats returns the counts of the participant's forwarded track of the
// given kind, and false if the router forwards no such track (the
// participant has not published it, or has left).
func (r *Router) TrackStats(participant string, kind webrtc.RTPCodecType) (TrackStats, bool) {
	r.mu.Lock()
	f, ok := r.forwards[trackKey{participant, kind}]
	r.mu.Unlock()
	if !ok {
		return TrackStats{}, false
	}
	return f.stats(), true
}

// Close closes every PeerConnection, stops every goroutine the router runs,
// makes running Runs return ErrClosed and closes the stages. It waits until
// all is done or ctx ends; in that case the rest goes on in the background
// and Close returns ctx's error.
func (r *Router) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- r.close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("media: closing router: %w", ctx.Err())
	}
}

func (r *Router) close() error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	close(r.quit)
	peers, forwards := r.peers, r.forwards
	r.peers, r.forwards = make(map[string]*Peer), make(map[trackKey]*forward)
	for _, cancel := range r.runs {
		cancel()
	}
	r.notifyLocked()
	r.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(p.close)
	}
	wg.Wait()
	r.wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, f := range forwards {
		f.stop()
		r.unbindLocked(f)
	}
	for _, st := range r.stages {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
