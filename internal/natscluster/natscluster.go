// Package natscluster runs NATS servers with JetStream inside a test
// process. StartOne starts one. Start starts a cluster: three embedded
// nats-servers on loopback, routed to each other, each with its own store
// directory, so that a test can give a stream three replicas, stop one
// server (its stream leader, say) and start it again on the same ports
// and data.
//
//	c := natscluster.Start(t)               // skipped under -short
//	nc, _ := nats.Connect(c.URLs())         // every client URL
//	c.StreamLeader(t, nc, "GAVEL", 2)       // a leader, two current followers
//	c.Stop(0); c.Restart(t, 0)
//
// A fresh cluster sometimes stalls for seconds electing its first meta
// leader (in ~1% of starts on an idle machine, far more often on a loaded
// one); Start throws such a cluster away and starts another.
//
// Each server is started by transport/nats/natsserver, with the options
// (WithName, WithPort, WithDataDir, WithCluster) that cmd/gavel starts a
// node of a cluster with, so the tests run the servers production runs.
//
// Package natscluster imports nats-server, nats.go, internal/testwait,
// transport/nats/natsserver (which imports nothing of gavel) and the
// standard library (testing among it); no other gavel package, so the
// tests of any package (transport/nats's own) use it: those of
// transport/nats, transport/ws/wsmedia/relay and package
// internal/clustertest (gavel nodes on such a cluster) start clusters,
// and tests of one server use StartOne; no package that is not a test
// imports it.
package natscluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// Size is the number of servers of a cluster.
const Size = 3

// Cluster is three JetStream servers routed to each other on loopback.
type Cluster struct {
	mu      sync.Mutex
	servers [Size]*server.Server
	nodes   [Size]node // what Restart starts again: same ports, same data
}

// node is what a server of the cluster is started with.
type node struct {
	dir    string // JetStream's store
	port   int    // client port: -1 until the first start has taken one
	listen string // cluster address, host:port
	routes []string
}

// Start starts a cluster, and shuts it down when the test ends; it skips
// the test under -short. A start that fails or stalls (a route port taken
// meanwhile, a first meta-leader election that hangs) is retried with a
// new cluster, eight times.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a three-node NATS cluster")
	}
	for attempt := range 8 {
		c, err := try(t)
		if err == nil {
			t.Cleanup(c.shutdown)
			return c
		}
		t.Logf("cluster start %d: %v", attempt, err)
	}
	t.Fatal("no NATS cluster after 8 attempts")
	return nil
}

func try(t testing.TB) (*Cluster, error) {
	var routes []string
	var listen [Size]string
	for i := range listen {
		listen[i] = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		routes = append(routes, "nats://"+listen[i])
	}
	c := &Cluster{}
	for i := range c.nodes {
		c.nodes[i] = node{dir: t.TempDir(), port: -1, listen: listen[i], routes: routes}
		if err := c.start(i); err != nil {
			c.shutdown()
			return nil, err
		}
		// A restart comes back on the same client port.
		c.nodes[i].port = c.servers[i].Addr().(*net.TCPAddr).Port
	}
	ready := waitFor(4*time.Second, func() bool {
		leaders := 0
		for _, s := range c.servers {
			if s.JetStreamIsLeader() {
				leaders++
				if len(s.JetStreamClusterPeers()) != Size { // known to the leader only
					return false
				}
			}
			if !s.JetStreamIsCurrent() {
				return false
			}
		}
		return leaders == 1
	})
	if !ready {
		var st []string
		for _, s := range c.servers {
			st = append(st, fmt.Sprintf("%s leader=%v peers=%d current=%v", s.Name(), s.JetStreamIsLeader(), len(s.JetStreamClusterPeers()), s.JetStreamIsCurrent()))
		}
		c.shutdown()
		return nil, fmt.Errorf("no meta leader within 4 s: %s", strings.Join(st, "; "))
	}
	return c, nil
}

// start starts server i with natsserver.Start, as cmd/gavel starts a
// node of a cluster.
func (c *Cluster) start(i int) error {
	n := c.nodes[i]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv, err := natsserver.Start(ctx, natsserver.WithName(fmt.Sprintf("n%d", i)), natsserver.WithPort(n.port),
		natsserver.WithDataDir(n.dir), natsserver.WithCluster(n.listen, n.routes...))
	if err != nil {
		return fmt.Errorf("server %d: %w", i, err)
	}
	c.mu.Lock()
	c.servers[i] = srv
	c.mu.Unlock()
	if !srv.JetStreamIsClustered() {
		return fmt.Errorf("server %d did not start clustered", i)
	}
	return nil
}

func (c *Cluster) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.servers {
		if s != nil {
			s.Shutdown()
		}
	}
	for _, s := range c.servers {
		if s != nil {
			s.WaitForShutdown()
		}
	}
}

// Server is server i (0, 1 or 2): the one running now, or the last one
// that ran if it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Servers are the three servers, as Server gives them.
func (c *Cluster) Servers() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.servers
	return s[:]
}

// URL is server i's client URL; it stays the same across Restart.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].port) }

// URLs are the client URLs of the three servers, comma separated, as
// nats.Connect takes them.
func (c *Cluster) URLs() string {
	var urls []string
	for i := range Size {
		urls = append(urls, c.URL(i))
	}
	return strings.Join(urls, ",")
}

// Stop shuts server i down (gracefully: a stream leader hands its
// leadership over) and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	s := c.Server(i)
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts server i again, stopped by Stop, on its ports and store
// directory, and waits until it is back in the cluster with JetStream
// current. It fails the test if it is not within testwait.Limit.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	if err := c.start(i); err != nil {
		t.Fatal(err)
	}
	s := c.Server(i)
	if !waitFor(testwait.Limit, s.JetStreamIsCurrent) {
		t.Fatalf("server %d did not catch up with the cluster", i)
	}
}

// StreamLeader waits until stream has a leader and want current followers,
// and returns the leader. It fails the test if that takes longer than
// testwait.Limit.
func (c *Cluster) StreamLeader(t testing.TB, nc *nats.Conn, stream string, want int) *server.Server {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader *server.Server
	ok := waitFor(testwait.Limit, func() bool {
		// A request the JetStream API drops (no meta leader for a moment
		// after a server stopped) is not answered: ask again.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		ci := s.CachedInfo().Cluster
		if ci == nil || ci.Leader == "" {
			return false
		}
		current := 0
		for _, r := range ci.Replicas {
			if r.Current {
				current++
			}
		}
		if current < want {
			return false
		}
		for _, srv := range c.Servers() {
			if srv.Name() == ci.Leader && srv.JetStreamIsStreamLeader("$G", stream) {
				leader = srv
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("stream %s has no leader with %d current followers", stream, want)
	}
	return leader
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// StartOne starts one embedded JetStream server, not clustered, with its
// data in a test directory and opts, and shuts it down when the test ends;
// it runs under -short too. It is what the tests of one server, or of
// nodes sharing one, need of natsserver.Start.
func StartOne(t testing.TB, opts ...natsserver.Option) *server.Server {
	t.Helper()
	srv, err := natsserver.Start(testwait.Context(t), append([]natsserver.Option{natsserver.WithDataDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
