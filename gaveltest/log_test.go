package gaveltest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// TestWriteLogReadsBack writes drawn sessions as logs: they verify, and
// read back into the session as written.
func TestWriteLogReadsBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := Sessions(nil).Draw(t, "session")
		var buf bytes.Buffer
		if err := s.WriteLog(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := sessionlog.Verify(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("the log does not verify: %v\n%s", err, buf.String())
		}
		back, err := CheckLog(&buf)
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.Commands = nil
		for _, c := range s.Commands {
			want.Commands = append(want.Commands, asWritten(c))
		}
		if d := cmp.Diff(want, back); d != "" {
			t.Fatalf("read back (-written +read):\n%s", d)
		}
	})
}

// TestAsWritten: what changes when a command is written.
func TestAsWritten(t *testing.T) {
	for _, tc := range []struct{ in, want core.Command }{
		{core.Command{ID: "c1", Type: core.Leave, Actor: "alice", Target: "bob", Name: "A", Audio: true},
			core.Command{ID: "c1", Type: core.Leave, Actor: "alice"}},
		{core.Command{ID: "c1\xff", Type: core.Join, Actor: "alice", Name: "A\xc3"},
			core.Command{ID: "c1\ufffd", Type: core.Join, Actor: "alice", Name: "A\ufffd"}},
		{core.Command{ID: strings.Repeat("x", 300), Type: "mute", Actor: "alice", Target: "bob"},
			core.Command{ID: strings.Repeat("x", 300), Type: "mute", Actor: "alice", Target: "bob"}},
	} {
		if d := cmp.Diff(tc.want, asWritten(tc.in)); d != "" {
			t.Errorf("%#v (-want +got):\n%s", command(tc.in), d)
		}
	}
}

var logSession = Session{ID: "room", Presets: checkPresets, Commands: []core.Command{
	{ID: "c1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true},
	{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true},
	{ID: "c3", Type: core.Kick, Actor: "bob", Target: "alice"},
	{ID: "c4", Type: core.DisableAllAudio, Actor: "alice"},
}}

func writeLog(t *testing.T, s Session) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteLog(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestCheckLogFails doctors a recorded log one way at a time and expects
// CheckLog to name the line, the command and the difference.
func TestCheckLogFails(t *testing.T) {
	log := writeLog(t, logSession)
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"an event's field", `"count":2`, `"count":1`,
			[]string{`line 5: {"id":"c4","type":"disable_all_audio","actor":"alice"}: the recorded outcome differs from the reducer's:`,
				`-   "count": 1`, `+   "count": 2`}},
		{"a rejection's code", `"code":1201`, `"code":1202`,
			[]string{`line 4: {"id":"c3","type":"kick","actor":"bob","target":"alice"}: the recorded outcome differs`,
				`- "error": {"code":1202,"name":"participant_not_found"}`, `+ "error": {"code":1201,"name":"permission_denied"}`}},
		{"the checkpoint", `"pinned":null`, `"pinned":"bob"`,
			[]string{`line 6: the checkpoint differs from the replayed state:`, `- "pinned": "bob"`, `+ "pinned": null`}},
		{"a line", `{"state"`, `["state"`, []string{`line 6: `}},
	} {
		doctored := strings.Replace(log, tc.old, tc.new, 1)
		if doctored == log {
			t.Fatalf("%s: %q is not in the log:\n%s", tc.name, tc.old, log)
		}
		_, err := CheckLog(strings.NewReader(doctored))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to say %q", tc.name, err, w)
			}
		}
	}
	if _, err := CheckLog(strings.NewReader(log)); err != nil {
		t.Errorf("the log as written: %v", err)
	}
	var d *sessionlog.Divergence
	if _, err := CheckLog(strings.NewReader(strings.Replace(log, `"count":2`, `"count":1`, 1))); !errors.As(err, &d) || d.Line != 5 {
		t.Errorf("a divergence is not a *sessionlog.Divergence of line 5: %v", err)
	}
}

// TestCheckLogScript runs a script (no outcomes) with a command JSON holds
// but a core.Command cannot: it is checked, and left out of the session.
func TestCheckLogScript(t *testing.T) {
	script := `{"format":"gavel-log/2","session":"room","presets":{"host":{"kick_participant":true}}}
{"cmd":{"id":"c1","type":"join","actor":"alice","preset":"host"}}
{"cmd":{"id":"c2","type":"set_audio","actor":"alice","enabled":"yes"}}
{"cmd":{"id":"","type":"leave","actor":"alice"}}
{"cmd":{"id":"c4","type":"set_audio","actor":"alice","enabled":true}}
`
	s, err := CheckLog(strings.NewReader(script))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range s.Commands {
		ids = append(ids, c.ID)
	}
	if d := cmp.Diff([]string{"c1", "", "c4"}, ids); d != "" {
		t.Errorf("the session's commands (-want +got):\n%s", d)
	}
}

