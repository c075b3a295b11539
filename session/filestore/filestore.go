// Package filestore is a session.Store on local files: one gavel-log/2 file
// per session, so that `replay -verify FILE` checks a live session's history
// as it is.
//
// # Files
//
// In the store's directory:
//
//	LOCK                   the lock file: one Store per directory
//	<name>.jsonl           a session's log: a gavel-log/2 header, then one
//	                       command record a line, in the order decided
//	                       (rejected commands with their "error")
//	<name>.snap            its latest snapshot (binary framing around the
//	                       SPEC's state JSON, with a checksum)
//
// <name> is the session id with every byte outside [A-Za-z0-9_-] written
// %XX, so any id makes one safe file name (ids are case-sensitive, and so
// must be the file system). A position is a record's number in its log (1,
// 2, 3 …).
//
// # Durability
//
// Append and AppendBatch write their lines with one write and sync the file
// (fdatasync on Linux) before they return: an acknowledged record is on
// disk. AppendBatch is how group commit reaches the disk: the runtime hands
// it every command decided while the previous sync ran, so concurrent
// submitters share one sync. A failed write is cut off again; a failed sync
// leaves the file's content unknown (the kernel may have dropped the dirty
// pages), so the session refuses further appends until the store is opened
// again.
//
// Create writes the header to a temporary file and links it into place, so
// a log never exists without its whole header; it does not sync, so that
// opening many sessions costs no disk flush each. The first append to a new
// log syncs the file whole and the directory: only then can the log hold an
// acknowledged record. A crash before it can leave the log's file empty, or
// without a complete header line: Open removes such a file (and reports it
// in Repairs, with Cut its length), and the session is created again on its
// next use, as it was, since it held nothing.
//
// # Recovery
//
// Open looks at the end of every log. A crash can leave a last line written
// in part: Open cuts it off and reports it (Repairs). A last line whose JSON
// is complete but whose newline is missing is a fully written record: Open
// keeps it and adds the newline. Nothing before the last newline is ever
// removed; a line there that does not decode is an error reported when the
// session is read, never silently dropped.
//
// Open takes an exclusive flock on LOCK and fails with an error matching
// ErrLocked while another Store (in any process) holds it.
//
// Package filestore imports session, sessionlog, core, events and the
// standard library. The lines it writes and reads are sessionlog's.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// ErrLocked is matched by the error Open returns when another Store, in
// this process or another, holds the directory.
var ErrLocked = errors.New("filestore: directory locked by another store")

// ErrClosed is matched by the errors of a closed Store.
var ErrClosed = errors.New("filestore: store closed")

// Store is a session.Store on a directory. It implements
// session.BatchAppender and session.Snapshotter. It is safe for concurrent
// use.
type Store struct {
	dir     string
	lock    *os.File
	repairs []Repair

	mu     sync.Mutex
	logs   map[string]*logFile
	closed bool
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.BatchAppender = (*Store)(nil)
	_ session.Snapshotter   = (*Store)(nil)
)

// Repair is a torn last line Open found in a session's log, or a log without
// a whole header that it removed (then Offset is 0 and Cut the file's
// length, and the file is gone).
type Repair struct {
	Session string // session id
	File    string // the log file
	Offset  int64  // where the last complete line ends: the file's length now
	Cut     int64  // bytes removed after Offset; 0 when a newline was added
}

// Open opens the store in dir, creating dir if needed, takes its lock and
// repairs torn last lines (see Repairs). Close it to release the lock.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, lock: lock, logs: make(map[string]*logFile)}
	if err := s.repair(); err != nil {
		unlockDir(lock)
		return nil, err
	}
	return s, nil
}

// Repairs lists the torn last lines Open cut off or completed.
func (s *Store) Repairs() []Repair { return s.repairs }

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path is the log file of a session, whether or not it exists.
func (s *Store) Path(session string) string { return logPath(s.dir, session) }

