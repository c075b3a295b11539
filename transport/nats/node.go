package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/session"
)

// EmbeddedServer is a NATS server in this process (with JetStream) that a
// Node connects to without a socket; natsserver.Start returns one (a
// nats-server *server.Server).
type EmbeddedServer interface {
	// ClientURL is the URL other processes connect to.
	ClientURL() string
	// InProcessConn is a connection that bypasses the network
	// (nats.InProcessServer).
	InProcessConn() (net.Conn, error)
	// Shutdown stops the server, and WaitForShutdown waits until it has.
	Shutdown()
	WaitForShutdown()
}

// WithEmbeddedServer makes Start connect to srv in process. The Node owns
// srv from then on: its Close shuts srv down, and so does a Start that
// fails. Start needs this or WithURL.
func WithEmbeddedServer(srv EmbeddedServer) NodeOption {
	return nodeOpt(func(c *nodeConfig) error {
		if srv == nil {
			return invalid("nil embedded server")
		}
		c.server = srv
		return nil
	})
}

// Node is one gavel instance on NATS: a connection, the JetStream Store, a
// session.Manager on it, the command Service and a Client. Start one per
// process; all nodes of a deployment share the server (or cluster), the
// stream and the command queue group.
type Node struct {
	srv    EmbeddedServer // nil when connected to WithURL
	nc     *gonats.Conn
	store  *Store
	mgr    *session.Manager
	router *Router // WithRouting
	svc    *Service
	client *Client

	closeOnce sync.Once
	closeErr  error
}

// Start starts a Node: it connects to the server or cluster of WithURL
// (reconnecting forever, 50 ms apart, unless WithNATSOptions says
// otherwise), or in process to the server of WithEmbeddedServer; then it
// creates the stream (as NewStore), a session.Manager (WithSessionOptions
// plus the store, and with WithRouting a Router as NewRouter makes), the
// command service (as NewService) and a client (as NewClient), each with
// the options of its kind. Close it when done.
func Start(ctx context.Context, opts ...NodeOption) (_ *Node, err error) {
	cfg := defaultNode()
	// Every option is applied, even after one fails, so that the server of
	// WithEmbeddedServer is known, and shut down, whatever fails.
	var errs []error
	for _, o := range opts {
		if o != nil {
			errs = append(errs, o.applyNode(&cfg))
		}
	}
	err = errors.Join(errs...)
	switch {
	case err != nil:
	case cfg.url == "" && cfg.server == nil:
		err = invalid("no NATS server: give WithURL or WithEmbeddedServer")
	case cfg.url != "" && cfg.server != nil:
		err = invalid("WithURL and WithEmbeddedServer both given")
	}
	n := &Node{srv: cfg.server}
	defer func() {
		if err != nil {
			n.Close(context.WithoutCancel(ctx))
		}
	}()
	if err != nil {
		return nil, err
	}
	url := cfg.url
	copts := []gonats.Option{gonats.Name("gavel"), gonats.MaxReconnects(-1), gonats.ReconnectWait(50 * time.Millisecond)}
	if n.srv != nil {
		url = n.srv.ClientURL()
		copts = append(copts, gonats.InProcessServer(n.srv))
	}
	if n.nc, err = gonats.Connect(url, append(copts, cfg.natsOpts...)...); err != nil {
		return nil, fmt.Errorf("gavel/nats: connect to %s: %w", url, err)
	}
	if n.store, err = newStoreWith(ctx, n.nc, cfg.store); err != nil {
		return nil, err
	}
	sessionOpts := cfg.sessionOpts
	if cfg.home != nil {
		if n.router, err = newRouterWith(n.nc, cfg.service.node, cfg.home, cfg.router); err != nil {
			return nil, err
		}
		sessionOpts = append(sessionOpts[:len(sessionOpts):len(sessionOpts)], session.WithRouter(n.router))
	}
	if n.mgr, err = session.NewManager(n.store, sessionOpts...); err != nil {
		return nil, err
	}
	if n.svc, err = newServiceWith(ctx, n.nc, n.mgr, cfg.service); err != nil {
		return nil, err
	}
	if n.client, err = newClientWith(n.nc, cfg.client); err != nil {
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

// Store is the node's JetStream store.
func (n *Node) Store() *Store { return n.store }

// Manager is the node's session manager: Submit and Subscribe on it skip
// NATS request/reply but go through the same store.
func (n *Node) Manager() *session.Manager { return n.mgr }

// Client is a client on the node's connection.
func (n *Node) Client() *Client { return n.client }

// Close stops the service (waiting for the commands it took), closes the
// sessions, the router's connections (WithRouting), the connection and the
// embedded server (WithEmbeddedServer). It returns ctx's error
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
		if n.router != nil {
			n.router.Close()
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
