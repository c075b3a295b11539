package examples_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/cmd/replay/replaycmd"
)

func replay(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = replaycmd.Run(args, bytes.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func shipped(t *testing.T) []string {
	t.Helper()
	logs, err := filepath.Glob("*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"classroom.jsonl", "townhall.jsonl", "webinar.jsonl"}, logs); diff != "" {
		t.Fatalf("shipped logs (-want +got):\n%s", diff)
	}
	return logs
}

// TestExamplesVerify checks that every shipped log passes replay -verify and
// is exactly what replay -json makes of it.
func TestExamplesVerify(t *testing.T) {
	for _, log := range shipped(t) {
		t.Run(log, func(t *testing.T) {
			if code, stdout, stderr := replay(t, nil, "-verify", log); code != 0 || !strings.HasPrefix(stdout, "ok: ") {
				t.Fatalf("replay -verify %s: exit %d\n%s%s", log, code, stdout, stderr)
			}
			want, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if _, got, _ := replay(t, nil, "-json", log); got != string(want) {
				t.Errorf("replay -json %s differs from the file:\n%s", log, cmp.Diff(string(want), got))
			}
		})
	}
}

// TestDoctoredExampleFails changes one field of one recorded event of the
// classroom and expects -verify to fail on that line.
func TestDoctoredExampleFails(t *testing.T) {
	b, err := os.ReadFile("classroom.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	const old, doctored = `"participant":"ben","audio_enabled":false,"by":"rivera"`, `"participant":"ben","audio_enabled":true,"by":"rivera"`
	line := -1
	for i, l := range lines {
		if strings.Contains(l, old) {
			lines[i] = strings.Replace(l, old, doctored, 1)
			line = i + 1
			break
		}
	}
	if line < 0 {
		t.Fatalf("no line of classroom.jsonl has %s", old)
	}
	code, stdout, _ := replay(t, []byte(strings.Join(lines, "\n")), "-verify", "-")
	if code != replaycmd.ExitDivergence {
		t.Fatalf("replay -verify of a doctored classroom: exit %d, want 1\n%s", code, stdout)
	}
	report := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{"line " + strconv.Itoa(line) + ": divergence", `"type":"disable_audio","actor":"rivera","target":"ben"`,
		`- "audio_enabled": true + "audio_enabled": false`} {
		if !strings.Contains(report, want) {
			t.Errorf("report:\n%s\nwant it to have %q", stdout, want)
		}
	}
}

// TestTownhall checks the town hall at its disable_all_audio: one event for
// 5,002 participants, every microphone off after it.
func TestTownhall(t *testing.T) {
	code, stdout, stderr := replay(t, nil, "-until", "5005", "townhall.jsonl")
	_, state, ok := strings.Cut(stdout, "\nstate after line 5005: ")
	if code != 0 || !ok {
		t.Fatalf("replay -until 5005 townhall.jsonl: exit %d, no state\n%s", code, stderr)
	}
	if !strings.HasPrefix(state, "session townhall-q2, seq 5003, 5002 joined, nobody pinned\n") ||
		strings.Count(state, "audio off") != 5002 || strings.Contains(state, "audio on") {
		t.Errorf("state after disable_all_audio:\n%.500s", state)
	}
	b, err := os.ReadFile("townhall.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	mute := strings.Split(string(b), "\n")[5004]
	if want := `"events":[{"seq":5003,"type":"all_audio_disabled","count":5002,"by":"mod"}]}`; !strings.HasSuffix(mute, want) {
		t.Errorf("line 5005: %s\nwant it to end with %s", mute, want)
	}
}
