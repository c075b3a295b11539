package nats

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
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
	h := events.Header{Session: "room.1", Presets: storetest.Presets}
	if err := st.Create(ctx, h); err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(3)
	var last session.Position
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
	if got, want := string(head.Data), string(events.AppendHeader(nil, h)); got != want {
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
	if got, want := string(m.Data), string(session.AppendRecord(nil, recs[2])); got != want {
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
	if err := st.Create(ctx, events.Header{Session: "r", Presets: storetest.Presets}); err != nil {
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
	var cmds []string
	for _, r := range readLog(t, st, "r", 1) {
		cmds = append(cmds, r.Command.ID)
	}
	if diff := cmp.Diff([]string{"c0", "c1", ""}, cmds); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestRecordsFromLongLog reads from every seq of a log interleaved with
// other sessions' records, so that the search over stream sequences has
// gaps to cross, and longer than the direct reads, so that the consumer
// takes over.
func TestRecordsFromLongLog(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	for _, id := range []string{"a", "b"} {
		if err := st.Create(ctx, events.Header{Session: id, Presets: storetest.Presets}); err != nil {
			t.Fatal(err)
		}
	}
	recs, other := storetest.Records(60), storetest.Records(60)
	var all []session.Record
	var afters []uint64 // afters[i]: the seq after all[i]
	var la, lb session.Position
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
		for range i % 3 { // a varying number of b's records in between
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

// TestLargeRecord appends what disable_all_audio records in a session of
// 12,000 participants, more than nats-server's default 1 MiB message: the
// embedded server takes it.
func TestLargeRecord(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv.ClientURL())
	st := newStore(t, nc)
	ctx := testwait.Context(t)
	state := core.NewState("big", storetest.Presets)
	for i := range 12_000 {
		state = state.WithJoined(core.Participant{ID: fmt.Sprintf("participant-%05d", i), Preset: "host", AudioEnabled: true})
	}
	cmd := core.Command{ID: "mute-all", Type: core.DisableAllAudio, Actor: "participant-00000"}
	evs, err := reducer.Decide(state, cmd)
	if err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Command: cmd, Events: evs}
	if n := len(session.AppendRecord(nil, rec)); n <= 1<<20 {
		t.Fatalf("the record is %d bytes, meant to be over 1 MiB", n)
	}
	if err := st.Create(ctx, events.Header{Session: "big", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, "big", 0, rec); err != nil {
		t.Fatal(err)
	}
	got := readLog(t, st, "big", 1)
	if len(got) != 1 || len(got[0].Events) != 12_000 {
		t.Fatalf("read %d records", len(got))
	}
}
