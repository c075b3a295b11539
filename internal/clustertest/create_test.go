package clustertest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/clustertest"
	"github.com/gavelrtc/gavel/internal/testwait"
)

// TestCreateOnEveryNode: the first command of a new session reaches every
// node at once, so each tries to create the session. One header is
// stored; the others' creates see it (a header still on its way to the
// stream's store included) and open the session: every command is applied,
// none answered "not found".
func TestCreateOnEveryNode(t *testing.T) {
	c := clustertest.Start(t, presets)
	for r := range 30 { // the race is lost in about one round in 20
		id := fmt.Sprintf("room-%d", r)
		var wg sync.WaitGroup
		for i := range clustertest.Size {
			wg.Go(func() {
				cmd := core.Command{ID: fmt.Sprint("j", i), Type: core.Join, Actor: fmt.Sprint("p", i), Name: "P", Preset: "attendee"}
				if _, err := c.Node(i).Manager.Submit(testwait.Context(t), id, cmd); err != nil {
					t.Errorf("%s, node %d: %v", id, i, err)
				}
			})
		}
		wg.Wait()
		st, err := c.Node(0).Manager.Sync(testwait.Context(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(st.Snapshot().Participants); n != clustertest.Size {
			t.Errorf("%s: %d participants joined, want %d", id, n, clustertest.Size)
		}
	}
}
