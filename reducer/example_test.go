package reducer_test

import (
	"errors"
	"fmt"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
)

// The README's embedding example: build a state, decide commands, handle a
// *core.Error with code 1201.
func Example() {
	s := core.NewState("room-1", core.Presets{
		"host":     {DisableParticipantAudio: true, PinParticipant: true, KickParticipant: true},
		"attendee": {},
	})
	for _, cmd := range []core.Command{
		{ID: "1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true},
		{ID: "2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true},
		{ID: "3", Type: core.DisableAudio, Actor: "bob", Target: "alice"},
		{ID: "4", Type: core.DisableAudio, Actor: "alice", Target: "bob"},
	} {
		next, evs, err := reducer.Apply(s, cmd)
		var cerr *core.Error
		if errors.As(err, &cerr) && cerr.Code == core.CodePermissionDenied {
			fmt.Printf("%s refused: %d %s\n", cmd.ID, cerr.Code, cerr.Name())
			continue
		}
		for _, e := range evs {
			fmt.Printf("%s -> seq %d %s\n", cmd.ID, e.Sequence(), e.Type())
		}
		s = next
	}
	bob, _ := s.Participant("bob")
	fmt.Println("bob's audio:", bob.AudioEnabled)
	// Output:
	// 1 -> seq 1 participant_joined
	// 2 -> seq 2 participant_joined
	// 3 refused: 1201 permission_denied
	// 4 -> seq 3 audio_update
	// bob's audio: false
}
