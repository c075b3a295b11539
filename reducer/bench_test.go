package reducer_test

import (
	"fmt"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

var benchPresets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// joinEvents are the events of n joins: "host", then p1…p(n-1), all with
// audio and video on.
func joinEvents(n int) []events.Event {
	evs := make([]events.Event, n)
	for i := range n {
		id, preset := fmt.Sprintf("p%d", i), "attendee"
		if i == 0 {
			id, preset = "host", "host"
		}
		evs[i] = &events.ParticipantJoined{Seq: uint64(i + 1), Participant: id, Name: id, Preset: preset,
			AudioEnabled: true, VideoEnabled: true}
	}
	return evs
}

// session returns a state with n participants: "host" and p1…p(n-1), all
// with audio and video on.
func session(n int) core.State {
	return reducer.Fold(core.NewState("bench", benchPresets), joinEvents(n))
}

// BenchmarkApply is Apply (Decide, then Fold) of one command on a session of
// n participants, all with audio and video on; the host acts, on targets
// spread over the session. Every iteration starts from the same state.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		s := session(n)
		targets := make([]string, 0, 64)
		for i := 1; i < n && len(targets) < 64; i += max(1, n/64) {
			targets = append(targets, fmt.Sprintf("p%d", i))
		}
		for _, typ := range []core.CommandType{core.DisableAudio, core.Pin, core.Kick, core.DisableAllAudio} {
			b.Run(fmt.Sprintf("%s/n=%d", typ, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					cmd := core.Command{ID: "c", Type: typ, Actor: "host", Target: targets[i%len(targets)]}
					if typ == core.DisableAllAudio {
						cmd.Target = ""
					}
					i++
					if _, _, err := reducer.Apply(s, cmd); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkBuild folds the 100,000 joins of a session from nothing, as a
// session reopening or a replay does: reducer.Fold, whose core.Builder
// changes its own nodes in place, against the baseline, a plain mutable
// map state machine taking the same events. One op is the whole build.
func BenchmarkBuild(b *testing.B) {
	const n = 100_000
	evs := joinEvents(n)
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s := reducer.Fold(core.NewState("bench", benchPresets), evs); s.Len() != n {
				b.Fatalf("Len %d", s.Len())
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := newMapMachine()
			for _, e := range evs {
				m.apply(e)
			}
			if len(m.byID) != n {
				b.Fatalf("Len %d", len(m.byID))
			}
		}
	})
}

// mapMachine is the baseline of BenchmarkBuild: a session state in a plain
// mutable map, changed in place by each event, join order kept as a count.
type mapMachine struct {
	byID   map[string]*mapParticipant
	order  uint64
	seq    uint64
	pinned string
}

type mapParticipant struct {
	core.Participant
	order uint64
}

func newMapMachine() *mapMachine { return &mapMachine{byID: make(map[string]*mapParticipant)} }

func (m *mapMachine) apply(e events.Event) {
	switch e := e.(type) {
	case *events.ParticipantJoined:
		m.order++
		m.byID[e.Participant] = &mapParticipant{Participant: core.Participant{ID: e.Participant, Name: e.Name,
			Preset: e.Preset, AudioEnabled: e.AudioEnabled, VideoEnabled: e.VideoEnabled}, order: m.order}
	case *events.ParticipantLeft:
		delete(m.byID, e.Participant)
		if m.pinned == e.Participant {
			m.pinned = ""
		}
	}
	m.seq = e.Sequence()
}