// fatalTB is a testing.TB whose Fatal ends the goroutine, keeping what it
// said.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runLog runs RunLog on path with a fatalTB and returns what it said.
func runLog(t *testing.T, path string) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunLog(f, path)
	}()
	<-done
	return f.msg
}

func TestRunLog(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	log := writeLog(t, logSession)
	if err := os.WriteFile(good, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := runLog(t, good); msg != "" {
		t.Errorf("the log as written: %s", msg)
	}
	if d := cmp.Diff(logSession, RunLog(t, good)); d != "" {
		t.Errorf("the session (-written +run):\n%s", d)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(strings.Replace(log, `"count":2`, `"count":1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := bad + `:5: {"id":"c4","type":"disable_all_audio","actor":"alice"}: the recorded outcome differs from the reducer's:` + "\n" +
		`  "events"[0]:` + "\n" + `-   "count": 1` + "\n" + `+   "count": 2` + "\n"
	if d := cmp.Diff(want, runLog(t, bad)); d != "" {
		t.Errorf("RunLog of a doctored log (-want +got):\n%s", d)
	}
	invalid := filepath.Join(dir, "invalid.jsonl")
	if err := os.WriteFile(invalid, []byte(log+"[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := runLog(t, invalid); !strings.HasPrefix(msg, invalid+":7: ") {
		t.Errorf("RunLog of an invalid log: %s", msg)
	}
}

// recorder is a TB for Record.
type recorder struct {
	failed   bool
	cleanups []func()
	logs     []string
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Failed() bool     { return r.failed }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) end() {
	slices.Reverse(r.cleanups)
	for _, f := range r.cleanups {
		f()
	}
}

// TestRecord writes the session only when the test failed, where it says.
func TestRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "failure.jsonl")
	passed := &recorder{}
	Record(passed, logSession, path)
	passed.end()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) || len(passed.logs) != 0 {
		t.Fatalf("a test that passed: %v, logs %q", err, passed.logs)
	}
	failed := &recorder{failed: true}
	Record(failed, logSession, path)
	failed.end()
	if d := cmp.Diff([]string{"gaveltest: the failing session is in " + path + " (gaveltest.RunLog runs it)"}, failed.logs); d != "" {
		t.Errorf("logs (-want +got):\n%s", d)
	}
	if d := cmp.Diff(logSession, RunLog(t, path)); d != "" {
		t.Errorf("the recorded session (-want +got):\n%s", d)
	}
}

// records are logSession's as a runtime appends them.
func records(t *testing.T, s Session) []sessionlog.Record {
	t.Helper()
	var recs []sessionlog.Record
	steps, err := s.Play()
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		r := sessionlog.Record{Pos: sessionlog.Position(i + 1), Command: st.Command, Events: st.Events}
		if st.Err != nil {
			r.Err = st.Err.(*core.Error)
		}
		recs = append(recs, r)
	}
	return recs
}

var header = sessionlog.Header{Session: "room", Presets: checkPresets}

func TestCheckRecords(t *testing.T) {
	recs := records(t, logSession)
	got, err := CheckRecords(header, recs, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := reducer.Fold(logSession.Start(), slices.Concat(recs[0].Events, recs[1].Events, recs[3].Events)); !got.Equal(want) {
		t.Errorf("the state: %+v, want %+v", got.Snapshot(), want.Snapshot())
	}
	again := recs[1]
	again.Pos = 5
	malformed := sessionlog.Record{Pos: 5, Command: core.Command{ID: "c5", Type: "mute", Actor: "bob"},
		Err: core.Errorf(core.CodeInvalidCommand, "unknown")}
	doctored := recs[3]
	doctored.Events = []events.Event{&events.AllAudioDisabled{Seq: 3, Count: 1, By: "alice"}}
	for _, tc := range []struct {
		name   string
		recs   []sessionlog.Record
		window int
		want   string
	}{
		{"a record lost", slices.Delete(slices.Clone(recs), 1, 2), 10,
			`record 1 (position 3): {"id":"c3","type":"kick","actor":"bob","target":"alice"}: the recorded outcome differs from the reducer's:`},
		{"a command twice", append(slices.Clone(recs), again), 10,
			`record 4 (position 5): {"id":"c2","type":"join","actor":"bob","name":"Bob","preset":"attendee","audio":true,"video":false}: ` +
				`command "c2" is recorded again 3 records after record 1, within the idempotency window of 10: it has two outcomes`},
		{"a command that fails check 1", append(slices.Clone(recs), malformed), 10,
			`record 4 (position 5): {"id":"c5","type":"mute","actor":"bob"}: invalid_command (1210): unknown command type "mute"`},
		{"an event", append(slices.Clone(recs[:3]), doctored), 10, `-   "count": 1` + "\n" + `+   "count": 2`},
	} {
		_, err := CheckRecords(header, tc.recs, tc.window)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant it to say %s", tc.name, err, tc.want)
		}
	}
	// Beyond the window, or with none, a command id may come again.
	for _, w := range []int{0, 2} {
		if _, err := CheckRecords(header, append(slices.Clone(recs), records(t, Session{ID: "room", Presets: checkPresets,
			Commands: slices.Concat(logSession.Commands, []core.Command{logSession.Commands[0]})})[4]), w); err != nil {
			t.Errorf("window %d: %v", w, err)
		}
	}
}

func TestCheckAnswers(t *testing.T) {
	recs := records(t, logSession)
	var answers []Answer
	for _, r := range recs {
		a := Answer{Command: r.Command, Events: r.Events}
		if r.Err != nil {
			a.Err = r.Err
		}
		answers = append(answers, a)
	}
	transient := errors.New("timeout")
	invalid := core.Command{ID: "", Type: core.Leave, Actor: "bob"}
	fine := append(slices.Clone(answers), Answer{Command: recs[3].Command, Err: transient},
		Answer{Command: invalid, Err: core.Errorf(core.CodeInvalidCommand, "empty id")},
		Answer{Command: recs[2].Command, Err: fmt.Errorf("wrapped: %w", recs[2].Err)})
	if err := CheckAnswers(recs, fine); err != nil {
		t.Errorf("answers as logged: %v", err)
	}
	for _, tc := range []struct {
		name    string
		answers []Answer
		want    string
	}{
		{"other events", append(slices.Clone(answers), Answer{Command: recs[3].Command,
			Events: []events.Event{&events.AllAudioDisabled{Seq: 3, Count: 1, By: "alice"}}}),
			`c4 was answered [{"seq":3,"type":"all_audio_disabled","count":1,"by":"alice"}]; the log says [{"seq":3,"type":"all_audio_disabled","count":2,"by":"alice"}]`},
		{"another code", append(slices.Clone(answers), Answer{Command: recs[2].Command, Err: core.Errorf(core.CodeParticipantNotFound, "x")}),
			"c3 was answered participant_not_found (1202); the log says permission_denied (1201)"},
		{"applied, not rejected", append(slices.Clone(answers), Answer{Command: recs[2].Command}),
			"c3 was answered []; the log says permission_denied (1201)"},
		{"not in the log", append(slices.Clone(answers), Answer{Command: core.Command{ID: "c9", Type: core.Leave, Actor: "bob"}}),
			"c9 was answered [], but the log does not have it"},
		{"nobody sent it", answers[1:], "the log has c1, which nobody sent"},
	} {
		if err := CheckAnswers(recs, tc.answers); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant it to say %s", tc.name, err, tc.want)
		}
	}
}

