package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

func TestConformance(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) session.Store {
		// A stream and subjects of its own for each subtest: an empty store.
		i := n.Add(1)
		return newStore(t, nc, WithStream(fmt.Sprintf("T%d", i)), WithPrefix(fmt.Sprintf("t%d", i)))
	})
}

// TestStoreLayout checks what another NATS client sees: the subjects, the
// headers of a record message, and that a record message is a gavel-log/1
// record line.
func TestStoreLayout(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	h := sessionlog.Header{Session: "room.1", Presets: storetest.Presets}
	if err := st.Create(ctx, h); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(3)
	var last sessionlog.Position
	for _, r := range recs {
		p, err := st.Append(ctx, "room.1", last, r)
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	stream, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := stream.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.GetLastMsgForSubject(ctx, "gavel.head.room%2E1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(head.Data), string(sessionlog.AppendHeader(nil, h)); got != want {
		t.Errorf("header message %s, want %s", got, want)
	}
	m, err := s.GetMsg(ctx, uint64(last))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "gavel.log.room%2E1" {
		t.Errorf("record subject %q", m.Subject)
	}
	want := map[string]string{
		jetstream.MsgIDHeader:               "room%2E1/c2",
		jetstream.ExpectedLastSubjSeqHeader: strconv.FormatUint(m.Sequence-1, 10),
		hdrSeq:                              strconv.FormatUint(recs[2].LastSeq(recs[1].LastSeq(recs[0].LastSeq(0))), 10),
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if got, want := string(m.Data), string(sessionlog.AppendRecord(nil, recs[2])); got != want {
		t.Errorf("record message %s, want %s", got, want)
	}
}

// TestAppendLanded covers the answers an Append gets when an earlier
// attempt of its own, or another writer's record with the same command id,
// is already in the log: a duplicate acknowledgement or a wrong sequence.
func TestAppendLanded(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "r", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(4)
	p1, err := st.Append(ctx, "r", 0, recs[0])
	if err != nil {
		t.Fatal(err)
	}

	// Another writer appends the same command at the same position: the
	// server answers "duplicate", and it is not this writer's record.
	if _, err := st.Append(ctx, "r", 0, recs[0]); !errors.Is(err, session.ErrConflict) {
		t.Errorf("same command after another writer stored it: err = %v, want ErrConflict", err)
	}
	// The same command id again, later in the log, inside the server's
	// duplicate window: the command id was reused.
	if _, err := st.Append(ctx, "r", p1, recs[0]); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("command id reused: err = %v, want ErrDuplicateID", err)
	}

	// An attempt whose acknowledgement was lost, sent again (what publish
	// does after a timeout): the server answers "duplicate", and Append
	// finds its own writer id on the record.
	p2, err := st.append(ctx, "r", p1, recs[1], "w1")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := st.append(ctx, "r", p1, recs[1], "w1"); err != nil || again != p2 {
		t.Errorf("the same append again: %d, %v; want %d", again, err, p2)
	}
	// Without a command id there is no duplicate check, and the answer is
	// a wrong sequence; it is resolved the same way.
	anon := recs[2]
	anon.Command.ID = ""
	p3, err := st.append(ctx, "r", p2, anon, "w2")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := st.append(ctx, "r", p2, anon, "w2"); err != nil || again != p3 {
		t.Errorf("the same append (no command id) again: %d, %v; want %d", again, err, p3)
	}
	if _, err := st.append(ctx, "r", p2, anon, "w3"); !errors.Is(err, session.ErrConflict) {
		t.Errorf("another writer's append at the same place: err = %v, want ErrConflict", err)
	}
	if st.ownLanded.Load() != 2 {
		t.Errorf("%d appends found landed, want 2", st.ownLanded.Load())
	}

	// Nothing else was stored.
	if diff := cmp.Diff([]string{"c0", "c1", ""}, commandIDs(t, st, "r")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestRecordsFromLongLog reads from every seq of a log interleaved with
// other sessions' records, so that the search over stream sequences has
// gaps to cross, and longer than the direct reads, so that the gets of a
// span of stream sequences, and for the longest reads the consumer, take
// over.
func TestRecordsFromLongLog(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	for _, id := range []string{"a", "b"} {
		if err := st.Create(ctx, sessionlog.Header{Session: id, Presets: storetest.Presets}); err != nil {
			t.Fatal(err)
		}
	}
	recs, other := storetest.Records(60), storetest.Records(120)
	var all []sessionlog.Record
	var afters []uint64 // afters[i]: the seq after all[i]
	var la, lb sessionlog.Position
	var seq uint64
	for i, r := range recs {
		p, err := st.Append(ctx, "a", la, r)
		if err != nil {
			t.Fatal(err)
		}
		la = p
		r.Pos = p
		all = append(all, r)
		seq = r.LastSeq(seq)
		afters = append(afters, seq)
		for range i % 5 { // a varying number of b's records in between
			if lb, err = st.Append(ctx, "b", lb, other[0]); err != nil {
				t.Fatal(err)
			}
			other = other[1:]
		}
	}
	for from := uint64(0); from <= seq+1; from++ {
		// The exact start: the first record whose seq-after is ≥ from-1.
		start := 0
		if from > 1 {
			start = len(all)
			for i, a := range afters {
				if a >= from-1 {
					start = i
					break
				}
			}
		}
		if diff := cmp.Diff(all[start:], readLog(t, st, "a", from), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Records(%d) (-want +got):\n%s", from, diff)
		}
	}
}

// startServerMaxPayload starts an embedded server that takes messages of at
// most maxPayload bytes.
func startServerMaxPayload(t *testing.T, maxPayload int32) *server.Server {
	t.Helper()
	return runServer(t, &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: maxPayload, NoSigs: true, NoLog: true})
}

// TestRecordTooLarge: a record larger than the server takes fails at once,
// permanently, and stores nothing; the log goes on; through the command
// service, the client gets the permanent error without retrying it.
func TestRecordTooLarge(t *testing.T) {
	srv := startServerMaxPayload(t, 2048)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "big", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	// A join with the longest name the SPEC allows records it twice.
	big := core.Command{ID: "j1", Type: core.Join, Actor: "ann", Name: strings.Repeat("n", core.MaxNameLen), Preset: "host"}
	evs, err := reducer.Decide(core.NewState("big", storetest.Presets), big)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Append(ctx, "big", 0, sessionlog.Record{Command: big, Events: evs})
	if !errors.Is(err, session.ErrTooLarge) || !errors.Is(err, session.ErrPermanent) {
		t.Fatalf("Append of a record over max_payload: %v, want ErrTooLarge", err)
	}
	if st.retried.Load() != 0 {
		t.Errorf("the publish was sent again %d times", st.retried.Load())
	}
	if pos, err := st.lastPosition(ctx, "big"); err != nil || pos != 0 {
		t.Errorf("after a record too large: last position %d, %v; want an empty log", pos, err)
	}
	small := storetest.Records(1)[0]
	if _, err := st.Append(ctx, "big", 0, small); err != nil {
		t.Fatalf("the next append: %v", err)
	}

	n := startNode(t, WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(storetest.Presets)))
	long, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = n.Client().Submit(long, "room-1", big)
	if !errors.Is(err, session.ErrTooLarge) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Submit of a command too large to store: %v, want ErrTooLarge at once", err)
	}
	if _, err := n.Client().Submit(long, "room-1", small.Command); err != nil {
		t.Errorf("the session does not go on: %v", err)
	}
}

