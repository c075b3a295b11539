// Package gavelserver is cmd/gavel: configuration (flags and GAVEL_*
// variables) in, a running deployment out. A Server is the meeting page and
// the SDK (package web), the websocket endpoint of transport/ws with media
// (transport/ws/wsmedia; relayed to each session's media home when it is
// one node of several, Config.Node), and every session's log in NATS JetStream
// (transport/nats: an embedded server under a data directory,
// transport/nats/natsserver, or a server of your own). Tests start one with Start and drive its Handler.
//
// Nodes form a cluster in two ways: each with an embedded NATS server
// routed to the others (Config.ClusterListen and Routes: a JetStream
// cluster keeping Replicas copies of the logs, the snapshots and the media
// relay's registry; Start waits up to ClusterWait for it to take the
// logs), or joining a running cluster by URL (NATSURL). Either way each
// node has a name (Config.Node) and the media relay is on; clients move
// between the nodes with their tokens when every node has the same
// GAVEL_SECRET.
//
// Routes:
//
//	/             the meeting page (index.html, app.js, app.css)
//	/gavel.js     the SDK; /gavel.d.ts its types
//	/gavel        the websocket endpoint (docs/ws-protocol.md)
//	/healthz      200 while the NATS connection is up, else 503
//	/dev/token    with Config.Dev, to loopback clients: POST {"room","name","preset"} → {"token","participant","room"}
//	/dev/presets  with Config.Dev: the preset names, for the page's form
//
// In production the embedding service mints tokens (ws.MintToken) with the
// same GAVEL_SECRET, and hands the page one (index.html#token=…).
//
// Package gavelserver imports the whole of gavel; nothing imports it but
// cmd/gavel and the browser tests of package web.
package gavelserver

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
	"github.com/gavelrtc/gavel/web"
)

// Limits of the dev token endpoint's input, as SPEC §2 bounds the strings
// they become.
const (
	maxRoom = 256
	maxName = 1024
	// DevTokenLifetime is how long a token from /dev/token lasts.
	DevTokenLifetime = 12 * time.Hour
	// maxFrame is the websocket frame limit: SDP answers grow with the
	// tracks in a room, a few hundred bytes each.
	maxFrame = 1 << 20
)

// Server is a running gavel deployment.
type Server struct {
	cfg  Config
	log  *slog.Logger
	node *gnats.Node
	hub  *wsmedia.Hub
	// relay is the media relay once it runs (with Config.Node). Atomic:
	// the node's Router reads it from the start (home), to send each
	// session's commands to its media home, so that the node that routes
	// a session's media also decides its commands (one group commit).
	relay atomic.Pointer[relay.Hub]
	ws    *ws.Server
	ln    net.Listener
	http  *http.Server
	mux   *http.ServeMux

	serveDone chan error
	closeOnce sync.Once
	closeErr  error
}

