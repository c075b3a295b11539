package relay

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// TestRegistryServerRestart: the NATS server restarts; the nodes find
// each other again once it is back.
func TestRegistryServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the nodes to count themselves out")
	}
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	start := func() func() {
		srv, err := natsserver.Start(testwait.Context(t), natsserver.WithDataDir(dir), natsserver.WithPort(port))
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	}
	stop := start()
	cfg := defaultConfig()
	cfg.ttl = time.Second
	var vs []*views
	for _, id := range []string{"node-a", "node-b"} {
		nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		v := &views{}
		r, err := joinRegistry(testwait.Context(t), js, cfg, id, v.set, v.report)
		if err != nil {
			t.Fatal(err)
		}
		testwait.Cleanup(t, func(ctx context.Context) { _ = r.leave(ctx) })
		vs = append(vs, v)
	}
	vs[0].wait(t, "node-a", "node-a", "node-b")
	stop()
	vs[0].wait(t, "node-a", "node-b") // itself out; node-b as it last knew
	stop = start()
	defer stop()
	vs[0].wait(t, "node-a", "node-a", "node-b")
	vs[1].wait(t, "node-b", "node-a", "node-b")
}
