package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// replay runs the command in process with stdin and args.
func replay(stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// writeFile writes content to a file in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const header = `{"format":"gavel-log/2","session":"room-1","presets":{"attendee":{},"host":{"disable_participant_audio":true,"disable_participant_video":true,"pin_participant":true,"kick_participant":true}}}`

// script is a log of commands only, with a checkpoint to be filled in.
const script = header + `

{"at":"2025-03-14T17:00:00Z","cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":true}}
{"cmd":{"id":"c2","type":"join","actor":"bob","name":"Bob B","preset":"attendee","audio":true,"video":false}}
{"at":"2025-03-14T17:00:05Z","cmd":{"id":"c3","type":"disable_audio","actor":"bob","target":"ann"}}
{"cmd":{"id":"c4","type":"disable_audio","actor":"ann","target":"bob"}}
{"cmd":{"id":"c5","type":"set_audio","actor":"bob","enabled":"yes"}}
{"cmd":{"id":"c6","type":"pin","actor":"ann","target":"ann"}}
{"cmd":{"id":"c7","type":"pin","actor":"ann","target":"bob"}}
{"state":{}}
{"cmd":{"id":"c8","type":"kick_all","actor":"ann"}}
`

// recorded is what replay -json makes of script.
const recorded = header + `
{"at":"2025-03-14T17:00:00Z","cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":true},"events":[{"seq":1,"type":"participant_joined","participant":"ann","name":"Ann","preset":"host","audio_enabled":true,"video_enabled":true}]}
{"cmd":{"id":"c2","type":"join","actor":"bob","name":"Bob B","preset":"attendee","audio":true,"video":false},"events":[{"seq":2,"type":"participant_joined","participant":"bob","name":"Bob B","preset":"attendee","audio_enabled":true,"video_enabled":false}]}
{"at":"2025-03-14T17:00:05Z","cmd":{"id":"c3","type":"disable_audio","actor":"bob","target":"ann"},"error":{"code":1201,"name":"permission_denied","message":"preset \"attendee\" may not disable_audio"}}
{"cmd":{"id":"c4","type":"disable_audio","actor":"ann","target":"bob"},"events":[{"seq":3,"type":"audio_update","participant":"bob","audio_enabled":false,"by":"ann"}]}
{"cmd":{"id":"c5","type":"set_audio","actor":"bob","enabled":"yes"},"error":{"code":1210,"name":"invalid_command","message":"command: \"enabled\" must be true or false, not \"yes\""}}
{"cmd":{"id":"c6","type":"pin","actor":"ann","target":"ann"},"events":[{"seq":4,"type":"pinned","participant":"ann","by":"ann"}]}
{"cmd":{"id":"c7","type":"pin","actor":"ann","target":"bob"},"events":[{"seq":5,"type":"unpinned","participant":"ann","by":"ann"},{"seq":6,"type":"pinned","participant":"bob","by":"ann"}]}
{"state":{"session":"room-1","seq":6,"ended":false,"pinned":"bob","participants":[{"id":"ann","name":"Ann","preset":"host","audio_enabled":true,"video_enabled":true},{"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":false,"video_enabled":false}]}}
{"cmd":{"id":"c8","type":"kick_all","actor":"ann"},"events":[{"seq":7,"type":"session_ended","by":"ann"}]}
`

func TestJSONRecordsAScript(t *testing.T) {
	got := replay("", "-json", writeFile(t, "script.jsonl", script))
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("replay -json: exit %d, stderr %q", got.code, got.stderr)
	}
	if diff := cmp.Diff(recorded, got.stdout); diff != "" {
		t.Errorf("replay -json (-want +got):\n%s", diff)
	}
	// What -json writes, -verify accepts, and -json writes again unchanged.
	if v := replay(got.stdout, "-verify", "-"); v.code != 0 {
		t.Errorf("replay -verify of the recorded log: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	if again := replay(got.stdout, "-json", "-"); again.stdout != got.stdout {
		t.Errorf("replay -json of a recorded log changed it:\n%s", cmp.Diff(got.stdout, again.stdout))
	}
}

func TestTimeline(t *testing.T) {
	got := replay(script, "-")
	want := `session room-1, presets {"attendee":{},"host":{"disable_participant_audio":true,"disable_participant_video":true,"pin_participant":true,"kick_participant":true}}
#N is an event's seq; "differs" marks a recorded outcome or checkpoint the reducer does not reproduce

 line  at        id                    command            actor → target            outcome
    3  17:00:00  c1                    join               ann                       #1 participant_joined ann "Ann" preset host, audio on, video on
    4            c2                    join               bob                       #2 participant_joined bob "Bob B" preset attendee, audio on, video off
    5  17:00:05  c3                    disable_audio      bob → ann                 error permission_denied (1201): preset "attendee" may not disable_audio
    6            c4                    disable_audio      ann → bob                 #3 audio_update bob audio off by ann
    7            c5                    set_audio          bob                       error invalid_command (1210): command: "enabled" must be true or false, not "yes"
    8            c6                    pin                ann → ann                 #4 pinned ann by ann
    9            c7                    pin                ann → bob                 #5 unpinned ann by ann
                                                                                    #6 pinned bob by ann
   10                                  checkpoint                                   seq 6, 2 joined, pinned bob, the recorded checkpoint differs (see -verify)
   11            c8                    kick_all           ann                       #7 session_ended by ann
`
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("exit %d, stderr %q", got.code, got.stderr)
	}
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	// In a recorded log, the checkpoint agrees.
	rec := replay(recorded, "-")
	if want := "   9                                  checkpoint                                   seq 6, 2 joined, pinned bob, as recorded\n"; !strings.Contains(rec.stdout, want) {
		t.Errorf("timeline of the recorded log:\n%s\nwant the row\n%s", rec.stdout, want)
	}
	if strings.Contains(rec.stdout, "outcome differs") {
		t.Errorf("timeline of a log the reducer reproduces flags a difference:\n%s", rec.stdout)
	}
}

