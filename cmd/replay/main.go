// Command replay runs a gavel session log (gavel-log/2) through the reducer:
// it prints a timeline, rejected host actions included (the audit), verifies
// a recorded log (-verify), records a script of commands (-json), or stops
// at a line and prints the state (-until).
//
//	replay [-verify | -json] [-until N] [-stream NAME] [-prefix P] FILE | - | nats://HOST:PORT/SESSION
//
// FILE "-" is standard input; nats://127.0.0.1:4222/room-1 reads session
// room-1 straight from JetStream, so an operator can check a live clustered
// session (replay -verify nats://…). Exit status: 0 when all went well, 1
// when -verify found a divergence, 2 when the input is not a valid log or
// the command line is wrong. The reading, replaying and verifying are
// package sessionlog's (Replayer, Verify); this command parses its flags,
// opens the log and prints.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
)

// memoryLimit is replay's soft memory limit: a few times the heap of a
// 10,000-participant session.
const memoryLimit = 32 << 20

func main() {
	// sessionlog has no panic on any input (its fuzz target checks); this
	// only keeps a stack trace from ever reaching a user.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "replay: internal error: %v\n", r)
			os.Exit(exitInvalid)
		}
	}()
	// replay holds one session state however long the log, but replaying
	// makes garbage fast; when the machine starves the collector of CPU, the
	// heap can run far past its goal. A soft limit (unless GOMEMLIMIT sets
	// one) keeps the peak near the live heap.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
