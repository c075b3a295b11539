package core_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/gavelrtc/gavel/core"
)

// codes is the SPEC's error table: every code, its name and its sentinel.
var codes = []struct {
	code     core.Code
	num      int
	name     string
	sentinel *core.Error
}{
	{core.CodePermissionDenied, 1201, "permission_denied", core.ErrPermissionDenied},
	{core.CodeParticipantNotFound, 1202, "participant_not_found", core.ErrParticipantNotFound},
	{core.CodeCannotActOnSelf, 1203, "cannot_act_on_self", core.ErrCannotActOnSelf},
	{core.CodeAlreadyJoined, 1205, "already_joined", core.ErrAlreadyJoined},
	{core.CodeNotJoined, 1208, "not_joined", core.ErrNotJoined},
	{core.CodeInvalidCommand, 1210, "invalid_command", core.ErrInvalidCommand},
	{core.CodeSessionEnded, 1211, "session_ended", core.ErrSessionEnded},
	{core.CodeUnknownPreset, 1212, "unknown_preset", core.ErrUnknownPreset},
}

func TestCodeNames(t *testing.T) {
	for _, c := range codes {
		if int(c.code) != c.num {
			t.Errorf("%s = %d, want %d", c.name, int(c.code), c.num)
		}
		if got := c.code.Name(); got != c.name {
			t.Errorf("Code(%d).Name() = %q, want %q", c.num, got, c.name)
		}
		if !c.code.Known() {
			t.Errorf("Code(%d).Known() = false", c.num)
		}
		if got, ok := core.CodeByName(c.name); !ok || got != c.code {
			t.Errorf("CodeByName(%q) = %d, %v", c.name, got, ok)
		}
		if c.sentinel.Code != c.code || c.sentinel.Name() != c.name {
			t.Errorf("sentinel for %s has code %d name %q", c.name, c.sentinel.Code, c.sentinel.Name())
		}
	}
	for _, unknown := range []core.Code{0, 1200, 1204, 1206, 1207, 1209, 1213, -1} {
		if unknown.Known() {
			t.Errorf("Code(%d).Known() = true", unknown)
		}
		if got, want := unknown.Name(), fmt.Sprintf("code_%d", int(unknown)); got != want {
			t.Errorf("Code(%d).Name() = %q, want %q", unknown, got, want)
		}
	}
	for _, name := range []string{"", "Permission_Denied", "permission denied", "code_1201", "1201"} {
		if c, ok := core.CodeByName(name); ok {
			t.Errorf("CodeByName(%q) = %d, want not found", name, c)
		}
	}
}

func TestErrorMatching(t *testing.T) {
	for _, c := range codes {
		t.Run(c.name, func(t *testing.T) {
			err := core.Errorf(c.code, "%q did it", "ann")
			if want := fmt.Sprintf(`%s (%d): "ann" did it`, c.name, c.num); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if want := fmt.Sprintf("%s (%d)", c.name, c.num); (&core.Error{Code: c.code}).Error() != want {
				t.Errorf("Error() without message = %q, want %q", (&core.Error{Code: c.code}).Error(), want)
			}
			for _, wrapped := range []error{
				err,
				fmt.Errorf("session room-1: %w", err),
				fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", err)),
				errors.Join(io.EOF, err),
			} {
				for _, other := range codes {
					if got := errors.Is(wrapped, other.sentinel); got != (other.code == c.code) {
						t.Errorf("errors.Is(%v, %s) = %v", wrapped, other.name, got)
					}
				}
				if errors.Is(wrapped, io.ErrUnexpectedEOF) {
					t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF)", wrapped)
				}
				var as *core.Error
				if !errors.As(wrapped, &as) || as != err {
					t.Errorf("errors.As(%v) = %v, want the original *core.Error", wrapped, as)
				}
				if code, ok := core.CodeOf(wrapped); !ok || code != c.code {
					t.Errorf("CodeOf(%v) = %d, %v", wrapped, code, ok)
				}
			}
			// Any *core.Error of the same code matches, whatever its message.
			if !errors.Is(c.sentinel, &core.Error{Code: c.code, Message: "other words"}) {
				t.Error("errors.Is compares messages, not codes")
			}
		})
	}
	for _, err := range []error{nil, io.EOF, errors.New("permission_denied (1201)"), fmt.Errorf("x: %w", io.EOF)} {
		if code, ok := core.CodeOf(err); ok || code != 0 {
			t.Errorf("CodeOf(%v) = %d, %v; want 0, false", err, code, ok)
		}
		if errors.Is(err, core.ErrPermissionDenied) {
			t.Errorf("errors.Is(%v, ErrPermissionDenied)", err)
		}
	}
	// A nil *core.Error in an error interface (a typed nil) has no code.
	var typedNil *core.Error
	for _, err := range []error{typedNil, fmt.Errorf("x: %w", typedNil)} {
		if code, ok := core.CodeOf(err); ok || code != 0 {
			t.Errorf("CodeOf(typed nil) = %d, %v; want 0, false", code, ok)
		}
	}
	// The first *core.Error in the chain decides.
	first := fmt.Errorf("a: %w", errors.Join(core.ErrNotJoined, core.ErrPermissionDenied))
	if code, _ := core.CodeOf(first); code != core.CodeNotJoined {
		t.Errorf("CodeOf(%v) = %d, want %d", first, code, core.CodeNotJoined)
	}
}

