package nats

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// TestAppendBatchOneWrite: a batch is stored at consecutive stream
// sequences, each message with Append's headers (the expected sequence on
// the first only) and its own seq-after, and the store's tail is the
// batch's last record, so that an append of a record without events after
// it needs no read.
func TestAppendBatchOneWrite(t *testing.T) {
	srv := startServer(t)
	st := newStore(t, connect(t, srv.ClientURL()))
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "r", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(6)
	recs[4].Events, recs[4].Err = nil, core.Errorf(core.CodeInvalidCommand, "rejected") // no events: the seq goes on
	first, err := st.Append(ctx, "r", 0, recs[0])
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.AppendBatch(ctx, "r", first, recs[1:5])
	if err != nil {
		t.Fatal(err)
	}
	if last != first+4 {
		t.Fatalf("a batch of 4 after position %d ends at %d", first, last)
	}
	seq := recs[0].LastSeq(0)
	for i, rec := range recs[1:5] {
		seq = rec.LastSeq(seq)
		m, err := st.reader.get(ctx, uint64(first)+uint64(i)+1)
		if err != nil || m == nil {
			t.Fatalf("message %d: %v, %v", uint64(first)+uint64(i)+1, m, err)
		}
		want := map[string]string{hdrSeq: strconv.FormatUint(seq, 10), jetstream.MsgIDHeader: "r/" + rec.Command.ID}
		if i == 0 {
			want[jetstream.ExpectedLastSubjSeqHeader] = strconv.FormatUint(uint64(first), 10)
		} else if v := m.Header.Get(jetstream.ExpectedLastSubjSeqHeader); v != "" {
			t.Errorf("message %d of the batch expects sequence %s", i+1, v)
		}
		for k, v := range want {
			if got := m.Header.Get(k); got != v {
				t.Errorf("message %d of the batch: header %s = %q, want %q", i+1, k, got, v)
			}
		}
	}
	if tl, ok := st.tails.Load("r"); !ok || tl.(tail) != (tail{pos: last, seq: seq}) {
		t.Errorf("tail after the batch %+v, want %+v", tl, tail{pos: last, seq: seq})
	}
	anon := recs[5]
	anon.Events, anon.Err = nil, core.Errorf(core.CodeInvalidCommand, "rejected")
	p, err := st.Append(ctx, "r", last, anon)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.reader.get(ctx, uint64(p))
	if err != nil || m.Header.Get(hdrSeq) != strconv.FormatUint(seq, 10) {
		t.Errorf("a record without events after the batch: %s = %q, %v; want %d", hdrSeq, m.Header.Get(hdrSeq), err, seq)
	}
}

