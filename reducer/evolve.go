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
	case *events.AudioUpdate:
		if p, ok := s.Participant(e.Participant); ok {
			p.AudioEnabled = e.AudioEnabled
			s = s.WithUpdated(p)
		}
	case *events.VideoUpdate:
		if p, ok := s.Participant(e.Participant); ok {
			p.VideoEnabled = e.VideoEnabled
			s = s.WithUpdated(p)
		}
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

// bulkMin is the run of media updates from which Fold updates the trie in
// one pass (WithEachUpdated) instead of one path copy per event.
const bulkMin = 16

// Fold applies evs to s in order, as repeated Evolve would. A long run of
// audio or video updates (disable_all_audio at 10,000 participants) is
// applied in one pass over the participants.
func Fold(s core.State, evs []events.Event) core.State {
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && isMediaUpdate(evs[j]) {
			j++
		}
		if j-i >= bulkMin {
			s = foldMedia(s, evs[i:j])
			i = j
			continue
		}
		if j == i {
			j++
		}
		for _, e := range evs[i:j] {
			s = Evolve(s, e)
		}
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

// foldMedia applies a run of media updates; later updates of one participant
// win, as they would one by one.
func foldMedia(s core.State, run []events.Event) core.State {
	type change struct{ audio, video *bool }
	changes := make(map[string]change, len(run))
	for _, e := range run {
		switch e := e.(type) {
		case *events.AudioUpdate:
			c := changes[e.Participant]
			c.audio = &e.AudioEnabled
			changes[e.Participant] = c
		case *events.VideoUpdate:
			c := changes[e.Participant]
			c.video = &e.VideoEnabled
			changes[e.Participant] = c
		}
	}
	s = s.WithEachUpdated(func(p core.Participant) core.Participant {
		if c, ok := changes[p.ID]; ok {
			if c.audio != nil {
				p.AudioEnabled = *c.audio
			}
			if c.video != nil {
				p.VideoEnabled = *c.video
			}
		}
		return p
	})
	return s.WithSeq(run[len(run)-1].Sequence())
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
