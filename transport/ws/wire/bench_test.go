package wire_test

import (
	"fmt"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// BenchmarkDecodeFrame: the decoders' cost per frame, on the frames a
// connection carries most (an event, a result, a command, a candidate) and
// the largest (a welcome).
func BenchmarkDecodeFrame(b *testing.B) {
	batch := make([]events.Event, 10)
	state := core.Snapshot{Session: "room-1", Seq: 100, Participants: make([]core.Participant, 100)}
	for i := range batch {
		batch[i] = &events.AudioUpdate{Seq: uint64(43 + i), Participant: fmt.Sprintf("p%d", i), By: "ann"}
	}
	for i := range state.Participants {
		id := fmt.Sprintf("p%04d", i)
		state.Participants[i] = core.Participant{ID: id, Name: "Participant " + id, Preset: "student", AudioEnabled: true}
	}
	presets := core.Presets{"host": {DisableParticipantAudio: true, KickParticipant: true}, "student": {}}
	cand, mid := "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "0"
	var zero uint16
	for _, bc := range []struct {
		name   string
		client bool // a client's frame (DecodeClientFrame), else a server's (DecodeFrame)
		frame  []byte
	}{
		{"event", false, wire.AppendEvent(nil, &events.AudioUpdate{Seq: 42, Participant: "bob", By: "ann"})},
		{"result", false, wire.AppendResult(nil, wire.Result{ID: "c-0001", Seq: 52, Events: batch})},
		{"rejected", false, wire.AppendResult(nil, wire.Result{ID: "c-0001", Err: core.Errorf(core.CodePermissionDenied, "no")})},
		{"welcome", false, wire.AppendWelcome(nil, wire.Welcome{Session: "room-1", Self: "ann", Preset: "host",
			Permissions: presets["host"], Presets: presets, Seq: 100, State: state})},
		{"command", true, wire.AppendCommand(nil, core.Command{ID: "c-0001", Type: core.DisableAudio, Actor: "ann", Target: "bob"})},
		{"candidate", true, wire.AppendSignal(nil, wire.Signal{Candidate: &wire.ICECandidate{Candidate: cand, SDPMid: &mid, SDPMLineIndex: &zero}})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			var err error
			for b.Loop() {
				if bc.client {
					_, err = wire.DecodeClientFrame(bc.frame)
				} else {
					_, err = wire.DecodeFrame(bc.frame)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