// TestTimelineFlagsRecordedOutcomes: a command whose recorded outcome the
// reducer does not reproduce (other events, another error, an outcome that
// does not decode) gets a row saying so, as a checkpoint does.
func TestTimelineFlagsRecordedOutcomes(t *testing.T) {
	const flag = "the recorded outcome differs (see -verify)"
	for _, tc := range []struct{ name, old, new string }{
		{"other events", `"audio_enabled":false,"by":"ann"`, `"audio_enabled":false,"by":"bob"`},
		{"another error", `"code":1201,"name":"permission_denied"`, `"code":1202,"name":"not_joined"`},
		{"events for a rejection", `,"error":{"code":1201,"name":"permission_denied","message":"preset \"attendee\" may not disable_audio"}`, `,"events":[]`},
	} {
		got := replay(doctor(t, tc.old, tc.new), "-")
		rows := strings.Split(got.stdout, "\n")
		i := slices.IndexFunc(rows, func(r string) bool { return strings.HasSuffix(r, flag) })
		if got.code != 0 || i < 1 || strings.Count(got.stdout, flag) != 1 {
			t.Errorf("%s: exit %d, want one row %q:\n%s", tc.name, got.code, flag, got.stdout)
			continue
		}
		if strings.TrimSpace(rows[i][:len(rows[i])-len(flag)]) != "" {
			t.Errorf("%s: the flag is not a row of its own: %q", tc.name, rows[i])
		}
	}
}

// column is where sub starts in row, in characters.
func column(row, sub string) int { return utf8.RuneCountInString(row[:strings.Index(row, sub)]) }

