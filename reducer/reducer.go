// Package reducer is gavel's pure state machine: Decide turns a session
// state and a command into events or a *core.Error, Evolve folds an event
// into the state, Apply does both. Fold folds many events, and FoldInto
// folds them into a core.Builder, for a caller that decides and folds
// command after command (a replay, a session reading its log) without
// copying the nodes the Builder has made.
//
// Everything here is a function of its arguments: no goroutines, clocks,
// randomness, IO or package state. Time, storage and delivery belong to the
// caller (the session runtime, the transports, cmd/replay), which must
// persist a command's events before anyone is told of them.
//
// The checks of a command run in the SPEC's order and the first that fails
// decides the error:
//
//  1. well formed: known type, non-empty id and actor, a target where the
//     type needs one, strings in valid UTF-8 within their limits
//     (invalid_command, 1210);
//  2. the session has not ended (session_ended, 1211);
//  3. join: the actor is not joined (already_joined, 1205) and the preset
//     exists (unknown_preset, 1212); any other command: the actor is joined
//     (not_joined, 1208);
//  4. the actor's preset has the permission (permission_denied, 1201),
//     checked before the target so an unprivileged caller learns nothing
//     about who is in the session;
//  5. the target is joined (participant_not_found, 1202);
//  6. kick of oneself (cannot_act_on_self, 1203).
//
// Package reducer imports core and events only.
package reducer

