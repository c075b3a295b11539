package events_test

import (
	"fmt"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// The decoders' cost per value, on what a session's log and its clients
// carry most: one event, one command, a bulk command's events, a state.

// benchSession is a state of n participants and the events a
// disable_all_audio on it produces, encoded.
func benchSession(n int) (state, evs []byte) {
	s := core.Snapshot{Session: "room-1", Seq: uint64(n), Participants: make([]core.Participant, n)}
	batch := make([]events.Event, n)
	for i := range n {
		id := fmt.Sprintf("p%04d", i)
		s.Participants[i] = core.Participant{ID: id, Name: "Participant " + id, Preset: "student", AudioEnabled: true, VideoEnabled: true}
		batch[i] = &events.AudioUpdate{Seq: uint64(n + i + 1), Participant: id, By: "host"}
	}
	return events.AppendSnapshot(nil, s), events.AppendEvents(nil, batch)
}

func benchDecode[T any](b *testing.B, in []byte, decode func([]byte) (T, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	in := []byte(`{"seq":1,"type":"participant_joined","participant":"ann","name":"Ann \u00e9","preset":"host","audio_enabled":true,"video_enabled":false}`)
	benchDecode(b, in, events.DecodeEvent)
}

func BenchmarkDecodeCommand(b *testing.B) {
	in := []byte(`{"id":"c-0001","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":false}`)
	benchDecode(b, in, events.DecodeCommand)
}

func BenchmarkDecodeEvents(b *testing.B) {
	_, evs := benchSession(100)
	benchDecode(b, evs, events.DecodeEvents)
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	state, _ := benchSession(100)
	benchDecode(b, state, events.DecodeSnapshot)
}

func BenchmarkDecodePresets(b *testing.B) {
	in := events.AppendPresets(nil, core.Presets{
		"host":    {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
		"student": {}, "teacher": {PinParticipant: true},
	})
	benchDecode(b, in, events.DecodePresets)
}
