package gaveltest_test

import (
	"fmt"
	"slices"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
)

// A service has roles of its own, and decides with its own table which
// buttons its UI shows each role; it maps the roles to gavel presets. The
// property: the UI shows a button exactly when gavel would not refuse the
// command with permission_denied.

// buttons is the service's table: for each role, the moderation buttons
// its UI shows.
var buttons = map[string][]string{
	"teacher":   {"mute", "mute all", "stop video", "spotlight", "remove", "end class"},
	"assistant": {"mute", "mute all", "spotlight"},
	"student":   nil,
}

// button is the button that issues a command of type t ("" for a command
// anyone may send).
func button(t core.CommandType) string {
	switch t {
	case core.DisableAudio:
		return "mute"
	case core.DisableAllAudio:
		return "mute all"
	case core.DisableVideo, core.DisableAllVideo:
		return "stop video"
	case core.Pin, core.Unpin:
		return "spotlight"
	case core.Kick:
		return "remove"
	case core.KickAll:
		return "end class"
	}
	return ""
}

// rolePresets is the service's mapping of its roles to gavel presets.
func rolePresets() core.Presets {
	return core.Presets{
		"teacher":   {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
		"assistant": {DisableParticipantAudio: true, PinParticipant: true},
		"student":   {},
	}
}

// checkButtons is the property, over session s: for every command that
// reaches gavel's permission check (well formed, in a session that has not
// ended, by a joined participant), the actor's role shows its button
// exactly when gavel grants it.
func checkButtons(s gaveltest.Session) error {
	steps, err := s.Play()
	if err != nil {
		return err
	}
	for _, st := range steps {
		code, _ := core.CodeOf(st.Err)
		switch code {
		case core.CodeInvalidCommand, core.CodeSessionEnded, core.CodeNotJoined, core.CodeAlreadyJoined, core.CodeUnknownPreset:
			continue // refused before the permission check
		}
		b := button(st.Command.Type)
		if b == "" {
			continue
		}
		actor, _ := st.Before.Participant(st.Command.Actor)
		switch shown, granted := slices.Contains(buttons[actor.Preset], b), code != core.CodePermissionDenied; {
		case shown && !granted:
			return fmt.Errorf("%ss see %q, gavel refuses it", actor.Preset, b)
		case !shown && granted:
			return fmt.Errorf("%ss do not see %q, gavel grants it", actor.Preset, b)
		}
	}
	return nil
}

// differences runs checkButtons on 100 sessions with the given presets,
// drawn as examples, and lists what it finds.
func differences(presets core.Presets) []string {
	var found []string
	for seed := range 100 {
		if err := checkButtons(gaveltest.Sessions(presets).Example(seed)); err != nil && !slices.Contains(found, err.Error()) {
			found = append(found, err.Error())
		}
	}
	slices.Sort(found)
	return found
}

// A service checks its roles' buttons against gavel's permissions, on
// sessions whose commands include refusals of every kind (the
// permission_denied of Refusal among them). TestButtons runs checkButtons
// with rapid.Check, which shrinks a failing session; here it runs on
// sessions drawn as examples, with the mapping as shipped, then with one
// that forgot that assistants may spotlight.
func Example_permissions() {
	fmt.Println(differences(rolePresets()))

	broken := rolePresets()
	broken["assistant"] = core.Permissions{DisableParticipantAudio: true}
	fmt.Println(differences(broken))
	// Output:
	// []
	// [assistants see "spotlight", gavel refuses it]
}
