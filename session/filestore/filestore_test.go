package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/filestore"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

var equateEmpty = cmpopts.EquateEmpty()

// The test binary doubles as the helper process of the crash and lock
// tests: with childEnv set it runs child instead of the tests.
const childEnv = "GAVEL_FILESTORE_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode, os.Getenv("GAVEL_DIR"), os.Getenv("GAVEL_RUN")))
	}
	code := m.Run()
	if bigLog.dir != "" {
		os.RemoveAll(bigLog.dir)
	}
	os.Exit(code)
}

// child runs a helper: "lock" tries to open the store and exits 3 if it is
// locked; "submit" submits commands from 8 goroutines forever and prints
// the id of each one acknowledged, on its own line, once Submit returned.
func child(mode, dir, run string) int {
	st, err := filestore.Open(dir)
	if mode == "lock" {
		fmt.Println(err)
		if errors.Is(err, filestore.ErrLocked) {
			return 3
		}
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	s, err := session.Open(ctx, "room-1", st, session.WithPresets(storetest.Presets))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			actor := fmt.Sprintf("p%d", g)
			for i := 0; ; i++ {
				cmd := core.Command{ID: fmt.Sprintf("%s-%s-%d", run, actor, i), Type: core.SetAudio, Actor: actor, Enabled: i%2 == 0}
				if i == 0 {
					cmd = core.Command{ID: cmd.ID, Type: core.Join, Actor: actor, Name: actor, Preset: "attendee"}
				}
				_, err := s.Submit(ctx, cmd)
				if errors.Is(err, core.ErrAlreadyJoined) {
					continue // joined in an earlier run
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				// One write per line: lines up to PIPE_BUF never interleave.
				os.Stdout.WriteString(cmd.ID + "\n")
			}
		})
	}
	wg.Wait()
	return 0
}

// open opens a store in dir, closed when the test ends.
func open(t testing.TB, dir string) *filestore.Store {
	t.Helper()
	st, err := filestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return open(t, t.TempDir()) })
}

