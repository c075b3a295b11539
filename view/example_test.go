package view_test

import (
	"fmt"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/view"
)

// Bob's client watches the host mute Alice, then pin her.
func ExampleView() {
	s := core.NewState("room-1", core.Presets{"host": {DisableParticipantAudio: true, PinParticipant: true}, "attendee": {}})
	bob := view.New("bob", s)
	for _, cmd := range []core.Command{
		{ID: "1", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host", Audio: true},
		{ID: "2", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "attendee", Audio: true},
		{ID: "3", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee"},
		{ID: "4", Type: core.DisableAudio, Actor: "hana", Target: "alice"},
		{ID: "5", Type: core.Pin, Actor: "hana", Target: "alice"},
	} {
		var evs []events.Event
		s, evs, _ = reducer.Apply(s, cmd)
		for _, e := range evs {
			var ns []view.Notification
			bob, ns = bob.Apply(e)
			for _, n := range ns {
				fmt.Printf("seq %d: %s on %s: %s (audio %v, by %q)\n", n.Seq, n.Event, n.On, n.Participant.ID, n.Participant.AudioEnabled, n.By)
			}
		}
	}
	pinned, _ := bob.Pinned()
	fmt.Println("joined:", len(bob.Joined()), "pinned:", pinned.ID, "may mute:", bob.Self().Permissions.DisableParticipantAudio)
	// Output:
	// seq 3: roomJoined on self: bob (audio false, by "")
	// seq 4: audioUpdate on participant: alice (audio false, by "hana")
	// seq 4: audioUpdate on joined: alice (audio false, by "hana")
	// seq 5: pinned on participant: alice (audio false, by "hana")
	// seq 5: pinned on joined: alice (audio false, by "hana")
	// seq 5: participantJoined on pinned: alice (audio false, by "hana")
	// joined: 2 pinned: alice may mute: false
}
