package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/internal/testwait"
)

// TestBinary builds replay and checks that its exit status and output are
// Run's: the wiring in main, which the in-process tests do not see.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build replay with")
	}
	bin := filepath.Join(t.TempDir(), "replay")
	if out, err := exec.CommandContext(testwait.Context(t), goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	classroom := filepath.Join("..", "..", "examples", "classroom.jsonl")
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // prefix
		stderr string
		full   bool // stdout is /dev/full: every write fails
	}{
		{"verify", []string{"-verify", classroom}, "", 0, "ok: ", "", false},
		{"divergence", []string{"-verify", "-"}, `{"format":"gavel-log/2"}` + "\n" + `{"cmd":{"id":"1","type":"leave","actor":"a"},"events":[]}`, 1,
			"replay: stdin: line 2: divergence", "", false},
		{"invalid", []string{"-"}, "\x00garbage", 2, "", "replay: stdin: line 1: header: not a JSON object (starts with byte 0x00)\n", false},
		{"stdout full", []string{classroom}, "", 2, "", "replay: " + classroom + ": write: write /dev/stdout: no space left on device\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(testwait.Context(t), bin, tt.args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if tt.full {
				full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
				if err != nil {
					t.Skipf("no /dev/full: %v", err)
				}
				defer full.Close()
				cmd.Stdout = full
			}
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.HasPrefix(stdout.String(), tt.stdout) || stderr.String() != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q…, %q", code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
