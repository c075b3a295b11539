package relay_test

import (
	"context"
	"iter"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/sessionlog"
	gnats "github.com/gavelrtc/gavel/transport/nats"
)

// natsServers are the NATS servers of the tests' nodes: in full runs, a
// JetStream cluster of three servers (internal/natscluster; replicas is 3:
// the log stream and the bucket of live nodes outlive a server); with
// -short, one server that every node shares (replicas 1).
type natsServers struct {
	servers  []*server.Server
	replicas int
}

// startNATS starts the tests' NATS servers; they stop when the test ends.
func startNATS(t testing.TB) *natsServers {
	t.Helper()
	if !testing.Short() {
		return &natsServers{servers: natscluster.Start(t).Servers(), replicas: natscluster.Size}
	}
	return &natsServers{servers: []*server.Server{natscluster.StartOne(t)}, replicas: 1}
}

// url is the client URL of server i.
func (s *natsServers) url(i int) string { return s.servers[i].ClientURL() }

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
