// Package storetest is the conformance suite of session.Store: every Store
// implementation runs it from its own tests,
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store { return newStore(t) })
//	}
//
// The suite checks creation and headers, appends at an expected position and
// conflicts (also between concurrent writers), reads from every seq,
// ordering, records without events and rejected commands, session ids that
// are not plain words, listing, and the optional interfaces the store
// implements (BatchAppender, Snapshotter, Follower). newStore must return an empty
// store and clean it up with t.Cleanup.
//
// Package storetest imports session, sessionlog, core, events, reducer and
// the standard library, and go-cmp for readable failures.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// Presets are the presets of the sessions the suite creates.
var Presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// equateEmpty makes a nil and an empty list of events the same.
var equateEmpty = cmpopts.EquateEmpty()

// Run runs the conformance suite as subtests of t, each on a new store.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Helper()
	tests := []struct {
		name string
		f    func(t *testing.T, st session.Store)
	}{
		{"CreateAndHeader", testCreateAndHeader},
		{"AppendAndRead", testAppendAndRead},
		{"Conflict", testConflict},
		{"ConcurrentWriters", testConcurrentWriters},
		{"RecordsFrom", testRecordsFrom},
		{"ReadWhileAppending", testReadWhileAppending},
		{"UnknownSession", testUnknownSession},
		{"Sessions", testSessions},
		{"SessionIDs", testSessionIDs},
		{"Cancelled", testCancelled},
		{"BatchAppender", testBatchAppender},
		{"Snapshotter", testSnapshotter},
		{"Follower", testFollower},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newStore(t)) })
	}
}

// Records returns n command records of one session as the runtime would
// produce them, starting from a new session: joins, commands that change
// nothing, commands with events, and rejected commands, in a fixed mix.
func Records(n int) []sessionlog.Record {
	st := core.NewState("any", Presets)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	var recs []sessionlog.Record
	for i := 0; len(recs) < n; i++ {
		var cmd core.Command
		switch id := fmt.Sprintf("c%d", i); {
		case i == 0:
			cmd = core.Command{ID: id, Type: core.Join, Actor: "host", Name: "Host", Preset: "host", Audio: true, Video: true}
		case i%5 == 1:
			cmd = core.Command{ID: id, Type: core.Join, Actor: fmt.Sprintf("p%d", i), Name: "P", Preset: "attendee", Audio: true, Video: i%2 == 0}
		case i%5 == 2:
			cmd = core.Command{ID: id, Type: core.SetAudio, Actor: "host", Enabled: true} // changes nothing
		case i%5 == 3:
			cmd = core.Command{ID: id, Type: core.DisableAllAudio, Actor: "host"} // one event, or none
		case i%10 == 9:
			cmd = core.Command{ID: id, Type: core.Kick, Actor: "p1", Target: "host"} // permission_denied
		default:
			cmd = core.Command{ID: id, Type: core.SetAudio, Actor: "host", Enabled: i%10 == 4}
		}
		rec := sessionlog.Record{At: at.Add(time.Duration(i) * time.Millisecond), Command: cmd}
		next, evs, err := reducer.Apply(st, cmd)
		if err != nil {
			rec.Err = err.(*core.Error)
		}
		st, rec.Events = next, evs
		recs = append(recs, rec)
	}
	return recs
}

func header(id string) sessionlog.Header { return sessionlog.Header{Session: id, Presets: Presets} }

func create(t *testing.T, st session.Store, id string) {
	t.Helper()
	if err := st.Create(t.Context(), header(id)); err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
}

// appendAll appends recs one by one and returns their positions.
func appendAll(t *testing.T, st session.Store, id string, last sessionlog.Position, recs []sessionlog.Record) []sessionlog.Position {
	t.Helper()
	var pos []sessionlog.Position
	for i, r := range recs {
		p, err := st.Append(t.Context(), id, last, r)
		if err != nil {
			t.Fatalf("Append #%d at %d: %v", i, last, err)
		}
		if p <= last {
			t.Fatalf("Append #%d at %d returned position %d: positions must increase", i, last, p)
		}
		pos = append(pos, p)
		last = p
	}
	return pos
}

