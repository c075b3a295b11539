package leakcheck

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports and runs its
// cleanups on demand.
type recorder struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// blockedForever says it runs, then waits for stop.
func blockedForever(running, stop chan struct{}) {
	close(running)
	<-stop
}

func TestReportsLeak(t *testing.T) {
	saved := Timeout
	Timeout = 0
	defer func() { Timeout = saved }()
	r := &recorder{TB: t}
	Check(r)
	stop, running := make(chan struct{}), make(chan struct{})
	defer close(stop)
	go blockedForever(running, stop)
	<-running
	r.finish()
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "leakcheck.blockedForever") {
		t.Fatalf("a leaked goroutine reported as %q", r.errors)
	}
}

func TestWaitsForStoppingGoroutines(t *testing.T) {
	r := &recorder{TB: t}
	Check(r)
	stop := make(chan struct{})
	go blockedForever(make(chan struct{}), stop)
	close(stop) // it stops, though perhaps after the check starts
	r.finish()
	if len(r.errors) != 0 {
		t.Fatalf("a goroutine that stopped reported: %q", r.errors)
	}
}

func TestIgnoresEarlierGoroutines(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	go blockedForever(make(chan struct{}), stop)
	r := &recorder{TB: t}
	Check(r)
	r.finish()
	if len(r.errors) != 0 {
		t.Fatalf("a goroutine started before Check reported: %q", r.errors)
	}
}
