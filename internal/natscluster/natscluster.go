// Package natscluster runs a three-node NATS cluster with JetStream inside
// a test process: three embedded nats-servers on loopback, routed to each
// other, each with its own store directory, so that a test can give a
// stream three replicas, stop one server (its stream leader, say) and
// start it again on the same ports and data.
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
// Package natscluster imports nats-server, nats.go, internal/testwait and
// the standard library (testing among it); no gavel package, so the tests
// of any package (transport/nats's own) use it. The tests of
// transport/nats and package internal/clustertest (gavel nodes on such a
// cluster) use it; no package that is not a test imports it.
package natscluster

import (
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
)

// Size is the number of servers of a cluster.
const Size = 3

// Cluster is three JetStream servers routed to each other on loopback.
type Cluster struct {
	mu      sync.Mutex
	servers [Size]*server.Server
	opts    [Size]*server.Options // what Restart starts again: same ports, same data
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
	var ports [Size]int
	for i := range ports {
		ports[i] = FreePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	c := &Cluster{}
	for i, p := range ports {
		c.opts[i] = &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			// Cluster.Host defaults to 0.0.0.0; the cluster size is derived
			// from the routes, the node's own included.
			Cluster: server.ClusterOpts{Name: "gavel", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:   true,
			NoSigs:  true,
		}
		if err := c.start(i); err != nil {
			c.shutdown()
			return nil, err
		}
		// A restart comes back on the same client port.
		c.opts[i].Port = c.servers[i].Addr().(*net.TCPAddr).Port
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

// start starts server i from its options. NoLog hides start-up failures:
// a server that is not clustered is one.
func (c *Cluster) start(i int) error {
	srv, err := server.NewServer(c.opts[i])
	if err != nil {
		return err
	}
	srv.Start()
	c.mu.Lock()
	c.servers[i] = srv
	c.mu.Unlock()
	if !srv.ReadyForConnections(5*time.Second) || !srv.JetStreamEnabled() || !srv.JetStreamIsClustered() {
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
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port) }

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
		s, err := js.Stream(testwait.Context(t), stream)
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