import (
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// Decide returns the events cmd produces in s, numbered from s.Seq()+1, or
// the *core.Error that rejects it. A command that changes nothing succeeds
// with no events. Decide never changes s.
func Decide(s core.State, cmd core.Command) ([]events.Event, error) {
	subject, err := check(s, cmd)
	if err != nil {
		return nil, err
	}
	seq := s.Seq() + 1
	switch cmd.Type {
	case core.Join:
		return one(events.ParticipantJoined{Seq: seq, Participant: cmd.Actor, Name: cmd.Name, Preset: cmd.Preset,
			AudioEnabled: cmd.Audio, VideoEnabled: cmd.Video}), nil
	case core.Leave:
		return one(events.ParticipantLeft{Seq: seq, Participant: cmd.Actor, Reason: events.ReasonLeft, By: cmd.Actor}), nil
	case core.Kick:
		return one(events.ParticipantLeft{Seq: seq, Participant: cmd.Target, Reason: events.ReasonKicked, By: cmd.Actor}), nil
	case core.KickAll:
		return one(events.SessionEnded{Seq: seq, By: cmd.Actor}), nil
	case core.SetAudio, core.SetVideo:
		return mediaUpdate(subject, seq, cmd, cmd.Enabled), nil
	case core.DisableAudio, core.DisableVideo:
		return mediaUpdate(subject, seq, cmd, false), nil
	case core.DisableAllAudio, core.DisableAllVideo:
		return disableAll(s, seq, cmd), nil
	case core.Pin:
		return pin(s, seq, cmd), nil
	case core.Unpin:
		if s.Pinned() != cmd.Target {
			return nil, nil
		}
		return one(events.Unpinned{Seq: seq, Participant: cmd.Target, By: cmd.Actor}), nil
	}
	return nil, core.Errorf(core.CodeInvalidCommand, "unknown command type %.40q", string(cmd.Type))
}

// WellFormed returns the invalid_command error of a command that fails
// check 1 (unknown type, empty id or actor, no target where the type needs
// one, a string the type reads not valid UTF-8 or over its limit: see
// core.Command.CheckStrings), or nil. Check 1 needs no state, so a
// transport can refuse a malformed command before it opens the session;
// Decide runs it first.
func WellFormed(cmd core.Command) error {
	switch {
	case !cmd.Type.Known():
		return core.Errorf(core.CodeInvalidCommand, "unknown command type %.40q", string(cmd.Type))
	case cmd.ID == "":
		return core.Errorf(core.CodeInvalidCommand, "%s: empty command id", cmd.Type)
	case cmd.Actor == "":
		return core.Errorf(core.CodeInvalidCommand, "%s: empty actor", cmd.Type)
	case cmd.Type.Targeted() && cmd.Target == "":
		return core.Errorf(core.CodeInvalidCommand, "%s: no target", cmd.Type)
	}
	return cmd.CheckStrings()
}

// check runs the checks of the package doc. It returns, for a command
// that passes, the participant it is about, as found on the way: the target
// of a targeted command, else the actor (none for a join).
func check(s core.State, cmd core.Command) (core.Participant, error) {
	if err := WellFormed(cmd); err != nil {
		return core.Participant{}, err
	}
	if s.Ended() {
		return core.Participant{}, core.Errorf(core.CodeSessionEnded, "session %q has ended", s.Session())
	}
	actor, joined := s.Participant(cmd.Actor)
	if cmd.Type == core.Join {
		if joined {
			return core.Participant{}, core.Errorf(core.CodeAlreadyJoined, "%q is already joined", cmd.Actor)
		}
		if _, ok := s.Preset(cmd.Preset); !ok {
			return core.Participant{}, core.Errorf(core.CodeUnknownPreset, "no preset %q", cmd.Preset)
		}
		return core.Participant{}, nil
	}
	if !joined {
		return core.Participant{}, core.Errorf(core.CodeNotJoined, "%q is not joined", cmd.Actor)
	}
	if perms, _ := s.Preset(actor.Preset); !perms.Allows(cmd.Type) {
		return core.Participant{}, core.Errorf(core.CodePermissionDenied, "preset %q may not %s", actor.Preset, cmd.Type)
	}
	if !cmd.Type.Targeted() {
		return actor, nil
	}
	target, joined := s.Participant(cmd.Target)
	if !joined {
		return core.Participant{}, core.Errorf(core.CodeParticipantNotFound, "%q is not joined", cmd.Target)
	}
	if cmd.Type == core.Kick && cmd.Target == cmd.Actor {
		return core.Participant{}, core.Errorf(core.CodeCannotActOnSelf, "%q cannot kick itself; use leave", cmd.Actor)
	}
	return target, nil
}

// isAudio tells whether a media command is about audio (else video).
func isAudio(t core.CommandType) bool {
	return t == core.SetAudio || t == core.DisableAudio || t == core.DisableAllAudio
}

func mediaEnabled(p core.Participant, audio bool) bool {
	if audio {
		return p.AudioEnabled
	}
	return p.VideoEnabled
}

// mediaUpdate is the update turning p's audio or video to enabled, if that
// changes it.
func mediaUpdate(p core.Participant, seq uint64, cmd core.Command, enabled bool) []events.Event {
	audio := isAudio(cmd.Type)
	if mediaEnabled(p, audio) == enabled {
		return nil
	}
	if audio {
		return one(events.AudioUpdate{Seq: seq, Participant: p.ID, AudioEnabled: enabled, By: cmd.Actor})
	}
	return one(events.VideoUpdate{Seq: seq, Participant: p.ID, VideoEnabled: enabled, By: cmd.Actor})
}

// disableAll turns off everyone's audio or video, the actor's included: one
// event counting those that were on, whatever the size of the session.
func disableAll(s core.State, seq uint64, cmd core.Command) []events.Event {
	if isAudio(cmd.Type) {
		if n := s.AudioOn(); n > 0 {
			return one(events.AllAudioDisabled{Seq: seq, Count: uint64(n), By: cmd.Actor})
		}
		return nil
	}
	if n := s.VideoOn(); n > 0 {
		return one(events.AllVideoDisabled{Seq: seq, Count: uint64(n), By: cmd.Actor})
	}
	return nil
}

func pin(s core.State, seq uint64, cmd core.Command) []events.Event {
	prev := s.Pinned()
	switch prev {
	case cmd.Target:
		return nil
	case "":
		return one(events.Pinned{Seq: seq, Participant: cmd.Target, By: cmd.Actor})
	}
	moved := &struct {
		unpinned events.Unpinned
		pinned   events.Pinned
		evs      [2]events.Event
	}{
		unpinned: events.Unpinned{Seq: seq, Participant: prev, By: cmd.Actor},
		pinned:   events.Pinned{Seq: seq + 1, Participant: cmd.Target, By: cmd.Actor},
	}
	moved.evs = [2]events.Event{&moved.unpinned, &moved.pinned}
	return moved.evs[:]
}

// one returns a single event as a slice. The event and the slice share one
// allocation: this is the path of nearly every command.
func one[E any, P interface {
	*E
	events.Event
}](e E) []events.Event {
	b := &struct {
		e   E
		evs [1]events.Event
	}{e: e}
	b.evs[0] = P(&b.e)
	return b.evs[:]
}
