// Package fake runs gavel for real inside a test, as net/http/httptest runs
// an HTTP server: fakes in the sense that nothing leaves the process, not
// mocks. A Server is the session runtime on a memory store behind the
// websocket transport, on a loopback port, stopped when the test ends; a
// Store puts faults in front of any store; a Clock is time that moves only
// when the test moves it. Package gaveltest has the generators and the
// invariants to check what they do.
//
// # A server
//
//	func TestMyBot(t *testing.T) {
//		srv := fake.NewServer(t, core.Presets{"host": {KickParticipant: true}, "attendee": {}})
//		m, err := client.Dial(ctx, srv.URL, srv.Token("room-1", "alice", "host"))
//		…
//		st, _ := srv.Manager.State(ctx, "room-1") // the session, as the server has it
//	}
//
// NewServer fails the test if the server cannot start and closes it with
// t.Cleanup; Start and Close do the same outside a test (Example). Options
// set the store (WithStore), the session options and the transport's
// (WithSessionOptions, WithTransportOptions), media (WithMedia) and the
// clock (WithClock).
//
// # Faults
//
// A Store wraps a store and fails chosen appends: the n-th (Inject), those
// a function picks by their records (InjectFunc), or all calls while it is
// disconnected (Disconnect). A fault is transient (Fail, LoseReply: the
// records are stored but the writer is not told; both ErrUnavailable), a
// conflict (session.ErrConflict), or permanent (TooLarge:
// session.ErrTooLarge). Hold stops an append in flight until the test
// releases it. A server's sessions are kept in one (Server.Store), so
// faults reach its clients as the transport carries them.
//
// What a service does about them is what to test: Example_retry checks a
// service's retry loop for one outcome per command id under drawn faults,
// with gaveltest.CheckRecords and gaveltest.CheckAnswers, and shows the bug
// a retry with a new id is.
//
// # What it depends on
//
// Package fake imports core, session, sessionlog and transport/ws (which is
// why it is not part of gaveltest, which the transports' own tests import),
// and the standard library's net/http/httptest. Only tests and test
// support (transport/ws/wstest) import it, never gavel's production code.
package fake
