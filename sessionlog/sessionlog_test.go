package sessionlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

const header = `{"format":"gavel-log/2","session":"room-1","presets":{"host":{"kick_participant":true},"attendee":{}}}`

func cmdLine(id string) string {
	return `{"cmd":{"id":"` + id + `","type":"join","actor":"` + id + `","name":"N","preset":"host","audio":true,"video":false}}`
}

// readAll reads every record of log and returns the command ids (or
// "state" for a checkpoint) with the line each was on, and the error that
// ended the reading (nil at io.EOF).
func readAll(t *testing.T, log string) ([]string, error) {
	t.Helper()
	return readAllLimit(t, log, sessionlog.MaxLineLen)
}

// testLimit is the line limit the tests of the limit read with: the logic
// is the same as at MaxLineLen, for lines 64 times shorter.
const testLimit = 1 << 20

func readAllLimit(t *testing.T, log string, limit int) ([]string, error) {
	t.Helper()
	r, err := sessionlog.NewReaderLimit(strings.NewReader(log), limit)
	if err != nil {
		return nil, err
	}
	got := []string{fmt.Sprintf("header@%d", r.Line())}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		what := "state"
		if rec.HasCommand {
			what = rec.Command.ID
		}
		got = append(got, fmt.Sprintf("%s@%d", what, r.Line()))
	}
}

func TestReaderLineNumbers(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want []string
	}{
		{"plain", header + "\n" + cmdLine("a") + "\n" + cmdLine("b") + "\n", []string{"header@1", "a@2", "b@3"}},
		{"blank lines", "\n  \n" + header + "\n\n\t \r\n" + cmdLine("a") + "\n\n" + `{"state":{}}` + "\n\n",
			[]string{"header@3", "a@6", "state@8"}},
		{"CRLF", header + "\r\n" + cmdLine("a") + "\r\n\r\n" + cmdLine("b") + "\r\n", []string{"header@1", "a@2", "b@4"}},
		{"no trailing newline", header + "\n" + cmdLine("a") + "\n" + cmdLine("b"), []string{"header@1", "a@2", "b@3"}},
		{"CRLF, no trailing newline", header + "\r\n" + cmdLine("a") + "\r", []string{"header@1", "a@2"}},
		{"header only, no newline", header, []string{"header@1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.log)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name     string
		log      string
		line     int
		sentinel error  // matched with errors.Is, when set
		contains string // a word the message must have, so that it says what is wrong
	}{
		{"empty", "", 1, sessionlog.ErrNoHeader, "empty"},
		{"blank only", "\n \n\t\n", 3, sessionlog.ErrNoHeader, "empty"},
		{"header not JSON", "hello\n", 1, nil, "not a JSON object"},
		{"header after blanks not JSON", "\n\n[1]\n", 3, nil, "not a JSON object"},
		{"no header", cmdLine("a") + "\n", 1, nil, "format"},
		{"wrong format", `{"format":"gavel-log/3","session":"s"}` + "\n", 1, sessionlog.ErrFormat, `"gavel-log/3"`},
		{"gavel-log/1", `{"format":"gavel-log/1","session":"s"}` + "\n" + cmdLine("a") + "\n", 1, sessionlog.ErrFormat, `"gavel-log/1"`},
		{"repeated member", header + "\n" + `{"cmd":{"id":"a","type":"leave","actor":"a"},"events":[],"events":[]}` + "\n", 2,
			events.ErrRepeatedMember, "twice"},
		{"header not closed", `{"format":"gavel-log/2"` + "\n", 1, nil, "JSON"},
		{"record not JSON", header + "\n" + cmdLine("a") + "\n\nnope\n", 4, nil, "not a JSON object"},
		{"record truncated", header + "\n" + `{"cmd":{"id":"a"}` + "\n", 2, nil, "unexpected end"},
		{"trailing garbage", header + "\n" + cmdLine("a") + "x\n", 2, nil, "after top-level value"},
		{"cmd not an object", header + "\n" + `{"cmd":"join"}` + "\n", 2, nil, `"cmd"`},
		{"state not an object", header + "\n" + `{"state":[]}` + "\n", 2, nil, `"state"`},
		{"neither cmd nor state", header + "\n" + `{"events":[]}` + "\n", 2, nil, "neither"},
		{"null cmd", header + "\n" + `{"cmd":null}` + "\n", 2, nil, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.log)
			checkLineError(t, err, tt.line, tt.sentinel, tt.contains)
		})
	}
}

func checkLineError(t *testing.T, err error, line int, sentinel error, contains string) {
	t.Helper()
	var le *sessionlog.LineError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T), want a *LineError", err, err)
	}
	if le.Line != line {
		t.Errorf("error %q names line %d, want %d", err, le.Line, line)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %q does not match %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), contains) || !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", line)) {
		t.Errorf("error %q: want it to start with the line and say %q", err, contains)
	}
}

