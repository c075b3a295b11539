package fake

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
)

// Server is gavel running in-process for a test, as httptest.Server is an
// HTTP server: a session.Manager whose sessions have the server's presets,
// on a Store (faults and all, over a memory store unless WithStore says
// otherwise), behind the websocket transport on a loopback port. The Go
// client (package client) and browsers dial URL with a token from Token.
type Server struct {
	// URL is the websocket URL clients dial: ws://127.0.0.1:port/.
	URL string
	// Manager runs the sessions: submit to it, as another instance of a
	// service would, or watch them.
	Manager *session.Manager
	// Store is the store the sessions are kept in; inject faults there.
	Store *Store
	// WS is the websocket transport, and HTTP the server it is on.
	WS   *ws.Server
	HTTP *httptest.Server
	// Key signs the server's tokens.
	Key []byte

	now func() time.Time
}

// An Option configures a Server.
type Option func(*options) error

type options struct {
	store   session.Store
	session []session.Option
	ws      []ws.Option
	media   func(*session.Manager) ws.MediaHub
	now     func() time.Time
}

// WithStore keeps the server's sessions in st (wrapped in a Store) rather
// than in a new memory store. When st follows (session.Follower: a
// JetStream store shared with other instances), so do the server's
// sessions, through the Store.
func WithStore(st session.Store) Option {
	return func(o *options) error {
		if st == nil {
			return errors.New("fake: WithStore(nil)")
		}
		o.store = st
		return nil
	}
}

// WithSessionOptions adds options to the server's session.Manager (after
// the presets, so a WithPresets among them wins).
func WithSessionOptions(opts ...session.Option) Option {
	return func(o *options) error {
		o.session = append(o.session, opts...)
		return nil
	}
}

// WithTransportOptions adds options to the server's websocket transport
// (ws.NewServer).
func WithTransportOptions(opts ...ws.Option) Option {
	return func(o *options) error {
		o.ws = append(o.ws, opts...)
		return nil
	}
}

// WithMedia lets clients open media connections through the hub that hub
// makes on the server's manager (ws.WithMedia). The hub is the caller's to
// close: it is made after, and so cleaned up before, the server.
func WithMedia(hub func(*session.Manager) ws.MediaHub) Option {
	return func(o *options) error {
		o.media = hub
		return nil
	}
}

// WithClock runs the server on c: the sessions' records and idleness, the
// tokens' expiry and the times Token gives them.
func WithClock(c *Clock) Option {
	return func(o *options) error {
		o.now = c.Now
		return nil
	}
}

// NewServer starts a Server whose sessions have presets, and stops it when
// the test ends (t.Cleanup). It fails the test if the server cannot start.
//
//	srv := fake.NewServer(t, presets)
//	m, err := client.Dial(ctx, srv.URL, srv.Token("room-1", "alice", "host"))
func NewServer(t testing.TB, presets core.Presets, opts ...Option) *Server {
	t.Helper()
	s, err := Start(presets, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("fake: closing the server: %v", err)
		}
	})
	return s
}

// Start starts a Server whose sessions have presets, outside a test (in an
// example, say); Close stops it. NewServer is Start for a test.
func Start(presets core.Presets, opts ...Option) (*Server, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.store == nil {
		o.store = session.NewMemStore()
	}
	st := NewStore(o.store)
	sessionOpts := append([]session.Option{session.WithPresets(presets), session.WithClock(o.now)}, o.session...)
	m, err := session.NewManager(st.runtimeStore(), sessionOpts...)
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	wsOpts := append([]ws.Option{ws.WithClock(o.now)}, o.ws...)
	if o.media != nil {
		wsOpts = append(wsOpts, ws.WithMedia(o.media(m)))
	}
	key := make([]byte, ws.MinKeySize)
	rand.Read(key)
	srv, err := ws.NewServer(m, key, wsOpts...)
	if err != nil {
		m.Close(context.Background())
		return nil, fmt.Errorf("fake: %w", err)
	}
	hs := httptest.NewServer(srv)
	return &Server{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/", Manager: m, Store: st, WS: srv, HTTP: hs,
		Key: key, now: o.now}, nil
}

// Close stops the server: the transport says goodbye (shutdown) to every
// client, then the sessions close. It returns when every goroutine has
// stopped, or ctx's error. The store is left as it is, to be read.
func (s *Server) Close(ctx context.Context) error {
	err := s.WS.Shutdown(ctx)
	s.HTTP.Close()
	if merr := s.Manager.Close(ctx); merr != nil && !errors.Is(merr, session.ErrClosed) {
		err = errors.Join(err, merr)
	}
	return err
}

// Token mints a token for participant to join session with preset, valid
// for an hour on the server's clock. It panics if ws.MintToken refuses the
// claims (an empty id, one too long, no preset): a mistake in the test.
func (s *Server) Token(session, participant, preset string) string {
	return s.TokenUntil(session, participant, preset, s.now().Add(time.Hour))
}

// TokenUntil is Token for a token that expires at exp.
func (s *Server) TokenUntil(session, participant, preset string, exp time.Time) string {
	tok, err := ws.MintToken(s.Key, ws.Token{Session: session, Participant: participant, Preset: preset, Expires: exp})
	if err != nil {
		panic(fmt.Sprintf("fake: Token(%q, %q, %q): %v", session, participant, preset, err))
	}
	return tok
}
