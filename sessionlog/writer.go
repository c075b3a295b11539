package sessionlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
)

// ErrNewline is returned by WriteRawCommand for a command that spans lines.
var ErrNewline = errors.New("sessionlog: raw command contains a newline")

// Writer writes a session log, one line per call, through a buffer: call
// Flush to push the lines to the underlying writer. It refuses a line longer
// than MaxLineLen, which no Reader would read back. Write errors are sticky,
// as in bufio.Writer. A Writer is not safe for concurrent use.
type Writer struct {
	bw  *bufio.Writer
	max int    // the longest line: MaxLineLen
	buf []byte // the line being built
	cmd []byte // a command being encoded
}

// NewWriter returns a Writer for a new log and writes its header.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	lw := NewAppendWriter(w)
	lw.buf = AppendHeader(lw.buf[:0], h)
	return lw, lw.writeLine()
}

// NewAppendWriter returns a Writer that adds records to a log whose header
// has been written already, such as an existing log file opened for append.
func NewAppendWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10), max: MaxLineLen}
}

// WriteCommand writes a command record: cmd and what it produced, evs on
// success or err (a *core.Error) on rejection. at, an RFC 3339 time, is
// omitted when empty.
func (w *Writer) WriteCommand(at string, cmd core.Command, evs []events.Event, err error) error {
	w.cmd = events.AppendCommand(w.cmd[:0], cmd)
	return w.WriteRawCommand(at, w.cmd, evs, err)
}

// WriteRawCommand is WriteCommand with the command's JSON as written, such
// as a Record's RawCommand: it must be one JSON object on one line.
func (w *Writer) WriteRawCommand(at string, rawCmd []byte, evs []events.Event, err error) error {
	if bytes.IndexByte(rawCmd, '\n') >= 0 {
		return ErrNewline
	}
	w.buf = appendCommandRecord(w.buf[:0], at, rawCmd, evs, err)
	return w.writeLine()
}

// WriteCheckpoint writes a checkpoint: the state expected at this point.
func (w *Writer) WriteCheckpoint(snap core.Snapshot) error {
	w.buf = AppendCheckpoint(w.buf[:0], snap)
	return w.writeLine()
}

// Flush writes any buffered lines to the underlying writer.
func (w *Writer) Flush() error { return w.bw.Flush() }

// writeLine writes buf as a line. A line longer than MaxLineLen is refused,
// since no Reader would read it back.
func (w *Writer) writeLine() error {
	if len(w.buf) > w.max {
		return fmt.Errorf("sessionlog: %w: the record is %d bytes, the limit is %d", ErrLineTooLong, len(w.buf), w.max)
	}
	w.buf = append(w.buf, '\n')
	_, err := w.bw.Write(w.buf)
	return err
}
