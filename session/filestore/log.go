package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// A position is a record's line number in its log, counting from the first
// line after the header; blank lines (there are none in logs this package
// writes) take a number and are skipped. The log is read with a
// sessionlog.Reader, which tells where each line starts in bytes: that is
// what marks are made of, and a read resumes from a mark.

// mark says where a record starts: record pos starts at byte off, and the
// session's seq before it is before. Marks let a read start near the seq it
// wants instead of at the first record.
type mark struct {
	pos    sessionlog.Position
	off    int64
	before uint64
}

// markEvery is the distance, in records, between two marks.
const markEvery = 64

// logFile is one session's open log.
type logFile struct {
	path       string // the .jsonl file; the others are derived from it
	id         string
	header     sessionlog.Header
	headerLine int  // the header's line number: 1 unless blank lines precede it
	first      mark // the first record's mark: after the header, seq 0

	appendMu sync.Mutex // one append or snapshot save at a time
	f        *os.File
	buf      []byte // the lines being appended, under appendMu

	mu      sync.Mutex
	size    int64               // end of the last complete, synced line
	lines   sessionlog.Position // lines after the header
	lastPos sessionlog.Position // the last record's position (lines minus trailing blank ones)
	marks   []mark              // sorted by pos
	snap    *session.Snapshot
	broken  error // a failed sync: no more appends
	// unsynced: the log was created by this store and nothing of it has
	// been synced; the first append syncs the file whole and its directory.
	unsynced bool
}

func (l *logFile) base() string { return l.path[:len(l.path)-len(logExt)] }

// createLog makes a session's log holding only its header, atomically, and
// returns it open. It does not sync: a log with no record holds nothing
// acknowledged, and its first append makes the header and the directory
// entry durable with the record (see logFile.unsynced). A crash before that
// may leave the file empty or torn, which Open removes (see repair).
func createLog(dir string, h sessionlog.Header) (*logFile, error) {
	path := logPath(dir, h.Session)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("filestore: session %q: %w", h.Session, session.ErrExists)
	}
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	defer os.Remove(tmp)
	line := append(sessionlog.AppendHeader(nil, h), '\n')
	if _, err := f.Write(line); err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: session %q: writing the header: %w", h.Session, err)
	}
	// Link, unlike rename, fails if another log took the name meanwhile.
	if err := os.Link(tmp, path); err != nil {
		f.Close()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("filestore: session %q: %w", h.Session, session.ErrExists)
		}
		return nil, fmt.Errorf("filestore: %w", err)
	}
	size := int64(len(line))
	return &logFile{path: path, id: h.Session, f: f, header: h, headerLine: 1, first: mark{pos: 1, off: size},
		size: size, unsynced: true}, nil
}

// openLog opens a session's log, reads its header and latest snapshot, and
// counts its lines.
func openLog(dir, id string) (*logFile, error) {
	path := logPath(dir, id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filestore: session %q: %w", id, session.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	l := &logFile{path: path, id: id, f: f}
	if err := l.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: session %q: %s: %w", id, path, err)
	}
	return l, nil
}

func (l *logFile) load() error {
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	l.size = fi.Size()
	r, err := sessionlog.NewReader(io.NewSectionReader(l.f, 0, l.size))
	if err != nil {
		return err
	}
	l.header, l.headerLine = r.Header(), r.Line()
	if l.header.Session != l.id {
		return fmt.Errorf("the header is of session %q", l.header.Session)
	}
	l.first = mark{pos: 1, off: r.End()}
	start := l.first
	if snap, after, window, ok := l.readSnapshot(); ok {
		l.snap = &snap
		l.marks = append(l.marks, window, after)
		start = after
	}
	n, lastContent, err := countLines(l.f, start.off, l.size)
	if err != nil {
		return err
	}
	l.lines = start.pos - 1 + n
	l.lastPos = start.pos - 1 + lastContent
	if l.lastPos == start.pos-1 && start != l.first {
		l.lastPos = l.snap.Pos // no record after the snapshot's
	}
	return nil
}

// countLines counts the lines of f in [off, end), and returns the number
// (from 1) of the last one that is not blank, 0 if none.
func countLines(f *os.File, off, end int64) (n, lastContent sessionlog.Position, err error) {
	buf := make([]byte, 1<<20)
	content := false
	for off < end {
		b := buf[:min(int64(len(buf)), end-off)]
		if _, err := f.ReadAt(b, off); err != nil {
			return 0, 0, err
		}
		off += int64(len(b))
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			seg := b
			if i >= 0 {
				seg = b[:i]
			}
			if !content && !blank(seg) {
				content = true
			}
			if i < 0 {
				break
			}
			n++
			if content {
				lastContent = n
			}
			content = false
			b = b[i+1:]
		}
	}
	return n, lastContent, nil
}

// blank reports whether b holds only JSON whitespace.
func blank(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

func (l *logFile) close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return l.f.Close()
}

