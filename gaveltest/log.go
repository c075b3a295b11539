package gaveltest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// WriteLog writes the session to w as a recorded session log (gavel-log/2,
// SPEC §4): its header, every command with the outcome the reducer gives
// it, and a checkpoint of the final state. RunLog and replay -verify accept
// what it writes.
//
// A command is written as JSON carries it: without the fields its type
// does not read, and with U+FFFD for each byte of a string that is not
// valid UTF-8 (a log is UTF-8); its outcome is the reducer's on the
// command as written. A session drawn by Sessions reads back (CheckLog)
// into the same session but for those two.
func (s Session) WriteLog(w io.Writer) error {
	lw, err := sessionlog.NewWriter(w, sessionlog.Header{Session: s.ID, Presets: s.Presets})
	if err != nil {
		return err
	}
	st := s.Start()
	for _, c := range s.Commands {
		c = asWritten(c)
		next, evs, err := reducer.Apply(st, c)
		st = next
		if err := lw.WriteCommand("", c, evs, err); err != nil {
			return err
		}
	}
	if err := lw.WriteCheckpoint(st.Snapshot()); err != nil {
		return err
	}
	return lw.Flush()
}

// asWritten is c as a log reads it back: encoded, then decoded.
func asWritten(c core.Command) core.Command {
	// The codec's error here is about c's strings (too long), which the
	// decoded command keeps: the reducer rejects it for them.
	back, _ := events.DecodeCommand(events.AppendCommand(nil, c))
	return back
}

// TB is what Record needs of a test: *testing.T, *testing.B, *testing.F
// and *rapid.T have it.
type TB interface {
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
}

// Record writes s to the file at path as a recorded log (WriteLog) when
// the test t ends, if it failed, creating the file's directory if needed;
// it logs where it wrote. In a rapid property, call it with the *rapid.T
// and the session drawn: rapid runs the shrunk, minimal failing session
// last, so the file ends up holding that one. Kept under testdata, the
// file is a regression test: RunLog checks gavel's part of it and returns
// the session, for the property to run on again:
//
//	rapid.Check(t, func(t *rapid.T) {
//		s := gaveltest.Sessions(presets).Draw(t, "session")
//		gaveltest.Record(t, s, "testdata/roster-failure.jsonl")
//		if err := checkRoster(s); err != nil {
//			t.Fatal(err)
//		}
//	})
//
// A property that panics (rather than failing through t) is not seen as
// failed when t's cleanups run, and writes nothing.
func Record(t TB, s Session, path string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if err := writeFile(path, s); err != nil {
			t.Logf("gaveltest: recording the failing session: %v", err)
			return
		}
		t.Logf("gaveltest: the failing session is in %s (gaveltest.RunLog runs it)", path)
	})
}

func writeFile(path string, s Session) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = s.WriteLog(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// RunLog runs the session log at path (gavel-log/2: a script of commands,
// or a recorded log such as Record writes) as a test: it checks the log as
// CheckLog does and fails t at the first line that breaks something, with
// the file and line, the command as written, and a diff of what the log
// recorded against what gavel does now. It returns the session the log
// holds, for a property of your own to run on:
//
//	func TestRosterRegressions(t *testing.T) {
//		files, _ := filepath.Glob("testdata/*.jsonl")
//		for _, f := range files {
//			t.Run(filepath.Base(f), func(t *testing.T) {
//				if err := checkRoster(gaveltest.RunLog(t, f)); err != nil {
//					t.Fatal(err)
//				}
//			})
//		}
//	}
func RunLog(t testing.TB, path string) Session {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := CheckLog(f)
	var le *lineError
	var invalid *sessionlog.LineError
	switch {
	case errors.As(err, &le):
		t.Fatalf("%s:%d: %s", path, le.line, le.body())
	case errors.As(err, &invalid):
		t.Fatalf("%s:%d: %v", path, invalid.Line, invalid.Err)
	case err != nil:
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// CheckLog reads a session log from r and checks it, line by line, against
// the reducer (package sessionlog's Replayer) and the invariants (a
// Checker): every recorded outcome (events field by field, or the error's
// code) and every checkpoint must be what gavel produces now, and every
// command must keep every invariant. A command whose outcome the log does
// not record is run and checked all the same.
//
// It returns the session the log holds, and the first failure: a
// *sessionlog.LineError for a log that is not valid, else an error naming
// the line and the command as written, which unwraps to the
// *sessionlog.Divergence (its message has the diff) or to the invariants
// the step breaks.
//
// A command that JSON cannot hold as a core.Command (a script's
// "enabled": "yes" is one) is checked, as invalid_command, and left out
// of the session.
//
// The Checker's cost grows with the square of the log's length: CheckLog
// is for a test's logs, of hundreds of commands; sessionlog.Verify checks
// a log of any length, without the invariants, in constant memory.
func CheckLog(r io.Reader) (Session, error) {
	p, err := sessionlog.NewReplayer(r)
	if err != nil {
		return Session{}, err
	}
	h := p.Header()
	s := Session{ID: h.Session, Presets: h.Presets}
	chk := NewChecker(s.Start())
	for {
		st, err := p.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return s, err
		}
		if d := p.Check(st); d != nil {
			return s, &lineError{line: d.Line, cmd: d.Command, err: diverged{d}}
		}
		if !st.Entry.HasCommand {
			continue
		}
		cmd := st.Entry.Command
		if st.Entry.CommandErr != nil && !sameCode(st.Err, reducer.WellFormed(cmd)) {
			continue // not a core.Command: see above
		}
		s.Commands = append(s.Commands, cmd)
		// The Replayer's state changes in place: the Checker, which keeps
		// states, folds its own.
		after := chk.State()
		if st.Err == nil {
			after = reducer.Fold(after, st.Events)
		}
		if err := chk.Step(cmd, after, st.Events, st.Err); err != nil {
			// The line names the step: its invariants are the news.
			return s, &lineError{line: st.Line, cmd: st.Entry.RawCommand, err: errors.Join(err.(*stepError).errs...)}
		}
	}
}

// lineError is a failure of one line of a log.
type lineError struct {
	line int
	cmd  []byte // the command as written, if the line has one
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.body()) }

// body is the error without its line.
func (e *lineError) body() string {
	if e.cmd == nil {
		return e.err.Error()
	}
	return fmt.Sprintf("%s: %v", e.cmd, e.err)
}

func (e *lineError) Unwrap() error { return e.err }

// diverged is a Divergence whose message is its sentence and its diff.
type diverged struct{ d *sessionlog.Divergence }

func (d diverged) Error() string {
	if d.d.Diff == "" {
		return d.d.What
	}
	return d.d.What + ":\n" + d.d.Diff
}

func (d diverged) Unwrap() error { return d.d }
