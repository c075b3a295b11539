package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
	"github.com/gavelrtc/gavel/view"
)

// gate is an HTTP client whose connections a test can cut or stall, and
// whose redials wait until the test lets them through.
type gate struct {
	mu      sync.Mutex
	conns   []net.Conn
	open    chan struct{}
	stalled chan struct{} // non-nil: reads wait for it to close
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		g.mu.Lock()
		first := len(g.conns) == 0
		g.mu.Unlock()
		if !first {
			select {
			case <-g.open:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		g.mu.Lock()
		g.conns = append(g.conns, c)
		g.mu.Unlock()
		return stallingConn{c, g}, nil
	}}}
}

// cut drops the first connection, as a network failure would.
func (g *gate) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conns[0].Close()
}

// stall stops the client reading its connections until unstall.
func (g *gate) stall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stalled = make(chan struct{})
}

func (g *gate) unstall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.stalled)
	g.stalled = nil
}

type stallingConn struct {
	net.Conn
	g *gate
}

func (c stallingConn) Read(p []byte) (int, error) {
	c.g.mu.Lock()
	stalled := c.g.stalled
	c.g.mu.Unlock()
	if stalled != nil {
		<-stalled
	}
	return c.Conn.Read(p)
}

// expected is what a client of self sees of the whole session log, from
// the view: every SDK event but those on participant objects (the recorder
// does not watch them).
func expected(t *testing.T, srv *wstest.Server, self string, after uint64) []note {
	t.Helper()
	v := view.New(self, core.NewState(room, wstest.Presets))
	var out []note
	for rec, err := range srv.Store.Records(context.Background(), room, 1) {
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rec.Events {
			var ns []view.Notification
			v, ns = v.Apply(e)
			for _, n := range ns {
				if n.Seq <= after || n.On == view.OnParticipant {
					continue
				}
				out = append(out, asNote(n))
			}
		}
	}
	return out
}

func asNote(n view.Notification) note {
	out := note{On: n.On, Event: string(n.Event), By: n.By, State: n.State, Seq: n.Seq}
	if n.On != view.OnSelf {
		out.Who = n.Participant.ID
	}
	switch n.Event {
	case view.AudioUpdate:
		out.Enabled = n.AudioEnabled
	case view.VideoUpdate:
		out.Enabled = n.VideoEnabled
	}
	return out
}

