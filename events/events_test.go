package events_test

import (
	"testing"

	"github.com/gavelrtc/gavel/events"
)

func TestParticipantAndBy(t *testing.T) {
	cases := []struct {
		e               events.Event
		participant, by string
	}{
		{&events.ParticipantJoined{Seq: 1, Participant: "p", Name: "P", Preset: "host"}, "p", ""},
		{&events.ParticipantLeft{Seq: 2, Participant: "p", Reason: events.ReasonKicked, By: "h"}, "p", "h"},
		{&events.AudioUpdate{Seq: 3, Participant: "p", By: "h"}, "p", "h"},
		{&events.VideoUpdate{Seq: 4, Participant: "p", By: "h"}, "p", "h"},
		{&events.Pinned{Seq: 5, Participant: "p", By: "h"}, "p", "h"},
		{&events.Unpinned{Seq: 6, Participant: "p", By: "h"}, "p", "h"},
		{&events.SessionEnded{Seq: 7, By: "h"}, "", "h"},
		{nil, "", ""},
	}
	for _, c := range cases {
		if got := events.Participant(c.e); got != c.participant {
			t.Errorf("Participant(%#v) = %q, want %q", c.e, got, c.participant)
		}
		if got := events.By(c.e); got != c.by {
			t.Errorf("By(%#v) = %q, want %q", c.e, got, c.by)
		}
	}
}
