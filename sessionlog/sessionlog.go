// Package sessionlog is the session log, gavel-log/2 (SPEC §4), and
// everything that reads or writes one: its types, their JSON, a streaming
// Reader and Writer, and the replay of a log through the reducer (Verify,
// Replay, Replayer). The stores of package session, the NATS transport,
// cmd/replay, the tests and the fuzz targets all use this package; none
// has a codec of a log line of its own.
//
// # Types
//
// A log is a Header line, then one line per entry: a command record, a
// checkpoint, or both on one line.
//
//   - Header: the session id and its presets (AppendHeader, DecodeHeader).
//   - Record: a command record as a runtime decided it, the command, its time
//     and its outcome: the events it produced (maybe none) or the error that
//     rejected it, and the Position a store gave it (AppendRecord,
//     DecodeRecord). This is what stores keep.
//   - Entry: any line after the header as written, raw JSON kept and the
//     recorded outcome decoded on demand: what tools read, since a script
//     may leave an outcome out or hold a malformed command (DecodeEntry).
//   - a checkpoint is a core.Snapshot (AppendCheckpoint; Entry.State).
//
// The values inside (commands, events, errors, states, presets) are the
// wire vocabulary of package events, whose codec this package calls.
//
// # Reading and writing
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
// # Replay
//
// A Replayer runs a log's entries through the reducer one at a time,
// holding only the session's state; Check compares what an entry recorded
// with what the reducer produces now and returns the first difference as a
// *Divergence: its line, its command, and a diff in the log's own JSON
// terms. Verify does that for a whole log, Replay returns the state a log
// folds to, and Writer.WriteStep writes a log as the reducer produces it
// now (replay -json).
//
// Package sessionlog imports core, events, internal/jsonscan, reducer and
// the standard library.
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
