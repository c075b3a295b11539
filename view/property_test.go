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
	"github.com/gavelrtc/gavel/gaveltest"
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

// TestViewFollowsSession runs gaveltest's sessions watched by one client
// per participant (a new view for every stint in the room), whose views
// gaveltest checks against the session after every command (Play), and
// checks that each client's notifications alone rebuild its maps, and that
// a view left behind and resynced to the end agrees too.
func TestViewFollowsSession(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		session := gaveltest.Sessions(nil).Draw(t, "session")
		steps, err := session.Play()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, st := range steps {
			if st.Command.Type == core.Join && st.Err == nil && !slices.Contains(ids, st.Command.Actor) {
				ids = append(ids, st.Command.Actor)
			}
		}
		s := session.Start()
		clients := make(map[string]*client, len(ids))
		for _, id := range ids {
			clients[id] = &client{view.New(id, s), &ui{}}
		}
		lagAt := rapid.IntRange(0, len(steps)).Draw(t, "lag at")
		var lagging map[string]*client
		for i, st := range steps {
			if i == lagAt {
				lagging = make(map[string]*client, len(ids))
				for id, c := range clients {
					lagging[id] = &client{c.v, c.u.clone()}
				}
			}
			s = st.After
			for _, id := range ids {
				c := clients[id]
				for _, e := range st.Events {
					var ns []view.Notification
					c.v, ns = c.v.Apply(e)
					if err := c.u.follow(c.v, ns); err != nil {
						t.Fatalf("%s after %+v: %v", id, st.Command, err)
					}
				}
				if d := c.u.check(c.v, false); d != "" {
					t.Fatalf("%s after %+v: notifications and maps disagree (-view +notified):\n%s", id, st.Command, d)
				}
				if room := c.v.Self().RoomState; room != view.StateInit && room != view.StateJoined {
					clients[id] = &client{view.New(id, s), &ui{}} // the next stint
				}
			}
		}
		for _, id := range ids {
			c := lagging[id]
			if c == nil {
				return
			}
			if room := c.v.Self().RoomState; room != view.StateInit && room != view.StateJoined {
				continue // an ended view ignores the resync
			}
			v, ns := c.v.Resync(s)
			if err := c.u.follow(v, ns); err != nil {
				t.Fatalf("%s resynced: %v", id, err)
			}
			if err := gaveltest.CheckView(v, s); err != nil {
				t.Fatalf("%s resynced: %v", id, err)
			}
			if d := c.u.check(v, true); d != "" {
				t.Fatalf("%s resynced: notifications and maps disagree (-view +notified):\n%s", id, d)
			}
		}
	})
}
