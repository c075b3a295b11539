package gaveltest_test

import (
	"fmt"
	"slices"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/view"
)

// A roster is a meeting UI's list of tiles, which a service keeps from
// gavel's events with code of its own: the code under test. It follows
// one participant (self) from the start of the session until self leaves.
type roster struct {
	self  string
	me    tile   // self, once joined
	tiles []tile // everyone else, in join order
	out   string // why self is out of the room: "left", "kicked", "ended"
}

type tile struct {
	ID               string
	Muted, CameraOff bool
	Pinned           bool
}

func (r *roster) apply(e events.Event) {
	if r.out != "" {
		return
	}
	switch e := e.(type) {
	case *events.ParticipantJoined:
		t := tile{ID: e.Participant, Muted: !e.AudioEnabled, CameraOff: !e.VideoEnabled}
		if e.Participant == r.self {
			r.me = t
		} else {
			r.tiles = append(r.tiles, t)
		}
	case *events.ParticipantLeft:
		if e.Participant == r.self {
			r.out = string(e.Reason)
		}
		r.tiles = slices.DeleteFunc(r.tiles, func(t tile) bool { return t.ID == e.Participant })
	case *events.SessionEnded:
		r.out, r.tiles = "ended", nil
	case *events.AudioUpdate:
		r.each(func(t *tile) {
			if t.ID == e.Participant {
				t.Muted = !e.AudioEnabled
			}
		})
	case *events.VideoUpdate:
		r.each(func(t *tile) {
			if t.ID == e.Participant {
				t.CameraOff = !e.VideoEnabled
			}
		})
	case *events.AllAudioDisabled:
		r.each(func(t *tile) { t.Muted = true })
	case *events.AllVideoDisabled:
		r.each(func(t *tile) { t.CameraOff = true })
	case *events.Pinned:
		r.each(func(t *tile) { t.Pinned = t.ID == e.Participant })
	case *events.Unpinned:
		r.each(func(t *tile) { t.Pinned = t.Pinned && t.ID != e.Participant })
	}
}

func (r *roster) each(f func(*tile)) {
	f(&r.me)
	for i := range r.tiles {
		f(&r.tiles[i])
	}
}

// agrees reports how the roster differs from v, gavel's view of the
// session for the same participant.
func (r *roster) agrees(v view.View) error {
	asTile := func(p view.Participant) tile {
		return tile{ID: p.ID, Muted: !p.AudioEnabled, CameraOff: !p.VideoEnabled, Pinned: p.IsPinned}
	}
	switch room := v.Self().RoomState; room {
	case view.StateLeft, view.StateKicked, view.StateEnded:
		if r.out != string(room) {
			return fmt.Errorf("%s is out (%s), the roster says %q", r.self, room, r.out)
		}
		return nil
	case view.StateJoined:
		if me := asTile(v.Self().Participant); r.me != me {
			return fmt.Errorf("self: roster %+v, view %+v", r.me, me)
		}
	}
	var want []tile
	for _, p := range v.Joined() {
		want = append(want, asTile(p))
	}
	if !slices.Equal(r.tiles, want) {
		return fmt.Errorf("%s's tiles: roster %+v, view %+v", r.self, r.tiles, want)
	}
	return nil
}

// checkRoster is the property: in session s, every participant's roster
// agrees with gavel's view after every command.
func checkRoster(s gaveltest.Session) error {
	steps, err := s.Play()
	if err != nil {
		return err
	}
	views := map[string]view.View{}
	rosters := map[string]*roster{}
	for _, c := range s.Commands {
		if _, ok := views[c.Actor]; c.Type == core.Join && !ok {
			views[c.Actor] = view.New(c.Actor, s.Start())
			rosters[c.Actor] = &roster{self: c.Actor}
		}
	}
	for _, st := range steps {
		for self, r := range rosters {
			v := views[self]
			for _, e := range st.Events {
				r.apply(e)
				v, _ = v.Apply(e)
			}
			views[self] = v
			if err := r.agrees(v); err != nil {
				return fmt.Errorf("after %+v: %v", st.Command, err)
			}
		}
	}
	return nil
}

var classroom = core.Presets{
	"teacher": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"student": {},
}

// A service property-tests its UI model, a roster of tiles kept from the
// events, against gavel's client view: TestRoster runs checkRoster with
// rapid.Check, which shrinks a failing session to a short one. Here it
// runs on a few sessions drawn as examples, then on one written by hand.
func Example() {
	for seed := range 20 {
		if err := checkRoster(gaveltest.Sessions(classroom).Example(seed)); err != nil {
			fmt.Println(err)
		}
	}

	s := gaveltest.Session{ID: "room", Presets: classroom, Commands: []core.Command{
		{ID: "c1", Type: core.Join, Actor: "alice", Preset: "teacher", Audio: true},
		{ID: "c2", Type: core.Join, Actor: "bob", Preset: "student", Audio: true, Video: true},
		{ID: "c3", Type: core.Pin, Actor: "alice", Target: "bob"},
		{ID: "c4", Type: core.DisableAllAudio, Actor: "alice"},
	}}
	fmt.Println("checked:", checkRoster(s))
	steps, _ := s.Play()
	r := &roster{self: "bob"}
	for _, st := range steps {
		for _, e := range st.Events {
			r.apply(e)
		}
	}
	fmt.Printf("bob sees %+v, himself %+v\n", r.tiles, r.me)
	// Output:
	// checked: <nil>
	// bob sees [{ID:alice Muted:true CameraOff:true Pinned:false}], himself {ID:bob Muted:true CameraOff:false Pinned:true}
}