// TestAppendBatchRefused: a batch refused stores none of its records, and
// its error says why: another writer appended first (session.ErrConflict,
// also when it stored one of the batch's commands), a command id reused
// (ErrDuplicateID, matching session.ErrPermanent so that the runtime
// appends the records one at a time). An attempt whose answer was lost
// finds its own batch in the log.
func TestAppendBatchRefused(t *testing.T) {
	srv := startServer(t)
	st := newStore(t, connect(t, srv.ClientURL()))
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "r", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(8)
	p1, err := st.Append(ctx, "r", 0, recs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Another writer's record at p1+1: a batch after p1 conflicts.
	p2, err := st.Append(ctx, "r", p1, recs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		recs []sessionlog.Record
	}{
		{"a batch after a stale position", recs[2:5]},
		{"a batch holding a command another writer stored after its position", recs[1:4]},
	} {
		if _, err := st.AppendBatch(ctx, "r", p1, c.recs); !errors.Is(err, session.ErrConflict) || errors.Is(err, session.ErrPermanent) {
			t.Errorf("%s: err = %v, want ErrConflict", c.name, err)
		}
	}
	// The command at p1 again, after p2: its id was reused.
	_, err = st.AppendBatch(ctx, "r", p2, []sessionlog.Record{recs[2], recs[0], recs[3]})
	if !errors.Is(err, ErrDuplicateID) || !errors.Is(err, session.ErrPermanent) || errors.Is(err, session.ErrConflict) {
		t.Errorf("a batch holding a reused command id: err = %v, want ErrDuplicateID matching ErrPermanent", err)
	}
	if diff := cmp.Diff([]string{"c0", "c1"}, commandIDs(t, st, "r")); diff != "" {
		t.Fatalf("refused batches stored records (-want +got):\n%s", diff)
	}

	// Lost answers, the batch sent again: a duplicate answer, and without
	// command ids a wrong sequence; each finds its own batch.
	p4, err := st.appendBatch(ctx, "r", p2, recs[2:4], "w1")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := st.appendBatch(ctx, "r", p2, recs[2:4], "w1"); err != nil || again != p4 {
		t.Errorf("the same batch again: %d, %v; want %d", again, err, p4)
	}
	anon := []sessionlog.Record{recs[4], recs[5]}
	for i := range anon {
		anon[i].Command.ID = ""
	}
	p6, err := st.appendBatch(ctx, "r", p4, anon, "w2")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := st.appendBatch(ctx, "r", p4, anon, "w2"); err != nil || again != p6 {
		t.Errorf("the same batch (no command ids) again: %d, %v; want %d", again, err, p6)
	}
	if _, err := st.appendBatch(ctx, "r", p4, anon, "w3"); !errors.Is(err, session.ErrConflict) {
		t.Errorf("another writer's batch at the same place: err = %v, want ErrConflict", err)
	}
	if n := st.ownLanded.Load(); n != 2 {
		t.Errorf("%d batches found landed, want 2", n)
	}
	if diff := cmp.Diff([]string{"c0", "c1", "c2", "c3", "", ""}, commandIDs(t, st, "r")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestAppendBatchTooLarge: a batch the server cannot take as one (a record
// over its max_payload, more records than its max_batch_size, atomic
// batches turned off on the stream) stores nothing, at once, with an error
// matching session.ErrPermanent: the runtime appends the records one at a
// time, and only a record too large fails.
func TestAppendBatchTooLarge(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: 2048, NoSigs: true, NoLog: true}
	opts.JetStreamLimits.MaxBatchSize = 4
	srv := runServer(t, opts)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "r", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(8)
	big := core.Command{ID: "big", Type: core.Join, Actor: "ann", Name: strings.Repeat("n", core.MaxNameLen), Preset: "host"}
	evs, err := reducer.Decide(core.NewState("r", storetest.Presets), big)
	if err != nil {
		t.Fatal(err)
	}
	withBig := []sessionlog.Record{recs[0], {Command: big, Events: evs}, recs[1]}
	if _, err := st.AppendBatch(ctx, "r", 0, withBig); !errors.Is(err, session.ErrTooLarge) || !errors.Is(err, session.ErrPermanent) {
		t.Errorf("a batch holding a record over max_payload: err = %v, want ErrTooLarge", err)
	}
	if _, err := st.AppendBatch(ctx, "r", 0, recs[:5]); !errors.Is(err, session.ErrPermanent) {
		t.Errorf("a batch over max_batch_size: err = %v, want one matching ErrPermanent", err)
	}
	if st.retried.Load() != 0 {
		t.Errorf("batches were sent again %d times", st.retried.Load())
	}
	if ids := commandIDs(t, st, "r"); len(ids) != 0 {
		t.Fatalf("refused batches stored %q", ids)
	}
	last, err := st.AppendBatch(ctx, "r", 0, recs[:4])
	if err != nil {
		t.Fatalf("a batch the server takes: %v", err)
	}

	// Atomic batches turned off on the stream since the store opened.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	cfg.AllowAtomicPublish = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendBatch(ctx, "r", last, recs[4:6]); !errors.Is(err, session.ErrPermanent) {
		t.Errorf("a batch to a stream without atomic batches: err = %v, want one matching ErrPermanent", err)
	}
	if st.batches.Load() {
		t.Error("the store still sends batches to a stream that refused one")
	}
	if diff := cmp.Diff([]string{"c0", "c1", "c2", "c3"}, commandIDs(t, st, "r")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