// Start starts a server for cfg: the store (embedded NATS or cfg.NATSURL),
// the media hub (and its relay, with cfg.Node), the websocket endpoint, and
// an HTTP listener on cfg.Listen. Errors that come from the configuration match ErrConfig.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	if cfg.Presets == nil {
		cfg.Presets = DefaultPresets()
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret, cfg.SecretGenerated = randomSecret(), true
	}
	if len(cfg.Secret) < ws.MinKeySize {
		return nil, configErr("the token key has %d bytes, want at least %d", len(cfg.Secret), ws.MinKeySize)
	}
	s := &Server{cfg: cfg, log: log, serveDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close(context.WithoutCancel(ctx))
		}
	}()

	// The listener first: a port in use is the commonest mistake, and
	// costs nothing to find.
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, configErr("listen: %v", err)
	}

	if err := cfg.checkCluster(); err != nil {
		return nil, err
	}
	replicas, err := s.startNATS(ctx)
	if err != nil {
		return nil, err
	}

	network := media.DefaultNetwork()
	host, _, _ := net.SplitHostPort(s.ln.Addr().String())
	switch {
	case cfg.MediaIP != "":
		network.NAT1To1IPs = []string{cfg.MediaIP}
	case isLoopback(host):
		network = media.LoopbackNetwork()
	}
	network.PortMin, network.PortMax = cfg.MediaPortMin, cfg.MediaPortMax
	if _, err := network.SettingEngine(); err != nil {
		return nil, configErr("media: %v", err)
	}
	mediaErr := func(err error) { log.Warn("media", "err", err) }
	if s.hub, err = wsmedia.New(s.node.Manager(),
		wsmedia.WithRouterOptions(media.WithNetwork(network), media.WithErrorHandler(mediaErr)),
		wsmedia.WithErrorHandler(mediaErr)); err != nil {
		return nil, err
	}
	var mediaHub ws.MediaHub = s.hub
	if cfg.Node != "" {
		opts := append([]relay.Option{relay.WithErrorHandler(mediaErr), relay.WithReplicas(replicas)}, cfg.RelayOptions...)
		r, err := relay.New(ctx, s.node.Conn(), cfg.Node, s.hub, opts...)
		if err != nil {
			return nil, configErr("media relay of node %q: %v", cfg.Node, err)
		}
		mediaHub = r
		s.relay.Store(r)
	}
	wsOpts := append([]ws.Option{ws.WithMedia(mediaHub), ws.WithMaxFrameSize(maxFrame)}, cfg.WSOptions...)
	if s.ws, err = ws.NewServer(s.node.Manager(), cfg.Secret, wsOpts...); err != nil {
		return nil, err
	}

	s.mux = http.NewServeMux()
	files := http.FileServerFS(web.Files)
	s.mux.Handle("GET /{$}", files)
	for _, name := range []string{"gavel.js", "gavel.d.ts", "app.js", "app.css"} {
		s.mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			if name == "gavel.d.ts" {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
			w.Header().Set("X-Content-Type-Options", "nosniff")
			files.ServeHTTP(w, r)
		})
	}
	s.mux.Handle("/gavel", s.ws)
	s.mux.HandleFunc("GET /healthz", s.health)
	if cfg.Dev {
		s.mux.HandleFunc("POST /dev/token", s.devToken)
		s.mux.HandleFunc("GET /dev/presets", s.devPresets)
	}
	s.http = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { s.serveDone <- s.http.Serve(s.ln) }()

	switch {
	case cfg.SecretGenerated && (cfg.Node != "" || cfg.ClusterListen != ""):
		log.Warn("no GAVEL_SECRET: tokens are signed with a random key made at start, which the other nodes refuse: " +
			"give every node the same GAVEL_SECRET, so that a client can move between them")
	case cfg.SecretGenerated:
		log.Info("no GAVEL_SECRET: tokens are signed with a random key made at start, valid until the server stops")
	}
	if cfg.Dev {
		log.Info("dev token endpoint on: /dev/token mints tokens for loopback clients")
	}
	return s, nil
}

// startNATS starts the node on NATS: the embedded server (in a cluster
// with ClusterListen) or a connection to NATSURL; in a cluster, it first
// waits for JetStream to take the logs. It returns the replicas of the
// logs.
func (s *Server) startNATS(ctx context.Context) (int, error) {
	cfg := s.cfg
	replicas := cfg.Replicas
	if replicas == 0 && cfg.ClusterListen != "" {
		replicas = DefaultClusterReplicas
	}
	where := "NATS at " + cfg.NATSURL
	opts := []gnats.NodeOption{gnats.WithSessionOptions(session.WithPresets(cfg.Presets))}
	if cfg.Node != "" {
		opts = append(opts, gnats.WithRouting(cfg.Node, s.home))
	}
	var setup func() (*nats.Conn, error) // a connection to look at JetStream before the node starts
	stop := func() {}                    // the embedded server, until the node owns it
	if cfg.NATSURL != "" {
		opts = append(opts, gnats.WithURL(cfg.NATSURL))
		setup = func() (*nats.Conn, error) { return nats.Connect(cfg.NATSURL, nats.Name("gavel setup")) }
	} else {
		where = "embedded NATS in " + cfg.DataDir
		sopts := []natsserver.Option{natsserver.WithDataDir(cfg.DataDir)}
		if cfg.Node != "" {
			sopts = append(sopts, natsserver.WithName(cfg.Node))
		}
		if cfg.NATSListen != "" {
			sopts = append(sopts, natsserver.WithListen(cfg.NATSListen))
		}
		if cfg.ClusterListen != "" {
			sopts = append(sopts, natsserver.WithCluster(cfg.ClusterListen, cfg.Routes...))
		}
		srv, err := natsserver.Start(ctx, sopts...)
		if err != nil {
			return 0, configErr("%s: %v", where, err)
		}
		opts = append(opts, gnats.WithEmbeddedServer(srv)) // the node shuts it down, even if it fails to start
		stop = func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
		setup = func() (*nats.Conn, error) {
			return nats.Connect(srv.ClientURL(), nats.InProcessServer(srv), nats.Name("gavel setup"))
		}
	}
	if replicas == 0 || replicas > 1 || cfg.ClusterListen != "" {
		nc, err := setup()
		if err == nil {
			if replicas == 0 {
				replicas, err = streamReplicas(ctx, nc)
			}
			if err == nil {
				err = waitJetStream(ctx, nc, replicas, cmp.Or(cfg.ClusterWait, DefaultClusterWait))
			}
			nc.Close()
		}
		if err != nil {
			stop()
			return 0, configErr("%s: %v", where, err)
		}
	}
	var err error
	if s.node, err = gnats.Start(ctx, append(opts, gnats.WithReplicas(replicas))...); err != nil {
		return 0, configErr("%s: %v", where, err)
	}
	return replicas, nil
}