// paddedLine is a valid record line of exactly n bytes.
func paddedLine(n int) string {
	l := cmdLine("big")
	return l[:len(l)-1] + strings.Repeat(" ", n-len(l)) + "}"
}

func TestReaderLineLimit(t *testing.T) {
	ok := []struct{ name, log string }{
		{"exactly the limit", header + "\n" + paddedLine(testLimit) + "\n" + cmdLine("next") + "\n"},
		{"exactly the limit with CRLF", header + "\r\n" + paddedLine(testLimit) + "\r\n" + cmdLine("next") + "\r\n"},
		{"exactly the limit at the end, no newline", header + "\n" + cmdLine("next") + "\n" + paddedLine(testLimit)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAllLimit(t, tt.log, testLimit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Errorf("read %v, want the header and two records", got)
			}
		})
	}
	tooLong := []struct {
		name string
		log  string
		line int
	}{
		{"the limit + 1", header + "\n\n" + paddedLine(testLimit+1) + "\n" + cmdLine("next") + "\n", 3},
		{"the limit + 1 with CRLF", header + "\r\n" + paddedLine(testLimit+1) + "\r\n", 2},
		{"the limit + 1 at the end, no newline", header + "\n" + paddedLine(testLimit+1), 2},
		{"much longer", header + "\n" + paddedLine(5*testLimit) + "\n", 2},
		{"header the limit + 1", `{"format":"gavel-log/2"` + strings.Repeat(" ", testLimit-23) + "}\n", 1},
	}
	for _, tt := range tooLong {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAllLimit(t, tt.log, testLimit)
			checkLineError(t, err, tt.line, sessionlog.ErrLineTooLong, "1048576")
		})
	}
}

// TestReaderMaxLineLen: the SPEC's limit itself, 64 MiB: a line of exactly
// that is read, one byte more is refused.
func TestReaderMaxLineLen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 128 MiB of lines")
	}
	if _, err := readAll(t, header+"\n"+paddedLine(sessionlog.MaxLineLen)+"\n"); err != nil {
		t.Errorf("a line of MaxLineLen: %v", err)
	}
	_, err := readAll(t, header+"\n"+paddedLine(sessionlog.MaxLineLen+1)+"\n")
	checkLineError(t, err, 2, sessionlog.ErrLineTooLong, "67108864")
}