// A dropped connection resumes by itself: the missed events are replayed,
// none missing, none twice, and a command in flight is applied once.
func TestResumeAfterDrop(t *testing.T) {
	for _, c := range []struct {
		name    string
		window  uint64
		resumed bool
	}{{"replayed", ws.DefaultResumeWindow, true}, {"snapshot", 1, false}} {
		t.Run(c.name, func(t *testing.T) {
			leakcheck.Check(t)
			srv := wstest.New(t, ws.WithResumeWindow(c.window))
			ctx := ctxT(t)
			hana, rh := join(t, srv, "hana", "host", client.WithMedia(true, true))
			g := newGate()
			alice, ra := join(t, srv, "alice", "attendee", client.WithMedia(true, true),
				client.WithHTTPClient(g.client()), client.WithReconnectWait(0))
			bob, _ := join(t, srv, "bob", "attendee", client.WithMedia(true, false))
			rh.sawJoin("alice", "bob")
			ra.sawJoin("bob")
			start := alice.Seq()

			g.cut()
			ra.until(func(n note) bool { return n.Event == string(client.Reconnecting) })
			// Meanwhile the session moves on.
			for _, f := range []func(context.Context) error{hana.Self.DisableVideo, hana.Self.EnableVideo, bob.Self.DisableAudio} {
				if err := f(ctx); err != nil {
					t.Fatal(err)
				}
			}
			pa, _ := hana.Participants.Joined.Get("alice")
			for _, f := range []func(context.Context) error{pa.Pin, pa.DisableAudio} {
				if err := f(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// A command given while disconnected waits, and goes once.
			done := make(chan error, 1)
			go func() { done <- alice.Self.DisableVideo(ctx) }()

			close(g.open)
			got := ra.until(func(n note) bool { return n.Event == string(client.Reconnected) })
			if n := got[len(got)-1]; n.Resumed != c.resumed {
				t.Errorf("reconnected %+v, want resumed %v", n, c.resumed)
			}
			if err := <-done; err != nil {
				t.Fatalf("DisableVideo sent while disconnected: %v", err)
			}
			if err := pa.Unpin(ctx); err != nil {
				t.Fatal(err)
			}
			got = append(got, ra.until(is(view.OnSelf, "unpinned"))...)

			st := srv.State(t, room)
			if err := gaveltest.CheckView(client.ViewOf(alice), st); err != nil {
				t.Errorf("alice's view and the session at seq %d: %v", st.Seq(), err)
			}
			// Applied once: alice's own video went off once.
			if n := len(filter(expected(t, srv, "alice", 0), is(view.OnSelf, "videoUpdate"))); n != 1 {
				t.Errorf("alice's video went off %d times", n)
			}
			got = filter(got, func(n note) bool { return n.Seq > start })
			if c.resumed {
				if d := cmp.Diff(expected(t, srv, "alice", start), got); d != "" {
					t.Errorf("alice's handlers after the drop (-want +got):\n%s", d)
				}
				return
			}
			// From a snapshot the view fires what differs, in join order
			// (hana's video went off and on: nothing), then the pin, then
			// what came after.
			want := []note{
				{On: view.OnSelf, Event: "audioUpdate", Enabled: false, Seq: got[0].Seq},
				{On: view.OnJoined, Event: "audioUpdate", Who: "bob", Enabled: false, Seq: got[0].Seq},
				{On: view.OnSelf, Event: "pinned", Seq: got[0].Seq},
			}
			want = append(want, expected(t, srv, "alice", got[0].Seq)...)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("alice's handlers after the drop (-want +got):\n%s", d)
			}
		})
	}
}

// A client cut off as slow (here: it stops reading its socket while
// big events flow) reconnects, resumes with thousands of missed events,
// and misses nothing.
func TestSlowCutResumes(t *testing.T) {
	leakcheck.Check(t)
	gone := make(chan ws.Disconnect, 16)
	// A queue of 8 frames: the catch-up of thousands of events is paced.
	srv := wstest.New(t, ws.WithOutboundQueue(8), ws.WithWriteTimeout(50*time.Millisecond), ws.WithResumeWindow(1<<20),
		ws.WithDisconnectHandler(func(d ws.Disconnect) {
			select { // the test reads the first; a loaded machine may cut alice again while it catches up
			case gone <- d:
			default:
			}
		}))
	host := strings.Repeat("\x01", core.MaxIDLen) // the longest id, six bytes a character in JSON: big events fill the socket buffers sooner
	srv.Submit(t, room, core.Command{ID: "join-host", Type: core.Join, Actor: host, Name: "Host", Preset: "host"})
	g := newGate()
	alice, r := join(t, srv, "alice", "attendee", client.WithHTTPClient(g.client()), client.WithReconnectWait(0))
	close(g.open)
	start := alice.Seq()

	g.stall()
	for i := 0; ; i++ {
		srv.Submit(t, room, core.Command{ID: "t" + strconv.Itoa(i), Type: core.SetAudio, Actor: host, Enabled: i%2 == 0})
		select {
		case d := <-gone:
			if d.Participant != "alice" || d.Reason != wire.ReasonSlow {
				t.Fatalf("disconnected %+v, want alice cut off as slow", d)
			}
		default:
			continue
		}
		break
	}
	g.unstall()
	got := r.until(func(n note) bool { return n.Event == string(client.Reconnected) })
	srv.Submit(t, room, core.Command{ID: "last", Type: core.SetVideo, Actor: host, Enabled: true})
	got = append(got, r.until(is(view.OnJoined, "videoUpdate"))...)
	got = filter(got, func(n note) bool { return n.On != "" && n.Seq > start })
	if d := cmp.Diff(expected(t, srv, "alice", start), got); d != "" {
		t.Errorf("alice's handlers across the cut (-want +got):\n%s", d)
	}
}

// A token that expired during the meeting: the reconnection fails with
// ErrUnauthorized, unless WithTokenRefresh gives a fresh one.
func TestReconnectTokenRefresh(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		t.Run(map[bool]string{false: "expired", true: "refreshed"}[refresh], func(t *testing.T) {
			leakcheck.Check(t)
			clock := fake.NewClock(time.Now())
			srv := wstest.New(t, ws.WithClock(clock.Now))
			g := newGate()
			opts := []client.Option{client.WithHTTPClient(g.client()), client.WithReconnectWait(0), client.WithMaxReconnects(1)}
			if refresh {
				opts = append(opts, client.WithTokenRefresh(func(context.Context) (string, error) {
					return srv.TokenUntil(room, "alice", "attendee", time.Now().Add(3*time.Hour)), nil
				}))
			}
			alice, r := join(t, srv, "alice", "attendee", opts...)
			clock.Advance(2 * time.Hour) // alice's token (an hour) has expired
			g.cut()
			close(g.open)
			got := r.until(func(n note) bool {
				return n.Event == string(client.Reconnected) || n.Event == string(client.Disconnected)
			})
			last := got[len(got)-1]
			if refresh {
				if last.Event != string(client.Reconnected) {
					t.Fatalf("with a refreshed token: %+v", got)
				}
				return
			}
			wstest.Recv(t, alice.Done(), "alice's meeting ending")
			if last.Event != string(client.Disconnected) || !errors.Is(alice.Err(), client.ErrUnauthorized) {
				t.Errorf("expired token: %+v, meeting error %v", last, alice.Err())
			}
		})
	}
}