// home is the home of session among the live nodes, "" (decide here)
// before the relay runs.
func (s *Server) home(session string) string {
	if h := s.relay.Load(); h != nil {
		return h.Home(session)
	}
	return ""
}

// streamReplicas is the replicas of the logs' stream, 1 if there is none
// yet.
func streamReplicas(ctx context.Context, nc *nats.Conn) (int, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, gnats.DefaultStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return 1, nil
	case err != nil:
		return 0, fmt.Errorf("stream %s: %w", gnats.DefaultStream, err)
	}
	return max(st.CachedInfo().Config.Replicas, 1), nil
}

// waitJetStream waits until JetStream keeps the logs with replicas
// copies: while a cluster forms, it has no leader, or too few servers for
// the copies. It makes the store (which the node makes again, at no cost)
// until that succeeds, fails for a reason that is not the cluster
// forming, or wait passes.
func waitJetStream(ctx context.Context, nc *nats.Conn, replicas int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		actx, cancel := context.WithTimeout(ctx, min(2*time.Second, max(time.Until(deadline), time.Millisecond)))
		_, err := gnats.NewStore(actx, nc, gnats.WithReplicas(replicas))
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !clusterForming(err):
			return err
		case time.Now().After(deadline):
			return fmt.Errorf("JetStream cannot keep %d copies of the logs after %v (start the other nodes, with -routes to this one): %w",
				replicas, wait, err)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// clusterForming reports whether err is what JetStream answers while its
// cluster forms: no answer, no leader, too few servers for the replicas.
func clusterForming(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case 10005, // no suitable peers for placement
			10006, // JetStream not in clustered mode yet
			10008, // JetStream system temporarily unavailable
			10009, // not the leader
			10023: // insufficient resources
			return true
		}
		return api.Code == 503
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}

// URL is where the page is served.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Handler is the server's HTTP handler (what the listener serves), for
// tests that add routes of their own around it.
func (s *Server) Handler() http.Handler { return s.mux }

// Hub is the media hub, for tests that look at a session's router.
func (s *Server) Hub() *wsmedia.Hub { return s.hub }

// Relay is the media relay (nil without Config.Node), for tests that look
// at the live nodes and the sessions' homes.
func (s *Server) Relay() *relay.Hub { return s.relay.Load() }

// NATSURL is the URL of the NATS server the logs are in (the embedded
// one's, for other processes on this machine), for tests that start more
// nodes on it.
func (s *Server) NATSURL() string { return s.node.URL() }

// Store is the JetStream store of the logs, for tests that read a
// session's log through this node.
func (s *Server) Store() *gnats.Store { return s.node.Store() }

// Manager is the session manager.
func (s *Server) Manager() *session.Manager { return s.node.Manager() }

// Secret is the token key.
func (s *Server) Secret() []byte { return s.cfg.Secret }

// Presets are the presets of new sessions.
func (s *Server) Presets() core.Presets { return s.cfg.Presets }

