package session_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// TestReopenProperty runs drawn sessions, with commands sent again now and
// then, random snapshot intervals and windows, reopening the session at
// random points: the log checks (gaveltest.CheckRecords: no id twice within
// the window), the reopened state equals the full fold of the log, and the
// reopened session answers every id in its window as the original did.
func TestReopenProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testwait.Limit)
		defer cancel()
		st := session.NewMemStore()
		opts := []session.Option{
			session.WithPresets(presets),
			session.WithSnapshotInterval(rapid.Uint64Range(0, 10).Draw(t, "interval")),
		}
		win := rapid.IntRange(1, 20).Draw(t, "window")
		opts = append(opts, session.WithIdempotencyWindow(win))
		s, err := session.Open(ctx, "room-1", st, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { s.Close(ctx) }()
		header := sessionlog.Header{Session: "room-1", Presets: presets}
		cmds := gaveltest.Sessions(presets).Draw(t, "session").Commands
		for i, cmd := range cmds {
			sent := []core.Command{cmd}
			if i > 0 && rapid.IntRange(0, 4).Draw(t, "again") == 0 { // an earlier command first, sent again
				sent = append([]core.Command{cmds[rapid.IntRange(0, i-1).Draw(t, "which")]}, sent...)
			}
			for _, cmd := range sent {
				if _, err := s.Submit(ctx, cmd); err != nil {
					if _, rejected := err.(*core.Error); !rejected {
						t.Fatalf("Submit: %v", err)
					}
				}
			}
			if !rapid.Bool().Draw(t, "reopen") && i < len(cmds)-1 {
				continue
			}
			before, _ := s.State(ctx)
			s.Close(ctx)
			if s, err = session.Open(ctx, "room-1", st, opts...); err != nil {
				t.Fatal(err)
			}
			after, _ := s.State(ctx)
			full, err := gaveltest.CheckRecords(header, logOf(t, st, "room-1"), win)
			if err != nil {
				t.Fatal(err)
			}
			if !after.Equal(full) || !before.Equal(full) {
				t.Fatalf("reopened %+v, before %+v, the log folds to %+v", after.Snapshot(), before.Snapshot(), full.Snapshot())
			}
		}
		// Just reopened: the window holds the last commands of the log.
		recs := logOf(t, st, "room-1")
		seqs := make([]uint64, len(recs))
		seq := uint64(0)
		for i, r := range recs {
			seq = r.LastSeq(seq)
			seqs[i] = seq
		}
		seen := map[string]bool{}
		for i := len(recs) - 1; i >= max(0, len(recs)-win); i-- {
			r := recs[i]
			if seen[r.Command.ID] {
				continue
			}
			seen[r.Command.ID] = true
			res, err := s.Submit(ctx, r.Command)
			if r.Err != nil {
				// A rejection in the log: the same rejection again.
				if code, _ := core.CodeOf(err); !res.Duplicate || code != r.Err.Code {
					t.Fatalf("%s again after reopening: %+v, %v; the log says %v", r.Command.ID, res, err, r.Err)
				}
				continue
			}
			if err != nil || !res.Duplicate || res.Seq != seqs[i] || !cmp.Equal(res.Events, r.Events, equateEmpty) {
				t.Fatalf("%s again after reopening: %+v, %v; the log says seq %d, events %v", r.Command.ID, res, err, seqs[i], r.Events)
			}
		}
	})
}
