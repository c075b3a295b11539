package reducer

import (
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// Evolve returns s with e applied. Evolve trusts its input: e is an event
// Decide produced for s (or read from that session's log). It never panics;
// an event that does not fit s (an update for someone not joined) changes
// only the seq.
func Evolve(s core.State, e events.Event) core.State {
	b := core.NewBuilder(s)
	evolve(&b, e)
	return b.State()
}

// Fold applies evs to s in order, as repeated Evolve would, for less: one
// core.Builder takes them all, so the trie nodes it makes are changed in
// place by the events after (a log of 100,000 joins folds at about the cost
// of filling a map).
func Fold(s core.State, evs []events.Event) core.State {
	b := core.NewBuilder(s)
	FoldInto(&b, evs)
	return b.State()
}

// FoldInto applies evs in b, as Fold does to a state: for a caller that
// decides and folds command after command (a replay, a session reading its
// log), Decide(b.Current(), cmd) then FoldInto(b, evs) builds the session
// with no copy of the nodes b has made already.
func FoldInto(b *core.Builder, evs []events.Event) {
	for _, e := range evs {
		evolve(b, e)
	}
}

// evolve applies e in b: the one place that says what each event does to
// the state.
func evolve(b *core.Builder, e events.Event) {
	switch e := e.(type) {
	case *events.ParticipantJoined:
		b.Join(core.Participant{ID: e.Participant, Name: e.Name, Preset: e.Preset,
			AudioEnabled: e.AudioEnabled, VideoEnabled: e.VideoEnabled})
	case *events.ParticipantLeft:
		b.Remove(e.Participant)
	case *events.AudioUpdate:
		b.SetMedia(core.MediaChange{ID: e.Participant, Enabled: e.AudioEnabled})
	case *events.VideoUpdate:
		b.SetMedia(core.MediaChange{ID: e.Participant, Video: true, Enabled: e.VideoEnabled})
	case *events.AllAudioDisabled:
		b.AllAudioOff()
	case *events.AllVideoDisabled:
		b.AllVideoOff()
	case *events.Pinned:
		b.Pin(e.Participant)
	case *events.Unpinned:
		if b.Current().Pinned() == e.Participant {
			b.Pin("")
		}
	case *events.SessionEnded:
		b.End()
	}
	if e != nil {
		b.SetSeq(e.Sequence())
	}
}

// Apply decides cmd in s and folds its events: the new state, the events,
// or s unchanged and the *core.Error that rejected cmd.
func Apply(s core.State, cmd core.Command) (core.State, []events.Event, error) {
	evs, err := Decide(s, cmd)
	if err != nil {
		return s, nil, err
	}
	return Fold(s, evs), evs, nil
}
