// Package natsserver starts nats-server inside the process, with JetStream,
// for gavel to keep its sessions' logs in when there is no NATS server or
// cluster to join: one binary is then a whole deployment.
//
//	srv, err := natsserver.Start(ctx, natsserver.WithDataDir("/var/lib/gavel"))
//	n, err := nats.Start(ctx, nats.WithEmbeddedServer(srv), …) // n.Close shuts srv down
//
// It is a package of its own so that a service that only submits commands
// or follows sessions (package transport/nats's Client) does not link
// nats-server and its dependencies.
//
// Package natsserver imports github.com/nats-io/nats-server/v2 and nothing
// of gavel.
package natsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrInvalidOption is matched by the error of an Option given a bad value.
var ErrInvalidOption = errors.New("gavel/natsserver: invalid option")

// Option configures Start. A nil Option is skipped.
type Option func(*config) error

type config struct {
	dataDir    string
	name       string
	host       string
	port       int
	syncAlways bool
	cluster    *clusterConfig
}

type clusterConfig struct {
	host   string
	port   int
	routes []string
}

// ClusterName is the name of the NATS cluster that WithCluster's servers
// form.
const ClusterName = "gavel"

// WithDataDir sets the JetStream directory. Default: gavel/jetstream under
// os.TempDir(), which survives a restart of the process but maybe not of the
// machine: give a real directory in production.
func WithDataDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return fmt.Errorf("%w: empty data directory", ErrInvalidOption)
		}
		c.dataDir = dir
		return nil
	}
}

// WithName sets the server's name (default gavel). Every server of a
// cluster needs its own, the same across its restarts: JetStream knows its
// peers by name.
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" || strings.ContainsAny(name, " \t\r\n.*>") {
			return fmt.Errorf("%w: server name %q", ErrInvalidOption, name)
		}
		c.name = name
		return nil
	}
}

// WithListen sets the address (host:port) the server listens on for
// clients in other processes, other gavel nodes joining it say (default
// 127.0.0.1 and a free port, see Server.ClientURL). The server has no
// authentication: listen beyond loopback on a private network only.
func WithListen(addr string) Option {
	return func(c *config) error {
		host, port, err := splitAddr(addr)
		if err != nil {
			return fmt.Errorf("%w: listen address %q: %v", ErrInvalidOption, addr, err)
		}
		c.host, c.port = host, port
		return nil
	}
}

// WithCluster makes the server one of a NATS cluster, named ClusterName,
// with JetStream clustered: it takes routes from the other servers on
// listen (host:port) and connects to routes (nats://host:port URLs; this
// server's own may be among them, so every server can be given the same
// list). A server with no routes waits for the others to connect to it.
// Start returns once the server accepts clients; JetStream is usable once
// a majority of the cluster is up (see nats.Start, which waits for it).
func WithCluster(listen string, routes ...string) Option {
	return func(c *config) error {
		host, port, err := splitAddr(listen)
		if err != nil {
			return fmt.Errorf("%w: cluster address %q: %v", ErrInvalidOption, listen, err)
		}
		for _, r := range routes {
			if r == "" || len(server.RoutesFromStr(r)) != 1 {
				return fmt.Errorf("%w: route %q: want nats://host:port", ErrInvalidOption, r)
			}
		}
		c.cluster = &clusterConfig{host: host, port: port, routes: routes}
		return nil
	}
}

func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q", p)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if port == 0 {
		port = -1 // nats-server's "any free port"
	}
	return host, port, nil
}

// WithPort sets the loopback port the server listens on for other
// processes (default -1: a free port, see Server.ClientURL). Without
// WithListen, the server never listens beyond 127.0.0.1.
func WithPort(port int) Option {
	return func(c *config) error {
		if port < -1 || port > 65535 {
			return fmt.Errorf("%w: port %d", ErrInvalidOption, port)
		}
		c.port = port
		return nil
	}
}

// WithSyncAlways makes the server fsync every JetStream write before it
// acknowledges it (about 9× slower here). The default is nats-server's:
// writes reach the operating system before the acknowledgement, so an
// acknowledged command survives a crash of the process, and the disk is
// synced every two minutes. See package transport/nats's doc.
func WithSyncAlways(always bool) Option {
	return func(c *config) error {
		c.syncAlways = always
		return nil
	}
}

// Start starts nats-server in this process, with JetStream, listening on
// 127.0.0.1 only (unless WithListen), and returns once it accepts connections (or ctx ends: 10
// s when ctx has no deadline). Stop it with Shutdown and WaitForShutdown,
// or hand it to nats.WithEmbeddedServer, whose Node stops it.
func Start(ctx context.Context, opts ...Option) (*server.Server, error) {
	cfg := config{dataDir: filepath.Join(os.TempDir(), "gavel", "jetstream"), name: "gavel", host: "127.0.0.1", port: -1}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	so := &server.Options{
		ServerName: cfg.name,
		Host:       cfg.host,
		Port:       cfg.port,
		JetStream:  true,
		StoreDir:   cfg.dataDir,
		SyncAlways: cfg.syncAlways,
		NoSigs:     true,
		NoLog:      true,
	}
	if cl := cfg.cluster; cl != nil {
		so.Cluster = server.ClusterOpts{Name: ClusterName, Host: cl.host, Port: cl.port}
		so.Routes = server.RoutesFromStr(strings.Join(cl.routes, ","))
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("gavel/natsserver: %w", err)
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
		return nil, fmt.Errorf("gavel/natsserver: the server did not start: %s", log.last())
	}
	return srv, nil
}

// errorLog is the server's logger: it keeps the last error, which Start
// reports when the server does not start (the port is taken, the data
// directory is not writable).
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

func (l *errorLog) Noticef(string, ...any) {}
func (l *errorLog) Warnf(string, ...any)   {}
func (l *errorLog) Debugf(string, ...any)  {}
func (l *errorLog) Tracef(string, ...any)  {}
func (l *errorLog) Errorf(format string, v ...any) {
	// A route to a server not started yet is a cluster forming, not a
	// failure to start: the server keeps trying.
	if strings.HasPrefix(format, "Error trying to connect to route") {
		return
	}
	l.set(format, v...)
}
func (l *errorLog) Fatalf(format string, v ...any) { l.set(format, v...) }
