// Package testwait bounds the waits of tests: a test that waits for
// something that never comes fails after Limit, saying what it waited for,
// instead of hanging until go test's timeout (10 minutes) ends the whole
// run. Every call that blocks in a test takes a Context from here (or one
// with a deadline of its own), and every channel receive that waits on
// another goroutine goes through Recv.
//
// Package testwait imports only the standard library (and testing).
package testwait

import (
	"context"
	"testing"
	"time"
)

// Limit bounds each wait. Reaching it fails the test; nothing passes or
// fails on how fast things happen within it.
const Limit = 30 * time.Second

// Context returns t's context with a deadline Limit from now.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Limit)
	t.Cleanup(cancel)
	return ctx
}

// Cleanup registers f to run when the test ends (as t.Cleanup), with a
// context whose deadline is Limit from then: t's own context is cancelled
// before cleanups run.
func Cleanup(t testing.TB, f func(ctx context.Context)) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Limit)
		defer cancel()
		f(ctx)
	})
}

// Recv returns the next value received from ch, failing the test at once
// if none comes within Limit (or ch is closed: then the zero value, as a
// receive does).
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s", Limit, what)
	}
	var zero T
	return zero
}

// Wait calls wait (a WaitGroup's Wait, say), failing the test at once if it
// has not returned within Limit.
func Wait(t testing.TB, what string, wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	Recv(t, done, what)
}
