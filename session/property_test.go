package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
)

// genCommand draws a command of any type among a few participants, so that
// some succeed with events, some change nothing and some are rejected;
// ids repeat now and then.
func genCommand(t *rapid.T, i int) core.Command {
	actors := []string{"host", "ann", "bob", "cy"}
	cmd := core.Command{
		ID:     fmt.Sprintf("c%d", rapid.IntRange(0, i).Draw(t, "id")),
		Type:   rapid.SampledFrom(core.CommandTypes).Draw(t, "type"),
		Actor:  rapid.SampledFrom(actors).Draw(t, "actor"),
		Target: rapid.SampledFrom(actors).Draw(t, "target"),
	}
	switch cmd.Type {
	case core.Join:
		cmd.Name = cmd.Actor
		cmd.Preset = rapid.SampledFrom([]string{"host", "attendee", "nope"}).Draw(t, "preset")
		cmd.Audio = rapid.Bool().Draw(t, "audio")
		cmd.Video = rapid.Bool().Draw(t, "video")
	case core.SetAudio, core.SetVideo:
		cmd.Enabled = rapid.Bool().Draw(t, "enabled")
	}
	return cmd
}

// TestReopenProperty runs random commands, with random snapshot intervals
// and windows, reopening the session at random points: the reopened state
// equals the full fold of the log, and the reopened session answers every
// id in its window as the original did.
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
		n := rapid.IntRange(1, 60).Draw(t, "commands")
		for i := range n {
			cmd := genCommand(t, i)
			if _, err := s.Submit(ctx, cmd); err != nil {
				if _, rejected := err.(*core.Error); !rejected {
					t.Fatalf("Submit: %v", err)
				}
			}
			if !rapid.Bool().Draw(t, "reopen") && i < n-1 {
				continue
			}
			before, _ := s.State(ctx)
			s.Close(ctx)
			if s, err = session.Open(ctx, "room-1", st, opts...); err != nil {
				t.Fatal(err)
			}
			after, _ := s.State(ctx)
			if full := fold("room-1", logOf(t, st, "room-1")); !after.Equal(full) || !before.Equal(full) {
				t.Fatalf("reopened %+v, before %+v, the log folds to %+v", after.Snapshot(), before.Snapshot(), full.Snapshot())
			}
		}
		// Just reopened: the window holds the last commands of the log.
		recs := logOf(t, st, "room-1")
		checkSeqs(t, recs)
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
