package relay_test

import (
	"context"
	"fmt"
	"iter"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/sessionlog"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// natsServers are the NATS servers of the tests' nodes: in full runs, a
// JetStream cluster of three servers routed to each other on loopback
// (replicas is 3: the log stream and the bucket of live nodes outlive a
// server); with -short, one server that every node shares (replicas 1).
type natsServers struct {
	servers  []*server.Server
	replicas int
}

// startNATS starts the tests' NATS servers; they stop when the test ends.
func startNATS(t testing.TB) *natsServers {
	t.Helper()
	if testing.Short() {
		srv, err := natsserver.Start(testwait.Context(t), natsserver.WithDataDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		s := &natsServers{servers: []*server.Server{srv}, replicas: 1}
		t.Cleanup(s.shutdown)
		return s
	}
	for attempt := range 5 {
		s, err := tryNATSCluster(t)
		if err == nil {
			t.Cleanup(s.shutdown)
			return s
		}
		t.Logf("NATS cluster start %d: %v", attempt, err)
	}
	t.Fatal("no NATS cluster after 5 attempts")
	return nil
}

// tryNATSCluster starts three servers routed to each other and waits for
// their JetStream meta leader; a start that stalls (a route port taken
// meanwhile) is an error, and the caller tries again.
func tryNATSCluster(t testing.TB) (*natsServers, error) {
	var ports []int
	var routes []string
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ports = append(ports, p)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	s := &natsServers{replicas: 3}
	for i, p := range ports {
		srv, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("s%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "gavel", Host: "127.0.0.1", Port: p},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
		if err != nil {
			s.shutdown()
			return nil, err
		}
		srv.Start()
		s.servers = append(s.servers, srv)
		if !srv.ReadyForConnections(5 * time.Second) {
			s.shutdown()
			return nil, fmt.Errorf("server %d did not start", i)
		}
	}
	for end := time.Now().Add(5 * time.Second); !s.ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			s.shutdown()
			return nil, fmt.Errorf("no JetStream meta leader with 3 peers within 5 s")
		}
	}
	return s, nil
}

// ready reports whether the cluster has one meta leader that knows the
// three servers, and every server is current.
func (s *natsServers) ready() bool {
	leaders := 0
	for _, srv := range s.servers {
		if !srv.JetStreamIsClustered() || !srv.JetStreamIsCurrent() {
			return false
		}
		if srv.JetStreamIsLeader() {
			leaders++
			if len(srv.JetStreamClusterPeers()) != 3 {
				return false
			}
		}
	}
	return leaders == 1
}

// url is the client URL of server i.
func (s *natsServers) url(i int) string { return s.servers[i].ClientURL() }

func (s *natsServers) shutdown() {
	for _, srv := range s.servers {
		srv.Shutdown()
	}
	for _, srv := range s.servers {
		srv.WaitForShutdown()
	}
}

// lagStore is a node's JetStream store whose follow streams can be held:
// a held stream delivers nothing until it is let go, so the node's
// runtime lags the log without knowing it, as one whose stream is merely
// slow. Appends, reads and snapshots go to the store as they are.
type lagStore struct {
	*gnats.Store

	mu   sync.Mutex
	held chan struct{} // nil: flowing; else closed when let go
}

// hold stops the follow streams' deliveries.
func (s *lagStore) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = make(chan struct{})
	}
}

// letGo lets the follow streams deliver again, what they held first.
func (s *lagStore) letGo() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		close(s.held)
		s.held = nil
	}
}

// Follow is the store's, each record held while the store is.
func (s *lagStore) Follow(ctx context.Context, id string, after sessionlog.Position) iter.Seq2[sessionlog.Record, error] {
	return func(yield func(sessionlog.Record, error) bool) {
		for rec, err := range s.Store.Follow(ctx, id, after) {
			s.mu.Lock()
			held := s.held
			s.mu.Unlock()
			if held != nil {
				select {
				case <-held:
				case <-ctx.Done():
					return
				}
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}
