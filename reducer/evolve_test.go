package reducer_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
)

// evolveAll is the reference Fold: Evolve, one event at a time.
func evolveAll(s core.State, evs []events.Event) core.State {
	for _, e := range evs {
		s = reducer.Evolve(s, e)
	}
	return s
}

// TestFoldMatchesEvolve: Fold, which changes in place the nodes it made
// itself, gives what Evolve one by one gives, for runs of every length, with
// several updates of one participant (the last wins), updates of ids not
// joined (ignored), disable-alls, and runs broken by other events; and the
// state it started from is left as it was.
func TestFoldMatchesEvolve(t *testing.T) {
	const n = 40
	var evs []events.Event
	seq := uint64(0)
	next := func() uint64 { seq++; return seq }
	for i := range n {
		evs = append(evs, &events.ParticipantJoined{Seq: next(), Participant: fmt.Sprintf("p%02d", i), Preset: "attendee",
			AudioEnabled: i%2 == 0, VideoEnabled: i%3 == 0})
	}
	start := reducer.Fold(core.NewState("room", presets), evs)
	if start.Len() != n || start.Seq() != n {
		t.Fatalf("after %d joins: Len %d, Seq %d", n, start.Len(), start.Seq())
	}

	for _, runLen := range []int{0, 1, 2, 3, 15, 16, 17, 40, 100} {
		t.Run(fmt.Sprintf("run=%d", runLen), func(t *testing.T) {
			seq = n
			var run []events.Event
			for k := range runLen {
				id := fmt.Sprintf("p%02d", (k*7)%(n+3)) // p40…p42 are not joined
				if k%2 == 0 {
					run = append(run, &events.AudioUpdate{Seq: next(), Participant: id, AudioEnabled: k%3 == 0, By: "p00"})
				} else {
					run = append(run, &events.VideoUpdate{Seq: next(), Participant: id, VideoEnabled: k%5 == 0, By: "p00"})
				}
				if k == runLen/2 {
					run = append(run, &events.Pinned{Seq: next(), Participant: id, By: "p00"})
				}
				if k%7 == 3 {
					run = append(run, &events.AllAudioDisabled{Seq: next(), Count: 1, By: "p00"})
				}
				if k%11 == 5 {
					run = append(run, &events.AllVideoDisabled{Seq: next(), Count: 1, By: "p00"},
						&events.ParticipantJoined{Seq: next(), Participant: fmt.Sprintf("q%d", k), Preset: "attendee", AudioEnabled: true})
				}
			}
			run = append(run, &events.ParticipantLeft{Seq: next(), Participant: "p01", Reason: events.ReasonLeft, By: "p01"})
			for k := range runLen {
				run = append(run, &events.AudioUpdate{Seq: next(), Participant: "p02", AudioEnabled: k%2 == 1, By: "p02"})
			}

			startSnap := start.Snapshot()
			want := evolveAll(start, run)
			got := reducer.Fold(start, run)
			if d := cmp.Diff(startSnap, start.Snapshot()); d != "" {
				t.Errorf("Fold changed the state it started from:\n%s", d)
			}
			if !got.Equal(want) {
				t.Errorf("Fold differs from Evolve one by one (-evolve +fold):\n%s", cmp.Diff(want.Snapshot(), got.Snapshot()))
			}
			if got.Seq() != seq {
				t.Errorf("Seq = %d, want %d", got.Seq(), seq)
			}
			if d := cmp.Diff(start.Snapshot(), reducer.Fold(start, nil).Snapshot()); d != "" {
				t.Errorf("Fold of no events changed the state:\n%s", d)
			}
		})
	}
}

// TestEvolveUnfittingEvent: an event that does not fit the state (about
// someone not joined) changes only the seq, and never panics.
func TestEvolveUnfittingEvent(t *testing.T) {
	s := newSession(t, base).State()
	for _, e := range []events.Event{
		&events.AudioUpdate{Seq: 9, Participant: "ghost", AudioEnabled: true, By: "host"},
		&events.VideoUpdate{Seq: 9, Participant: "ghost", VideoEnabled: true, By: "host"},
		&events.ParticipantLeft{Seq: 9, Participant: "ghost", Reason: events.ReasonKicked, By: "host"},
		&events.Pinned{Seq: 9, Participant: "ghost", By: "host"},
		&events.Unpinned{Seq: 9, Participant: "ann", By: "host"},
	} {
		got := reducer.Evolve(s, e)
		if d := cmp.Diff(s.WithSeq(9).Snapshot(), got.Snapshot()); d != "" {
			t.Errorf("Evolve(%+v) (-want +got):\n%s", e, d)
		}
	}
}

// TestEvolveEachEvent: what each event does to the state on its own.
func TestEvolveEachEvent(t *testing.T) {
	s := newSession(t, with(base, do(core.Pin, "host", "ann"))).State() // seq 5
	ps := s.Participants()
	host, co, ann, bob := ps[0], ps[1], ps[2], ps[3]
	annMuted := ann
	annMuted.AudioEnabled = false
	bobDark := bob
	bobDark.VideoEnabled = false
	cat := core.Participant{ID: "cat", Name: "Cat", Preset: "attendee", VideoEnabled: true}

	for _, c := range []struct {
		e    events.Event
		want core.Snapshot
	}{
		{&events.ParticipantJoined{Seq: 6, Participant: "cat", Name: "Cat", Preset: "attendee", VideoEnabled: true},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{host, co, ann, bob, cat}}},
		{&events.ParticipantLeft{Seq: 6, Participant: "ann", Reason: events.ReasonLeft, By: "ann"},
			core.Snapshot{Session: "room", Seq: 6, Participants: []core.Participant{host, co, bob}}},
		{&events.ParticipantLeft{Seq: 6, Participant: "bob", Reason: events.ReasonKicked, By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{host, co, ann}}},
		{&events.AudioUpdate{Seq: 6, Participant: "ann", By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{host, co, annMuted, bob}}},
		{&events.VideoUpdate{Seq: 6, Participant: "bob", By: "bob"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{host, co, ann, bobDark}}},
		{&events.Pinned{Seq: 6, Participant: "bob", By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "bob", Participants: []core.Participant{host, co, ann, bob}}},
		{&events.Unpinned{Seq: 6, Participant: "ann", By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Participants: []core.Participant{host, co, ann, bob}}},
		{&events.AllAudioDisabled{Seq: 6, Count: 3, By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{
				{ID: "host", Name: host.Name, Preset: "host", VideoEnabled: true}, {ID: "co", Name: co.Name, Preset: "cohost"},
				annMuted, bob}}},
		{&events.AllVideoDisabled{Seq: 6, Count: 2, By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Pinned: "ann", Participants: []core.Participant{
				{ID: "host", Name: host.Name, Preset: "host", AudioEnabled: true}, co, ann, bobDark}}},
		{&events.SessionEnded{Seq: 6, By: "host"},
			core.Snapshot{Session: "room", Seq: 6, Ended: true, Participants: []core.Participant{}}},
	} {
		t.Run(string(c.e.Type()), func(t *testing.T) {
			if d := cmp.Diff(c.want, reducer.Evolve(s, c.e).Snapshot()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