// TestTimelineLongIDs: ids longer than their column (an SDK's, and longer)
// are shortened in the middle, so every row keeps its columns.
func TestTimelineLongIDs(t *testing.T) {
	ids := []string{"3f9a1b2c4d5e6f70-7", "3f9a1b2c4d5e6f70-123", "3f9a1b2c4d5e6f70-123456", "ü" + strings.Repeat("x", 30)}
	var log strings.Builder
	log.WriteString(header + "\n")
	for i, id := range ids {
		log.WriteString(`{"cmd":{"id":"` + id + `","type":"join","actor":"p` + strconv.Itoa(i) + `","name":"P","preset":"attendee"}}` + "\n")
	}
	got := replay(log.String(), "-")
	rows := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	rows = rows[len(rows)-len(ids):]
	wantIDs := []string{"3f9a1b2c4d5e6f70-7", "3f9a1b2c4d5e6f70-123", "3f9a1b2c4…f70-123456", "üxxxxxxxx…xxxxxxxxxx"}
	for i, row := range rows {
		cols := strings.Fields(row)
		if len(cols) < 3 || cols[1] != wantIDs[i] {
			t.Errorf("row %q: id column %q, want %q", row, cols[1], wantIDs[i])
		}
		if c := column(row, " join "); c != column(rows[0], " join ") {
			t.Errorf("row %q: the command column starts at %d, not where the first row's does", row, c)
		}
	}
}

// TestTimelineBulk: a disable-all is one row, whatever the size of the
// session.
func TestTimelineBulk(t *testing.T) {
	var log strings.Builder
	log.WriteString(header + "\n")
	log.WriteString(`{"cmd":{"id":"j0","type":"join","actor":"host","name":"Host","preset":"host","audio":true,"video":true}}` + "\n")
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		log.WriteString(`{"cmd":{"id":"j` + id + `","type":"join","actor":"` + id + `","name":"` + id + `","preset":"attendee","audio":true}}` + "\n")
	}
	log.WriteString(`{"cmd":{"id":"all","type":"disable_all_audio","actor":"host"}}` + "\n")
	log.WriteString(`{"cmd":{"id":"cams","type":"disable_all_video","actor":"host"}}` + "\n")
	got := replay(log.String(), "-")
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	tail := lines[len(lines)-2:]
	want := []string{"#10 all_audio_disabled 9 participants audio off by host", "#11 all_video_disabled 1 participant video off by host"}
	for i, l := range tail {
		if !strings.HasSuffix(l, want[i]) {
			t.Errorf("row %q, want it to end with %q", l, want[i])
		}
	}
}

// doctor returns recorded with old replaced by new, once; old must be there.
func doctor(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(recorded, old) {
		t.Fatalf("%q is not in the recorded log", old)
	}
	return strings.Replace(recorded, old, new, 1)
}

