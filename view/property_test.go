package view_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

// ui is what a client that only listens to notifications knows: the maps
// and self as an SDK's handlers would keep them. Comparing it with the view
// checks that the notifications say every change, once, in a usable order.
type ui struct {
	joined bool // roomJoined seen: the maps were read from the view then
	room   view.RoomState
	self   view.Participant
	list   []view.Participant // the joined map, in the order it was told
	pinned *view.Participant
}

// start reads the maps from v, as an SDK does on roomJoined.
func (u *ui) start(v view.View) {
	u.joined, u.room, u.self, u.list, u.pinned = true, v.Self().RoomState, v.Self().Participant, v.Joined(), nil
	if p, ok := v.Pinned(); ok {
		u.pinned = &p
	}
}

func (u *ui) clone() *ui {
	c := *u
	c.list = slices.Clone(u.list)
	return &c
}

func (u *ui) index(id string) int {
	return slices.IndexFunc(u.list, func(p view.Participant) bool { return p.ID == id })
}

// follow applies notifications of v's last step, as handlers would, and
// reports the first one that makes no sense where it fires.
func (u *ui) follow(v view.View, ns []view.Notification) error {
	for _, n := range ns {
		if !u.joined && !(n.On == view.OnSelf && n.Event == view.RoomJoined) {
			return fmt.Errorf("%+v before roomJoined", n)
		}
		p := n.Participant
		i := u.index(p.ID)
		switch {
		case n.Event == view.AudioUpdate && n.AudioEnabled != p.AudioEnabled,
			n.Event == view.VideoUpdate && n.VideoEnabled != p.VideoEnabled:
			return fmt.Errorf("%+v: payload and participant disagree", n)
		case n.On == view.OnSelf && n.Event == view.RoomJoined:
			u.start(v)
		case n.On == view.OnSelf && n.Event == view.RoomLeft:
			u.room = n.State
		case n.On == view.OnSelf:
			u.self = p
		case n.On == view.OnPinned && n.Event == view.ParticipantJoined:
			if u.pinned != nil {
				return fmt.Errorf("%+v while %q is in the pinned map", n, u.pinned.ID)
			}
			u.pinned = &p
		case n.On == view.OnPinned && (u.pinned == nil || u.pinned.ID != p.ID):
			return fmt.Errorf("%+v: not in the pinned map", n)
		case n.On == view.OnPinned && n.Event == view.ParticipantLeft:
			u.pinned = nil
		case n.On == view.OnPinned:
			u.pinned = &p
		case n.On == view.OnJoined && n.Event == view.ParticipantJoined:
			if i >= 0 {
				return fmt.Errorf("%+v: already in the joined map", n)
			}
			u.list = append(u.list, p)
		case i < 0:
			return fmt.Errorf("%+v: not in the joined map", n)
		case n.On == view.OnJoined && n.Event == view.ParticipantLeft:
			u.list = slices.Delete(u.list, i, i+1)
		case n.On == view.OnJoined || n.On == view.OnParticipant:
			u.list[i] = p
		default:
			return fmt.Errorf("%+v: unknown emitter", n)
		}
	}
	return nil
}

// check compares what u knows with the view; once self has left, only the
// room state matters. After a resync, the order of
// the joined map and names and presets (which no SDK event reports) are not
// compared.
func (u *ui) check(v view.View, resynced bool) string {
	if !u.joined {
		return ""
	}
	if room := v.Self().RoomState; room != view.StateJoined {
		return cmp.Diff(room, u.room)
	}
	var pinned *view.Participant
	if p, ok := v.Pinned(); ok {
		pinned = &p
	}
	list, want := slices.Clone(u.list), v.Joined()
	var opts []cmp.Option
	if resynced {
		opts = append(opts, cmpopts.IgnoreFields(core.Participant{}, "Name", "Preset"))
		byID := func(a, b view.Participant) int { return strings.Compare(a.ID, b.ID) }
		slices.SortFunc(list, byID)
		slices.SortFunc(want, byID)
	}
	type maps struct {
		Room   view.RoomState
		Self   view.Participant
		Joined []view.Participant
		Pinned *view.Participant
	}
	return cmp.Diff(maps{v.Self().RoomState, v.Self().Participant, want, pinned}, maps{u.room, u.self, list, u.pinned}, opts...)
}

type client struct {
	v view.View
	u *ui
}

var propertyPresets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"cohost":   {DisableParticipantAudio: true, PinParticipant: true},
	"attendee": {},
}

