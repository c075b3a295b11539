package fuzz

import (
	"testing"

	"github.com/gavelrtc/gavel/gaveltest"
)

// FuzzCommandSequence runs arbitrary sessions through the reducer: the
// bytes decode, with gaveltest.SessionFromBytes, into the presets and the
// commands gaveltest's generators would draw (valid ones, ones refused on
// purpose by each check, and any command at all, one byte a choice). No
// step may panic, and every step keeps gaveltest's invariants (those the
// reducer's model-based test checks too).
//
// The seeds are sessions of any commands (byte 0 of each 10-byte command
// chooses "any"); mixed is 1,200 random bytes.
func FuzzCommandSequence(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := gaveltest.SessionFromBytes(nil, data).Play(); err != nil {
			t.Fatal(err)
		}
	})
}
