// Package sessionlog reads and writes session logs in the gavel-log/2 format:
// JSON Lines, a header line first, then one record a line (a command with
// what it produced, or a checkpoint of the state).
//
// Both directions stream: a Reader holds one line at a time, so a log of any
// size is read in constant memory, and a Writer buffers lines until Flush.
// Every error a Reader returns for a line is a *LineError carrying that
// line's number. A line may be at most MaxLineLen bytes; a longer one is an
// error (ErrLineTooLong), never a truncation. Lines holding only whitespace
// are skipped, and CRLF line endings are accepted. A Reader also tells
// where each line is in bytes, and ResumeReader reads on from such a place,
// so that a store can index its log and read it from the middle.
//
// The JSON of headers and records is the events package's codec: this
// package only splits and joins lines.
//
// Package sessionlog imports core, events and the standard library.
package sessionlog

import (
	"errors"
	"fmt"
)

// MaxLineLen is the longest line, in bytes without its line ending, a Reader
// accepts (64 MiB, the SPEC's limit: a checkpoint of a session of 100,000
// is about 10 MB). It bounds a Reader's memory whatever its input; a Reader
// holds a long line only while it reads it.
const MaxLineLen = 64 << 20

var (
	// ErrLineTooLong is matched (errors.Is) by the error for a line longer
	// than MaxLineLen.
	ErrLineTooLong = errors.New("line too long")
	// ErrNoHeader is matched by the error for a log with no lines other than
	// blank ones.
	ErrNoHeader = errors.New("no header: the log is empty")
)

// LineError is an error about one line of a log. Line counts from 1, blank
// lines included, as an editor does.
type LineError struct {
	Line int
	Err  error
}

// Error formats the error as "line N: cause".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the error about the line.
func (e *LineError) Unwrap() error { return e.Err }