// TestSnapshotOfAnySize: a snapshot far larger than the server's largest
// message is stored in pieces and read back whole, and replaced whole.
func TestSnapshotOfAnySize(t *testing.T) {
	srv := startServerMaxPayload(t, 2048)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := t.Context()
	if err := st.Create(ctx, sessionlog.Header{Session: "s", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(3)
	var last sessionlog.Position
	for _, r := range recs {
		var err error
		if last, err = st.Append(ctx, "s", last, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.LatestSnapshot(ctx, "s"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("LatestSnapshot before any: %v, want ErrNotFound", err)
	}
	for _, n := range []int{200, 3} {
		snap := session.Snapshot{State: core.Snapshot{Session: "s", Seq: uint64(n)}, Pos: last, WindowSeq: 1}
		for i := range n {
			snap.State.Participants = append(snap.State.Participants, core.Participant{ID: fmt.Sprintf("participant-%04d", i),
				Name: "Participant", Preset: "attendee", AudioEnabled: i%2 == 0})
		}
		if size := len(events.AppendSnapshot(nil, snap.State)); n == 200 && size < 10*2048 {
			t.Fatalf("the snapshot is %d bytes, meant to be many messages", size)
		}
		if err := st.SaveSnapshot(ctx, "s", snap); err != nil {
			t.Fatal(err)
		}
		got, err := st.LatestSnapshot(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(snap, got); d != "" {
			t.Errorf("snapshot of %d participants (-saved +read):\n%s", n, d)
		}
	}
}

// TestWebinar: a session of 100,000 participants end to end on JetStream
// (storetest.Webinar), reopened through a new connection and store.
func TestWebinar(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 participants")
	}
	srv := startServer(t)
	t.Logf("%+v", storetest.Webinar(t, 100_000, openStream(srv.ClientURL())))
}

// BenchmarkWebinar runs storetest.Webinar, 100,000 participants, on
// JetStream (file storage, default sync) and reports how long its steps
// took.
//
//	go test -run '^$' -bench BenchmarkWebinar -benchtime 1x ./transport/nats
func BenchmarkWebinar(b *testing.B) {
	for b.Loop() {
		storetest.Webinar(b, 100_000, openStream(startServer(b).ClientURL())).Report(b)
	}
}

// openStream connects to url and opens the store, for storetest.Webinar.
func openStream(url string) func(t testing.TB) (session.Store, func()) {
	return func(t testing.TB) (session.Store, func()) {
		nc := connect(t, url)
		return newStore(t, nc), nc.Close
	}
}
