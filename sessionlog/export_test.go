package sessionlog

import "io"

// NewReaderLimit is NewReader with a line limit of limit bytes rather than
// MaxLineLen, so that tests of the limit need not build 64 MiB lines.
func NewReaderLimit(r io.Reader, limit int) (*Reader, error) { return newReader(r, limit) }

// NewAppendWriterLimit is NewAppendWriter with a line limit of limit bytes.
func NewAppendWriterLimit(w io.Writer, limit int) *Writer {
	lw := NewAppendWriter(w)
	lw.max = limit
	return lw
}
