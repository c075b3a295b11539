package web_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/internal/testwait"
)

// The seed page's samples (testdata/samples.ts) must type-check against
// gavel.d.ts and run against gavel.js.

// tsc finds TypeScript's compiler (CI installs it from npm).
func tsc(t *testing.T) string {
	t.Helper()
	return tool(t, "tsc", "npm install -g typescript", "GAVEL_TSC", "tsc")
}

func TestSamplesTypeCheck(t *testing.T) {
	bin := tsc(t)
	dir := t.TempDir()
	for _, f := range []string{"testdata/samples.ts", "gavel.d.ts"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(testwait.Context(t), bin, "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
		"--moduleResolution", "bundler", "--lib", "es2022,dom", "samples.ts")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// samplesJS is samples.ts as JavaScript: its only TypeScript is the
// declaration of GAVEL_TOKEN and catch clauses typed any.
func samplesJS(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/samples.ts")
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^declare const .*$`).ReplaceAll(b, nil)
	b = bytes.ReplaceAll(b, []byte("catch (err: any)"), []byte("catch (err)"))
	return b
}

// outcome is how one section of samples ended.
type outcome struct {
	Step string
	OK   bool
	Err  string
}

var steps = []string{"muteAudio", "muteAllAudio", "disableVideo", "disableAllVideo", "pin", "unpin", "kick", "kickAll"}

// runSamples opens the samples page as id with preset, and waits until
// every section has run.
func (e *env) runSamples(id, preset string) *page {
	e.t.Helper()
	p := e.open(id, "/test/samples.html?token="+e.token(id, preset))
	p.wait("the samples", `window.samplesDone === true`)
	var want []outcome
	for _, s := range steps {
		want = append(want, outcome{Step: s, OK: true})
	}
	if diff := cmp.Diff(want, eval[[]outcome](p, `outcomes`)); diff != "" {
		e.t.Errorf("samples as %s (-want +got):\n%s", preset, diff)
	}
	return p
}

// TestSamplesRun runs every sample against gavel.js: as an attendee each
// host control ends in the samples' own `err?.code === 1201` branch and
// changes nothing; as a host each one does what the seed page says.
func TestSamplesRun(t *testing.T) {
	e := newEnv(t)
	script := samplesJS(t)
	e.mux.HandleFunc("GET /samples.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(script)
	})

	// As an attendee, whose first joined participant is the host.
	hana := e.harness("hana")
	if got := eval[string](hana, `h.start(`+js(e.token("hana", "host"))+`, {audio: true, video: true, media: false})`); got != "hana" {
		t.Fatalf("joined as %q", got)
	}
	alice := e.runSamples("alice", "attendee")
	if n := len(hana.notes(0)); n != 2 { // roomJoined, alice's participantJoined
		t.Errorf("the attendee's samples changed something: hana got %v", hana.notes(0))
	}
	if st := eval[string](alice, `samples.meeting.roomState`); st != "joined" {
		t.Errorf("attendee's room state %q after the samples, want joined", st)
	}

	// As a host, whose first joined participant is an attendee.
	e.room += "-host"
	bob := e.harness("bob")
	if got := eval[string](bob, `h.start(`+js(e.token("bob", "attendee"))+`, {audio: true, video: true, media: false})`); got != "bob" {
		t.Fatalf("joined as %q", got)
	}
	carol := e.runSamples("carol", "host")
	var got []note
	for _, n := range bob.notes(0) {
		if n.On == "self" && n.Event != "roomJoined" {
			n.Seq = 0
			got = append(got, n)
		}
	}
	want := []note{
		{On: "self", Event: "audioUpdate", ID: "bob", Extra: "false", By: "carol"},
		{On: "self", Event: "videoUpdate", ID: "bob", Extra: "false", By: "carol"},
		{On: "self", Event: "pinned", ID: "bob", By: "carol"},
		{On: "self", Event: "unpinned", ID: "bob", By: "carol"},
		{On: "self", Event: "roomLeft", ID: "bob", Extra: "kicked", By: "carol"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the host's samples did to bob (-want +got):\n%s", diff)
	}
	if st := eval[string](carol, `samples.meeting.roomState`); st != "ended" {
		t.Errorf("host's room state %q after kickAll, want ended", st)
	}
}