// read returns every record Records yields, failing t on an error.
func read(t *testing.T, st session.Store, id string, from uint64) []sessionlog.Record {
	t.Helper()
	var out []sessionlog.Record
	for r, err := range st.Records(t.Context(), id, from) {
		if err != nil {
			t.Fatalf("Records(%q, %d): %v", id, from, err)
		}
		out = append(out, r)
	}
	return out
}

// withPos returns recs with the given positions.
func withPos(recs []sessionlog.Record, pos []sessionlog.Position) []sessionlog.Record {
	out := slices.Clone(recs)
	for i := range out {
		out[i].Pos = pos[i]
	}
	return out
}

func testCreateAndHeader(t *testing.T, st session.Store) {
	ctx := t.Context()
	if _, err := st.Header(ctx, "room-1"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Header of a session never created: err = %v, want ErrNotFound", err)
	}
	create(t, st, "room-1")
	h, err := st.Header(ctx, "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(header("room-1"), h, equateEmpty); diff != "" {
		t.Errorf("Header (-want +got):\n%s", diff)
	}
	if err := st.Create(ctx, sessionlog.Header{Session: "room-1"}); !errors.Is(err, session.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	if h, _ := st.Header(ctx, "room-1"); !cmp.Equal(header("room-1"), h) {
		t.Errorf("a failed Create changed the header to %+v", h)
	}
	if got := read(t, st, "room-1", 1); len(got) != 0 {
		t.Errorf("a new session has %d records, want none", len(got))
	}
}

func testAppendAndRead(t *testing.T, st session.Store) {
	create(t, st, "room-1")
	recs := Records(40)
	pos := appendAll(t, st, "room-1", 0, recs)
	if diff := cmp.Diff(withPos(recs, pos), read(t, st, "room-1", 0), equateEmpty); diff != "" {
		t.Errorf("Records(0) (-appended +read):\n%s", diff)
	}
	if diff := cmp.Diff(withPos(recs, pos), read(t, st, "room-1", 1), equateEmpty); diff != "" {
		t.Errorf("Records(1) (-appended +read):\n%s", diff)
	}
}

func testConflict(t *testing.T, st session.Store) {
	ctx := t.Context()
	create(t, st, "room-1")
	recs := Records(4)
	pos := appendAll(t, st, "room-1", 0, recs[:2])
	for _, expected := range []sessionlog.Position{0, pos[0], pos[1] + 1, pos[1] + 1000} {
		if _, err := st.Append(ctx, "room-1", expected, recs[2]); !errors.Is(err, session.ErrConflict) {
			t.Errorf("Append at %d with the last record at %d: err = %v, want ErrConflict", expected, pos[1], err)
		}
	}
	if diff := cmp.Diff(withPos(recs[:2], pos), read(t, st, "room-1", 1), equateEmpty); diff != "" {
		t.Errorf("a conflicting Append stored something (-want +got):\n%s", diff)
	}
	pos = append(pos, appendAll(t, st, "room-1", pos[1], recs[2:])...)
	if diff := cmp.Diff(withPos(recs, pos), read(t, st, "room-1", 1), equateEmpty); diff != "" {
		t.Errorf("after the conflicts (-want +got):\n%s", diff)
	}
}

// testConcurrentWriters races writers that all expect the same position:
// exactly one wins each round, and the log is the winners in order.
func testConcurrentWriters(t *testing.T, st session.Store) {
	const writers, rounds = 8, 20
	ctx := t.Context()
	create(t, st, "room-1")
	recs := Records(rounds)
	var want []sessionlog.Record
	var last sessionlog.Position
	for r := range rounds {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []sessionlog.Position
			errs []error
		)
		for range writers {
			wg.Go(func() {
				p, err := st.Append(ctx, "room-1", last, recs[r])
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins = append(wins, p)
				case !errors.Is(err, session.ErrConflict):
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 || len(wins) != 1 {
			t.Fatalf("round %d: %d writers won (want 1), other errors: %v", r, len(wins), errs)
		}
		last = wins[0]
		rec := recs[r]
		rec.Pos = last
		want = append(want, rec)
	}
	if diff := cmp.Diff(want, read(t, st, "room-1", 1), equateEmpty); diff != "" {
		t.Errorf("log after the races (-want +got):\n%s", diff)
	}
}

// testRecordsFrom checks Records from every seq: a suffix of the log holding
// every event ≥ from and every record after the one holding from-1.
func testRecordsFrom(t *testing.T, st session.Store) {
	create(t, st, "room-1")
	recs := Records(60)
	all := withPos(recs, appendAll(t, st, "room-1", 0, recs))
	var last uint64
	for _, r := range all {
		last = r.LastSeq(last)
	}
	for from := uint64(0); from <= last+2; from++ {
		got := read(t, st, "room-1", from)
		start := len(all) - len(got)
		if start < 0 || (len(got) > 0 && !cmp.Equal(all[start:], got, equateEmpty)) {
			t.Fatalf("Records(%d) is not a suffix of the log:\n%s", from, cmp.Diff(all, got))
		}
		if need := mustStart(all, from); start > need {
			t.Fatalf("Records(%d) starts at record %d (position %d), must start at %d or earlier", from, start, all[start].Pos, need)
		}
	}
}

// mustStart is the index of the first record Records(from) must yield:
// the first with an event ≥ from, or the one after the record holding
// from-1, whichever comes first.
func mustStart(all []sessionlog.Record, from uint64) int {
	if from <= 1 {
		return 0
	}
	seq := uint64(0)
	for i, r := range all {
		before := seq
		seq = r.LastSeq(seq)
		switch {
		case seq >= from && len(r.Events) > 0:
			return i
		case before < from-1 && seq >= from-1:
			return i + 1
		}
	}
	return len(all)
}

// testReadWhileAppending reads while another goroutine appends: every read
// is a prefix-consistent, ordered view.
func testReadWhileAppending(t *testing.T, st session.Store) {
	create(t, st, "room-1")
	recs := Records(200)
	done := make(chan []sessionlog.Position)
	go func() {
		var pos []sessionlog.Position
		var last sessionlog.Position
		for _, r := range recs {
			p, err := st.Append(context.Background(), "room-1", last, r)
			if err != nil {
				t.Errorf("Append: %v", err)
				break
			}
			pos = append(pos, p)
			last = p
		}
		done <- pos
	}()
	for reading := true; reading; {
		select {
		case pos := <-done:
			reading = false
			if diff := cmp.Diff(withPos(recs[:len(pos)], pos), read(t, st, "room-1", 1), equateEmpty); diff != "" {
				t.Errorf("final read (-want +got):\n%s", diff)
			}
		default:
			got := read(t, st, "room-1", 1)
			for i, r := range got {
				if !cmp.Equal(recs[i].Command, r.Command, equateEmpty) || (i > 0 && r.Pos <= got[i-1].Pos) {
					t.Fatalf("read while appending: record %d is %+v", i, r)
				}
			}
		}
	}
}

func testUnknownSession(t *testing.T, st session.Store) {
	ctx := t.Context()
	if _, err := st.Append(ctx, "nobody", 0, Records(1)[0]); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Append to a session never created: err = %v, want ErrNotFound", err)
	}
	var errs []error
	for _, err := range st.Records(ctx, "nobody", 1) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], session.ErrNotFound) {
		t.Errorf("Records of a session never created yielded %v, want one ErrNotFound", errs)
	}
}