func TestReaderStickyError(t *testing.T) {
	r, err := sessionlog.NewReader(strings.NewReader(header + "\nnope\n" + cmdLine("a") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, first := r.Next()
	_, again := r.Next()
	if first == nil || again != first {
		t.Errorf("Next after an error returned %v, then %v; want the same error twice", first, again)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	in := io.MultiReader(strings.NewReader(header+"\n"+cmdLine("a")+"\n"), iotest.ErrReader(boom))
	r, err := sessionlog.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	if !errors.Is(err, boom) {
		t.Fatalf("Next: %v, want %v", err, boom)
	}
	checkLineError(t, err, 3, boom, "boom")
}

// TestRecordsOutliveTheReader checks that records do not share the Reader's
// buffer: read many lines, then look at the first records again.
func TestRecordsOutliveTheReader(t *testing.T) {
	var log strings.Builder
	log.WriteString(header + "\n")
	const n = 5000 // well past one 64 KiB buffer
	for i := range n {
		fmt.Fprintf(&log, `{"at":"t%d","cmd":{"id":"c%d","type":"leave","actor":"a"},"events":[],"error":{"code":%d}}`+"\n", i, i, i)
	}
	r, err := sessionlog.NewReader(strings.NewReader(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	var recs []sessionlog.Entry
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	for i, rec := range recs {
		want := fmt.Sprintf(`{"id":"c%d","type":"leave","actor":"a"}`, i)
		if string(rec.RawCommand) != want || rec.At != fmt.Sprintf("t%d", i) || string(rec.RawEvents) != "[]" ||
			string(rec.RawError) != fmt.Sprintf(`{"code":%d}`, i) {
			t.Fatalf("record %d: at %q, cmd %s, events %s, error %s", i, rec.At, rec.RawCommand, rec.RawEvents, rec.RawError)
		}
	}
}

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// written is one record as a test writes it and expects to read it back.
type written struct {
	At      string
	Raw     string // the command's JSON, for WriteRawCommand; empty for WriteCommand
	Command core.Command
	Events  []events.Event
	Err     *core.Error
	State   *core.Snapshot
}

func TestWriterRoundTrip(t *testing.T) {
	s := core.NewState("room-1", presets)
	var want []written
	apply := func(at string, cmd core.Command) {
		next, evs, err := reducer.Apply(s, cmd)
		w := written{At: at, Command: cmd, Events: evs}
		if err != nil {
			w.Err = err.(*core.Error)
		}
		want = append(want, w)
		s = next
	}
	apply("2025-03-14T17:00:00Z", core.Command{ID: "c1", Type: core.Join, Actor: "ann", Name: "Ann \"the host\"", Preset: "host", Audio: true, Video: true})
	apply("", core.Command{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob ☃", Preset: "attendee", Audio: true})
	apply("2025-03-14T17:00:02.5+01:00", core.Command{ID: "c3", Type: core.DisableAudio, Actor: "bob", Target: "ann"})
	apply("", core.Command{ID: "c4", Type: core.Pin, Actor: "ann", Target: "bob"})
	snap := s.Snapshot()
	want = append(want, written{State: &snap})
	want = append(want, written{Raw: `{"id":"c5","type":"set_audio","actor":"bob","enabled":"yes","extra":[1,2]}`,
		Err: core.Errorf(core.CodeInvalidCommand, "enabled must be a bool")})

	var buf bytes.Buffer
	w, err := sessionlog.NewWriter(&buf, sessionlog.Header{Session: "room-1", Presets: presets})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range want {
		var err error
		switch {
		case rec.State != nil:
			err = w.WriteCheckpoint(*rec.State)
		case rec.Raw != "":
			err = w.WriteRawCommand(rec.At, []byte(rec.Raw), rec.Events, rec.Err)
		case rec.Err != nil:
			err = w.WriteCommand(rec.At, rec.Command, nil, rec.Err)
		default:
			err = w.WriteCommand(rec.At, rec.Command, rec.Events, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written before Flush", buf.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	got := readBack(t, &buf, sessionlog.Header{Session: "room-1", Presets: presets})
	for i := range want {
		if want[i].Raw != "" {
			want[i].Command = core.Command{ID: "c5", Type: core.SetAudio, Actor: "bob"}
		}
	}
	// Errors compare by code: messages are for people.
	byCode := cmp.Comparer(func(a, b *core.Error) bool { return a == nil && b == nil || a != nil && b != nil && a.Code == b.Code })
	if diff := cmp.Diff(want, got, byCode, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("records read back (-written +read):\n%s", diff)
	}
}

// readBack reads a log written by a Writer, checking its header.
func readBack(t *testing.T, log io.Reader, wantHeader sessionlog.Header) []written {
	t.Helper()
	r, err := sessionlog.NewReader(log)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantHeader, r.Header()); diff != "" {
		t.Errorf("header (-written +read):\n%s", diff)
	}
	var got []written
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != nil {
			got = append(got, written{State: rec.State})
			continue
		}
		evs, cerr, err := rec.Outcome()
		if err != nil {
			t.Fatal(err)
		}
		w := written{At: rec.At, Command: rec.Command, Events: evs, Err: cerr}
		if rec.CommandErr != nil {
			w.Raw = string(rec.RawCommand)
		}
		got = append(got, w)
	}
}

func TestAppendWriter(t *testing.T) {
	var log bytes.Buffer
	h := sessionlog.Header{Session: "room-1", Presets: presets}
	w, err := sessionlog.NewWriter(&log, h)
	if err != nil {
		t.Fatal(err)
	}
	join := core.Command{ID: "c1", Type: core.Join, Actor: "ann", Name: "Ann", Preset: "host"}
	s, evs, _ := reducer.Apply(core.NewState("room-1", presets), join)
	if err := w.WriteCommand("", join, evs, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	// Later, another Writer adds to the same log without a second header.
	w = sessionlog.NewAppendWriter(&log)
	leave := core.Command{ID: "c2", Type: core.Leave, Actor: "ann"}
	_, evs2, _ := reducer.Apply(s, leave)
	if err := w.WriteCommand("", leave, evs2, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	got := readBack(t, &log, h)
	want := []written{{Command: join, Events: evs}, {Command: leave, Events: evs2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestWriterRefuses(t *testing.T) {
	w := sessionlog.NewAppendWriterLimit(io.Discard, testLimit)
	if err := w.WriteRawCommand("", []byte("{\"id\":\n\"c1\"}"), nil, nil); !errors.Is(err, sessionlog.ErrNewline) {
		t.Errorf("a command spanning lines: %v, want ErrNewline", err)
	}
	// 20,000 events make a line of about 1.8 MB.
	evs := make([]events.Event, 20000)
	for i := range evs {
		evs[i] = &events.AudioUpdate{Seq: uint64(i + 1), Participant: fmt.Sprintf("participant-%d", i), By: "host"}
	}
	cmd := core.Command{ID: "c1", Type: core.DisableAllAudio, Actor: "host"}
	if err := w.WriteCommand("", cmd, evs, nil); !errors.Is(err, sessionlog.ErrLineTooLong) {
		t.Errorf("a record longer than the limit: %v, want ErrLineTooLong", err)
	}
	// The Writer is still usable: nothing of the refused lines was written.
	var buf bytes.Buffer
	w = sessionlog.NewAppendWriterLimit(&buf, testLimit)
	_ = w.WriteCommand("", cmd, evs, nil)
	if err := w.Flush(); err != nil || buf.Len() != 0 {
		t.Errorf("after a refused line: Flush %v, %d bytes written; want nothing", err, buf.Len())
	}
}

// place is where a Reader says a record is.
type place struct {
	ID          string
	Line        int
	Offset, End int64
}

// places reads the records of r to the end.
func places(t *testing.T, r *sessionlog.Reader) []place {
	t.Helper()
	var got []place
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, place{rec.Command.ID, r.Line(), r.Offset(), r.End()})
	}
}

// TestReaderOffsets checks that Offset and End frame each record's line in
// the log, line ending included, and agree with Line; and that a Reader
// resumed after any record reads the rest as the first one did.
func TestReaderOffsets(t *testing.T) {
	logs := map[string]string{
		"plain":        header + "\n" + cmdLine("a") + "\n" + cmdLine("b") + "\n",
		"blank lines":  "\n  \n" + header + "\n\n\t \r\n" + cmdLine("a") + "\n\n" + cmdLine("b") + "\n\n",
		"CRLF":         header + "\r\n" + cmdLine("a") + "\r\n\r\n" + cmdLine("b") + "\r\n",
		"no final EOL": header + "\n" + cmdLine("a") + "\n" + cmdLine("b"),
		"long lines": header + "\n" + paddedLine(testLimit) + "\n" + cmdLine("a") + "\n" +
			paddedLine(100<<10) + "\r\n" + cmdLine("b") + "\n",
	}
	for name, log := range logs {
		t.Run(name, func(t *testing.T) {
			r, err := sessionlog.NewReader(strings.NewReader(log))
			if err != nil {
				t.Fatal(err)
			}
			h, hLine, hEnd := r.Header(), r.Line(), r.End()
			if got := log[r.Offset():r.End()]; !strings.HasPrefix(got, header) || strings.TrimRight(got, "\r\n") != header {
				t.Errorf("header at [%d:%d] = %.40q", r.Offset(), r.End(), got)
			}
			all := places(t, r)
			if r.End() != int64(len(log)) {
				t.Errorf("End at io.EOF = %d, want the log's length %d", r.End(), len(log))
			}
			prev := hEnd
			for _, p := range all {
				line := log[p.Offset:p.End]
				if body, ok := strings.CutSuffix(line, "\n"); ok {
					line = strings.TrimSuffix(body, "\r")
				} else if p.End != int64(len(log)) {
					t.Errorf("%+v: the line does not end with a newline", p)
				}
				if strings.Contains(line, "\n") || !strings.Contains(line, `"id":"`+p.ID+`"`) {
					t.Errorf("%+v: not the record's line: %.60q", p, line)
				}
				if n := strings.Count(log[:p.Offset], "\n") + 1; n != p.Line || p.Offset < prev {
					t.Errorf("%+v: the line at Offset is line %d; the previous line ended at %d", p, n, prev)
				}
				prev = p.End
			}
			// Resuming after the header, or after any record, reads the rest
			// alike.
			resumes := append([]place{{Line: hLine, End: hEnd}}, all...)
			for i, at := range resumes {
				rr := sessionlog.ResumeReader(strings.NewReader(log[at.End:]), h, at.Line, at.End)
				if diff := cmp.Diff(all[i:], places(t, rr), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("resumed at line %d, byte %d (-first reading +resumed):\n%s", at.Line, at.End, diff)
				}
				if rr.Header().Session != "room-1" || rr.End() != int64(len(log)) {
					t.Errorf("resumed at %d: header %+v, End %d", at.End, rr.Header(), rr.End())
				}
			}
		})
	}
}

// TestResumedLineErrors checks that a resumed Reader's errors name the
// line in the whole log.
func TestResumedLineErrors(t *testing.T) {
	log := header + "\n" + cmdLine("a") + "\n\nnope\n"
	off := int64(len(header) + 1 + len(cmdLine("a")) + 1)
	r := sessionlog.ResumeReader(strings.NewReader(log[off:]), sessionlog.Header{}, 2, off)
	_, err := r.Next()
	checkLineError(t, err, 4, nil, "not a JSON object")
	if r.Offset() != off+1 {
		t.Errorf("Offset after the error = %d, want %d, the bad line's", r.Offset(), off+1)
	}
}
