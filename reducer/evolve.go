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
	switch e := e.(type) {
	case *events.ParticipantJoined:
		s = s.WithJoined(core.Participant{ID: e.Participant, Name: e.Name, Preset: e.Preset,
			AudioEnabled: e.AudioEnabled, VideoEnabled: e.VideoEnabled})
	case *events.ParticipantLeft:
		s = s.Without(e.Participant)
	case *events.AudioUpdate, *events.VideoUpdate:
		s = s.WithMedia(mediaChange(e))
	case *events.Pinned:
		s = s.WithPinned(e.Participant)
	case *events.Unpinned:
		if s.Pinned() == e.Participant {
			s = s.WithPinned("")
		}
	case *events.SessionEnded:
		s = s.WithEnded()
	}
	return s.WithSeq(e.Sequence())
}

// Fold applies evs to s in order, as repeated Evolve would. A run of audio
// and video updates (disable_all_audio at 10,000 participants) is applied in
// one pass over the trie.
func Fold(s core.State, evs []events.Event) core.State {
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && isMediaUpdate(evs[j]) {
			j++
		}
		if j-i < 2 {
			s = Evolve(s, evs[i])
			i++
			continue
		}
		changes := make([]core.MediaChange, j-i)
		for k, e := range evs[i:j] {
			changes[k] = mediaChange(e)
		}
		s = s.WithMedia(changes...).WithSeq(evs[j-1].Sequence())
		i = j
	}
	return s
}

func isMediaUpdate(e events.Event) bool {
	switch e.(type) {
	case *events.AudioUpdate, *events.VideoUpdate:
		return true
	}
	return false
}

// mediaChange is the change a media update event makes.
func mediaChange(e events.Event) core.MediaChange {
	switch e := e.(type) {
	case *events.AudioUpdate:
		return core.MediaChange{ID: e.Participant, Enabled: e.AudioEnabled}
	case *events.VideoUpdate:
		return core.MediaChange{ID: e.Participant, Video: true, Enabled: e.VideoEnabled}
	}
	return core.MediaChange{}
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
