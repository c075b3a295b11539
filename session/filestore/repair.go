package filestore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gavelrtc/gavel/sessionlog"
)

// repair looks at the end of every log in the directory: see the package doc.
func (s *Store) repair() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	for _, e := range entries {
		id, ok := logSession(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		r, err := repairTail(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("filestore: session %q: %w", id, err)
		}
		if r != nil {
			r.Session = id
			s.repairs = append(s.repairs, *r)
		}
	}
	return nil
}

// repairTail cuts off or completes a log's torn last line, and syncs; a
// log without a whole header it removes.
func repairTail(path string) (*Repair, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	nl, err := lastNewline(f, size)
	if err != nil {
		return nil, err
	}
	if nl < 0 {
		// No complete line, not even the header: the log was created and
		// never synced (its first append would have synced the header),
		// so it held nothing acknowledged. Remove it; the session is
		// created again on its next use.
		if err := os.Remove(path); err != nil {
			return nil, err
		}
		return &Repair{File: path, Cut: size}, nil
	}
	if nl == size-1 {
		return nil, nil
	}
	end := nl + 1
	r := &Repair{File: path, Offset: end, Cut: size - end}
	var rest []byte
	if r.Cut <= sessionlog.MaxLineLen+1 { // longer, it cannot be a record
		rest = make([]byte, r.Cut)
		if _, err := f.ReadAt(rest, end); err != nil {
			return nil, err
		}
	}
	if _, err := sessionlog.DecodeRecord(bytes.TrimSuffix(rest, []byte{'\r'})); rest != nil && err == nil {
		// A whole record whose newline did not make it: keep it.
		if _, err := f.WriteAt([]byte{'\n'}, size); err != nil {
			return nil, err
		}
		r.Offset, r.Cut = size+1, 0
	} else if err := f.Truncate(end); err != nil {
		return nil, err
	}
	return r, syncData(f)
}

// lastNewline returns the offset of f's last '\n' before size, or -1, reading
// back from the end a block at a time: a log's tail is usually one short
// line.
func lastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i), nil
		}
		end = start
	}
	return -1, nil
}
