package web_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

// The client view of gavel.js (SessionView) against package view, which
// implements SPEC §3 in Go: over random sessions, both must fire the same
// notifications, on the same objects, in the same order.

// jsNote is a notification as SessionView returns it.
type jsNote struct {
	Seq          uint64 `json:"seq"`
	Event        string `json:"event"`
	On           string `json:"on"`
	Participant  jsPart `json:"participant"`
	By           string `json:"by"`
	AudioEnabled bool   `json:"audioEnabled"`
	VideoEnabled bool   `json:"videoEnabled"`
	State        string `json:"state"`
}

type jsPart struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Preset       string `json:"preset"`
	AudioEnabled bool   `json:"audioEnabled"`
	VideoEnabled bool   `json:"videoEnabled"`
	IsPinned     bool   `json:"isPinned"`
}

// fromGo is n in SessionView's terms; a payload field an event does not
// carry is left zero, as SessionView leaves it.
func fromGo(n view.Notification) jsNote {
	p := n.Participant
	j := jsNote{Seq: n.Seq, Event: string(n.Event), On: string(n.On), By: n.By,
		Participant: jsPart{ID: p.ID, Name: p.Name, Preset: p.Preset, AudioEnabled: p.AudioEnabled,
			VideoEnabled: p.VideoEnabled, IsPinned: p.IsPinned}}
	switch n.Event {
	case view.AudioUpdate:
		j.AudioEnabled = n.AudioEnabled
	case view.VideoUpdate:
		j.VideoEnabled = n.VideoEnabled
	case view.ParticipantLeft, view.RoomLeft:
		j.State = string(n.State)
	}
	return j
}

// randomSession is the session gaveltest decodes from n random bytes: its
// events, and the participants who joined it.
func randomSession(t *testing.T, r *rand.Rand, presets core.Presets, n int) ([]events.Event, []string) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	steps, err := gaveltest.SessionFromBytes(presets, data).Play()
	if err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	var joined []string
	for _, st := range steps {
		evs = append(evs, st.Events...)
		if st.Command.Type == core.Join && st.Err == nil && !slices.Contains(joined, st.Command.Actor) {
			joined = append(joined, st.Command.Actor)
		}
	}
	return evs, joined
}

func TestSessionViewMatchesGoView(t *testing.T) {
	e := newEnv(t)
	p := e.harness("views")
	presets := core.Presets{"host": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true,
		KickParticipant: true}, "attendee": {}}
	presetsJSON := string(events.AppendPresets(nil, presets))
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		evs, joined := randomSession(t, r, presets, 500)
		self := "alice"
		if len(joined) > 0 {
			self = joined[r.IntN(len(joined))]
		}
		// Half the views start in the middle of the session, from a state.
		start := core.NewState("room", presets)
		from := 0
		if round%2 == 1 && len(evs) > 0 {
			from = r.IntN(len(evs))
			for _, ev := range evs[:from] {
				start = reducer.Evolve(start, ev)
			}
		}
		v := view.New(self, start)
		var want []jsNote
		var evJSON []json.RawMessage
		for _, ev := range evs[from:] {
			var ns []view.Notification
			v, ns = v.Apply(ev)
			for _, n := range ns {
				want = append(want, fromGo(n))
			}
			evJSON = append(evJSON, events.AppendEvent(nil, ev))
		}
		// And a resync from the start to the end, where the view has not ended.
		end := reducer.Fold(start, evs[from:])
		_, rs := view.New(self, start).Resync(end)
		var wantResync []jsNote
		for _, n := range rs {
			wantResync = append(wantResync, fromGo(n))
		}

		evArg, _ := json.Marshal(evJSON)
		got := eval[struct{ Apply, Resync []jsNote }](p, fmt.Sprintf(`(() => {
			const start = %s, presets = %s, evs = %s, end = %s;
			const v = new h.SessionView(%s, start, presets);
			const apply = evs.flatMap(e => v.apply(e));
			const resync = new h.SessionView(%s, start, presets).resync(end);
			return {Apply: apply, Resync: resync};
		})()`, events.AppendState(nil, start), presetsJSON, evArg, events.AppendState(nil, end), js(self), js(self)))
		if diff := cmp.Diff(want, got.Apply, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round %d, self %s, from event %d: SessionView.apply against view.Apply (-go +js):\n%s\nevents: %s",
				round, self, from, diff, evArg)
		}
		if diff := cmp.Diff(wantResync, got.Resync, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round %d, self %s: SessionView.resync against view.Resync (-go +js):\n%s", round, self, diff)
		}
	}
}

// TestSessionViewBulkEvents: all_audio_disabled and all_video_disabled
// (SPEC §3: one event for a bulk command) fire, for every participant
// whose media was on, self included, in join order, what one update each
// would fire (enabled false, the same by), all with the bulk event's seq.
func TestSessionViewBulkEvents(t *testing.T) {
	e := newEnv(t)
	p := e.harness("views")
	presets := core.Presets{"host": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true}, "attendee": {}}
	s := core.NewState("room", presets)
	for i, id := range []string{"p0", "p1", "p2", "p3"} {
		s = s.WithJoined(core.Participant{ID: id, Name: id, Preset: "attendee", AudioEnabled: i != 2, VideoEnabled: i%2 == 0})
	}
	s = s.WithPinned("p1").WithSeq(4)
	for _, kind := range []string{"audio", "video"} {
		for _, self := range []string{"p0", "p1", "p2"} {
			// What per-participant updates fire in Go, renumbered to the bulk event's seq.
			v := view.New(self, s)
			seq := s.Seq()
			var want []jsNote
			for pp := range s.All() {
				on := pp.AudioEnabled
				var ev events.Event = &events.AudioUpdate{Participant: pp.ID, AudioEnabled: false, By: "p3"}
				if kind == "video" {
					on = pp.VideoEnabled
					ev = &events.VideoUpdate{Participant: pp.ID, VideoEnabled: false, By: "p3"}
				}
				if !on {
					continue
				}
				seq++
				setSeq(ev, seq)
				var ns []view.Notification
				v, ns = v.Apply(ev)
				for _, n := range ns {
					j := fromGo(n)
					j.Seq = s.Seq() + 1
					want = append(want, j)
				}
			}
			bulk := fmt.Sprintf(`{"seq":%d,"type":"all_%s_disabled","count":%d,"by":"p3"}`, s.Seq()+1, kind, seq-s.Seq())
			got := eval[[]jsNote](p, fmt.Sprintf(`new h.SessionView(%s, %s, %s).apply(%s)`, js(self),
				events.AppendState(nil, s), events.AppendPresets(nil, presets), bulk))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s, self %s (-per-participant updates in Go +bulk event in js):\n%s", bulk, self, diff)
			}
		}
	}
}

func setSeq(ev events.Event, seq uint64) {
	switch e := ev.(type) {
	case *events.AudioUpdate:
		e.Seq = seq
	case *events.VideoUpdate:
		e.Seq = seq
	}
}
