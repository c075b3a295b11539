package web_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
)

// TestMediaMovesWithItsHome: two pages on node-1 get their media from the
// session's home, another node with a runtime of its own that follows the
// session's log in node-1's JetStream; when that node stops, gavel.js
// connects its media again at once (media_closed moved) and the pages hear
// each other through node-1, the new home.
func TestMediaMovesWithItsHome(t *testing.T) {
	e := newEnvWith(t, gavelserver.Config{Node: "node-1"})
	other := "node-2"
	for i := 3; relay.Home(e.room, []string{"node-1", other}) != other; i++ {
		other = fmt.Sprintf("node-%d", i)
	}
	ctx := testwait.Context(t)
	nc, err := nats.Connect(e.srv.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := gnats.NewStore(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.NewManager(store, session.WithPresets(gavelserver.DefaultPresets()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	local, err := wsmedia.New(m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork())))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(ctx)
	hub, err := relay.New(ctx, nc, other, local)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close(ctx)
	mediatest.WaitUntil(t, "node-1 seeing "+other, func() bool { return slices.Equal(e.srv.Relay().Nodes(), []string{"node-1", other}) })

	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", true, true)
	e.join(alice, "alice", "attendee", true, true)
	waitPackets(hana, "alice", "audio", 10)
	waitPackets(alice, "hana", "audio", 10)
	if _, ok := local.Router(e.room); !ok {
		t.Fatalf("no router at %s, the home", other)
	}
	if _, ok := e.srv.Hub().Router(e.room); ok {
		t.Fatal("a router at node-1 too")
	}

	if err := hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := local.Close(ctx); err != nil {
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
