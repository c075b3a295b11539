package fuzz

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gavelrtc/gavel/sessionlog"
)

// FuzzLogReader feeds arbitrary bytes to the session-log reader and to the
// replay of package sessionlog in every way cmd/replay runs it. Nothing may
// panic; an error names a line that exists (a *LineError) or is the first
// divergence (a *Divergence, on a line that exists); and what RecordScript
// records, Verify accepts and RecordScript records again unchanged.
func FuzzLogReader(f *testing.F) {
	f.Add([]byte(`{"format":"gavel-log/2","session":"s","presets":{"host":{"kick_participant":true}}}
{"cmd":{"id":"1","type":"join","actor":"a","name":"A","preset":"host","audio":true}}
{"state":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLogReader(t, data)
		checkLogReplay(t, data)
	})
}

func checkLogReader(t *testing.T, data []byte) {
	lines := bytes.Count(data, []byte("\n")) + 1
	r, err := sessionlog.NewReader(bytes.NewReader(data))
	if err != nil {
		checkLogLineError(t, err, lines)
		return
	}
	last := r.Line()
	for {
		_, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			checkLogLineError(t, err, lines)
			return
		}
		if r.Line() <= last || r.Line() > lines {
			t.Fatalf("record on line %d after line %d, in %d lines", r.Line(), last, lines)
		}
		last = r.Line()
	}
}

func checkLogLineError(t *testing.T, err error, lines int) {
	var le *sessionlog.LineError
	if !errors.As(err, &le) || le.Line < 1 || le.Line > lines {
		t.Fatalf("error %v (%T): want a *LineError naming one of %d lines", err, err, lines)
	}
}

func checkLogReplay(t *testing.T, data []byte) {
	lines := bytes.Count(data, []byte("\n")) + 1
	// Every step, checked, as the timeline does; and up to line 3.
	for _, until := range []int{0, 3} {
		p, err := sessionlog.NewReplayer(bytes.NewReader(data))
		if err != nil {
			checkLogLineError(t, err, lines)
			continue
		}
		p.StopAfter(until)
		for {
			s, err := p.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkLogLineError(t, err, lines)
				break
			}
			if d := p.Check(s); d != nil && (d.Line != s.Line || d.Error() == "") {
				t.Fatalf("divergence %v on line %d", d, s.Line)
			}
			_ = p.State().Snapshot()
		}
	}
	if _, err := sessionlog.Verify(bytes.NewReader(data)); err != nil {
		if d, ok := errors.AsType[*sessionlog.Divergence](err); ok {
			if d.Line < 1 || d.Line > lines {
				t.Fatalf("divergence on line %d of %d", d.Line, lines)
			}
		} else {
			checkLogLineError(t, err, lines)
		}
	}
	var recorded bytes.Buffer
	if err := sessionlog.RecordScript(bytes.NewReader(data), &recorded); err != nil {
		checkLogLineError(t, err, lines)
		return
	}
	if _, err := sessionlog.Verify(bytes.NewReader(recorded.Bytes())); err != nil {
		t.Fatalf("Verify of what RecordScript recorded: %v\nrecorded:\n%s", err, recorded.Bytes())
	}
	var again bytes.Buffer
	if err := sessionlog.RecordScript(bytes.NewReader(recorded.Bytes()), &again); err != nil || !bytes.Equal(again.Bytes(), recorded.Bytes()) {
		t.Fatalf("RecordScript of a recorded log changed it (%v):\n%s\nto\n%s", err, recorded.Bytes(), again.Bytes())
	}
}