func TestVerifyFindsTheFirstDivergence(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // in stdout, in this order
	}{
		{"event field", `"participant":"bob","audio_enabled":false`, `"participant":"bob","audio_enabled":true`,
			[]string{"line 5: divergence: the recorded outcome differs", `command: {"id":"c4","type":"disable_audio","actor":"ann","target":"bob"}`,
				"diff (-recorded +replayed):", `"events"[0]:`, `- "audio_enabled": true`, `+ "audio_enabled": false`}},
		{"event seq", `{"seq":4,"type":"pinned"`, `{"seq":9,"type":"pinned"`,
			[]string{"line 7: divergence", "the seq jumps from 3 to 9, so 5 events are missing before this line", `"id":"c6"`,
				`"events"[0]:`, `- "seq": 9`, `+ "seq": 4`}},
		{"event type", `{"seq":6,"type":"pinned"`, `{"seq":6,"type":"unpinned"`,
			[]string{"line 8: divergence", `"id":"c7"`, `- "events"[1]: {"seq":6,"type":"unpinned","participant":"bob","by":"ann"}`,
				`+ "events"[1]: {"seq":6,"type":"pinned","participant":"bob","by":"ann"}`}},
		{"missing event", `"events":[{"seq":5,"type":"unpinned","participant":"ann","by":"ann"},`, `"events":[`,
			[]string{"line 8: divergence", "the seq jumps from 4 to 6, so an event is missing before this line", `"id":"c7"`,
				`- "events"[0]: {"seq":6,"type":"pinned"`, `+ "events"[0]: {"seq":5,"type":"unpinned"`, `+ "events"[1]: {"seq":6,"type":"pinned"`}},
		{"removed record", "\n" + `{"cmd":{"id":"c4","type":"disable_audio","actor":"ann","target":"bob"},"events":[{"seq":3,"type":"audio_update","participant":"bob","audio_enabled":false,"by":"ann"}]}`, "",
			[]string{"line 6: divergence", "the seq jumps from 2 to 4, so an event is missing before this line (a record removed from the log?)",
				`"id":"c6"`, `- "seq": 4`, `+ "seq": 3`}},
		{"error code", `"code":1201`, `"code":1202`,
			[]string{"line 4: divergence", `"id":"c3"`, `- "error": {"code":1202,"name":"participant_not_found"}`,
				`+ "error": {"code":1201,"name":"permission_denied"}`}},
		{"events instead of an error", `"error":{"code":1201,"name":"permission_denied","message":"preset \"attendee\" may not disable_audio"}`, `"events":[]`,
			[]string{"line 4: divergence", `- "events": []`, `+ "error": {"code":1201,"name":"permission_denied"}`}},
		{"no events recorded", `"events":[{"seq":7,"type":"session_ended","by":"ann"}]`, `"events":[]`,
			[]string{"line 10: divergence", `"id":"c8"`, `+ "events"[0]: {"seq":7,"type":"session_ended","by":"ann"}`}},
		{"checkpoint", `"pinned":"bob","participants"`, `"pinned":"ann","participants"`,
			[]string{"line 9: divergence: the checkpoint differs", `- "pinned": "ann"`, `+ "pinned": "bob"`}},
		{"checkpoint seq", `"seq":6,"ended"`, `"seq":8,"ended"`,
			[]string{"line 9: divergence: the checkpoint differs from the replayed state: the seq jumps from 6 to 8", `- "seq": 8`, `+ "seq": 6`}},
		{"checkpoint participant", `{"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":false`, `{"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":true`,
			[]string{"line 9: divergence: the checkpoint differs", `"participants"[1] "bob":`, `- "audio_enabled": true`, `+ "audio_enabled": false`}},
		{"checkpoint participant missing", `,{"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":false,"video_enabled":false}]`, `]`,
			[]string{"line 9: divergence: the checkpoint differs", `+ "participants"[1]: {"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":false,"video_enabled":false}`}},
		{"unknown event type", `{"seq":4,"type":"pinned"`, `{"seq":4,"type":"glued"`,
			[]string{"line 7: divergence: the recorded outcome cannot be decoded", `unknown event type "glued"`, `command: {"id":"c6"`}},
		{"event not an object", `"events":[{"seq":7,"type":"session_ended","by":"ann"}]`, `"events":[7]`,
			[]string{"line 10: divergence: the recorded outcome cannot be decoded", "not a JSON object"}},
		{"error without a code", `"error":{"code":1201,`, `"error":{`,
			[]string{"line 4: divergence: the recorded outcome cannot be decoded", `"code" is missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replay(doctor(t, tt.old, tt.new), "-verify", "-")
			if got.code != exitDivergence || got.stderr != "" {
				t.Fatalf("exit %d (stderr %q), want %d\n%s", got.code, got.stderr, exitDivergence, got.stdout)
			}
			checkInOrder(t, got.stdout, tt.want)
			if !strings.HasPrefix(got.stdout, "replay: stdin: line ") {
				t.Errorf("report %q: want it to start with the input's name and the line", got.stdout)
			}
		})
	}
}

// checkInOrder checks that s has each of want, in order, with whitespace
// collapsed.
func checkInOrder(t *testing.T, s string, want []string) {
	t.Helper()
	rest := strings.Join(strings.Fields(s), " ")
	for _, w := range want {
		w = strings.Join(strings.Fields(w), " ")
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("output:\n%s\nwant, after what came before, %q", s, w)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct{ name, log string }{
		{"recorded", recorded},
		{"a script: nothing recorded, nothing to compare", script[:strings.Index(script, `{"state"`)]},
		{"messages and names are for people", strings.Replace(recorded, `"name":"permission_denied","message":"preset \"attendee\" may not disable_audio"`, `"name":"nope","message":"no"`, 1)},
		{"unknown fields", strings.Replace(recorded, `{"cmd":{"id":"c4"`, `{"v2":[{"x":1}],"cmd":{"id":"c4","extra":true`, 1)},
		{"events [] for no change", header + "\n" + `{"cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":false}}` +
			"\n" + `{"cmd":{"id":"c2","type":"set_audio","actor":"ann","enabled":false},"events":[]}` + "\n"},
		{"command and checkpoint on one line", header + "\n" + `{"cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host"},"state":{"session":"room-1","seq":1,"ended":false,"pinned":null,"participants":[{"id":"ann","name":"Ann","preset":"host","audio_enabled":false,"video_enabled":false}]}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replay(tt.log, "-verify", "-")
			if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, "ok: ") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and ok", got.code, got.stdout, got.stderr)
			}
		})
	}
	got := replay(recorded, "-verify", "-")
	if want := "ok: 8 commands and 1 checkpoint up to line 10 agree with the reducer (seq 7)\n"; got.stdout != want {
		t.Errorf("stdout %q, want %q", got.stdout, want)
	}
}

// TestInvalidLogs checks exit 2, in every mode, with one line on stderr
// naming the line and what is wrong.
func TestInvalidLogs(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want string // stderr, after "replay: stdin: "
	}{
		{"empty", "", "line 1: no header: the log is empty"},
		{"blank", "\n\n", "line 2: no header: the log is empty"},
		{"not JSON", header + "\n" + "hello\n", `line 2: not a JSON object (starts with "h")`},
		{"JSON but not an object", header + "\n\n" + "[1,2]\n", `line 3: not a JSON object (starts with "[")`},
		{"broken JSON", recorded + `{"cmd":{"id":"c9"` + "\n", "line 11: unexpected end of JSON input"},
		{"no header", recorded[len(header)+1:], `line 1: header: no "format" field: not a gavel log header`},
		{"wrong format", strings.Replace(recorded, "gavel-log/2", "gavel-log/0", 1), `line 1: header: format "gavel-log/0": sessionlog: not a gavel-log/2 log`},
		{"gavel-log/1", strings.Replace(recorded, "gavel-log/2", "gavel-log/1", 1), `line 1: header: format "gavel-log/1": sessionlog: not a gavel-log/2 log ` +
			`(it recorded a bulk command as one update per participant; this version reads gavel-log/2 only)`},
		{"repeated member", header + "\n" + `{"cmd":{"id":"c1","type":"leave","actor":"ann"},"cmd":{"id":"c2","type":"leave","actor":"ann"}}` + "\n",
			`line 2: an object names a member twice: "cmd" (offset 48)`},
		{"repeated member in a command", header + "\n" + `{"cmd":{"id":"c1","type":"kick","type":"kick_all","actor":"ann"}}` + "\n",
			`line 2: an object names a member twice: "type" (offset 32)`},
		{"case-folded cmd", header + "\n" + `{"CMD":{"id":"c1","type":"leave","actor":"ann"}}` + "\n", `line 2: the record has neither "cmd" nor "state"`},
		{"cmd not an object", header + "\n" + `{"cmd":["join"]}` + "\n", `line 2: "cmd" must be an object, not ["join"]`},
		{"state not an object", recorded + `{"state":"done"}` + "\n", `line 11: "state": state: not a JSON object (starts with "\"")`},
		{"neither cmd nor state", header + "\n" + `{"at":"2025-03-14T17:00:00Z","events":[]}` + "\n", `line 2: the record has neither "cmd" nor "state"`},
	}
	for _, tt := range tests {
		for _, mode := range [][]string{nil, {"-verify"}, {"-json"}, {"-until", "100"}} {
			t.Run(tt.name+"/"+strings.Join(mode, " "), func(t *testing.T) {
				got := replay(tt.log, append(mode, "-")...)
				want := "replay: stdin: " + tt.want + "\n"
				if got.code != exitInvalid || got.stderr != want {
					t.Errorf("exit %d, stderr %q; want %d, %q", got.code, got.stderr, exitInvalid, want)
				}
			})
		}
	}
}

