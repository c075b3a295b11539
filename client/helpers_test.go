package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
	"github.com/gavelrtc/gavel/view"
)

// wait bounds every wait of these tests: they wait for events, never for
// time, and this is only how long they wait before failing.
const wait = 10 * time.Second

const room = "room-1"

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// join dials srv as participant id with preset, recording its handler
// calls from the start; the meeting is closed when the test ends.
func join(t testing.TB, srv *wstest.Server, id, preset string, opts ...client.Option) (*client.Meeting, *recorder) {
	t.Helper()
	var r *recorder
	opts = append([]client.Option{client.WithName(id), client.WithSetup(func(m *client.Meeting) { r = record(t, m) })}, opts...)
	m, err := client.Dial(ctxT(t), srv.URL, srv.Token(room, id, preset), opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", id, err)
	}
	t.Cleanup(func() {
		m.Close()
		select {
		case <-m.Done():
		case <-time.After(wait):
			t.Errorf("meeting %s did not stop", id)
		}
	})
	return m, r
}

// note is one handler call as a recorder saw it.
type note struct {
	On      view.Emitter // self, participant, joined, pinned; "" for a connection update
	Event   string       // the SDK event, or the connection state
	Who     string       // the participant, for all but self
	Enabled bool         // audioUpdate, videoUpdate
	By      string
	State   client.RoomState // participantLeft, roomLeft
	Seq     uint64
	Resumed bool // reconnected
}

// recorder records the handler calls of a meeting, in order.
type recorder struct {
	t  testing.TB
	ch chan note
}

// record registers handlers for every SDK event on m's self and maps, and
// for its connection updates.
func record(t testing.TB, m *client.Meeting) *recorder {
	r := &recorder{t: t, ch: make(chan note, 100_000)}
	s := m.Self
	s.OnRoomJoined(func() { r.ch <- note{On: view.OnSelf, Event: "roomJoined"} })
	s.OnAudioUpdate(func(u client.AudioUpdate) {
		r.ch <- note{On: view.OnSelf, Event: "audioUpdate", Enabled: u.AudioEnabled, By: u.By, Seq: u.Seq}
	})
	s.OnVideoUpdate(func(u client.VideoUpdate) {
		r.ch <- note{On: view.OnSelf, Event: "videoUpdate", Enabled: u.VideoEnabled, By: u.By, Seq: u.Seq}
	})
	s.OnPinned(func(u client.PinUpdate) { r.ch <- note{On: view.OnSelf, Event: "pinned", By: u.By, Seq: u.Seq} })
	s.OnUnpinned(func(u client.PinUpdate) { r.ch <- note{On: view.OnSelf, Event: "unpinned", By: u.By, Seq: u.Seq} })
	s.OnRoomLeft(func(u client.RoomLeft) {
		r.ch <- note{On: view.OnSelf, Event: "roomLeft", State: u.State, By: u.By, Seq: u.Seq}
	})
	for on, pm := range map[view.Emitter]*client.ParticipantMap{view.OnJoined: m.Participants.Joined, view.OnPinned: m.Participants.Pinned} {
		pm.OnParticipantJoined(func(p *client.Participant, u client.ParticipantJoined) {
			r.ch <- note{On: on, Event: "participantJoined", Who: p.ID(), By: u.By, Seq: u.Seq}
		})
		pm.OnParticipantLeft(func(p *client.Participant, u client.ParticipantLeft) {
			r.ch <- note{On: on, Event: "participantLeft", Who: p.ID(), State: u.State, By: u.By, Seq: u.Seq}
		})
		pm.OnAudioUpdate(func(p *client.Participant, u client.AudioUpdate) {
			r.ch <- note{On: on, Event: "audioUpdate", Who: p.ID(), Enabled: u.AudioEnabled, By: u.By, Seq: u.Seq}
		})
		pm.OnVideoUpdate(func(p *client.Participant, u client.VideoUpdate) {
			r.ch <- note{On: on, Event: "videoUpdate", Who: p.ID(), Enabled: u.VideoEnabled, By: u.By, Seq: u.Seq}
		})
		pm.OnPinned(func(p *client.Participant, u client.PinUpdate) {
			r.ch <- note{On: on, Event: "pinned", Who: p.ID(), By: u.By, Seq: u.Seq}
		})
		pm.OnUnpinned(func(p *client.Participant, u client.PinUpdate) {
			r.ch <- note{On: on, Event: "unpinned", Who: p.ID(), By: u.By, Seq: u.Seq}
		})
	}
	m.OnConnectionUpdate(func(u client.ConnectionUpdate) {
		r.ch <- note{Event: string(u.State), Resumed: u.Resumed}
	})
	return r
}

// watch records the handler calls of one remote participant object.
func (r *recorder) watch(p *client.Participant) {
	p.OnAudioUpdate(func(u client.AudioUpdate) {
		r.ch <- note{On: view.OnParticipant, Event: "audioUpdate", Who: p.ID(), Enabled: u.AudioEnabled, By: u.By, Seq: u.Seq}
	})
	p.OnVideoUpdate(func(u client.VideoUpdate) {
		r.ch <- note{On: view.OnParticipant, Event: "videoUpdate", Who: p.ID(), Enabled: u.VideoEnabled, By: u.By, Seq: u.Seq}
	})
	p.OnPinned(func(u client.PinUpdate) {
		r.ch <- note{On: view.OnParticipant, Event: "pinned", Who: p.ID(), By: u.By, Seq: u.Seq}
	})
	p.OnUnpinned(func(u client.PinUpdate) {
		r.ch <- note{On: view.OnParticipant, Event: "unpinned", Who: p.ID(), By: u.By, Seq: u.Seq}
	})
}

// next returns the next recorded note.
func (r *recorder) next() note {
	r.t.Helper()
	select {
	case n := <-r.ch:
		return n
	case <-time.After(wait):
		r.t.Fatalf("no handler called within %v", wait)
		return note{}
	}
}

// until returns the notes recorded up to and including the first that
// matches.
func (r *recorder) until(match func(note) bool) []note {
	r.t.Helper()
	var ns []note
	for {
		n := r.next()
		ns = append(ns, n)
		if match(n) {
			return ns
		}
	}
}

// filter returns the notes that match.
func filter(ns []note, match func(note) bool) []note {
	var out []note
	for _, n := range ns {
		if match(n) {
			out = append(out, n)
		}
	}
	return out
}

// sawJoin waits until r's meeting has seen every participant of ids join.
func (r *recorder) sawJoin(ids ...string) {
	r.t.Helper()
	want := make(map[string]bool)
	for _, id := range ids {
		want[id] = true
	}
	for len(want) > 0 {
		if n := r.next(); n.On == view.OnJoined && n.Event == "participantJoined" {
			delete(want, n.Who)
		}
	}
}
