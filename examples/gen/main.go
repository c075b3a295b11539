// Command gen records gavel's example session logs. The classroom and the
// webinar are scripts of commands in scripts/, recorded as replay -json does
// (sessionlog.RecordScript); the
// town hall, 5,000 attendees, is built here with the reducer and a
// sessionlog.Writer, as a service embedding gavel would record a session.
//
// Run it from the module root with
//
//	go generate ./examples
//
// or as go run ./examples/gen -dir examples.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// names lists the examples: each is recorded to <name>.jsonl.
var names = []string{"classroom", "webinar", "townhall"}

func main() {
	dir := flag.String("dir", ".", "the examples `directory`")
	flag.Parse()
	for _, name := range names {
		b, err := record(*dir, name)
		if err == nil {
			err = os.WriteFile(filepath.Join(*dir, name+".jsonl"), b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
}

// record returns the recorded log of the named example.
func record(dir, name string) ([]byte, error) {
	if name == "townhall" {
		return townhall()
	}
	script := filepath.Join(dir, "scripts", name+".jsonl")
	f, err := os.Open(script)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	if err := sessionlog.RecordScript(f, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	return out.Bytes(), nil
}

// Town hall: the size of the audience.
const attendees = 5000

// townhall records a company town hall: a host and a moderator, then 5,000
// attendees joining with their microphones on over ten minutes; the
// moderator mutes everyone at once, one attendee unmutes to ask a question
// and is pinned while asking, and the host ends the session.
func townhall() ([]byte, error) {
	presets := core.Presets{
		"host":      {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
		"moderator": {DisableParticipantAudio: true, PinParticipant: true},
		"attendee":  {},
	}
	var buf bytes.Buffer
	w, err := sessionlog.NewWriter(&buf, sessionlog.Header{Session: "townhall-q2", Presets: presets})
	if err != nil {
		return nil, err
	}
	s := core.NewState("townhall-q2", presets)
	start := time.Date(2025, 6, 12, 16, 50, 0, 0, time.UTC)
	apply := func(at time.Duration, cmd core.Command) {
		var evs []events.Event
		var rejected error
		s, evs, rejected = reducer.Apply(s, cmd)
		if werr := w.WriteCommand(start.Add(at).Format(time.RFC3339Nano), cmd, evs, rejected); werr != nil && err == nil {
			err = werr
		}
	}
	checkpoint := func() {
		if werr := w.WriteCheckpoint(s.Snapshot()); werr != nil && err == nil {
			err = werr
		}
	}

	apply(0, core.Command{ID: "t-host", Type: core.Join, Actor: "ceo", Name: "Dana (CEO)", Preset: "host", Audio: true, Video: true})
	apply(20*time.Second, core.Command{ID: "t-mod", Type: core.Join, Actor: "mod", Name: "Lee (moderator)", Preset: "moderator", Audio: true})
	checkpoint()
	for i := 1; i <= attendees; i++ {
		id := fmt.Sprintf("a%04d", i)
		apply(time.Minute+time.Duration(i)*108*time.Millisecond, core.Command{ID: "j-" + id, Type: core.Join, Actor: id,
			Name: fmt.Sprintf("Attendee %d", i), Preset: "attendee", Audio: true})
	}
	apply(10*time.Minute, core.Command{ID: "t-mute", Type: core.DisableAllAudio, Actor: "mod"})
	apply(10*time.Minute+2*time.Second, core.Command{ID: "t-speak", Type: core.SetAudio, Actor: "ceo", Enabled: true})
	apply(25*time.Minute, core.Command{ID: "q-unmute", Type: core.SetAudio, Actor: "a0042", Enabled: true})
	apply(25*time.Minute+time.Second, core.Command{ID: "q-grab", Type: core.DisableAllAudio, Actor: "a0777"})
	apply(25*time.Minute+5*time.Second, core.Command{ID: "q-pin", Type: core.Pin, Actor: "mod", Target: "a0042"})
	apply(27*time.Minute, core.Command{ID: "q-mute", Type: core.DisableAudio, Actor: "mod", Target: "a0042"})
	apply(27*time.Minute+time.Second, core.Command{ID: "q-unpin", Type: core.Unpin, Actor: "mod", Target: "a0042"})
	apply(40*time.Minute, core.Command{ID: "t-end-mod", Type: core.KickAll, Actor: "mod"})
	apply(40*time.Minute+10*time.Second, core.Command{ID: "t-end", Type: core.KickAll, Actor: "ceo"})
	checkpoint()
	if err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