// TestLongLines: a line of up to 64 MiB is read, a longer one is an invalid
// log; and -json never writes a line its reader would refuse.
func TestLongLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lines of 64 MiB")
	}
	prefix := `{"cmd":{"id":"c9","type":"leave","actor":"ann","pad":"`
	line := func(n int) string { return prefix + strings.Repeat("x", n-len(prefix)-3) + `"}}` }
	limit := 64 << 20
	if got := replay(header+"\n"+line(limit)+"\n", "-"); got.code != 0 {
		t.Errorf("a line of 64 MiB: exit %d, stderr %q", got.code, got.stderr)
	}
	got := replay(header+"\n"+line(limit+1)+"\n", "-")
	if want := "replay: stdin: line 2: line too long: longer than 67108864 bytes, the limit\n"; got.code != 2 || got.stderr != want {
		t.Errorf("a line of 64 MiB + 1: exit %d, stderr %q; want 2, %q", got.code, got.stderr, want)
	}
	// Recorded with its error, the command's line would pass the limit.
	got = replay(header+"\n"+line(limit-20)+"\n", "-json", "-")
	if want := "replay: stdin: line 2: sessionlog: line too long: the record is "; got.code != 2 || !strings.HasPrefix(got.stderr, want) {
		t.Errorf("-json of a line near the limit: exit %d, stderr %q; want 2 and %q", got.code, got.stderr, want)
	}
}

