// Package leakcheck finds goroutines a test leaves running, in the manner
// of go.uber.org/goleak: Check notes the goroutines that exist when it is
// called and, when the test ends, waits (up to a deadline) for every
// goroutine started since to stop, failing the test with their stacks if
// some do not.
//
// Package leakcheck imports only the standard library (and testing).
package leakcheck

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Timeout is how long Check waits for goroutines to stop.
var Timeout = 5 * time.Second

// Check registers, with t.Cleanup, a check that every goroutine started
// after Check returned has stopped by the end of the test. Call it first in
// the test, so that its cleanup runs after the test's own. Tests using it
// must not run in parallel with others.
func Check(t testing.TB) {
	t.Helper()
	before := ids(stacks())
	t.Cleanup(func() {
		t.Helper()
		deadline := time.Now().Add(Timeout)
		wait := time.Millisecond
		for {
			leaked := leaks(before)
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leakcheck: %d goroutine(s) still running:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			// Goroutines told to stop need a moment to be scheduled.
			time.Sleep(wait)
			wait = min(2*wait, 100*time.Millisecond)
		}
	})
}

// leaks returns the stacks of goroutines not in before, except this one
// and the runtime's and testing's own.
func leaks(before map[string]bool) []string {
	var out []string
	for i, g := range stacks() {
		if i == 0 || before[id(g)] || ignored(g) {
			continue // the first is the calling goroutine
		}
		out = append(out, g)
	}
	return out
}

// ignored reports goroutines the runtime or the standard library start
// once per process, lazily.
func ignored(g string) bool {
	return strings.Contains(g, "os/signal.signal_recv") || strings.Contains(g, "os/signal.loop")
}

func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if s := strings.TrimSpace(string(g)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// id is the "goroutine N" prefix of a stack.
func id(g string) string {
	head, _, _ := strings.Cut(g, " [")
	return head
}

func ids(gs []string) map[string]bool {
	m := make(map[string]bool, len(gs))
	for _, g := range gs {
		m[id(g)] = true
	}
	return m
}
