package filestore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gavelrtc/gavel/session"
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

// repairTail cuts off or completes a log's torn last line, and syncs.
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
	// The last line is at most MaxLineLen bytes plus "\r\n".
	start := max(0, size-sessionlog.MaxLineLen-2)
	tail := make([]byte, size-start)
	if _, err := f.ReadAt(tail, start); err != nil {
		return nil, err
	}
	nl := bytes.LastIndexByte(tail, '\n')
	if nl < 0 {
		// No complete line: not even the header, which Create writes whole.
		// Leave it: reading the session reports it.
		return nil, nil
	}
	rest := tail[nl+1:]
	if len(rest) == 0 {
		return nil, nil
	}
	end := start + int64(nl) + 1
	r := &Repair{File: path, Offset: end, Cut: int64(len(rest))}
	if _, err := session.ParseRecord(bytes.TrimSuffix(rest, []byte{'\r'})); err == nil {
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
