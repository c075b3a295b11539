package reducer

import (
	"errors"
	"testing"

	"github.com/gavelrtc/gavel/core"
)

// TestWellFormed: WellFormed refuses exactly the commands that fail check 1,
// with the error Decide gives them, whatever the state.
func TestWellFormed(t *testing.T) {
	ended := core.NewState("s", nil).WithEnded()
	for _, tc := range []struct {
		cmd core.Command
		bad bool
	}{
		{core.Command{ID: "1", Type: "explode", Actor: "a"}, true},
		{core.Command{Type: core.Leave, Actor: "a"}, true},
		{core.Command{ID: "1", Type: core.Leave}, true},
		{core.Command{ID: "1", Type: core.Kick, Actor: "a"}, true},
		{core.Command{ID: "1", Type: core.Kick, Actor: "a", Target: "b"}, false},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Preset: "nope"}, false},
	} {
		err := WellFormed(tc.cmd)
		if got := err != nil; got != tc.bad {
			t.Errorf("WellFormed(%+v) = %v, want an error: %v", tc.cmd, err, tc.bad)
			continue
		}
		if !tc.bad {
			continue
		}
		if !errors.Is(err, core.ErrInvalidCommand) {
			t.Errorf("WellFormed(%+v) = %v, want invalid_command", tc.cmd, err)
		}
		if _, derr := Decide(ended, tc.cmd); derr == nil || derr.Error() != err.Error() {
			t.Errorf("Decide(ended, %+v) = %v, WellFormed says %v", tc.cmd, derr, err)
		}
	}
}
