package client_test

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
	"github.com/gavelrtc/gavel/view"
)

// nodes starts n servers of one deployment: one store, one token key.
func nodes(t *testing.T, n int) []*wstest.Server {
	store := session.NewMemStore()
	key := bytes.Repeat([]byte("k"), ws.MinKeySize)
	var out []*wstest.Server
	for range n {
		out = append(out, &wstest.Server{Server: fake.NewServer(t, wstest.Presets, fake.WithStore(store), fake.WithKey(key))})
	}
	return out
}

// TestMoveToAnotherNode: the node a client is on stops while the session
// goes on through another; the client reconnects to the next of its URLs
// and resumes there from its seq: its handlers see every event of the log
// after the last it had, once each, and its view is the session's.
func TestMoveToAnotherNode(t *testing.T) {
	leakcheck.Check(t)
	ns := nodes(t, 2)
	a, b := ns[0], ns[1]
	ctx := ctxT(t)
	urls := client.WithURLs(b.URL)
	hana, rh := join(t, a, "hana", "host", urls)
	alice, ra := join(t, a, "alice", "attendee", urls, client.WithReconnectWait(0))
	rh.sawJoin("alice")
	start := alice.Seq()
	if alice.URL() != a.URL {
		t.Fatalf("alice is on %s, want %s", alice.URL(), a.URL)
	}

	// Node a stops while commands go through node b, which opens the
	// session by reading the log.
	const n = 20
	last := make(chan uint64, 1)
	go func() {
		var seq uint64
		for i := range n {
			r := b.Submit(t, room, core.Command{ID: "b" + strconv.Itoa(i), Type: core.SetVideo, Actor: "hana", Enabled: i%2 == 0})
			seq = r.Seq
		}
		last <- seq
	}()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	final := wstest.Recv(t, last, "node b's commands")

	got := ra.until(func(n note) bool { return n.Event == string(client.Reconnected) })
	if n := got[len(got)-1]; !n.Resumed {
		t.Errorf("reconnected %+v, want resumed", n)
	}
	if alice.URL() != b.URL {
		t.Errorf("alice is on %s, want %s", alice.URL(), b.URL)
	}
	got = append(got, ra.until(func(n note) bool { return n.On == view.OnJoined && n.Seq == final })...)
	got = filter(got, func(n note) bool { return n.On != "" && n.Seq > start })
	if d := cmp.Diff(expected(t, b, "alice", start), got); d != "" {
		t.Errorf("alice's handlers across the move (-want +got):\n%s", d)
	}
	// hana moved too, and acts through node b.
	if err := hana.Self.EnableAudio(ctx); err != nil {
		t.Fatalf("hana on node b: %v", err)
	}
	rh.until(is(view.OnSelf, "audioUpdate"))
	ra.until(is(view.OnJoined, "audioUpdate"))
	st := b.State(t, room)
	for _, m := range []*client.Meeting{alice, hana} {
		if err := gaveltest.CheckView(client.ViewOf(m), st); err != nil {
			t.Errorf("%s's view and the session at seq %d: %v", m.Self.ID(), st.Seq(), err)
		}
	}
	h, err := b.Store.Header(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gaveltest.CheckRecords(h, b.Log(t, room), session.DefaultIdempotencyWindow); err != nil {
		t.Errorf("the log: %v", err)
	}
}

// TestDialTriesEachURL: Dial skips a URL nobody answers on; a refused
// token is not tried elsewhere.
func TestDialTriesEachURL(t *testing.T) {
	leakcheck.Check(t)
	ns := nodes(t, 2)
	a, b := ns[0], ns[1]
	if err := a.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	m, _ := join(t, a, "alice", "attendee", client.WithURLs(b.URL))
	if m.URL() != b.URL {
		t.Errorf("alice is on %s, want %s", m.URL(), b.URL)
	}
	other := fake.NewServer(t, wstest.Presets) // another key
	_, err := client.Dial(ctxT(t), other.URL, b.Token(room, "bob", "attendee"), client.WithURLs(b.URL))
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("a token the first node refuses: %v, want ErrUnauthorized", err)
	}
	if _, err := client.Dial(ctxT(t), a.URL, "", client.WithURLs("")); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("an empty URL: %v, want ErrInvalidOption", err)
	}
}