// Close closes the files and releases the directory lock. Calls after Close
// fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, l := range s.logs {
		errs = append(errs, l.close())
	}
	s.logs = nil
	errs = append(errs, unlockDir(s.lock))
	return errors.Join(errs...)
}

const (
	logExt  = ".jsonl"
	snapExt = ".snap"
	tmpExt  = ".tmp"
)

// logPath is the log file of session id in dir.
func logPath(dir, id string) string { return filepath.Join(dir, fileName(id)+logExt) }

// fileName escapes a session id into a file name without dots.
func fileName(id string) string {
	var b strings.Builder
	for i := range len(id) {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// sessionID is fileName's inverse; ok is false for a name fileName does
// not make.
func sessionID(name string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+3 > len(name) {
			return "", false
		}
		v, err := strconv.ParseUint(name[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	id := b.String()
	return id, id != "" && fileName(id) == name
}

// maxNameLen keeps a log's file name, with its longest suffix, within the
// 255 bytes most file systems allow.
const maxNameLen = 255 - len(logExt) - len(tmpExt)

func (s *Store) checkID(id string) error {
	if id == "" {
		return errors.New("filestore: empty session id")
	}
	if len(fileName(id)) > maxNameLen {
		return fmt.Errorf("filestore: session id %.20q… too long for a file name", id)
	}
	return nil
}

// log returns the open log of a session, opening it on first use.
func (s *Store) log(id string) (*logFile, error) {
	if err := s.checkID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if l := s.logs[id]; l != nil {
		return l, nil
	}
	l, err := openLog(s.dir, id)
	if err != nil {
		return nil, err
	}
	s.logs[id] = l
	return l, nil
}

// Create implements session.Store.
func (s *Store) Create(ctx context.Context, h sessionlog.Header) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.checkID(h.Session); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.logs[h.Session] != nil {
		return fmt.Errorf("filestore: session %q: %w", h.Session, session.ErrExists)
	}
	l, err := createLog(s.dir, h)
	if err != nil {
		return err
	}
	s.logs[h.Session] = l
	return nil
}

// Header implements session.Store.
func (s *Store) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	if err := ctx.Err(); err != nil {
		return sessionlog.Header{}, err
	}
	l, err := s.log(id)
	if err != nil {
		return sessionlog.Header{}, err
	}
	return l.header, nil
}

// Append implements session.Store.
func (s *Store) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return s.AppendBatch(ctx, id, expected, []sessionlog.Record{rec})
}

// AppendBatch implements session.BatchAppender: one write and one sync.
func (s *Store) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l, err := s.log(id)
	if err != nil {
		return 0, err
	}
	return l.append(expected, recs)
}

// Records implements session.Store.
func (s *Store) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		l, err := s.log(id)
		if err != nil {
			yield(sessionlog.Record{}, err)
			return
		}
		l.records(ctx, from, yield)
	}
}

// Sessions implements session.Store.
func (s *Store) Sessions(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		entries, err := os.ReadDir(s.dir)
		if err != nil {
			yield("", fmt.Errorf("filestore: %w", err))
			return
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			id, ok := logSession(e.Name())
			if !ok || !e.Type().IsRegular() {
				continue
			}
			if !yield(id, nil) {
				return
			}
		}
	}
}

// logSession returns the session id of a log file's name.
func logSession(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, logExt)
	if !ok || strings.Contains(base, ".") {
		return "", false
	}
	return sessionID(base)
}

// SaveSnapshot implements session.Snapshotter.
func (s *Store) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := s.log(id)
	if err != nil {
		return err
	}
	return l.saveSnapshot(snap)
}

// LatestSnapshot implements session.Snapshotter.
func (s *Store) LatestSnapshot(ctx context.Context, id string) (session.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return session.Snapshot{}, err
	}
	l, err := s.log(id)
	if err != nil {
		return session.Snapshot{}, err
	}
	return l.latestSnapshot()
}