func drawCommand(t *rapid.T, i int, pool []string) core.Command {
	return core.Command{
		ID:      fmt.Sprintf("c%d", i),
		Type:    rapid.SampledFrom(core.CommandTypes).Draw(t, "type"),
		Actor:   rapid.SampledFrom(pool).Draw(t, "actor"),
		Target:  rapid.SampledFrom(pool).Draw(t, "target"),
		Name:    "N",
		Preset:  rapid.SampledFrom([]string{"host", "cohost", "attendee", "attendee"}).Draw(t, "preset"),
		Audio:   rapid.Bool().Draw(t, "audio"),
		Video:   rapid.Bool().Draw(t, "video"),
		Enabled: rapid.Bool().Draw(t, "enabled"),
	}
}

// TestViewFollowsSession runs random sessions watched by one client per
// participant (a new view for every stint in the room) and checks after
// every command that each view's maps are the session's minus self, that
// its notifications alone rebuild those maps, and that a view left behind
// and resynced to the end agrees too.
func TestViewFollowsSession(t *testing.T) {
	pool := []string{"h", "c", "a1", "a2", "a3"}
	rapid.Check(t, func(t *rapid.T) {
		s := core.NewState("room", propertyPresets)
		clients := make(map[string]*client, len(pool))
		for _, id := range pool {
			clients[id] = &client{view.New(id, s), &ui{}}
		}
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		lagAt := rapid.IntRange(0, steps).Draw(t, "lag at")
		var lagging map[string]*client
		for i := range steps {
			if i == lagAt {
				lagging = make(map[string]*client, len(pool))
				for id, c := range clients {
					lagging[id] = &client{c.v, c.u.clone()}
				}
			}
			cmd := drawCommand(t, i, pool)
			next, evs, err := reducer.Apply(s, cmd)
			if err != nil {
				continue
			}
			s = next
			for _, id := range pool {
				c := clients[id]
				for _, e := range evs {
					var ns []view.Notification
					c.v, ns = c.v.Apply(e)
					if err := c.u.follow(c.v, ns); err != nil {
						t.Fatalf("%s after %+v: %v", id, cmd, err)
					}
					for _, n := range ns {
						fromCmd := n.Event != view.RoomJoined && !(n.Event == view.ParticipantJoined && n.On == view.OnJoined)
						if fromCmd && n.By != cmd.Actor {
							t.Fatalf("%s: %+v has by %q, want %q", id, n, n.By, cmd.Actor)
						}
					}
				}
				checkFollows(t, id, c, s, false)
				if room := c.v.Self().RoomState; room != view.StateInit && room != view.StateJoined {
					clients[id] = &client{view.New(id, s), &ui{}} // the next stint
				}
			}
		}
		if lagging == nil {
			return
		}
		for _, id := range pool {
			c := lagging[id]
			v, ns := c.v.Resync(s)
			if err := c.u.follow(v, ns); err != nil {
				t.Fatalf("%s resynced: %v", id, err)
			}
			if room := c.v.Self().RoomState; room != view.StateInit && room != view.StateJoined {
				continue // an ended view ignores the resync
			}
			c.v = v
			checkFollows(t, id+" resynced", c, s, true)
		}
	})
}

// checkFollows checks a live view of participant id against the session
// state s.
func checkFollows(t *rapid.T, who string, c *client, s core.State, resynced bool) {
	v := c.v
	id := v.Self().ID
	room := v.Self().RoomState
	if room != view.StateInit && room != view.StateJoined {
		if s.Joined(id) {
			t.Fatalf("%s: room state %q but joined", who, room)
		}
		return
	}
	if !v.State().Equal(s) {
		t.Fatalf("%s: view state differs (-view +session):\n%s", who, cmp.Diff(v.State().Snapshot(), s.Snapshot()))
	}
	if (room == view.StateJoined) != s.Joined(id) {
		t.Fatalf("%s: room state %q, joined %v", who, room, s.Joined(id))
	}
	var want []view.Participant
	for _, p := range s.Participants() {
		if p.ID != id {
			want = append(want, view.Participant{Participant: p, IsPinned: s.Pinned() == p.ID})
		}
	}
	if d := cmp.Diff(want, v.Joined(), cmp.Comparer(func(a, b []view.Participant) bool { return slices.Equal(a, b) })); d != "" {
		t.Fatalf("%s: joined map is not the participants minus self (-want +got):\n%s", who, d)
	}
	pinned, ok := v.Pinned()
	if wantOK := s.Pinned() != "" && s.Pinned() != id; ok != wantOK || (ok && pinned.ID != s.Pinned()) {
		t.Fatalf("%s: pinned map %q (%v) with %q pinned", who, pinned.ID, ok, s.Pinned())
	}
	if v.Self().IsPinned != (s.Pinned() == id) {
		t.Fatalf("%s: self.IsPinned %v with %q pinned", who, v.Self().IsPinned, s.Pinned())
	}
	if d := c.u.check(v, resynced); d != "" {
		t.Fatalf("%s: notifications and maps disagree (-view +notified):\n%s", who, d)
	}
}