func read(t testing.TB, st session.Store, id string) []sessionlog.Record {
	t.Helper()
	var out []sessionlog.Record
	for r, err := range st.Records(testwait.Context(t), id, 1) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// verify checks a log file as `replay -verify` does.
func verify(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := sessionlog.Verify(f); err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
}

// fill creates session id in st and appends recs one by one.
func fill(t testing.TB, st session.Store, id string, recs []sessionlog.Record) {
	t.Helper()
	if err := st.Create(testwait.Context(t), sessionlog.Header{Session: id, Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	var last sessionlog.Position
	for _, r := range recs {
		var err error
		if last, err = st.Append(testwait.Context(t), id, last, r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReopen closes the store and opens it again: everything is read back
// from the files, the log goes on where it was, and replay verifies it.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(50)
	fill(t, st, "room/1", recs[:30])
	want := read(t, st, "room/1")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open(t, dir)
	if got := read(t, st, "room/1"); !cmp.Equal(want, got, equateEmpty) {
		t.Fatalf("after reopening (-before +after):\n%s", cmp.Diff(want, got, equateEmpty))
	}
	if len(st.Repairs()) != 0 {
		t.Errorf("repairs of a clean log: %+v", st.Repairs())
	}
	last := want[len(want)-1].Pos
	if _, err := st.Append(testwait.Context(t), "room/1", last-1, recs[30]); !errors.Is(err, session.ErrConflict) {
		t.Fatalf("Append at a stale position after reopening: %v, want ErrConflict", err)
	}
	for _, r := range recs[30:] {
		if last, err = st.Append(testwait.Context(t), "room/1", last, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, st, "room/1"); len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
	verify(t, st.Path("room/1"))
}

// TestRuntimeOnFiles runs the runtime on the file store: 64 goroutines
// over one session and over four, then a restart that keeps idempotency,
// and the files pass replay -verify.
func TestRuntimeOnFiles(t *testing.T) {
	for _, rooms := range []int{1, 4} {
		t.Run(fmt.Sprintf("sessions=%d", rooms), func(t *testing.T) { runtimeOnFiles(t, rooms) })
	}
}

func runtimeOnFiles(t *testing.T, rooms int) {
	dir := t.TempDir()
	st, err := filestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := []session.Option{session.WithPresets(storetest.Presets), session.WithSnapshotInterval(100)}
	m, err := session.NewManager(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	answered := submitAll(t, m, 64, 30, rooms)
	if err := m.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open(t, dir)
	m, err = session.NewManager(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(testwait.Context(t))
	for id, res := range answered {
		room, cmd := res.room, res.cmd
		again, err := m.Submit(testwait.Context(t), room, cmd)
		if err != nil || !again.Duplicate || !cmp.Equal(again.Events, res.res.Events, equateEmpty) || again.Seq != res.res.Seq {
			t.Fatalf("%s after the restart: %+v, %v; first %+v", id, again, err, res.res)
		}
	}
	for room := range rooms {
		id := fmt.Sprintf("room-%d", room)
		recs := read(t, st, id)
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[r.Command.ID] {
				t.Fatalf("%s twice in %s", r.Command.ID, id)
			}
			seen[r.Command.ID] = true
			if a, ok := answered[r.Command.ID]; !ok || a.room != id {
				t.Fatalf("%s in %s was not answered there", r.Command.ID, id)
			}
			delete(answered, r.Command.ID)
		}
		verify(t, st.Path(id))
	}
	if len(answered) != 0 {
		t.Errorf("%d answered commands are in no log", len(answered))
	}
}

type answer struct {
	room string
	cmd  core.Command
	res  session.Result
}

// submitAll has goroutines submit cmds each over rooms sessions.
func submitAll(t *testing.T, m *session.Manager, goroutines, cmds, rooms int) map[string]answer {
	var (
		mu  sync.Mutex
		out = map[string]answer{}
		wg  sync.WaitGroup
	)
	ctx := testwait.Context(t)
	for g := range goroutines {
		wg.Go(func() {
			actor := fmt.Sprintf("p%d", g)
			for i := range cmds {
				room := fmt.Sprintf("room-%d", (g+i)%rooms)
				cmd := core.Command{ID: fmt.Sprintf("%s-%d", actor, i), Type: core.SetAudio, Actor: actor, Enabled: i%3 == 0}
				if i < rooms {
					cmd = core.Command{ID: cmd.ID, Type: core.Join, Actor: actor, Name: actor, Preset: "attendee", Audio: true}
				}
				res, err := m.Submit(ctx, room, cmd)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				out[cmd.ID] = answer{room, cmd, res}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// TestTornTail cuts a log at every byte offset of its last record (with
// -short: its first and last few, and every 16th): reopening keeps exactly
// the records written whole, reports the cut, and the log goes on.
func TestTornTail(t *testing.T) {
	src := t.TempDir()
	st, err := filestore.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(12)
	fill(t, st, "room-1", recs)
	path := st.Path("room-1")
	st.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1
	for cut := lastStart; cut <= len(full); cut++ {
		if testing.Short() && cut > lastStart+2 && cut < len(full)-2 && (cut-lastStart)%16 != 0 {
			continue
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		st := open(t, dir)
		// Whole: the record's JSON is all there (its newline may be missing).
		whole := cut >= len(full)-1
		want := len(recs) - 1
		if whole {
			want = len(recs)
		}
		got := read(t, st, "room-1")
		if len(got) != want || !cmp.Equal(recs[len(got)-1].Command, got[len(got)-1].Command) {
			t.Fatalf("cut at %d of %d: %d records back, want %d", cut, len(full), len(got), want)
		}
		var wantRepairs []filestore.Repair
		switch {
		case cut == lastStart || cut == len(full):
		case whole:
			wantRepairs = []filestore.Repair{{Session: "room-1", File: st.Path("room-1"), Offset: int64(len(full))}}
		default:
			wantRepairs = []filestore.Repair{{Session: "room-1", File: st.Path("room-1"), Offset: int64(lastStart), Cut: int64(cut - lastStart)}}
		}
		if diff := cmp.Diff(wantRepairs, st.Repairs(), equateEmpty); diff != "" {
			t.Fatalf("cut at %d: repairs (-want +got):\n%s", cut, diff)
		}
		// The log goes on after the repair, and verifies.
		more := storetest.Records(len(got) + 1)[len(got)]
		if _, err := st.Append(testwait.Context(t), "room-1", got[len(got)-1].Pos, more); err != nil {
			t.Fatalf("cut at %d: Append after the repair: %v", cut, err)
		}
		verify(t, st.Path("room-1"))
	}
}

// TestTornHeader: a log created and never appended to is not synced, so a
// crash may leave it empty or with part of its header. Open removes it,
// says so, and the session is created again on its next use, and works.
func TestTornHeader(t *testing.T) {
	src := t.TempDir()
	st := open(t, src)
	if err := st.Create(t.Context(), sessionlog.Header{Session: "room-1", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	path := st.Path("room-1")
	header, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for cut := range len(header) { // the newline is the header's last byte
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), header[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		st := open(t, dir)
		want := []filestore.Repair{{Session: "room-1", File: st.Path("room-1"), Cut: int64(cut)}}
		if diff := cmp.Diff(want, st.Repairs()); diff != "" {
			t.Fatalf("header cut at %d: repairs (-want +got):\n%s", cut, diff)
		}
		if _, err := st.Header(t.Context(), "room-1"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("header cut at %d: Header = %v, want ErrNotFound", cut, err)
		}
		s, err := session.Open(t.Context(), "room-1", st, session.WithPresets(storetest.Presets))
		if err != nil {
			t.Fatalf("header cut at %d: reopening the session: %v", cut, err)
		}
		for _, r := range storetest.Records(3) {
			if _, err := s.Submit(t.Context(), r.Command); err != nil {
				t.Fatal(err)
			}
		}
		s.Close(t.Context())
		verify(t, st.Path("room-1"))
	}
}

// TestCrash kills a process appending through the runtime with SIGKILL at
// a random moment, reopens the directory, and finds every acknowledged
// command once; five times over, on the same directory.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	acked := map[string]bool{}
	for run := range 5 {
		cmd := exec.CommandContext(testwait.Context(t), os.Args[0]) // killed at the deadline if it hangs
		cmd.Env = append(os.Environ(), childEnv+"=submit", "GAVEL_DIR="+dir, fmt.Sprintf("GAVEL_RUN=r%d", run))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := 20 + rng.IntN(400)
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			acked[sc.Text()] = true
			if n++; n == killAt {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: the child ended with %v before it was killed:\n%s", run, err, stderr.String())
		}
		st, err := filestore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		recs := read(t, st, "room-1")
		in := map[string]bool{}
		seq := uint64(0)
		for _, r := range recs {
			if in[r.Command.ID] {
				t.Fatalf("run %d: %s is in the log twice", run, r.Command.ID)
			}
			in[r.Command.ID] = true
			for _, ev := range r.Events {
				if seq++; ev.Sequence() != seq {
					t.Fatalf("run %d: seq %d where %d was due", run, ev.Sequence(), seq)
				}
			}
		}
		for id := range acked {
			if !in[id] {
				t.Fatalf("run %d: acknowledged %s is not in the log (%d records, repairs %+v)", run, id, len(recs), st.Repairs())
			}
		}
		t.Logf("run %d: %d acknowledgements read (killed at a random one); %d acknowledged in all, %d records, repairs %+v", run, n, len(acked), len(recs), st.Repairs())
		verify(t, st.Path("room-1"))
		st.Close()
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	if _, err := filestore.Open(dir); !errors.Is(err, filestore.ErrLocked) {
		t.Fatalf("a second Open in this process: %v, want ErrLocked", err)
	}
	cmd := exec.CommandContext(testwait.Context(t), os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=lock", "GAVEL_DIR="+dir)
	out, err := cmd.Output()
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 3 {
		t.Fatalf("another process opening the store: %v, output %q; want ErrLocked", err, out)
	}
	if msg := string(out); !strings.Contains(msg, dir) || !strings.Contains(msg, fmt.Sprint(os.Getpid())) {
		t.Errorf("the error %q does not name the directory and the process holding it", msg)
	}
	st.Close()
	st2, err := filestore.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	st2.Close()
}

// TestSnapshots reopens sessions from the file store's snapshots, also from
// a damaged snapshot file, which is ignored.
func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := []session.Option{session.WithPresets(storetest.Presets), session.WithSnapshotInterval(7), session.WithIdempotencyWindow(5)}
	s, err := session.Open(testwait.Context(t), "room-1", st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range storetest.Records(100) {
		if _, err := s.Submit(testwait.Context(t), r.Command); (err == nil) != (r.Err == nil) {
			t.Fatalf("%s: %v, want %v", r.Command.ID, err, r.Err)
		}
	}
	want, _ := s.State(testwait.Context(t))
	s.Close(testwait.Context(t))
	st.Close()
	snapPath := filepath.Join(dir, "room-1.snap")
	good, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatalf("no snapshot file: %v", err)
	}
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 0xff
	for name, content := range map[string][]byte{"good": good, "damaged": damaged, "empty": nil} {
		if err := os.WriteFile(snapPath, content, 0o644); err != nil {
			t.Fatal(err)
		}
		st := open(t, dir)
		_, snapErr := st.LatestSnapshot(testwait.Context(t), "room-1")
		if (name == "good") != (snapErr == nil) {
			t.Errorf("%s snapshot: LatestSnapshot error %v", name, snapErr)
		}
		s, err := session.Open(testwait.Context(t), "room-1", st, opts...)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.State(testwait.Context(t))
		if !got.Equal(want) {
			t.Errorf("%s snapshot: state %+v, want %+v", name, got.Snapshot(), want.Snapshot())
		}
		// The window came back too: the last command is a duplicate.
		last := storetest.Records(100)[99]
		if res, err := s.Submit(testwait.Context(t), last.Command); (err == nil) != (last.Err == nil) || !res.Duplicate {
			t.Errorf("%s snapshot: the last command again: %+v, %v; want a duplicate", name, res, err)
		}
		s.Close(testwait.Context(t))
		st.Close()
	}
}

// TestRecordTooLong: a record longer than a log line may be is refused with
// a permanent error, and nothing of its batch is written.
func TestRecordTooLong(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 64 MiB record")
	}
	st := open(t, t.TempDir())
	recs := storetest.Records(2)
	fill(t, st, "room-1", recs[:1])
	big := sessionlog.Record{Command: core.Command{ID: strings.Repeat("x", sessionlog.MaxLineLen), Type: core.Leave, Actor: "host"}}
	for _, batch := range [][]sessionlog.Record{{big}, {recs[1], big}} {
		_, err := st.AppendBatch(testwait.Context(t), "room-1", 1, batch)
		if !errors.Is(err, session.ErrTooLarge) || !errors.Is(err, session.ErrPermanent) || !errors.Is(err, sessionlog.ErrLineTooLong) {
			t.Fatalf("a record over 64 MiB: %v, want ErrTooLarge, ErrPermanent and ErrLineTooLong", err)
		}
		if got := read(t, st, "room-1"); len(got) != 1 {
			t.Fatalf("%d records after a refused append, want 1", len(got))
		}
	}
	verify(t, st.Path("room-1"))
}

// TestRejectionsInTheLog: a rejected command is a line of the session's
// log, with its error, which replay -verify accepts; after a restart of the
// process (the store closed and opened again), the command sent again gets
// its original outcome from the log, although it would now be applied.
func TestRejectionsInTheLog(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	s, err := session.Open(testwait.Context(t), "room-1", st, session.WithPresets(storetest.Presets))
	if err != nil {
		t.Fatal(err)
	}
	pin := core.Command{ID: "c2", Type: core.Pin, Actor: "bob", Target: "bob"}
	_, err = s.Submit(testwait.Context(t), core.Command{ID: "c1", Type: core.KickAll, Actor: "bob"})
	if !errors.Is(err, core.ErrNotJoined) {
		t.Fatalf("kick_all before joining: %v, want not_joined", err)
	}
	if _, err = s.Submit(testwait.Context(t), pin); !errors.Is(err, core.ErrNotJoined) {
		t.Fatalf("pin before joining: %v, want not_joined", err)
	}
	s.Close(testwait.Context(t))
	b, err := os.ReadFile(st.Path("room-1"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); len(lines) != 3 ||
		!strings.Contains(lines[1], `"cmd":{"id":"c1","type":"kick_all","actor":"bob"},"error":{"code":1208,"name":"not_joined"`) {
		t.Errorf("the log:\n%s\nwant the two rejections, with their errors", b)
	}
	verify(t, st.Path("room-1"))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(t, dir)
	s, err = session.Open(testwait.Context(t), "room-1", st)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(testwait.Context(t))
	if _, err := s.Submit(testwait.Context(t), core.Command{ID: "c3", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "host"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Submit(testwait.Context(t), pin)
	if !errors.Is(err, core.ErrNotJoined) || !res.Duplicate {
		t.Errorf("pin sent again after the restart: %+v, %v; want its original not_joined, as a duplicate", res, err)
	}
	if recs := read(t, st, "room-1"); len(recs) != 3 {
		t.Errorf("%d records, want 3: the retry is answered from the log", len(recs))
	}
	verify(t, st.Path("room-1"))
}

// TestBlankLines opens a log with blank lines before its header, between
// records and at its end, as a person editing it may leave them (the SPEC
// allows them): each takes a position, reads from marks and from a
// snapshot start on the right lines, and the log goes on.
func TestBlankLines(t *testing.T) {
	src := open(t, t.TempDir())
	recs := storetest.Records(300)
	fill(t, src, "room-1", recs)
	written, err := os.ReadFile(src.Path("room-1"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(written), "\n")
	log := "\n \r\n" + lines[0] // the header on line 3
	var want []sessionlog.Record
	var pos sessionlog.Position
	for i, line := range lines[1 : len(recs)+1] {
		if i%7 == 3 {
			log += "\t\n"
			pos++
		}
		pos++
		r := recs[i]
		r.Pos = pos
		want = append(want, r)
		log += line
	}
	log += "\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(src.Path("room-1"))), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	checkSuffixes := func(st *filestore.Store) {
		t.Helper()
		last := want[len(want)-1].LastSeq(0)
		for from := uint64(1); from <= last+1; from += max(1, last/50) {
			var got []sessionlog.Record
			for r, err := range st.Records(testwait.Context(t), "room-1", from) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			start := len(want) - len(got)
			need := slices.IndexFunc(want, func(r sessionlog.Record) bool { return r.LastSeq(0) >= from })
			if need < 0 {
				need = len(want)
			}
			if start < 0 || start > need || !cmp.Equal(want[start:], got, equateEmpty) {
				t.Fatalf("Records(%d): %d records, not a suffix of the log starting at record %d or before", from, len(got), need)
			}
		}
	}
	checkSuffixes(st) // reads from the first record, then from the marks it made

	// A snapshot after a record that a blank line follows.
	i := 150
	for i%7 != 2 {
		i++
	}
	var evs []events.Event
	for _, r := range want[:i+1] {
		evs = append(evs, r.Events...)
	}
	state := reducer.Fold(core.NewState("room-1", storetest.Presets), evs)
	snap := session.Snapshot{State: state.Snapshot(), Pos: want[i].Pos, WindowSeq: state.Seq() - 20}
	if err := st.SaveSnapshot(testwait.Context(t), "room-1", snap); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, dir)
	got, err := st.LatestSnapshot(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snap, got, equateEmpty); diff != "" {
		t.Errorf("snapshot (-saved +read):\n%s", diff)
	}
	checkSuffixes(st)
	more := storetest.Records(len(recs) + 1)[len(recs)]
	if _, err := st.Append(testwait.Context(t), "room-1", want[len(want)-1].Pos, more); err != nil {
		t.Fatal(err)
	}
	verify(t, st.Path("room-1"))
}

// TestBadLine: a line that does not decode is an error naming the file and
// the line, as `replay -verify` would, never silently skipped.
func TestBadLine(t *testing.T) {
	src := open(t, t.TempDir())
	fill(t, src, "room-1", storetest.Records(3))
	written, err := os.ReadFile(src.Path("room-1"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(written), "\n")
	for _, tt := range []struct {
		name, bad string
		line      int
	}{
		{"not JSON", "nope\n", 5},
		{"no outcome", `{"cmd":{"id":"x","type":"leave","actor":"host"}}` + "\n", 5},
		{"too long", strings.Repeat(" ", sessionlog.MaxLineLen+1) + "x\n", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := "\n" + lines[0] + lines[1] + "\n" + tt.bad + lines[2] + lines[3]
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(src.Path("room-1"))), []byte(log), 0o644); err != nil {
				t.Fatal(err)
			}
			st := open(t, dir)
			var n int
			for _, err := range st.Records(testwait.Context(t), "room-1", 1) {
				var le *sessionlog.LineError
				if err == nil {
					n++
					continue
				}
				if !errors.As(err, &le) || le.Line != tt.line || !strings.Contains(err.Error(), st.Path("room-1")) {
					t.Fatalf("error %q: want one naming %s and line %d", err, st.Path("room-1"), tt.line)
				}
				if n != 1 {
					t.Fatalf("%d records before the error, want 1", n)
				}
				return
			}
			t.Fatalf("no error reading a log with a bad line")
		})
	}
}

// TestWebinar: a session of 100,000 participants end to end on the file
// store (storetest.Webinar), reopened from its directory.
func TestWebinar(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 participants")
	}
	t.Logf("%+v", storetest.Webinar(t, 100_000, openDir(t.TempDir())))
}

// openDir opens the store in dir, for storetest.Webinar.
func openDir(dir string) func(t testing.TB) (session.Store, func()) {
	return func(t testing.TB) (session.Store, func()) {
		st, err := filestore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st, func() { st.Close() }
	}
}
