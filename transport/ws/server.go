package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// Server is the websocket endpoint of a session.Manager: an http.Handler the
// embedding service mounts where its clients connect. All methods are safe
// for concurrent use.
type Server struct {
	m   *session.Manager
	key []byte
	cfg config

	// base is the parent of every connection's context; cancelling it
	// drops every connection at once (Close, or Shutdown out of time).
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   map[connKey]*conn
	closing bool
	wg      sync.WaitGroup // one per ServeHTTP past the token check
}

type connKey struct{ session, participant string }

// NewServer returns a Server for the sessions of m, verifying tokens with
// key (at least MinKeySize bytes, the key the service mints with). The
// Server does not close m.
func NewServer(m *session.Manager, key []byte, opts ...Option) (*Server, error) {
	if m == nil {
		return nil, errors.New("ws: nil session manager")
	}
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("ws: token key of %d bytes, want at least %d", len(key), MinKeySize)
	}
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Server{m: m, key: append([]byte(nil), key...), cfg: cfg, conns: make(map[connKey]*conn)}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// ServeHTTP upgrades an authenticated request to a gavel connection and
// serves it until it ends. The token comes from the "token" query
// parameter or an "Authorization: Bearer" header. Before any upgrade, a
// missing, invalid or expired token is answered 401, a token whose preset
// the session does not have 403, and a session that cannot be opened 503.
// The optional "after" parameter (the last seq the client saw) asks to
// resume.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, err := VerifyToken(s.key, tokenOf(r), s.cfg.now())
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gavel"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	resume, after := false, uint64(0)
	if a := r.URL.Query().Get("after"); a != "" {
		if after, err = strconv.ParseUint(a, 10, 64); err != nil {
			http.Error(w, "ws: after must be a seq", http.StatusBadRequest)
			return
		}
		resume = true
	}
	if !s.begin() {
		http.Error(w, "ws: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	st, err := s.state(r.Context(), tok.Session)
	if err != nil {
		http.Error(w, "ws: session unavailable", http.StatusServiceUnavailable)
		return
	}
	if _, ok := st.Preset(tok.Preset); !ok {
		http.Error(w, fmt.Sprintf("ws: the token's preset %q is not a preset of session %q", tok.Preset, tok.Session), http.StatusForbidden)
		return
	}
	wc, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.origins})
	if err != nil {
		return // Accept has answered
	}
	wc.SetReadLimit(s.cfg.maxFrame)
	c := newConn(s, wc, tok)
	c.serve(st, resume, after)
}

// state returns session id's current state, opening the session if needed
// (again, if it closed for idleness meanwhile).
func (s *Server) state(ctx context.Context, id string) (core.State, error) {
	for {
		sess, err := s.m.Session(ctx, id)
		if err != nil {
			return core.State{}, err
		}
		if st, err := sess.State(ctx); !errors.Is(err, session.ErrClosed) {
			return st, err
		}
	}
}

func tokenOf(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// begin counts a connection in, unless the server is shutting down.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// register makes c its participant's connection, cutting off the one it
// replaces. It returns false when the server is shutting down.
func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	k := c.key()
	if old := s.conns[k]; old != nil {
		old.cut(wire.ReasonReplaced)
	}
	s.conns[k] = c
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := c.key(); s.conns[k] == c {
		delete(s.conns, k)
	}
}

// Shutdown refuses new connections, says goodbye (shutdown) to every
// client, and returns when all connections have ended. If ctx ends first
// the remaining connections are dropped, and ctx's error is returned once
// they have ended. The session manager stays open.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.cut(wire.ReasonShutdown)
	}
	done := make(chan struct{})
	go func() { // ends when the last connection has: below, either way
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// Close drops every connection without a goodbye and returns when they
// have ended.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