// Wait returns when the HTTP server stops serving, with its error (nil
// after Close).
func (s *Server) Wait() error {
	err := <-s.serveDone
	s.serveDone <- err
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close leaves the nodes sharing NATS (with Config.Node: their media moves
// to the others at once), says goodbye (shutdown) to every websocket
// client, stops serving HTTP, closes every media connection, drains the
// sessions and closes the store. It waits until ctx ends at most; later calls return the first
// one's result.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var errs []error
		if r := s.relay.Load(); r != nil { // leave first: the other nodes take this one's sessions at once
			errs = append(errs, r.Close(ctx))
		}
		if s.ws != nil {
			errs = append(errs, s.ws.Shutdown(ctx))
		}
		if s.http != nil {
			errs = append(errs, s.http.Shutdown(ctx))
		} else if s.ln != nil {
			errs = append(errs, s.ln.Close())
		}
		if s.hub != nil {
			errs = append(errs, s.hub.Close(ctx))
		}
		if s.node != nil {
			errs = append(errs, s.node.Close(ctx))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	if !s.node.Conn().IsConnected() {
		http.Error(w, "NATS disconnected", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// devToken mints a token for a name and a preset typed into the page. It
// is for trying gavel out on one machine: anyone who can reach it can be
// a host, so it answers loopback clients only.
func (s *Server) devToken(w http.ResponseWriter, r *http.Request) {
	if !s.loopbackClient(w, r) {
		return
	}
	var req struct {
		Room   string `json:"room"`
		Name   string `json:"name"`
		Preset string `json:"preset"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		http.Error(w, "want {\"room\",\"name\",\"preset\"}: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch _, ok := s.cfg.Presets[req.Preset]; {
	case req.Room == "" || len(req.Room) > maxRoom:
		http.Error(w, fmt.Sprintf("room: 1 to %d bytes", maxRoom), http.StatusBadRequest)
		return
	case req.Name == "" || len(req.Name) > maxName:
		http.Error(w, fmt.Sprintf("name: 1 to %d bytes", maxName), http.StatusBadRequest)
		return
	case !ok:
		http.Error(w, fmt.Sprintf("unknown preset %q", req.Preset), http.StatusBadRequest)
		return
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	participant := "p-" + hex.EncodeToString(id)
	tok, err := ws.MintToken(s.cfg.Secret, ws.Token{Session: req.Room, Participant: participant, Preset: req.Preset,
		Expires: time.Now().Add(DevTokenLifetime)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Info("dev token", "room", req.Room, "participant", participant, "name", req.Name, "preset", req.Preset)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "participant": participant, "room": req.Room})
}

func (s *Server) devPresets(w http.ResponseWriter, r *http.Request) {
	if !s.loopbackClient(w, r) {
		return
	}
	names := make([]string, 0, len(s.cfg.Presets))
	for n := range s.cfg.Presets {
		names = append(names, n)
	}
	slices.Sort(names)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(names)
}

func (s *Server) loopbackClient(w http.ResponseWriter, r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err == nil && isLoopback(host) {
		return true
	}
	s.log.Warn("dev endpoint refused to a non-loopback client", "path", r.URL.Path, "remote", r.RemoteAddr)
	http.Error(w, "the dev endpoints answer loopback clients only", http.StatusForbidden)
	return false
}

// Run is cmd/gavel: it parses args and the environment, starts a server,
// prints the URL to open, and serves until ctx ends (SIGINT, SIGTERM),
// then closes everything. It returns the exit status: 0, 1 when serving
// failed, 2 for bad configuration (one line on stderr says why).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if cfg.LogJSON {
		h = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(h)
	s, err := Start(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, ErrConfig) {
			return 2
		}
		return 1
	}
	log.Info("serving", "url", s.URL(), "data", dataWhere(cfg))
	fmt.Fprintf(stdout, "gavel is serving on %s: open it in two tabs, join one as host and one as attendee\n", s.URL())
	served := make(chan error, 1)
	go func() { served <- s.Wait() }()
	status := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		log.Error("serving stopped", "err", err)
		status = 1
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		log.Error("closing", "err", err)
		return 1
	}
	log.Info("stopped: every connection closed, the sessions drained, the store closed")
	return status
}

func dataWhere(c Config) string {
	if c.NATSURL != "" {
		return c.NATSURL
	}
	return c.DataDir
}
