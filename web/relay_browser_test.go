package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
)

// node is a second gavel node beside the env's server (node-1): its own
// runtime on the session logs in node-1's JetStream, which it follows,
// its media hub, its relay hub and its websocket server (at url, for
// pages of the env's origin).
type node struct {
	id    string
	local *wsmedia.Hub
	hub   *relay.Hub
	url   string // ws://…/gavel
}

// startNode starts a node that is the home of the env's room beside
// node-1, and waits until node-1 sees it. It stops when the test ends,
// unless the test stops its hubs first.
func (e *env) startNode() *node {
	e.t.Helper()
	n := &node{id: "node-2"}
	for i := 3; relay.Home(e.room, []string{"node-1", n.id}) != n.id; i++ {
		n.id = fmt.Sprintf("node-%d", i)
	}
	ctx := testwait.Context(e.t)
	nc, err := nats.Connect(e.srv.NATSURL())
	if err != nil {
		e.t.Fatal(err)
	}
	store, err := gnats.NewStore(ctx, nc)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := session.NewManager(store, session.WithPresets(gavelserver.DefaultPresets()))
	if err != nil {
		e.t.Fatal(err)
	}
	if n.local, err = wsmedia.New(m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork()))); err != nil {
		e.t.Fatal(err)
	}
	if n.hub, err = relay.New(ctx, nc, n.id, n.local); err != nil {
		e.t.Fatal(err)
	}
	srv, err := ws.NewServer(m, e.srv.Secret(), ws.WithMedia(n.hub), ws.WithOriginPatterns("127.0.0.1:*"))
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/gavel", srv)
	hs := httptest.NewServer(mux)
	n.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/gavel"
	testwait.Cleanup(e.t, func(ctx context.Context) {
		// Its pages close first (their tabs): the sockets are gone.
		for _, err := range []error{n.hub.Close(ctx), srv.Shutdown(ctx), n.local.Close(ctx), m.Close(ctx)} {
			if err != nil {
				e.t.Errorf("stopping %s: %v", n.id, err)
			}
		}
		hs.Close()
		nc.Close()
	})
	mediatest.WaitUntil(e.t, "node-1 seeing "+n.id, func() bool { return slices.Equal(e.srv.Relay().Nodes(), []string{"node-1", n.id}) })
	return n
}

// TestMediaMovesWithItsHome: two pages on node-1 get their media from the
// session's home, another node with a runtime of its own that follows the
// session's log in node-1's JetStream; when that node stops, gavel.js
// connects its media again at once (media_closed moved) and the pages hear
// each other through node-1, the new home.
func TestMediaMovesWithItsHome(t *testing.T) {
	e := newEnvWith(t, gavelserver.Config{Node: "node-1"})
	n := e.startNode()
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", true, true)
	e.join(alice, "alice", "attendee", true, true)
	waitPackets(hana, "alice", "audio", 10)
	waitPackets(alice, "hana", "audio", 10)
	if _, ok := n.local.Router(e.room); !ok {
		t.Fatalf("no router at %s, the home", n.id)
	}
	if _, ok := e.srv.Hub().Router(e.room); ok {
		t.Fatal("a router at node-1 too")
	}

	ctx := testwait.Context(t)
	if err := n.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.local.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*page{hana, alice} {
		p.wait("a second media_connect", `h.sent.filter(s => JSON.parse(s).type === "media_connect").length === 2`)
	}
	waitPackets(hana, "alice", "audio", 10)
	waitFrames(hana, "alice", 5)
	waitPackets(alice, "hana", "audio", 10)
	if _, ok := e.srv.Hub().Router(e.room); !ok {
		t.Error("no router at node-1, the new home")
	}
}

// TestPagesOnTwoNodes: hana's page on node-1, alice's on node-2, the
// session's home; each node has its own runtime on the log. The pages see
// each other join and hear each other (hana's media is relayed to the
// home). Hana, a host on node-1, mutes alice: alice's page hears of it
// from node-2, the home's router withholds her audio, and hana receives
// none of it while alice's video flows.
func TestPagesOnTwoNodes(t *testing.T) {
	e := newEnvWith(t, gavelserver.Config{Node: "node-1"})
	n := e.startNode()
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", true, true)
	e.joinAt(alice, "alice", "attendee", true, true, n.url)
	if got := eval[string](alice, `h.sockets.at(-1).url`); !strings.HasPrefix(got, n.url) {
		t.Fatalf("alice's socket at %s, want %s's", got, n.id)
	}
	waitNote(hana, 0, note{On: "joined", Event: "participantJoined", ID: "alice"})
	alice.wait("hana in alice's meeting", `h.meeting.participants.joined.get("hana") !== undefined`)
	for _, kind := range []string{"audio", "video"} {
		waitPackets(hana, "alice", kind, 10)
		waitPackets(alice, "hana", kind, 10)
	}
	r, ok := n.local.Router(e.room)
	if !ok {
		t.Fatalf("no router at %s, the home", n.id)
	}

	from := alice.count()
	mustAct(hana, `m => m.participants.joined.get("alice").disableAudio()`)
	waitNote(alice, from, note{On: "self", Event: "audioUpdate", ID: "alice", Extra: "false", By: "hana"})
	mediatest.WaitUntil(t, "the home's router muting alice", func() bool { return !media.Forwards(r.State(), "alice", webrtc.RTPCodecTypeAudio) })
	silentWhile(hana, "alice", "audio", "alice", "video", 30)
}
