package session_test

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

// pathStore is a memory store whose SaveSnapshot blocks until release is
// closed, and that fails the test when, once armed, it is asked anything
// but an append: nothing else may be on the path of a command.
type pathStore struct {
	*session.MemStore
	t       *testing.T
	armed   atomic.Bool
	saves   atomic.Int64
	entered chan struct{} // closed by the first SaveSnapshot
	release chan struct{}
}

func (p *pathStore) offPath(what string) {
	if p.armed.Load() {
		p.t.Errorf("%s on the path of a command", what)
	}
}

func (p *pathStore) Header(ctx context.Context, id string) (sessionlog.Header, error) {
	p.offPath("Header")
	return p.MemStore.Header(ctx, id)
}

func (p *pathStore) Records(ctx context.Context, id string, from uint64) iter.Seq2[sessionlog.Record, error] {
	p.offPath("Records")
	return p.MemStore.Records(ctx, id, from)
}

func (p *pathStore) LatestSnapshot(ctx context.Context, id string) (session.Snapshot, error) {
	p.offPath("LatestSnapshot")
	return p.MemStore.LatestSnapshot(ctx, id)
}

func (p *pathStore) SaveSnapshot(ctx context.Context, id string, snap session.Snapshot) error {
	if p.saves.Add(1) == 1 {
		close(p.entered)
	}
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.MemStore.SaveSnapshot(ctx, id, snap)
}

// TestSnapshotsBesideTheOwner: with a snapshot due after every event and a
// store whose SaveSnapshot blocks, commands go on being decided, appended
// and answered: the snapshot is saved beside the owner, never in front of
// the next command, and nothing but the append touches the store on a
// command's path. The snapshotter holds one job: once released, it saves
// the latest state, not every one it was given.
func TestSnapshotsBesideTheOwner(t *testing.T) {
	st := &pathStore{MemStore: session.NewMemStore(), t: t, entered: make(chan struct{}), release: make(chan struct{})}
	s := open(t, "room-1", st, session.WithSnapshotInterval(1))
	st.armed.Store(true)
	submit(t, s, joinCmd("c0", "host", "host"))
	testwait.Recv(t, st.entered, "the first snapshot")
	const n = 200
	var last session.Result
	for i := range n {
		last = submit(t, s, audioCmd(fmt.Sprint("c", i+1), "host", i%2 == 1)) // each within testwait's deadline
	}
	if got := st.saves.Load(); got != 1 {
		t.Errorf("%d snapshots started while the first was blocked, want 1", got)
	}
	st.armed.Store(false)
	close(st.release)
	if err := s.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	snap, err := st.LatestSnapshot(testwait.Context(t), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if snap.State.Seq != last.Seq {
		t.Errorf("the latest snapshot is at seq %d, want the last, %d", snap.State.Seq, last.Seq)
	}
	if got := st.saves.Load(); got != 2 {
		t.Errorf("%d snapshots saved, want 2: the blocked one and the latest", got)
	}
	if sess, err := session.Open(testwait.Context(t), "room-1", st.MemStore, session.WithPresets(presets)); err != nil {
		t.Fatal(err)
	} else {
		got, _ := sess.State(testwait.Context(t))
		if want, _ := core.FromSnapshot(snap.State, presets); !got.Equal(want) {
			t.Errorf("reopened: %+v, want the snapshot's %+v", got.Snapshot(), snap.State)
		}
		sess.Close(testwait.Context(t))
	}
}
