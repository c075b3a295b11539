package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/session"
)

// StartServer starts an in-process nats-server with JetStream, listening on
// 127.0.0.1 only (WithPort; default a free port), keeping its data in
// WithDataDir, fsyncing as WithSyncAlways says. It returns once the server
// accepts connections; stop it with Shutdown and WaitForShutdown.
func StartServer(ctx context.Context, opts ...Option) (*server.Server, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "gavel",
		Host:       "127.0.0.1",
		Port:       cfg.port,
		JetStream:  true,
		StoreDir:   cfg.dataDir,
		SyncAlways: cfg.syncAlways,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("gavel/nats: embedded server: %w", err)
	}
	log := &errorLog{}
	srv.SetLoggerV2(log, false, false, false)
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	// Poll, so that a failure the logger saw (a taken port) ends the wait.
	ready := false
	for !ready && !log.failed() && time.Now().Before(deadline) && ctx.Err() == nil {
		ready = srv.ReadyForConnections(20 * time.Millisecond)
	}
	if !ready || !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("gavel/nats: embedded server did not start: %s", log.last())
	}
	return srv, nil
}

// errorLog is the embedded server's logger: it keeps the last error, which
// StartServer reports when the server does not start (the port is taken, the
// data directory is not writable).
type errorLog struct {
	mu  sync.Mutex
	msg string
}

func (l *errorLog) set(format string, v ...any) {
	l.mu.Lock()
	l.msg = fmt.Sprintf(format, v...)
	l.mu.Unlock()
}

func (l *errorLog) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg != ""
}

func (l *errorLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg == "" {
		return "no error logged"
	}
	return l.msg
}

func (l *errorLog) Noticef(string, ...any)         {}
func (l *errorLog) Warnf(string, ...any)           {}
func (l *errorLog) Debugf(string, ...any)          {}
func (l *errorLog) Tracef(string, ...any)          {}
func (l *errorLog) Errorf(format string, v ...any) { l.set(format, v...) }
func (l *errorLog) Fatalf(format string, v ...any) { l.set(format, v...) }

// Node is one gavel instance on NATS: a connection, the JetStream Store, a
// session.Manager on it, the command Service and a Client. Start one per
// process; all nodes of a deployment share the server (or cluster), the
// stream and the command queue group.
type Node struct {
	srv    *server.Server // nil when connected to WithURL
	nc     *gonats.Conn
	store  *Store
	mgr    *session.Manager
	svc    *Service
	client *Client

	closeOnce sync.Once
	closeErr  error
}

// Start starts a Node. With WithURL it connects to that server or cluster
// (reconnecting forever, 50 ms apart, unless WithNATSOptions says
// otherwise); without, it first starts an embedded server (StartServer) and
// connects to it in process. Then it creates the stream (NewStore), a
// session.Manager (WithSessionOptions plus the store) and the command
// service (NewService). Close it when done.
func Start(ctx context.Context, opts ...Option) (_ *Node, err error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	n := &Node{}
	defer func() {
		if err != nil {
			n.Close(context.WithoutCancel(ctx))
		}
	}()
	url := cfg.url
	copts := []gonats.Option{gonats.Name("gavel"), gonats.MaxReconnects(-1), gonats.ReconnectWait(50 * time.Millisecond)}
	if url == "" {
		if n.srv, err = StartServer(ctx, opts...); err != nil {
			return nil, err
		}
		url = n.srv.ClientURL()
		copts = append(copts, gonats.InProcessServer(n.srv))
	}
	if n.nc, err = gonats.Connect(url, append(copts, cfg.natsOpts...)...); err != nil {
		return nil, fmt.Errorf("gavel/nats: connect to %s: %w", url, err)
	}
	if n.store, err = NewStore(ctx, n.nc, opts...); err != nil {
		return nil, err
	}
	if n.mgr, err = session.NewManager(append(slices.Clip(cfg.sessionOpts), session.WithStore(n.store))...); err != nil {
		return nil, err
	}
	if n.svc, err = NewService(ctx, n.nc, n.mgr, opts...); err != nil {
		return nil, err
	}
	if n.client, err = NewClient(n.nc, opts...); err != nil {
		return nil, err
	}
	return n, nil
}

// URL is the client URL of the embedded server, for other processes on
// this machine; with WithURL, the URL of the server connected to.
func (n *Node) URL() string {
	if n.srv != nil {
		return n.srv.ClientURL()
	}
	return n.nc.ConnectedUrl()
}

// Conn is the node's NATS connection.
func (n *Node) Conn() *gonats.Conn { return n.nc }

// Server is the embedded server, or nil with WithURL.
func (n *Node) Server() *server.Server { return n.srv }

// Store is the node's JetStream store.
func (n *Node) Store() *Store { return n.store }

// Manager is the node's session manager: Submit and Subscribe on it skip
// NATS request/reply but go through the same store.
func (n *Node) Manager() *session.Manager { return n.mgr }

// Client is a client on the node's connection.
func (n *Node) Client() *Client { return n.client }

// Close stops the service (waiting for the commands it took), closes the
// sessions, the connection and the embedded server. It returns ctx's error
// if ctx ends first; the parts are closed anyway. Later calls return the
// first one's result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.svc != nil {
			errs = append(errs, n.svc.Close(ctx))
		}
		if n.mgr != nil {
			errs = append(errs, n.mgr.Close(ctx))
		}
		if n.nc != nil {
			n.nc.Close()
		}
		if n.srv != nil {
			n.srv.Shutdown()
			n.srv.WaitForShutdown()
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
