package reducer

import (
	"errors"
	"strings"
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
		// Strings the type reads: valid UTF-8, at most 256 bytes (1,024 for
		// a name); those it does not read are not looked at.
		{core.Command{ID: strings.Repeat("i", 256), Type: core.Kick, Actor: strings.Repeat("é", 128), Target: strings.Repeat("t", 256)}, false},
		{core.Command{ID: strings.Repeat("i", 257), Type: core.Leave, Actor: "a"}, true},
		{core.Command{ID: "1", Type: core.Leave, Actor: strings.Repeat("a", 257)}, true},
		{core.Command{ID: "1", Type: core.Pin, Actor: "a", Target: strings.Repeat("t", 257)}, true},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Preset: strings.Repeat("p", 257)}, true},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Name: strings.Repeat("n", 1024)}, false},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Name: strings.Repeat("n", 1025)}, true},
		{core.Command{ID: "1", Type: core.Leave, Actor: "a", Name: strings.Repeat("n", 1025), Target: "\xff"}, false},
		{core.Command{ID: "\xff", Type: core.Leave, Actor: "a"}, true},
		{core.Command{ID: "1", Type: core.Leave, Actor: "a\xc3"}, true},
		{core.Command{ID: "1", Type: core.Kick, Actor: "a", Target: "\xed\xa0\x80"}, true},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Name: "\xf4\x90\x80\x80"}, true},
		{core.Command{ID: "1", Type: core.Join, Actor: "a", Preset: "ok\xe2\x82"}, true},
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
