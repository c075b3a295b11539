package nats

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
)

// TestPermissions runs gavel under testdata/permissions.conf, the
// configuration the package doc shows: two gavel instances (routing
// commands to one another) and a trusted service do their work, and the
// service can neither write a log, nor take commands meant for gavel, nor
// route a command to an instance.
func TestPermissions(t *testing.T) {
	t.Setenv("GAVEL_PASSWORD", "g-secret")
	t.Setenv("SERVICE_PASSWORD", "s-secret")
	opts, err := server.ProcessConfigFile("testdata/permissions.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.StoreDir, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, t.TempDir(), true, true
	srv := runServer(t, opts)

	// Two instances, each command of room-1 routed to the second: a
	// permission they lack is reported to their error handlers.
	refused := make(chan error, 16)
	for _, name := range []string{"n1", "n2"} {
		startNode(t, WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets)),
			WithNATSOptions(gonats.UserInfo("gavel", "g-secret"), gonats.ErrorHandler(func(_ *gonats.Conn, _ *gonats.Subscription, err error) {
				select {
				case refused <- err:
				default:
				}
			})),
			WithRouting(name, func(string) string { return "n2" }))
	}

	denied := make(chan error, 16)
	nc := connect(t, srv.ClientURL(), gonats.UserInfo("service", "s-secret"),
		gonats.ErrorHandler(func(_ *gonats.Conn, _ *gonats.Subscription, err error) {
			select {
			case denied <- err:
			default:
			}
		}))
	c := newClient(t, nc)
	s := newScript("room-1", classroom[:3])
	submitScript(t, c, "room-1", s)
	sub, err := c.Subscribe(testwait.Context(t), "room-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := collect(t, sub, len(s.all())); jsonOf(got) != jsonOf(s.all()) {
		t.Errorf("subscription: %s, want %s", jsonOf(got), jsonOf(s.all()))
	}

	// Writing a log: the server refuses the publish.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("gavel.log.room-1", []byte(`{"cmd":{}}`)); err != nil {
		t.Fatal(err)
	}
	expectDenied(t, denied)
	short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := js.Publish(short, "gavel.head.room-2", []byte(`{}`)); err == nil {
		t.Error("the service created a session header")
	}
	expectDenied(t, denied)
	// Taking commands meant for gavel: the subscription is refused.
	if _, err := nc.QueueSubscribe("gavel.cmd.>", DefaultQueue, func(*gonats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	expectDenied(t, denied)

	// Routing a command itself: refused.
	if err := nc.Publish("gavel.decide.n2.room-1", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	expectDenied(t, denied)
	select {
	case err := <-refused:
		t.Errorf("a gavel instance was refused: %v", err)
	default:
	}

	// The log holds the service's commands only.
	store := newStore(t, connect(t, srv.ClientURL(), gonats.UserInfo("gavel", "g-secret")))
	if n := len(readLog(t, store, "room-1", 1)); n != 3 {
		t.Errorf("the log holds %d records, want 3", n)
	}
}

func expectDenied(t *testing.T, denied <-chan error) {
	t.Helper()
	select {
	case err := <-denied:
		if !errors.Is(err, gonats.ErrPermissionViolation) {
			t.Errorf("async error %v, want a permissions violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("no permissions violation reported")
	}
}
