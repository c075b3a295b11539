// Package wstest runs a gavel websocket server in-process for the
// transport's, the clients' and the media bridge's tests: a fake.Server
// (package gaveltest/fake) with the presets every such test uses, and
// helpers that fail the test when the server does not answer.
//
// Package wstest imports core, gaveltest/fake, session, sessionlog,
// transport/ws, internal/testwait and the standard library's testing
// package.
package wstest

import (
	"context"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest/fake"
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

// Server is a running test server (URL, Manager, Store, Token …: see
// fake.Server). It is shut down when the test ends.
type Server struct{ *fake.Server }

// New starts a server with the given ws options, its sessions in a
// MemStore.
func New(tb testing.TB, opts ...ws.Option) *Server {
	tb.Helper()
	return &Server{fake.NewServer(tb, Presets, fake.WithTransportOptions(opts...))}
}

// NewWith starts a server whose manager also has sessionOpts (after the
// presets).
func NewWith(tb testing.TB, sessionOpts []session.Option, opts ...ws.Option) *Server {
	tb.Helper()
	return &Server{fake.NewServer(tb, Presets, fake.WithSessionOptions(sessionOpts...), fake.WithTransportOptions(opts...))}
}

// NewMedia starts a server whose connections carry media (ws.WithMedia)
// through the hub that hub makes on the server's session manager, with
// the fake server's options opts (its ws options, its store …). The hub
// is the caller's to close; the server shuts down and the manager closes
// before cleanups registered before NewMedia run.
func NewMedia(tb testing.TB, hub func(*session.Manager) ws.MediaHub, opts ...fake.Option) *Server {
	tb.Helper()
	return &Server{fake.NewServer(tb, Presets, append(opts, fake.WithMedia(hub))...)}
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
