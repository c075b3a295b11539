// Package wstest runs a gavel websocket server in-process for tests, as
// net/http/httptest does for HTTP: a session.Manager on a MemStore, a
// ws.Server in front of it, on a loopback httptest server.
//
// Package wstest imports core, session, transport/ws and the standard
// library's testing packages.
package wstest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws"
)

// Presets are the presets of every session a Server creates: "host" has
// every host control, "attendee" none.
var Presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// Server is a running test server. It is shut down when the test ends.
type Server struct {
	// URL is the websocket URL clients dial (ws://127.0.0.1:port/).
	URL     string
	HTTP    *httptest.Server
	WS      *ws.Server
	Manager *session.Manager
	Store   session.Store
	Key     []byte
}

// New starts a server with the given ws options, its sessions in a
// MemStore.
func New(tb testing.TB, opts ...ws.Option) *Server { return NewWith(tb, nil, opts...) }

// NewWith starts a server whose manager also has sessionOpts (after the
// presets).
func NewWith(tb testing.TB, sessionOpts []session.Option, opts ...ws.Option) *Server {
	tb.Helper()
	return start(tb, session.NewMemStore(), sessionOpts, nil, opts)
}

// NewOn starts a server whose sessions are kept in st.
func NewOn(tb testing.TB, st session.Store, opts ...ws.Option) *Server {
	tb.Helper()
	return start(tb, st, nil, nil, opts)
}

// NewMedia starts a server whose connections carry media (ws.WithMedia)
// through the hub that hub makes on the server's session manager. The hub
// is the caller's to close; the server shuts down and the manager closes
// before cleanups registered before NewMedia run.
func NewMedia(tb testing.TB, hub func(*session.Manager) ws.MediaHub, opts ...ws.Option) *Server {
	tb.Helper()
	return start(tb, session.NewMemStore(), nil, hub, opts)
}

func start(tb testing.TB, st session.Store, sessionOpts []session.Option, hub func(*session.Manager) ws.MediaHub, opts []ws.Option) *Server {
	tb.Helper()
	m, err := session.NewManager(st, append([]session.Option{session.WithPresets(Presets)}, sessionOpts...)...)
	if err != nil {
		tb.Fatalf("session.NewManager: %v", err)
	}
	if hub != nil {
		opts = append(opts[:len(opts):len(opts)], ws.WithMedia(hub(m)))
	}
	key := make([]byte, 32)
	rand.Read(key)
	srv, err := ws.NewServer(m, key, opts...)
	if err != nil {
		tb.Fatalf("ws.NewServer: %v", err)
	}
	hs := httptest.NewServer(srv)
	s := &Server{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/", HTTP: hs, WS: srv, Manager: m, Store: st, Key: key}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("ws shutdown: %v", err)
		}
		hs.Close()
		if err := m.Close(ctx); err != nil && !errors.Is(err, session.ErrClosed) {
			tb.Errorf("manager close: %v", err)
		}
	})
	return s
}

// Token mints a token for participant in session with preset, valid for
// an hour.
func (s *Server) Token(tb testing.TB, session, participant, preset string) string {
	tb.Helper()
	return s.TokenUntil(tb, session, participant, preset, time.Now().Add(time.Hour))
}

// TokenUntil mints a token that expires at exp.
func (s *Server) TokenUntil(tb testing.TB, session, participant, preset string, exp time.Time) string {
	tb.Helper()
	tok, err := ws.MintToken(s.Key, ws.Token{Session: session, Participant: participant, Preset: preset, Expires: exp})
	if err != nil {
		tb.Fatalf("MintToken: %v", err)
	}
	return tok
}

// Submit applies cmd directly on a session, as another instance of the
// service would, and fails the test if the session does not answer.
func (s *Server) Submit(tb testing.TB, id string, cmd core.Command) session.Result {
	tb.Helper()
	res, err := s.Manager.Submit(context.Background(), id, cmd)
	if err != nil {
		tb.Fatalf("Submit %+v: %v", cmd, err)
	}
	return res
}

// State returns a session's current state.
func (s *Server) State(tb testing.TB, session string) core.State {
	tb.Helper()
	st, err := s.Manager.State(context.Background(), session)
	if err != nil {
		tb.Fatalf("State(%q): %v", session, err)
	}
	return st
}

// Log returns a session's log: every command its runtime decided.
func (s *Server) Log(tb testing.TB, session string) []sessionlog.Record {
	tb.Helper()
	var recs []sessionlog.Record
	for r, err := range s.Store.Records(testwait.Context(tb), session, 1) {
		if err != nil {
			tb.Fatalf("Records(%q): %v", session, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// Recv receives from ch, failing the test if nothing arrives within
// testwait.Limit (so a lost close or goodbye fails the test instead of
// hanging it).
func Recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testwait.Recv(tb, ch, what)
}
