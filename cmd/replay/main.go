// Command replay runs a gavel session log (gavel-log/2) through the reducer:
// it prints a timeline, verifies a recorded log (-verify), records a script
// of commands (-json), or stops at a line and prints the state (-until).
//
//	replay [-verify | -json] [-until N] FILE
//
// FILE "-" is standard input. Exit status: 0 when all went well, 1 when
// -verify found a divergence, 2 when the input is not a valid log or the
// command line is wrong. The logic is in package replaycmd.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/gavelrtc/gavel/cmd/replay/replaycmd"
)

// memoryLimit is replay's soft memory limit: a few times the heap of a
// 10,000-participant session.
const memoryLimit = 32 << 20

func main() {
	// replaycmd has no panic on any input (its fuzz target checks); this
	// only keeps a stack trace from ever reaching a user.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "replay: internal error: %v\n", r)
			os.Exit(2)
		}
	}()
	// replay holds one session state however long the log, but replaying
	// makes garbage fast; when the machine starves the collector of CPU, the
	// heap can run far past its goal. A soft limit (unless GOMEMLIMIT sets
	// one) keeps the peak near the live heap.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(replaycmd.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
