package events

import (
	"testing"

	"github.com/gavelrtc/gavel/core"
)

func TestPermissionsRoundTrip(t *testing.T) {
	for _, p := range []core.Permissions{
		{},
		{DisableParticipantAudio: true, PinParticipant: true},
		{DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	} {
		b := AppendPermissions(nil, p)
		// The same bytes as the preset's entry in AppendPresets.
		want := AppendPresets(nil, core.Presets{"x": p})
		if got := `{"x":` + string(b) + `}`; got != string(want) {
			t.Errorf("AppendPermissions(%+v) = %s, inside presets %s", p, b, want)
		}
		got, err := DecodePermissions(b)
		if err != nil || got != p {
			t.Errorf("DecodePermissions(%s) = %+v, %v; want %+v", b, got, err, p)
		}
	}
	if _, err := DecodePermissions([]byte(`[]`)); err == nil {
		t.Error("DecodePermissions([]) succeeded")
	}
}
