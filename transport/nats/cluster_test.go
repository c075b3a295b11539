package nats

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// cluster is a three-node cluster (internal/natscluster), with its
// servers and client URLs at hand.
type cluster struct {
	*natscluster.Cluster
	servers []*server.Server
	urls    string // client URLs, comma separated
}

// startCluster starts a three-node cluster, skipped under -short.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := natscluster.Start(t)
	return &cluster{Cluster: c, servers: c.Servers(), urls: c.URLs()}
}

// streamLeader waits until stream has a leader and current followers
// (want of them), and returns the leader.
func (c *cluster) streamLeader(t *testing.T, nc *gonats.Conn, stream string, want int) *server.Server {
	t.Helper()
	return c.StreamLeader(t, nc, stream, want)
}

// TestCluster runs two gavel instances on a three-node cluster with a
// three-replica stream, and stops the stream's leader while commands are in
// flight: every acknowledged command is in the log once, nobody was told of
// events the log does not hold, and the session goes on.
func TestCluster(t *testing.T) {
	c := startCluster(t)
	opts := []NodeOption{
		WithURL(c.urls), WithReplicas(3), WithNATSOptions(gonats.ReconnectWait(20 * time.Millisecond)),
		WithSessionOptions(session.WithPresets(presets)),
	}
	a, b := startNode(t, opts...), startNode(t, opts...)
	nc := connect(t, c.urls)
	leader := c.streamLeader(t, nc, DefaultStream, 2)
	// A lost request is sent again after a second, not two.
	client := newClient(t, nc, WithRequestTimeout(time.Second))
	// A subscriber follows the whole run, across the change of leader.
	sub, err := newClient(t, connect(t, c.urls)).Subscribe(testwait.Context(t), "room-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	half := make(chan struct{})
	stopped := make(chan string)
	go func() {
		<-half
		leader.Shutdown()
		leader.WaitForShutdown()
		stopped <- leader.Name()
	}()
	answers := race(t, client, "room-1", 16, 30, func() { close(half) })
	t.Logf("stopped the stream leader %s halfway", testwait.Recv(t, stopped, "the stream leader to stop"))

	c.streamLeader(t, nc, DefaultStream, 1) // a new one, on the two left
	want := checkLog(t, a.Store(), "room-1", answers)
	logged := loggedEvents(t, a.Store(), "room-1")
	if got := collect(t, sub, len(logged)); jsonOf(got) != jsonOf(logged) {
		t.Errorf("the subscriber saw\n%s\nthe log holds\n%s", jsonOf(got), jsonOf(logged))
	}
	// The session goes on.
	next := core.Command{ID: "after", Type: core.Join, Actor: "late", Name: "Late", Preset: "attendee"}
	res, err := client.Submit(testwait.Context(t), "room-1", next)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 || res.Events[0].Sequence() != want.Seq()+1 {
		t.Errorf("the command after the failover gave %s, want one event with seq %d", jsonOf(res.Events), want.Seq()+1)
	}
	var stats []string
	for i, n := range []*Node{a, b} {
		st := n.Store()
		stats = append(stats, fmt.Sprintf("instance %d: %d×10071, %d×10164, %d resent, %d found landed",
			i, st.wrongSeq.Load(), st.wrongSeqConst.Load(), st.retried.Load(), st.ownLanded.Load()))
	}
	t.Logf("%d commands, seq %d; %s", len(answers), want.Seq(), strings.Join(stats, "; "))
}

// TestClusterConcurrentWriters races eight writers expecting the same
// position on a replicated stream, twenty times: a replicated stream answers
// the losers with 10071, or with 10164 while the winner's write is in
// flight, and both must be ErrConflict. Exactly one writer wins each round.
func TestClusterConcurrentWriters(t *testing.T) {
	const writers, rounds = 8, 20
	c := startCluster(t)
	nc := connect(t, c.urls)
	st := newStore(t, nc, WithReplicas(3))
	c.streamLeader(t, nc, DefaultStream, 2)
	ctx := testwait.Context(t)
	if err := st.Create(ctx, sessionlog.Header{Session: "room-1", Presets: presets}); err != nil {
		t.Fatal(err)
	}
	var last sessionlog.Position
	for r := range rounds {
		rec := storetest.Records(r + 1)[r]
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []sessionlog.Position
			errs []error
		)
		for w := range writers {
			wrec := rec
			wrec.Command.ID = fmt.Sprintf("%s-w%d", rec.Command.ID, w) // distinct: no duplicate shortcut
			wg.Go(func() {
				p, err := st.Append(ctx, "room-1", last, wrec)
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
	}
	if n := len(readLog(t, st, "room-1", 1)); n != rounds {
		t.Errorf("the log holds %d records, want %d", n, rounds)
	}
	t.Logf("losers answered %d×10071, %d×10164", st.wrongSeq.Load(), st.wrongSeqConst.Load())
}
