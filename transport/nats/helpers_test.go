package nats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// startServer starts an embedded server with its data in a test directory
// (or dir, when given) and shuts it down at the end of the test.
func startServer(t testing.TB, opts ...natsserver.Option) *server.Server {
	t.Helper()
	srv := embeddedServer(t, opts...)
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// embeddedServer starts an embedded server with its data in a test
// directory (or dir, when given), for a node to own.
func embeddedServer(t testing.TB, opts ...natsserver.Option) *server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := natsserver.Start(ctx, append([]natsserver.Option{natsserver.WithDataDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// runServer starts an embedded server with opts, shut down at the end of
// the test.
func runServer(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the server did not start")
	}
	return srv
}

// connect connects to url, closing the connection at the end of the test.
func connect(t testing.TB, url string, opts ...gonats.Option) *gonats.Conn {
	t.Helper()
	nc, err := gonats.Connect(url, append([]gonats.Option{gonats.MaxReconnects(-1), gonats.ReconnectWait(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// newStore returns a store on nc.
func newStore(t testing.TB, nc *gonats.Conn, opts ...StoreOption) *Store {
	t.Helper()
	st, err := NewStore(testwait.Context(t), nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// startNode starts a node, closing it at the end of the test.
func startNode(t testing.TB, opts ...NodeOption) *Node {
	t.Helper()
	n, err := Start(testwait.Context(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("closing the node: %v", err)
		}
	})
	return n
}

// readLog returns the records of session id from seq from, failing the test
// on an error.
func readLog(t testing.TB, st *Store, id string, from uint64) []sessionlog.Record {
	t.Helper()
	var out []sessionlog.Record
	for r, err := range st.Records(testwait.Context(t), id, from) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// commandIDs returns the command ids of session id's log, in order.
func commandIDs(t testing.TB, st *Store, id string) []string {
	t.Helper()
	var ids []string
	for _, r := range readLog(t, st, id, 1) {
		ids = append(ids, r.Command.ID)
	}
	return ids
}

// loggedEvents returns every event of session id's log, in order.
func loggedEvents(t testing.TB, st *Store, id string) []events.Event {
	t.Helper()
	var out []events.Event
	for _, r := range readLog(t, st, id, 1) {
		out = append(out, r.Events...)
	}
	return out
}
