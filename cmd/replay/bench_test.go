package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

const (
	benchEvents      = 1_000_000
	benchJoins       = 1_000
	benchCheckpoints = 100_000 // a checkpoint every this many commands
)

// writeBenchLog records a log of n events: joins of p0…p(joins-1), then each
// participant in turn toggling its microphone, one event per command.
func writeBenchLog(tb testing.TB, path string, n, joins int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	presets := core.Presets{"host": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true}}
	w, err := sessionlog.NewWriter(f, sessionlog.Header{Session: "bench", Presets: presets})
	if err != nil {
		tb.Fatal(err)
	}
	s := core.NewState("bench", presets)
	for i := range n {
		p := fmt.Sprintf("p%d", i%joins)
		cmd := core.Command{ID: fmt.Sprintf("c%d", i), Type: core.SetAudio, Actor: p, Enabled: (i/joins)%2 == 0}
		if i < joins {
			cmd = core.Command{ID: fmt.Sprintf("c%d", i), Type: core.Join, Actor: p, Name: "Participant " + p, Preset: "host", Audio: true}
		}
		var evs []events.Event
		s, evs, err = reducer.Apply(s, cmd)
		if err != nil || len(evs) != 1 {
			tb.Fatalf("command %d: %d events, %v", i, len(evs), err)
		}
		if err := w.WriteCommand("", cmd, evs, nil); err != nil {
			tb.Fatal(err)
		}
		if (i+1)%benchCheckpoints == 0 {
			if err := w.WriteCheckpoint(s.Snapshot()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// The baseline's types: a record with its command in the command's wire
// shape and its events as event values, decoded by encoding/json alone.
type (
	baseCommand struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Actor   string `json:"actor"`
		Target  string `json:"target"`
		Name    string `json:"name"`
		Preset  string `json:"preset"`
		Audio   bool   `json:"audio"`
		Video   bool   `json:"video"`
		Enabled bool   `json:"enabled"`
	}
	baseEvent struct {
		Seq          uint64 `json:"seq"`
		Type         string `json:"type"`
		Participant  string `json:"participant"`
		Name         string `json:"name"`
		Preset       string `json:"preset"`
		AudioEnabled bool   `json:"audio_enabled"`
		VideoEnabled bool   `json:"video_enabled"`
		Reason       string `json:"reason"`
		By           string `json:"by"`
		Count        uint64 `json:"count"`
	}
	baseError struct {
		Code    int    `json:"code"`
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	baseParticipant struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Preset       string `json:"preset"`
		AudioEnabled bool   `json:"audio_enabled"`
		VideoEnabled bool   `json:"video_enabled"`
	}
	baseState struct {
		Session      string            `json:"session"`
		Seq          uint64            `json:"seq"`
		Ended        bool              `json:"ended"`
		Pinned       *string           `json:"pinned"`
		Participants []baseParticipant `json:"participants"`
	}
	baseRecord struct {
		At     string       `json:"at"`
		Cmd    *baseCommand `json:"cmd"`
		Events []baseEvent  `json:"events"`
		Error  *baseError   `json:"error"`
		State  *baseState   `json:"state"`
	}
	baseHeader struct {
		Format  string                     `json:"format"`
		Session string                     `json:"session"`
		Presets map[string]map[string]bool `json:"presets"`
	}
)

// decodeBaseline decodes the log at path with one json.Decoder and returns
// the number of events read.
func decodeBaseline(tb testing.TB, path string) int {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	d := json.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	var h baseHeader
	if err := d.Decode(&h); err != nil {
		tb.Fatal(err)
	}
	n := 0
	for {
		var rec baseRecord
		err := d.Decode(&rec)
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		n += len(rec.Events)
	}
}

// BenchmarkReplay compares replay -json and replay -verify over a recorded
// log of a million events with decoding the same file with encoding/json
// alone. One op is one pass over the whole log. Besides events/s (wall
// clock), each reports events per second of process CPU time, which the
// load of a shared machine disturbs less.
func BenchmarkReplay(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	writeBenchLog(b, path, benchEvents, benchJoins)
	for _, mode := range []string{"-json", "-verify"} {
		b.Run("replay"+mode, func(b *testing.B) {
			measure(b, func() {
				if code := run(context.Background(), []string{mode, path}, nil, io.Discard, os.Stderr); code != 0 {
					b.Fatalf("exit %d", code)
				}
			})
		})
	}
	b.Run("json.Decoder", func(b *testing.B) {
		measure(b, func() {
			if n := decodeBaseline(b, path); n != benchEvents {
				b.Fatalf("%d events, want %d", n, benchEvents)
			}
		})
	})
}

// measure runs pass, one pass over the log, b.N times and reports events/s
// of wall-clock time and of CPU time.
func measure(b *testing.B, pass func()) {
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		pass()
	}
	events := float64(benchEvents) * float64(b.N)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(events/(cpuTime(b)-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
