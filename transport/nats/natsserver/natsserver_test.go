package natsserver_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

// TestStart: the server listens on loopback, with JetStream.
func TestStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	srv, err := natsserver.Start(ctx, natsserver.WithDataDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.JetStreamEnabled() {
		t.Error("JetStream is off")
	}
	nc, err := gonats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if host, _, _ := net.SplitHostPort(nc.ConnectedAddr()); host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", nc.ConnectedAddr())
	}
}

// TestStartFails reports why the server did not start.
func TestStartFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = natsserver.Start(ctx, natsserver.WithDataDir(t.TempDir()), natsserver.WithPort(l.Addr().(*net.TCPAddr).Port))
	if err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	t.Log(err)
}

// TestOptions: bad values are refused before anything starts.
func TestOptions(t *testing.T) {
	for _, o := range []natsserver.Option{natsserver.WithDataDir(""), natsserver.WithPort(70000), natsserver.WithPort(-2),
		natsserver.WithName(""), natsserver.WithName("n 1"), natsserver.WithListen("4222"), natsserver.WithListen("127.0.0.1:70000"),
		natsserver.WithCluster("6222"), natsserver.WithCluster("127.0.0.1:6222", "")} {
		if _, err := natsserver.Start(testwait.Context(t), o); !errors.Is(err, natsserver.ErrInvalidOption) {
			t.Errorf("err = %v, want ErrInvalidOption", err)
		}
	}
}

// TestStartNamed: a server named and listening where it is told.
func TestStartNamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	srv, err := natsserver.Start(ctx, natsserver.WithDataDir(t.TempDir()), natsserver.WithName("n1"), natsserver.WithListen("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	nc, err := gonats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.ConnectedServerName() != "n1" {
		t.Errorf("server name %q, want n1", nc.ConnectedServerName())
	}
}