func sessions(t *testing.T, st session.Store) []string {
	t.Helper()
	var ids []string
	for id, err := range st.Sessions(t.Context()) {
		if err != nil {
			t.Fatalf("Sessions: %v", err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func testSessions(t *testing.T, st session.Store) {
	if got := sessions(t, st); len(got) != 0 {
		t.Fatalf("an empty store lists %q", got)
	}
	want := []string{"a", "b", "c"}
	for _, id := range want {
		create(t, st, id)
	}
	// Sessions do not share records.
	ra, rb := Records(3), Records(5)
	pa := appendAll(t, st, "a", 0, ra)
	pb := appendAll(t, st, "b", 0, rb)
	if diff := cmp.Diff(want, sessions(t, st), equateEmpty); diff != "" {
		t.Errorf("Sessions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(withPos(ra, pa), read(t, st, "a", 1), equateEmpty); diff != "" {
		t.Errorf("session a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(withPos(rb, pb), read(t, st, "b", 1), equateEmpty); diff != "" {
		t.Errorf("session b (-want +got):\n%s", diff)
	}
}

// testSessionIDs uses ids that are not file or subject names as they are.
func testSessionIDs(t *testing.T, st session.Store) {
	ids := []string{"room.1", "a b", "x/y", `..\z`, "*>", "ünï-çødé", "%41", "-", "A", "a"}
	recs := Records(2)
	for _, id := range ids {
		create(t, st, id)
		h, err := st.Header(t.Context(), id)
		if err != nil || h.Session != id {
			t.Fatalf("Header(%q) = %+v, %v", id, h, err)
		}
		pos := appendAll(t, st, id, 0, recs)
		if diff := cmp.Diff(withPos(recs, pos), read(t, st, id, 1), equateEmpty); diff != "" {
			t.Errorf("session %q (-want +got):\n%s", id, diff)
		}
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	if diff := cmp.Diff(want, sessions(t, st), equateEmpty); diff != "" {
		t.Errorf("Sessions (-want +got):\n%s", diff)
	}
}

func testCancelled(t *testing.T, st session.Store) {
	create(t, st, "room-1")
	appendAll(t, st, "room-1", 0, Records(3))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var last error
	for _, err := range st.Records(ctx, "room-1", 1) {
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("Records with a cancelled context ended with %v, want context.Canceled", last)
	}
	// Stopping early is allowed.
	for range st.Records(t.Context(), "room-1", 1) {
		break
	}
}

func testBatchAppender(t *testing.T, st session.Store) {
	ba, ok := st.(session.BatchAppender)
	if !ok {
		t.Skip("not a BatchAppender")
	}
	ctx := t.Context()
	create(t, st, "room-1")
	recs := Records(30)
	first := appendAll(t, st, "room-1", 0, recs[:1])
	last, err := ba.AppendBatch(ctx, "room-1", first[0], recs[1:20])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ba.AppendBatch(ctx, "room-1", first[0], recs[20:]); !errors.Is(err, session.ErrConflict) {
		t.Fatalf("AppendBatch at a stale position: err = %v, want ErrConflict", err)
	}
	more, err := ba.AppendBatch(ctx, "room-1", last, recs[20:])
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, st, "room-1", 1)
	if len(got) != len(recs) {
		t.Fatalf("read %d records, want %d", len(got), len(recs))
	}
	for i := range got {
		if i > 0 && got[i].Pos <= got[i-1].Pos {
			t.Fatalf("positions do not increase: %d then %d", got[i-1].Pos, got[i].Pos)
		}
		recs[i].Pos = got[i].Pos
	}
	if got[19].Pos != last || got[len(got)-1].Pos != more {
		t.Errorf("AppendBatch returned %d and %d, the records are at %d and %d", last, more, got[19].Pos, got[len(got)-1].Pos)
	}
	if diff := cmp.Diff(recs, got, equateEmpty); diff != "" {
		t.Errorf("(-appended +read):\n%s", diff)
	}
}

func testSnapshotter(t *testing.T, st session.Store) {
	sn, ok := st.(session.Snapshotter)
	if !ok {
		t.Skip("not a Snapshotter")
	}
	ctx := t.Context()
	create(t, st, "room-1")
	if _, err := sn.LatestSnapshot(ctx, "room-1"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("LatestSnapshot with none saved: err = %v, want ErrNotFound", err)
	}
	recs := Records(20)
	pos := appendAll(t, st, "room-1", 0, recs)
	state := func(n int) core.State {
		s := core.NewState("room-1", Presets)
		for _, r := range recs[:n] {
			s = reducer.Fold(s, r.Events)
		}
		return s
	}
	for _, n := range []int{5, 20} {
		snap := session.Snapshot{State: state(n).Snapshot(), Pos: pos[n-1], WindowSeq: 2}
		if err := sn.SaveSnapshot(ctx, "room-1", snap); err != nil {
			t.Fatal(err)
		}
		got, err := sn.LatestSnapshot(ctx, "room-1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(snap, got, equateEmpty); diff != "" {
			t.Errorf("LatestSnapshot after saving the one at record %d (-saved +got):\n%s", n, diff)
		}
	}
	// Appending goes on after a snapshot.
	more := Records(21)[20:]
	appendAll(t, st, "room-1", pos[len(pos)-1], more)
}

// followWait bounds the waits of testFollower.
const followWait = 30 * time.Second

func testFollower(t *testing.T, st session.Store) {
	f, ok := st.(session.Follower)
	if !ok {
		t.Skip("not a Follower")
	}
	ctx, cancel := context.WithTimeout(t.Context(), followWait)
	defer cancel()
	for _, err := range f.Follow(ctx, "nobody", 0) {
		if !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Follow of an unknown session: %v, want ErrNotFound", err)
		}
	}
	create(t, st, "room-1")
	create(t, st, "room-2")
	recs := Records(12)
	pos := appendAll(t, st, "room-1", 0, recs[:4])
	// Two followers, from the start and after the second record, and a
	// third that stops after one record.
	var wg sync.WaitGroup
	follow := func(after sessionlog.Position) <-chan sessionlog.Record {
		ch := make(chan sessionlog.Record, len(recs))
		wg.Go(func() {
			defer close(ch)
			for rec, err := range f.Follow(ctx, "room-1", after) {
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Follow(after %d): %v", after, err)
					}
					return
				}
				ch <- rec
			}
		})
		return ch
	}
	all, later := follow(0), follow(pos[1])
	for range f.Follow(ctx, "room-1", 0) {
		break // stopping early is allowed
	}
	// Records appended while they follow, and another session's.
	pos = append(pos, appendAll(t, st, "room-1", pos[3], recs[4:])...)
	appendAll(t, st, "room-2", 0, Records(3))
	want := withPos(recs, pos)
	collect := func(ch <-chan sessionlog.Record, n int) []sessionlog.Record {
		var got []sessionlog.Record
		timer := time.NewTimer(followWait)
		defer timer.Stop()
		for len(got) < n {
			select {
			case rec, ok := <-ch:
				if !ok {
					t.Fatalf("the follower ended after %d records, want %d", len(got), n)
				}
				got = append(got, rec)
			case <-timer.C:
				t.Fatalf("the follower delivered %d records in %v, want %d", len(got), followWait, n)
			}
		}
		return got
	}
	if diff := cmp.Diff(want, collect(all, len(want)), equateEmpty); diff != "" {
		t.Errorf("Follow(after 0) (-appended +followed):\n%s", diff)
	}
	if diff := cmp.Diff(want[2:], collect(later, len(want)-2), equateEmpty); diff != "" {
		t.Errorf("Follow(after %d) (-appended +followed):\n%s", pos[1], diff)
	}
	// ctx's end ends them.
	cancel()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(followWait):
		t.Fatal("Follow did not end with its context")
	}
	for range all {
		t.Error("a record after the last")
	}
}
