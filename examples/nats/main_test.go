package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/internal/testwait"
)

// TestRun plays the classroom twice on one data directory: the second run
// finds the session and answers every command as a duplicate.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	var first, second bytes.Buffer
	if err := run(testwait.Context(t), []string{"-data", dir, "-port", "-1", "-once"}, &first); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"demo-3 disable_audio by rivera: seq 3, 1 event(s), duplicate false",
		"demo-4 kick by ben: refused, 1201 permission_denied",
		`  event {"seq":4,"type":"pinned","participant":"rivera","by":"rivera"}`,
	} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("first run: no line %q in\n%s", want, first.String())
		}
	}
	if err := run(testwait.Context(t), []string{"-data", dir, "-port", "-1", "-once"}, &second); err != nil {
		t.Fatal(err)
	}
	if want := "demo-5 pin by rivera: seq 4, 1 event(s), duplicate true"; !strings.Contains(second.String(), want) {
		t.Errorf("second run: no line %q in\n%s", want, second.String())
	}
	if strings.Contains(second.String(), "event {") {
		t.Errorf("second run printed events, but applied nothing:\n%s", second.String())
	}
}