func TestCheckEvents(t *testing.T) {
	steps, err := logSession.Play()
	if err != nil {
		t.Fatal(err)
	}
	from, to := steps[0].After, steps[len(steps)-1].After
	var evs []events.Event
	for _, st := range steps[1:] {
		evs = append(evs, st.Events...)
	}
	if err := CheckEvents(from, evs, to); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		evs  []events.Event
		to   core.State
		want string
	}{
		{"a gap", evs[1:], to, "event 0 (all_audio_disabled) has seq 3, want 2: events after seq 1 are missing, repeated or out of order"},
		{"a repeat", slices.Concat(evs[:1], evs), to, "event 1 (participant_joined) has seq 2, want 3"},
		{"another state", evs, from, "the events, one at a time, do not give the state (-state +evolved):"},
		{"two pinned", slices.Concat(evs, []events.Event{&events.Pinned{Seq: 4, Participant: "alice", By: "alice"},
			&events.Pinned{Seq: 5, Participant: "bob", By: "alice"}}), to, "bob pinned at seq 5 while alice is still pinned"},
	} {
		if err := CheckEvents(from, tc.evs, tc.to); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant it to say %s", tc.name, err, tc.want)
		}
	}
}

// TestClients: each client's list is its own, a join first, with ids
// unique in the session, and no kick_all; the same seed draws the same.
func TestClients(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n, each := rapid.IntRange(1, len(people)).Draw(t, "n"), rapid.IntRange(1, 30).Draw(t, "each")
		presets := Presets().Draw(t, "presets")
		lists := Clients(presets, n, each).Draw(t, "clients")
		seen := map[string]bool{}
		if len(lists) != n {
			t.Fatalf("%d lists for %d clients", len(lists), n)
		}
		for i, cmds := range lists {
			if len(cmds) != each || cmds[0].Type != core.Join {
				t.Fatalf("client %d: %d commands, the first %#v", i, len(cmds), command(cmds[0]))
			}
			for _, c := range cmds {
				if c.Actor != people[i] || seen[c.ID] || c.Type == core.KickAll || reducer.WellFormed(c) != nil {
					t.Fatalf("client %d sends %#v", i, command(c))
				}
				seen[c.ID] = true
			}
		}
	})
	a, b := Clients(checkPresets, 3, 20).Example(7), Clients(checkPresets, 3, 20).Example(7)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("the same seed, other lists:\n%s", d)
	}
	if a[0][0].Preset != "host" {
		t.Errorf("client 0 joins as %q, not the preset that grants the most", a[0][0].Preset)
	}
}
