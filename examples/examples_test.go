package examples_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/sessionlog"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
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

// TestExamplesVerify checks that every shipped log verifies (replay
// -verify) and is exactly what recording it again makes of it (replay
// -json).
func TestExamplesVerify(t *testing.T) {
	for _, log := range shipped(t) {
		t.Run(log, func(t *testing.T) {
			if _, err := sessionlog.Verify(open(t, log)); err != nil {
				t.Fatalf("verify %s: %v", log, err)
			}
			want, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := sessionlog.RecordScript(open(t, log), &got); err != nil || got.String() != string(want) {
				t.Errorf("recording %s again: %v, and it differs from the file:\n%s", log, err, cmp.Diff(string(want), got.String()))
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
	_, err = sessionlog.Verify(strings.NewReader(strings.Join(lines, "\n")))
	d, ok := errors.AsType[*sessionlog.Divergence](err)
	if !ok {
		t.Fatalf("verifying a doctored classroom: %v, want a divergence", err)
	}
	if d.Line != line || !strings.Contains(string(d.Command), `"type":"disable_audio","actor":"rivera","target":"ben"`) ||
		!strings.Contains(strings.Join(strings.Fields(d.Diff), " "), `- "audio_enabled": true + "audio_enabled": false`) {
		t.Errorf("divergence at line %d (want %d), command %s, diff:\n%s", d.Line, line, d.Command, d.Diff)
	}
}

// TestTownhall checks the town hall at its disable_all_audio: one event for
// 5,002 participants, every microphone off after it.
func TestTownhall(t *testing.T) {
	p, err := sessionlog.NewReplayer(open(t, "townhall.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	p.StopAfter(5005)
	for {
		if _, err = p.Next(); err != nil {
			break
		}
	}
	st := p.State()
	if err != io.EOF || p.Line() != 5005 || st.Seq() != 5003 || st.Len() != 5002 || st.Pinned() != "" {
		t.Fatalf("after line %d: %v, seq %d, %d joined, pinned %q", p.Line(), err, st.Seq(), st.Len(), st.Pinned())
	}
	for q := range st.All() {
		if q.AudioEnabled {
			t.Fatalf("after disable_all_audio, %s's microphone is on", q.ID)
		}
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