func TestUsage(t *testing.T) {
	path := writeFile(t, "log.jsonl", recorded)
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no file", nil, 2, "want one FILE, got 0 arguments"},
		{"two files", []string{path, path}, 2, "want one FILE, got 2 arguments"},
		{"flag after the file", []string{path, "-verify"}, 2, "want one FILE, got 2 arguments"},
		{"-verify and -json", []string{"-verify", "-json", path}, 2, "-verify and -json do not go together"},
		{"negative -until", []string{"-until", "-3", path}, 2, "-until -3: want a line number, 1 or more"},
		{"-until 0", []string{"-until", "0", path}, 2, "-until 0: want a line number, 1 or more"},
		{"-until not a number", []string{"-until", "x", path}, 2, `invalid value "x" for flag -until`},
		{"unknown flag", []string{"-fast", path}, 2, "flag provided but not defined: -fast"},
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.jsonl")}, 2, "nope.jsonl: no such file or directory"},
		{"help", []string{"-h"}, 0, usageLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replay("", tt.args...)
			if got.code != tt.code || !strings.Contains(got.stderr, tt.want) || got.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", got.code, got.stdout, got.stderr, tt.code, tt.want)
			}
		})
	}
}

func TestFileAndStdinAgree(t *testing.T) {
	for _, mode := range [][]string{nil, {"-verify"}, {"-json"}, {"-until", "5"}} {
		fromFile := replay("", append(mode, writeFile(t, "log.jsonl", recorded))...)
		fromStdin := replay(recorded, append(mode, "-")...)
		if fromFile.code != 0 || fromFile.stdout == "" || fromFile.stdout != fromStdin.stdout {
			t.Errorf("%v: file: exit %d, %q; stdin: exit %d, %q", mode, fromFile.code, fromFile.stdout, fromStdin.code, fromStdin.stdout)
		}
	}
}

