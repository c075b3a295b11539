package fuzz

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/cmd/replay/replaycmd"
	"github.com/gavelrtc/gavel/sessionlog"
)

// FuzzLogReader feeds arbitrary bytes to the session-log reader and to the
// replay command in every mode. Neither may panic; the reader's errors name
// a line that exists; replay exits 0, 1 or 2 (1 only for -verify), says
// why in one line when the log is invalid, and what -json records,
// -verify accepts and -json records again unchanged.
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
	for _, mode := range [][]string{nil, {"-verify"}, {"-json"}, {"-until", "3"}, {"-verify", "-until", "2"}} {
		code, stdout, stderr := runReplay(data, mode...)
		switch {
		case code == replaycmd.ExitDivergence && mode != nil && mode[0] == "-verify":
		case code == replaycmd.ExitOK:
		case code == replaycmd.ExitInvalid:
			if !strings.HasPrefix(stderr, "replay: stdin: line ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Fatalf("replay %v: exit 2 with stderr %q, want one line naming the line", mode, stderr)
			}
		default:
			t.Fatalf("replay %v: exit %d", mode, code)
		}
		if code != replaycmd.ExitOK || len(mode) != 1 || mode[0] != "-json" {
			continue
		}
		if code, out, _ := runReplay(stdout, "-verify"); code != replaycmd.ExitOK {
			t.Fatalf("replay -verify of what replay -json recorded: exit %d\n%s\nrecorded:\n%s", code, out, stdout)
		}
		if _, again, _ := runReplay(stdout, "-json"); !bytes.Equal(again, stdout) {
			t.Fatalf("replay -json of a recorded log changed it:\n%s\nto\n%s", stdout, again)
		}
	}
}

// runReplay runs the replay command in process on data as standard input.
func runReplay(data []byte, args ...string) (code int, stdout []byte, stderr string) {
	var out, errOut bytes.Buffer
	code = replaycmd.Run(append(args, "-"), bytes.NewReader(data), &out, &errOut)
	return code, out.Bytes(), errOut.String()
}