// append writes recs after the last record if it is at expected, and syncs.
func (l *logFile) append(expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	size, lines, lastPos, broken := l.size, l.lines, l.lastPos, l.broken
	l.mu.Unlock()
	if broken != nil {
		return 0, fmt.Errorf("filestore: session %q: a sync failed earlier, reopen the store: %w", l.id, broken)
	}
	if expected != lastPos {
		return 0, fmt.Errorf("filestore: session %q: expected position %d, the last record is at %d: %w", l.id, expected, lastPos, session.ErrConflict)
	}
	buf := l.buf[:0]
	newMarks := make([]mark, 0, 1)
	for i, rec := range recs {
		start := len(buf)
		buf = sessionlog.AppendRecord(buf, rec)
		if len(buf)-start > sessionlog.MaxLineLen {
			return 0, fmt.Errorf("filestore: session %q: record %q is %d bytes, more than a log line holds: %w (%w)",
				l.id, rec.Command.ID, len(buf)-start, session.ErrTooLarge, sessionlog.ErrLineTooLong)
		}
		buf = append(buf, '\n')
		if pos := lines + sessionlog.Position(i) + 1; len(rec.Events) > 0 && pos%markEvery == 0 {
			newMarks = append(newMarks, mark{pos: pos, off: size + int64(start), before: rec.Events[0].Sequence() - 1})
		}
	}
	l.buf = buf
	if _, err := l.f.WriteAt(buf, size); err != nil {
		if terr := l.f.Truncate(size); terr != nil {
			l.setBroken(terr)
		}
		return 0, fmt.Errorf("filestore: session %q: write: %w", l.id, err)
	}
	l.mu.Lock()
	unsynced := l.unsynced
	l.mu.Unlock()
	if err := l.sync(unsynced); err != nil {
		l.setBroken(err)
		return 0, fmt.Errorf("filestore: session %q: sync: %w", l.id, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.size = size + int64(len(buf))
	l.unsynced = false
	l.lines = lines + sessionlog.Position(len(recs))
	l.lastPos = l.lines
	l.marks = append(l.marks, newMarks...)
	return l.lastPos, nil
}

// sync makes what was written durable: the data (fdatasync), or, for a
// log never synced, the file whole and the directory entry that names it.
func (l *logFile) sync(whole bool) error {
	if !whole {
		return syncData(l.f)
	}
	if err := fileSync(l.f); err != nil {
		return err
	}
	return syncDir(filepath.Dir(l.path))
}

func (l *logFile) setBroken(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broken = err
}

// startMark returns where to start reading for events from seq from: the
// last mark whose seq before is below from-1 (see session.Store.Records).
func (l *logFile) startMark(from uint64) mark {
	if from > 1 {
		for i := len(l.marks) - 1; i >= 0; i-- {
			if l.marks[i].before < from-1 {
				return l.marks[i]
			}
		}
	}
	return l.first
}

// addMark remembers m unless a mark near it is known already.
func (l *logFile) addMark(m mark) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, found := slices.BinarySearchFunc(l.marks, m.pos, func(m mark, pos sessionlog.Position) int { return int(m.pos) - int(pos) })
	if found || (i > 0 && m.pos-l.marks[i-1].pos < markEvery) || (i < len(l.marks) && l.marks[i].pos-m.pos < markEvery) {
		return
	}
	l.marks = slices.Insert(l.marks, i, m)
}

// reader returns a Reader of the log's records from mark m to end.
func (l *logFile) reader(m mark, end int64) *sessionlog.Reader {
	return sessionlog.ResumeReader(io.NewSectionReader(l.f, m.off, end-m.off), l.header, l.headerLine+int(m.pos)-1, m.off)
}

// pos is the position of the line numbered line.
func (l *logFile) pos(line int) sessionlog.Position { return sessionlog.Position(line - l.headerLine) }

// records yields the records from the mark for from to the end the log had
// when called, and marks the way for later reads.
func (l *logFile) records(ctx context.Context, from uint64, yield func(sessionlog.Record, error) bool) {
	l.mu.Lock()
	m, end := l.startMark(from), l.size
	l.mu.Unlock()
	if m.off >= end {
		return
	}
	r := l.reader(m, end)
	lastMark := m.pos
	for {
		lrec, err := r.Next()
		if err == io.EOF {
			return
		}
		var rec sessionlog.Record
		if err == nil {
			if rec, err = lrec.Record(); err != nil {
				err = &sessionlog.LineError{Line: r.Line(), Err: err}
			}
		}
		if err != nil {
			yield(sessionlog.Record{}, fmt.Errorf("filestore: session %q: %s (byte %d): %w", l.id, l.path, r.Offset(), err))
			return
		}
		rec.Pos = l.pos(r.Line())
		if len(rec.Events) > 0 && rec.Pos-lastMark >= markEvery {
			l.addMark(mark{pos: rec.Pos, off: r.Offset(), before: rec.Events[0].Sequence() - 1})
			lastMark = rec.Pos
		}
		if err := ctx.Err(); err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		if !yield(rec, nil) {
			return
		}
	}
}
