package filestore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// batchCounter is a Store that counts the batches it acknowledged.
type batchCounter struct {
	*Store
	acked atomic.Int64
}

func (b *batchCounter) Append(ctx context.Context, id string, expected sessionlog.Position, rec sessionlog.Record) (sessionlog.Position, error) {
	return b.AppendBatch(ctx, id, expected, []sessionlog.Record{rec})
}

func (b *batchCounter) AppendBatch(ctx context.Context, id string, expected sessionlog.Position, recs []sessionlog.Record) (sessionlog.Position, error) {
	pos, err := b.Store.AppendBatch(ctx, id, expected, recs)
	if err == nil {
		b.acked.Add(1)
	}
	return pos, err
}

// TestAppendSyncs: every acknowledged batch of records was synced, with one
// data sync (group commit: not one per record), whether appended directly
// or by the runtime under concurrent submitters.
func TestAppendSyncs(t *testing.T) {
	syncs := countSyncs(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	if err := st.Create(ctx, sessionlog.Header{Session: "direct", Presets: storetest.Presets}); err != nil {
		t.Fatal(err)
	}
	var pos sessionlog.Position
	for i, n := range []int{1, 3, 1, 5} {
		recs := make([]sessionlog.Record, n)
		for j := range recs {
			recs[j] = sessionlog.Record{Command: core.Command{ID: fmt.Sprintf("c%d-%d", i, j), Type: core.Leave, Actor: "nobody"},
				Err: core.Errorf(core.CodeNotJoined, "not joined"), At: time.Unix(0, 0)}
		}
		before := syncs.Load()
		if pos, err = st.AppendBatch(ctx, "direct", pos, recs); err != nil {
			t.Fatal(err)
		}
		if got := syncs.Load() - before; got != 1 {
			t.Errorf("a batch of %d records: %d syncs, want 1", n, got)
		}
	}

	counted := &batchCounter{Store: st}
	m, err := session.NewManager(counted, session.WithPresets(storetest.Presets))
	if err != nil {
		t.Fatal(err)
	}
	before := syncs.Load()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				cmd := core.Command{ID: fmt.Sprintf("g%d-%d", g, i), Type: core.Join, Actor: fmt.Sprintf("p%d", g),
					Name: "P", Preset: "attendee", Audio: i%2 == 0}
				if i > 0 {
					cmd = core.Command{ID: cmd.ID, Type: core.SetAudio, Actor: cmd.Actor, Enabled: i%2 == 0}
				}
				if _, err := m.Submit(ctx, "runtime", cmd); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	batches := counted.acked.Load()
	if got := syncs.Load() - before; got != batches || batches == 0 {
		t.Errorf("the runtime's 200 commands: %d acknowledged batches, %d syncs; want one sync per batch", batches, got)
	}
	t.Logf("200 commands from 8 goroutines in %d batches", batches)
}
