package nats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
)

// startServer starts an embedded server with its data in a test directory
// (or dir, when given) and shuts it down at the end of the test.
func startServer(t testing.TB, opts ...Option) *server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, append([]Option{WithDataDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
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
func newStore(t testing.TB, nc *gonats.Conn, opts ...Option) *Store {
	t.Helper()
	st, err := NewStore(t.Context(), nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// startNode starts a node, closing it at the end of the test.
func startNode(t testing.TB, opts ...Option) *Node {
	t.Helper()
	n, err := Start(t.Context(), opts...)
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
func readLog(t testing.TB, st *Store, id string, from uint64) []session.Record {
	t.Helper()
	var out []session.Record
	for r, err := range st.Records(t.Context(), id, from) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
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