func TestUntil(t *testing.T) {
	t.Run("timeline", func(t *testing.T) {
		got := replay(script, "-until", "8", "-")
		want := `
state after line 8: session room-1, seq 4, 2 joined, pinned ann
  ann          "Ann"                preset host       audio on  video on
  bob          "Bob B"              preset attendee   audio off video off
`
		if got.code != 0 || !strings.HasSuffix(got.stdout, want) || strings.Contains(got.stdout, "c7") {
			t.Errorf("exit %d, stdout:\n%s\nwant it to end with the state after c6:%s", got.code, got.stdout, want)
		}
	})
	t.Run("stops before a later invalid line", func(t *testing.T) {
		got := replay(recorded+"garbage\n", "-until", "10", "-")
		if got.code != 0 || !strings.Contains(got.stdout, "state after line 10: session room-1, seq 7, ended") {
			t.Errorf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
		}
	})
	lastRow := func(s string) string {
		rows := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		return rows[len(rows)-1]
	}
	for _, tt := range []struct {
		name  string
		until string
		state string
	}{
		{"the header", "1", "state after line 1: session room-1, seq 0, 0 joined, nobody pinned"},
		{"a blank line: the record before it", "2", "state after line 1: session room-1, seq 0, 0 joined, nobody pinned"},
		{"past the end: the last record", "999", "state after line 11: session room-1, seq 7, ended"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := replay(script, "-until", tt.until, "-")
			if got.code != 0 || lastRow(got.stdout) != tt.state {
				t.Errorf("exit %d, stdout:\n%s\nwant it to end with %q", got.code, got.stdout, tt.state)
			}
		})
	}
	t.Run("-verify stops before a later divergence", func(t *testing.T) {
		log := doctor(t, `{"seq":7,"type":"session_ended"`, `{"seq":8,"type":"session_ended"`)
		if got := replay(log, "-verify", "-until", "9", "-"); got.code != 0 ||
			!strings.HasPrefix(got.stdout, "ok: 7 commands and 1 checkpoint up to line 9 agree with the reducer (seq 6)\n\nstate after line 9:") {
			t.Errorf("-until 9: exit %d, stdout %q", got.code, got.stdout)
		}
		if got := replay(log, "-verify", "-until", "10", "-"); got.code != 1 {
			t.Errorf("-until 10: exit %d, want 1", got.code)
		}
	})
	t.Run("-json ends with the state as a checkpoint", func(t *testing.T) {
		got := replay(script, "-json", "-until", "6", "-")
		want := strings.Join(strings.Split(recorded, "\n")[:5], "\n") + "\n" +
			`{"state":{"session":"room-1","seq":3,"ended":false,"pinned":null,"participants":[{"id":"ann","name":"Ann","preset":"host","audio_enabled":true,"video_enabled":true},{"id":"bob","name":"Bob B","preset":"attendee","audio_enabled":false,"video_enabled":false}]}}` + "\n"
		if diff := cmp.Diff(want, got.stdout); got.code != 0 || diff != "" {
			t.Errorf("exit %d, output (-want +got):\n%s", got.code, diff)
		}
		if v := replay(got.stdout, "-verify", "-"); v.code != 0 {
			t.Errorf("-verify of it: exit %d: %s", v.code, v.stdout)
		}
	})
}

func TestNilStdinIsEmpty(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-"}, nil, io.Discard, &stderr); code != 2 || stderr.String() != "replay: stdin: line 1: no header: the log is empty\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// failingWriter fails every write after the first ok bytes, as a closed
// pipe or a full disk does.
type failingWriter struct{ ok int }

var errWrite = errors.New("no space left on device")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.ok {
		w.ok -= len(p)
		return len(p), nil
	}
	n := w.ok
	w.ok = 0
	return n, errWrite
}

// TestFailedWriteIsNotOK: whatever the mode, and wherever the output fails,
// a failed write to stdout is reported on stderr and never exits 0.
func TestFailedWriteIsNotOK(t *testing.T) {
	diverging := strings.Replace(recorded, `"seq":7,"type":"session_ended"`, `"seq":8,"type":"session_ended"`, 1)
	for _, tc := range []struct {
		name  string
		log   string
		args  []string
		code  int
		after []int // bytes written before the failure
	}{
		{"timeline", script, nil, exitInvalid, []int{0, 100, 1000}},
		{"-verify", recorded, []string{"-verify"}, exitInvalid, []int{0, 10}},
		{"-verify divergence", diverging, []string{"-verify"}, exitDivergence, []int{0, 10, 100}},
		{"-json", script, []string{"-json"}, exitInvalid, []int{0, 100, 1000}},
		{"-until", script, []string{"-until", "6"}, exitInvalid, []int{0, 700}},
	} {
		for _, ok := range tc.after {
			var stderr bytes.Buffer
			code := run(context.Background(), append(tc.args, "-"), strings.NewReader(tc.log), &failingWriter{ok: ok}, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), errWrite.Error()) {
				t.Errorf("%s, stdout failing after %d bytes: exit %d, stderr %q; want exit %d and the write error",
					tc.name, ok, code, stderr.String(), tc.code)
			}
		}
	}
}