func TestAllows(t *testing.T) {
	all := core.Permissions{DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}
	only := map[string]core.Permissions{
		"none":  {},
		"audio": {DisableParticipantAudio: true},
		"video": {DisableParticipantVideo: true},
		"pin":   {PinParticipant: true},
		"kick":  {KickParticipant: true},
		"all":   all,
	}
	// needs is the SPEC's permission column; "" for commands anyone may issue.
	needs := map[core.CommandType]string{
		core.Join: "", core.Leave: "", core.SetAudio: "", core.SetVideo: "",
		core.DisableAudio: "audio", core.DisableAllAudio: "audio",
		core.DisableVideo: "video", core.DisableAllVideo: "video",
		core.Pin: "pin", core.Unpin: "pin",
		core.Kick: "kick", core.KickAll: "kick",
	}
	if len(needs) != len(core.CommandTypes) {
		t.Fatalf("test covers %d types, core has %d", len(needs), len(core.CommandTypes))
	}
	for _, typ := range core.CommandTypes {
		for name, p := range only {
			want := needs[typ] == "" || needs[typ] == name || name == "all"
			if got := p.Allows(typ); got != want {
				t.Errorf("%s.Allows(%s) = %v, want %v", name, typ, got, want)
			}
		}
	}
	for _, typ := range []core.CommandType{"", "mute", "JOIN", "kick "} {
		if all.Allows(typ) {
			t.Errorf("Allows(%q) = true for an unknown type", typ)
		}
	}
}

func TestCommandTypes(t *testing.T) {
	targeted := map[core.CommandType]bool{core.DisableAudio: true, core.DisableVideo: true, core.Pin: true, core.Unpin: true, core.Kick: true}
	wire := []string{"join", "leave", "set_audio", "set_video", "disable_audio", "disable_all_audio",
		"disable_video", "disable_all_video", "pin", "unpin", "kick", "kick_all"}
	if len(core.CommandTypes) != len(wire) {
		t.Fatalf("CommandTypes has %d types, want %d", len(core.CommandTypes), len(wire))
	}
	for i, typ := range core.CommandTypes {
		if string(typ) != wire[i] {
			t.Errorf("CommandTypes[%d] = %q, want %q", i, typ, wire[i])
		}
		if !typ.Known() {
			t.Errorf("%s.Known() = false", typ)
		}
		if typ.Targeted() != targeted[typ] {
			t.Errorf("%s.Targeted() = %v", typ, typ.Targeted())
		}
	}
	for _, typ := range []core.CommandType{"", "mute", "JOIN", "kick ", "kickall"} {
		if typ.Known() || typ.Targeted() {
			t.Errorf("%q: Known %v, Targeted %v", typ, typ.Known(), typ.Targeted())
		}
	}
}
