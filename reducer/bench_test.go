package reducer_test

import (
	"fmt"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
)

var benchPresets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// session returns a state with n participants: "host" and p1…p(n-1), all
// with audio and video on.
func session(b testing.TB, n int) core.State {
	s := core.NewState("bench", benchPresets)
	for i := range n {
		id, preset := fmt.Sprintf("p%d", i), "attendee"
		if i == 0 {
			id, preset = "host", "host"
		}
		var err error
		s, _, err = reducer.Apply(s, core.Command{ID: "j" + id, Type: core.Join, Actor: id, Name: id, Preset: preset, Audio: true, Video: true})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkApply(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		s := session(b, n)
		targets := make([]string, 0, 64)
		for i := 1; i < n && len(targets) < 64; i += max(1, n/64) {
			targets = append(targets, fmt.Sprintf("p%d", i))
		}
		for _, typ := range []core.CommandType{core.DisableAudio, core.Pin, core.Kick} {
			b.Run(fmt.Sprintf("%s/n=%d", typ, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					cmd := core.Command{ID: "c", Type: typ, Actor: "host", Target: targets[i%len(targets)]}
					i++
					if _, _, err := reducer.Apply(s, cmd); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDisableAllAudio(b *testing.B) {
	s := session(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := reducer.Apply(s, core.Command{ID: "c", Type: core.DisableAllAudio, Actor: "host"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNaiveCopy is the raw baseline of DEPENDENCIES.md: the cost of one
// command on a naive immutable state, a full copy of a 10,000-entry map
// (~0.5 ms on an idle machine). Run beside the others, it shows how loaded
// the machine was.
func BenchmarkNaiveCopy(b *testing.B) {
	m := make(map[string]core.Participant, 10000)
	for p := range session(b, 10000).All() {
		m[p.ID] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		c := make(map[string]core.Participant, len(m))
		for k, v := range m {
			c[k] = v
		}
		p := c["p1"]
		p.AudioEnabled = false
		c["p1"] = p
	}
}
