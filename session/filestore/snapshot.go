package filestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// A snapshot file is
//
//	"gavel-snap/1\n"
//	uvarints: Pos, the offset where record Pos+1 starts, the window mark
//	          (pos, off, before), WindowSeq, the length of the state JSON
//	the state JSON (events.AppendSnapshot)
//	CRC-32C of all the above, 4 bytes big-endian
//
// A file that does not check out (bad checksum, marks beyond the log's end
// or not at a line start) is ignored: the session is then folded from its
// first record, which gives the same state.
const snapMagic = "gavel-snap/1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeSnapshot(snap session.Snapshot, after, window mark) []byte {
	b := []byte(snapMagic)
	state := events.AppendSnapshot(nil, snap.State)
	for _, v := range []uint64{uint64(snap.Pos), uint64(after.off), uint64(window.pos), uint64(window.off), window.before, snap.WindowSeq, uint64(len(state))} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, state...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadSnapshot = errors.New("not a valid snapshot file")

func decodeSnapshot(b []byte) (snap session.Snapshot, after, window mark, err error) {
	if len(b) < len(snapMagic)+4 || !bytes.HasPrefix(b, []byte(snapMagic)) {
		return snap, after, window, errBadSnapshot
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return snap, after, window, errBadSnapshot
	}
	rest := body[len(snapMagic):]
	var v [7]uint64
	for i := range v {
		n := 0
		if v[i], n = binary.Uvarint(rest); n <= 0 {
			return snap, after, window, errBadSnapshot
		}
		rest = rest[n:]
	}
	if uint64(len(rest)) != v[6] {
		return snap, after, window, errBadSnapshot
	}
	state, err := events.DecodeSnapshot(rest)
	if err != nil {
		return snap, after, window, fmt.Errorf("%w: %w", errBadSnapshot, err)
	}
	snap = session.Snapshot{State: state, Pos: sessionlog.Position(v[0]), WindowSeq: v[5]}
	after = mark{pos: snap.Pos + 1, off: int64(v[1]), before: state.Seq}
	window = mark{pos: sessionlog.Position(v[2]), off: int64(v[3]), before: v[4]}
	return snap, after, window, nil
}

// readSnapshot reads the session's snapshot file, during load; ok is false
// if there is none that checks out.
func (l *logFile) readSnapshot() (snap session.Snapshot, after, window mark, ok bool) {
	b, err := os.ReadFile(l.base() + snapExt)
	if err != nil {
		return snap, after, window, false
	}
	snap, after, window, err = decodeSnapshot(b)
	if err != nil || snap.State.Session != l.id || window.pos > after.pos || window.off > after.off {
		return snap, after, window, false
	}
	if !l.lineStart(window.off) || !l.lineStart(after.off) {
		return snap, after, window, false
	}
	return snap, after, window, true
}

// lineStart reports whether a line of the log starts at off (or off is the
// end of the log's last line).
func (l *logFile) lineStart(off int64) bool {
	if off < l.first.off || off > l.size {
		return false
	}
	var c [1]byte
	_, err := l.f.ReadAt(c[:], off-1)
	return err == nil && c[0] == '\n'
}

func (l *logFile) latestSnapshot() (session.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snap == nil {
		return session.Snapshot{}, fmt.Errorf("filestore: session %q: no snapshot: %w", l.id, session.ErrNotFound)
	}
	return *l.snap, nil
}

// saveSnapshot writes snap to a temporary file, syncs it and renames it over
// the session's snapshot file. Appends wait meanwhile, so the marks it
// records are those of the log.
func (l *logFile) saveSnapshot(snap session.Snapshot) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	lastPos, size, window := l.lastPos, l.size, l.startMark(snap.WindowSeq+1)
	l.mu.Unlock()
	if snap.Pos > lastPos {
		return fmt.Errorf("filestore: session %q: snapshot at position %d beyond the last record's %d", l.id, snap.Pos, lastPos)
	}
	after := mark{pos: snap.Pos + 1, off: size, before: snap.State.Seq}
	if snap.Pos < lastPos {
		off, err := l.lineAfter(snap.Pos, size)
		if err != nil {
			return err
		}
		after.off = off
	}
	if window.pos > after.pos {
		window = l.first
	}
	path := l.base() + snapExt
	if err := writeFileSync(path, encodeSnapshot(snap, after, window)); err != nil {
		return fmt.Errorf("filestore: session %q: snapshot: %w", l.id, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap = &snap
	return nil
}

// lineAfter returns the offset where the line after record pos starts (the
// first record's mark for pos 0), reading from the nearest mark before it.
func (l *logFile) lineAfter(pos sessionlog.Position, end int64) (int64, error) {
	l.mu.Lock()
	m := l.first
	for _, mk := range l.marks {
		if mk.pos <= pos+1 && mk.pos > m.pos {
			m = mk
		}
	}
	l.mu.Unlock()
	if m.pos == pos+1 {
		return m.off, nil
	}
	r := l.reader(m, end)
	for {
		if _, err := r.Next(); err != nil {
			return 0, fmt.Errorf("filestore: session %q: finding record %d: %w", l.id, pos, err)
		}
		switch p := l.pos(r.Line()); {
		case p == pos:
			return r.End(), nil
		case p > pos:
			return 0, fmt.Errorf("filestore: session %q: no record at position %d", l.id, pos)
		}
	}
}

// writeFileSync replaces path with data, durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}
