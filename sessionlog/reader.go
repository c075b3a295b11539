package sessionlog

import (
	"bufio"
	"fmt"
	"io"
)

// readBufSize is the size of a Reader's buffer: lines shorter than this are
// decoded in place, longer ones are assembled in a separate buffer.
const readBufSize = 64 << 10

// Reader reads a session log one entry (line) at a time. It counts lines and
// bytes, so that a program can note where a record is (Line, Offset, End)
// and later read on from there (ResumeReader).
type Reader struct {
	br     *bufio.Reader
	max    int    // the longest line: MaxLineLen
	long   []byte // a line longer than br's buffer, assembled
	line   int    // lines read so far
	start  int64  // offset of the line last read
	off    int64  // offset of the next line: bytes read so far
	header Header
	err    error // the first error, returned by every later Next
}

// NewReader reads the log's header, its first non-blank line, and returns a
// Reader positioned at the first record.
func NewReader(r io.Reader) (*Reader, error) { return newReader(r, MaxLineLen) }

func newReader(r io.Reader, limit int) (*Reader, error) {
	lr := &Reader{br: bufio.NewReaderSize(r, readBufSize), max: limit}
	b, err := lr.nextLine()
	if err == io.EOF {
		return nil, &LineError{Line: max(lr.line, 1), Err: ErrNoHeader}
	}
	if err != nil {
		return nil, err
	}
	if lr.header, err = DecodeHeader(b); err != nil {
		return nil, &LineError{Line: lr.line, Err: err}
	}
	return lr, nil
}

// ResumeReader returns a Reader that reads on in a log from the start of
// one of its lines: r reads the log from byte offset off on, line is the
// number of the line before off, and h is the log's header. The Line and
// End of a Reader that read the same log are such a place. Line, Offset and
// End then count from the log's start, as if the Reader had read it all
// (before the first Next, Offset and End are off).
func ResumeReader(r io.Reader, h Header, line int, off int64) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufSize), max: MaxLineLen, line: line, start: off, off: off, header: h}
}

// Header is the log's header.
func (r *Reader) Header() Header { return r.header }

// Line is the number of the line last read: the line of the record Next
// returned, or of the header before the first Next.
func (r *Reader) Line() int { return r.line }

// Offset is the byte offset of the start of the line last read, the line
// Line numbers.
func (r *Reader) Offset() int64 { return r.start }

// End is the byte offset just past the line last read and its line ending:
// where the next line starts. After Next returns io.EOF, it is the length
// of the log.
func (r *Reader) End() int64 { return r.off }

// Next returns the next entry, or io.EOF after the last. Any other error is
// a *LineError, and Next returns it again on every later call. The entry
// does not share memory with the Reader.
func (r *Reader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	b, err := r.nextLine()
	if err != nil {
		r.err = err
		return Entry{}, err
	}
	rec, err := DecodeEntry(b)
	if err != nil {
		r.err = &LineError{Line: r.line, Err: err}
		return Entry{}, r.err
	}
	return rec, nil
}

// nextLine returns the next line that is not blank, without its line ending.
// It stays valid until the next read.
func (r *Reader) nextLine() ([]byte, error) {
	for {
		b, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if !blank(b) {
			return b, nil
		}
	}
}

// readLine returns the next line without its line ending, or io.EOF when
// there is none. A line that fits br's buffer is returned in place.
func (r *Reader) readLine() ([]byte, error) {
	if cap(r.long) > 4*readBufSize {
		r.long = nil // a long line is held only while it is read
	}
	r.long = r.long[:0]
	start := r.off
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			r.long = append(r.long, chunk...)
			// One byte over is allowed for a '\r' before the '\n'.
			if len(r.long) > r.max+1 {
				r.line++
				r.start = start
				return nil, r.tooLong()
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, &LineError{Line: r.line + 1, Err: fmt.Errorf("read: %w", err)}
		}
		b := chunk
		if len(r.long) > 0 {
			r.long = append(r.long, chunk...)
			b = r.long
		}
		if err == io.EOF && len(b) == 0 {
			return nil, io.EOF
		}
		r.line++
		r.start = start
		b = trimLineEnd(b)
		if len(b) > r.max {
			return nil, r.tooLong()
		}
		return b, nil
	}
}

func (r *Reader) tooLong() error {
	return &LineError{Line: r.line, Err: fmt.Errorf("%w: longer than %d bytes, the limit", ErrLineTooLong, r.max)}
}

// trimLineEnd removes a trailing "\n" or "\r\n".
func trimLineEnd(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// blank reports whether b holds only JSON whitespace.
func blank(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}
