package relay_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/webrtc/v4"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/media"
	"github.com/gavelrtc/gavel/session"
	gnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/internal/wsmediatest"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/relay"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

const room = "room-1"

// ttl is the registry's TTL in these tests: a crashed node is gone after
// about this long.
const ttl = time.Second

// cluster is gavel's nodes in one process, each as a deployment runs it:
// its own NATS connection (to its own server of a three-server JetStream
// cluster; to the one server with -short), its own session manager on a
// JetStream store (the session's log, which every node's runtime follows),
// a media hub, a relay hub and a websocket server.
type cluster struct {
	t     testing.TB
	opts  options
	nats  *natsServers
	key   []byte
	ids   []string
	nodes map[string]*node
	stops []func(context.Context) // close runs them, last first
}

type node struct {
	id    string
	i     int // its NATS server's index (in a cluster)
	nc    *nats.Conn
	store *lagStore
	m     *session.Manager
	local *wsmedia.Hub
	hub   *relay.Hub
	ws    *ws.Server
	http  *httptest.Server
	url   string      // the websocket URL
	down  atomic.Bool // stopped or crashed: its errors are expected
}

// startCluster starts nodes with ids and waits until each sees them all.
// The cluster closes when the test ends, or earlier (close).
func startCluster(t testing.TB, ids ...string) *cluster {
	t.Helper()
	return startClusterWith(t, options{}, ids...)
}

// options are more options of every node's hubs.
type options struct {
	relay []relay.Option
	ws    []ws.Option
}

// startClusterWith is startCluster with more options for the nodes.
func startClusterWith(t testing.TB, opts options, ids ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, opts: opts, nats: startNATS(t), key: make([]byte, ws.MinKeySize), nodes: make(map[string]*node)}
	testwait.Cleanup(t, c.close)
	rand.Read(c.key)
	for _, id := range ids {
		c.add(id)
	}
	return c
}

// close stops the nodes that run (the NATS servers stop on the test's
// cleanup, after).
func (c *cluster) close(ctx context.Context) {
	for i := len(c.stops) - 1; i >= 0; i-- {
		c.stops[i](ctx)
	}
	c.stops = nil
}

// add starts node id and waits until every node sees it.
func (c *cluster) add(id string) {
	c.t.Helper()
	c.nodes[id] = c.start(id, len(c.nodes))
	c.ids = append(c.ids, id)
	slices.Sort(c.ids)
	for _, n := range c.nodes {
		if !n.down.Load() {
			mediatest.WaitUntil(c.t, n.id+" seeing "+id, func() bool { return slices.Equal(n.hub.Nodes(), c.live()) })
		}
	}
}

// live are the ids of the nodes that run.
func (c *cluster) live() []string {
	return slices.DeleteFunc(slices.Clone(c.ids), func(id string) bool { return c.nodes[id].down.Load() })
}

// start starts node id, the i-th, on its NATS server.
func (c *cluster) start(id string, i int) *node {
	t := c.t
	t.Helper()
	ctx := testwait.Context(t)
	n := &node{id: id, i: i % len(c.nats.servers)}
	var err error
	if n.nc, err = nats.Connect(c.nats.url(n.i)); err != nil {
		t.Fatal(err)
	}
	st, err := gnats.NewStore(ctx, n.nc, gnats.WithReplicas(c.nats.replicas))
	if err != nil {
		t.Fatal(err)
	}
	n.store = &lagStore{Store: st}
	if n.m, err = session.NewManager(n.store, session.WithPresets(wstest.Presets)); err != nil {
		t.Fatal(err)
	}
	report := func(err error) {
		if !n.down.Load() {
			t.Errorf("%s: %v", id, err)
		}
	}
	if n.local, err = wsmedia.New(n.m, wsmedia.WithRouterOptions(media.WithNetwork(media.LoopbackNetwork())),
		wsmedia.WithErrorHandler(report)); err != nil {
		t.Fatal(err)
	}
	opts := append([]relay.Option{relay.WithTTL(ttl), relay.WithReplicas(c.nats.replicas),
		relay.WithErrorHandler(func(err error) { t.Logf("%s: %v", id, err) })}, c.opts.relay...)
	if n.hub, err = relay.New(ctx, n.nc, id, n.local, opts...); err != nil {
		t.Fatal(err)
	}
	if n.ws, err = ws.NewServer(n.m, c.key, append([]ws.Option{ws.WithMedia(n.hub)}, c.opts.ws...)...); err != nil {
		t.Fatal(err)
	}
	n.http = httptest.NewServer(n.ws)
	n.url = "ws" + strings.TrimPrefix(n.http.URL, "http") + "/"
	c.stops = append(c.stops, func(ctx context.Context) { c.stop(ctx, n) })
	return n
}

// stop stops n as a node that shuts down: it leaves the cluster (its
// sessions' media moves), says goodbye to its sockets, closes its media.
func (c *cluster) stop(ctx context.Context, n *node) {
	if n.down.Swap(true) {
		return
	}
	n.store.letGo()
	for _, err := range []error{n.hub.Close(ctx), n.ws.Shutdown(ctx), n.local.Close(ctx), n.m.Close(ctx)} {
		if err != nil {
			c.t.Errorf("stopping %s: %v", n.id, err)
		}
	}
	n.http.Close()
	n.nc.Close()
}

// crash stops n as a node that dies: its NATS connection drops (it leaves
// nobody word), its media stops; the rest only cleans up. withServer: its
// NATS server of the cluster dies with it, as an embedded one does.
func (c *cluster) crash(ctx context.Context, n *node, withServer bool) {
	n.down.Store(true)
	n.nc.Close()
	if withServer {
		c.nats.servers[n.i].Shutdown()
	}
	if err := n.local.Close(ctx); err != nil {
		c.t.Errorf("crashing %s: %v", n.id, err)
	}
	if err := n.hub.Close(ctx); !errors.Is(err, nats.ErrConnectionClosed) {
		c.t.Errorf("closing %s's hub after its connection: %v, want nats.ErrConnectionClosed", n.id, err)
	}
	if err := n.ws.Shutdown(ctx); err != nil {
		c.t.Errorf("crashing %s: %v", n.id, err)
	}
	n.store.letGo()
	if err := n.m.Close(ctx); err != nil {
		c.t.Errorf("crashing %s: closing its manager: %v", n.id, err)
	}
	n.http.Close()
}

// dial connects participant id to node with a token for preset.
func (c *cluster) dial(node, id, preset string, mode wsmediatest.Mode) *wsmediatest.Participant {
	c.t.Helper()
	tok, err := ws.MintToken(c.key, ws.Token{Session: room, Participant: id, Preset: preset, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		c.t.Fatal(err)
	}
	return wsmediatest.Dial(c.t, c.nodes[node].url+"?token="+tok, id, mode)
}

// router is the session's router at node, failing the test if it has
// none.
func (c *cluster) router(node string) *media.Router {
	c.t.Helper()
	r, ok := c.nodes[node].local.Router(room)
	if !ok {
		c.t.Fatalf("no router for %s at %s", room, node)
	}
	return r
}

// routers are the nodes that run a router for the session.
func (c *cluster) routers() []string {
	var out []string
	for _, id := range c.ids {
		if n := c.nodes[id]; !n.down.Load() {
			if _, ok := n.local.Router(room); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

var (
	audio = webrtc.RTPCodecTypeAudio
	video = webrtc.RTPCodecTypeVideo
)

var (
	from          = wsmediatest.From
	isOffer       = wsmediatest.IsOffer
	isMediaClosed = wsmediatest.IsMediaClosed
)

// connect joins each participant and connects its media.
func connect(ps ...*wsmediatest.Participant) {
	for _, p := range ps {
		p.Join()
		p.ConnectMedia()
	}
}

// moved checks that each participant is told its media moved, and
// connects it again as gavel.js does: a new PeerConnection, media_connect.
func moved(t testing.TB, ps ...*wsmediatest.Participant) {
	t.Helper()
	for _, p := range ps {
		if f, _ := p.Until("media_closed", isMediaClosed); f.Media != (wire.MediaClosed{Reason: wire.MediaMoved}) {
			t.Errorf("%s: %+v, want media_closed moved", p.ID, f.Media)
		}
		p.Renew()
		p.Send(wire.AppendMediaConnect(nil))
	}
}

// wantRouters fails the test unless the session's routers run at nodes.
func (c *cluster) wantRouters(nodes ...string) {
	c.t.Helper()
	if got := c.routers(); !slices.Equal(got, nodes) {
		c.t.Fatalf("routers at %v, want at %v", got, nodes)
	}
}

// silenced checks that, after the router at home closed the gate on
// publisher's audio and read mediatest.Window more of its packets, no
// viewer got one of them (one may have been on its way). It returns the
// index of the publisher's last packet before the mute.
func silenced(t *testing.T, r *media.Router, publisher *wsmediatest.Participant, viewers ...*wsmediatest.Participant) uint32 {
	t.Helper()
	mediatest.WaitUntil(t, "the router muting "+publisher.ID, func() bool { return !media.Forwards(r.State(), publisher.ID, audio) })
	s := publisher.LastSent(audio)
	wsmediatest.ServerRead(t, r, publisher.ID, audio, s+mediatest.Window)
	for _, v := range viewers {
		mediatest.WaitUntil(t, v.ID+" receiving "+publisher.ID+"'s video past the mute", func() bool {
			return v.Received(from(publisher.ID, video), s+mediatest.Window)
		})
		if late := v.After(from(publisher.ID, audio), s); len(late) > 1 || len(late) == 1 && late[0] != s+1 {
			t.Errorf("after the mute (%s had sent %d), %s got %v", publisher.ID, s, v.ID, late)
		}
	}
	return s
}

// TestMediaThroughTheHome: three nodes, each with its own runtime on the
// log, a participant on each; the session's router runs at its home
// (node-b) only, and every participant's media goes through it. The host
// on node-a mutes and then kicks bob, whose socket is on node-c: each is
// decided on a third node, neither the home nor bob's, and reaches the
// home's router through the home's follow stream of the log. The mute
// stops bob's audio at every viewer, the kick closes his media and ends
// his tracks at every viewer (carol's go on), and when he comes back
// through another node the home refuses him media.
func TestMediaThroughTheHome(t *testing.T) {
	leakcheck.Check(t)
	c := startCluster(t, "node-a", "node-b", "node-c")
	home := relay.Home(room, c.ids)
	if home != "node-b" {
		t.Fatalf("home %s, want node-b (the hash changed?)", home)
	}
	hana := c.dial("node-a", "hana", "host", wsmediatest.WithPC)
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.Publishing)
	carol := c.dial("node-b", "carol", "attendee", wsmediatest.Publishing)
	connect(hana, bob, carol)
	bob.Publish(mediatest.PacketInterval)
	carol.Publish(mediatest.PacketInterval)
	for _, w := range []struct {
		viewer *wsmediatest.Participant
		of     string
	}{{hana, "bob"}, {hana, "carol"}, {carol, "bob"}, {bob, "carol"}} {
		for _, k := range []webrtc.RTPCodecType{audio, video} {
			mediatest.WaitUntil(t, w.viewer.ID+" receiving "+w.of+"'s "+k.String(), func() bool { return w.viewer.Received(from(w.of, k), 2) })
		}
	}
	c.wantRouters(home)

	if res := hana.Do(core.Command{Type: core.DisableAudio, Target: "bob"}); res.Err != nil || len(res.Events) != 1 {
		t.Fatalf("disable_audio: %+v", res)
	}
	silenced(t, c.router(home), bob, hana, carol)

	if res := hana.Do(core.Command{Type: core.Kick, Target: "bob"}); res.Err != nil {
		t.Fatalf("kick: %+v", res)
	}
	if f, _ := bob.Until("bob's goodbye", func(f wire.Frame) bool { return f.Type == wire.TypeGoodbye }); f.Reason != wire.ReasonKicked {
		t.Errorf("bob's goodbye %q, want kicked", f.Reason)
	}
	mediatest.WaitUntil(t, "bob's PeerConnection closed", func() bool {
		return bob.PC.ConnectionState() == webrtc.PeerConnectionStateClosed
	})
	for _, v := range []*wsmediatest.Participant{hana, carol} {
		for _, k := range []webrtc.RTPCodecType{audio, video} {
			mediatest.WaitUntil(t, "bob's "+k.String()+" ending at "+v.ID, func() bool { return v.Ended(from("bob", k)) })
		}
	}
	sent := carol.LastSent(video)
	mediatest.WaitUntil(t, "hana receiving carol's video after the kick", func() bool { return hana.Received(from("carol", video), sent) })

	// Bob comes back through node-a: the home refuses him.
	again := c.dial("node-a", "bob", "attendee", wsmediatest.FramesOnly)
	again.Send(wire.AppendMediaConnect(nil))
	if f, _ := again.Until("media_closed", isMediaClosed); f.Media.Err == nil || f.Media.Err.Code != core.CodeNotJoined {
		t.Errorf("a kicked participant's media_connect through another node: %+v, want not_joined", f.Media)
	}
}

// TestKickedThroughALaggingNode: the home (node-b) and the node of dave's
// socket (node-c) lag the session's log (their follow streams deliver
// nothing); a host on node-a kicks dave. Dave comes back through node-c,
// whose runtime still has him in: the home reads the log's tail before it
// decides (its runtime's read barrier), refuses him with not_joined, and
// its router, which learns the kick from that read, stops his media at
// every viewer, all before either node's follow stream delivers the kick.
func TestKickedThroughALaggingNode(t *testing.T) {
	leakcheck.Check(t)
	c := startCluster(t, "node-a", "node-b", "node-c") // room-1's home: node-b
	hana := c.dial("node-a", "hana", "host", wsmediatest.WithPC)
	dave := c.dial("node-c", "dave", "attendee", wsmediatest.Publishing)
	connect(hana, dave)
	dave.Publish(mediatest.PacketInterval)
	for _, k := range []webrtc.RTPCodecType{audio, video} {
		mediatest.WaitUntil(t, "hana receiving dave's "+k.String(), func() bool { return hana.Received(from("dave", k), 2) })
	}
	home, via := c.nodes["node-b"], c.nodes["node-c"]
	home.store.hold()
	via.store.hold()
	res := hana.Do(core.Command{Type: core.Kick, Target: "dave"})
	if res.Err != nil || len(res.Events) != 1 {
		t.Fatalf("kick: %+v", res)
	}
	ctx := testwait.Context(t)
	for _, n := range []*node{home, via} {
		if st, err := n.m.State(ctx, room); err != nil || !st.Joined("dave") {
			t.Fatalf("%s's runtime: dave joined %v (%v), want it lagging, dave still in", n.id, st.Joined("dave"), err)
		}
	}

	again := c.dial("node-c", "dave", "attendee", wsmediatest.FramesOnly)
	again.Send(wire.AppendMediaConnect(nil))
	if f, _ := again.Until("media_closed", isMediaClosed); f.Media.Err == nil || f.Media.Err.Code != core.CodeNotJoined {
		t.Errorf("a kicked participant's media_connect through a lagging node: %+v, want not_joined", f.Media)
	}
	for _, k := range []webrtc.RTPCodecType{audio, video} {
		mediatest.WaitUntil(t, "dave's "+k.String()+" ending at hana", func() bool { return hana.Ended(from("dave", k)) })
	}
	if st, err := via.m.State(ctx, room); err != nil || !st.Joined("dave") {
		t.Fatalf("node-c's runtime caught up (%v) before its stream was let go: the test shows nothing", err)
	}

	home.store.letGo()
	via.store.letGo()
	// dave's first socket was replaced by his second, which node-c now
	// tells of the kick.
	if f, _ := again.Until("dave's goodbye", func(f wire.Frame) bool { return f.Type == wire.TypeGoodbye }); f.Reason != wire.ReasonKicked {
		t.Errorf("dave's goodbye %q, want kicked", f.Reason)
	}
}

// TestFailover: the session's home stops, gracefully or by crashing; every
// participant is told its media moved, connects again, and gets media from
// the new home, where the muted participant stays muted.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a crashed node is seen gone after the registry's TTL")
	}
	for _, how := range downs {
		t.Run(how.String(), func(t *testing.T) {
			leakcheck.Check(t)
			failover(t, how)
		})
	}
}

// down is how a node goes away.
type down int

const (
	stopped           down = iota // it shuts down: it leaves the nodes
	crashed                       // it dies: its key expires
	crashedWithServer             // it dies with its NATS server (embedded), one of the cluster's three
)

var downs = []down{stopped, crashed, crashedWithServer}

func (d down) String() string {
	return [...]string{"stop", "crash", "crash-with-server"}[d]
}

// end ends node n as how says.
func (c *cluster) end(ctx context.Context, n *node, how down) {
	if how == stopped {
		c.stop(ctx, n)
		return
	}
	c.crash(ctx, n, how == crashedWithServer)
}

func failover(t *testing.T, how down) {
	c := startCluster(t, "node-a", "node-b", "node-c")
	const home, next = "node-b", "node-c" // room-1's home among the three, and without node-b
	if h, n := relay.Home(room, c.ids), relay.Home(room, []string{"node-a", "node-c"}); h != home || n != next {
		t.Fatalf("homes %s then %s, want %s then %s (the hash changed?)", h, n, home, next)
	}
	hana := c.dial("node-a", "hana", "host", wsmediatest.WithPC)
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.Publishing)
	carol := c.dial("node-a", "carol", "attendee", wsmediatest.Publishing)
	all := []*wsmediatest.Participant{hana, bob, carol}
	connect(all...)
	bob.Publish(mediatest.PacketInterval)
	carol.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(t, "hana receiving bob's audio", func() bool { return hana.Received(from("bob", audio), 2) })
	if res := hana.Do(core.Command{Type: core.DisableAudio, Target: "carol"}); res.Err != nil || len(res.Events) != 1 {
		t.Fatalf("disable_audio: %+v", res)
	}
	muted := silenced(t, c.router(home), carol, hana, bob)
	before := map[string]*mediatest.Client{}
	for _, p := range all {
		before[p.ID] = p.Client
	}

	start := time.Now()
	c.end(testwait.Context(t), c.nodes[home], how)
	moved(t, all...)
	bob.Publish(mediatest.PacketInterval)
	carol.Publish(mediatest.PacketInterval)
	for _, k := range []webrtc.RTPCodecType{audio, video} {
		mediatest.WaitUntil(t, "hana receiving bob's "+k.String()+" again", func() bool { return hana.Received(from("bob", k), 0) })
	}
	t.Logf("media back %v after the home went away (%v, TTL %v)", time.Since(start).Round(time.Millisecond), how, ttl)
	c.wantRouters(next)

	// Carol stayed muted: before the home stopped, meanwhile and at the
	// new home, where she publishes anew.
	mediatest.WaitUntil(t, "carol publishing to the new home", func() bool { return carol.PC.ConnectionState() == webrtc.PeerConnectionStateConnected })
	r := c.router(next)
	wsmediatest.ServerRead(t, r, "carol", audio, carol.LastSent(audio)+mediatest.Window)
	for _, v := range []*wsmediatest.Participant{hana, bob} {
		mediatest.WaitUntil(t, v.ID+" receiving carol's video at the new home", func() bool { return v.Received(from("carol", video), 0) })
		if got := v.After(from("carol", audio), 0); len(got) > 0 {
			t.Errorf("%s got carol's audio from the new home: %v", v.ID, got)
		}
		if late := before[v.ID].After(from("carol", audio), muted+1); len(late) > 0 {
			t.Errorf("%s got carol's audio after the mute (at %d) from the old home: %v", v.ID, muted, late)
		}
	}
}

// TestRelayedMediaLifecycle follows a relayed media connection through the
// frames alone (the home's PeerConnections are real; the client answers
// nothing): refusals come back through the relay as the home's hub makes
// them, and the connection at the home closes with the participant's
// socket, or with the node the socket is on when it crashes.
func TestRelayedMediaLifecycle(t *testing.T) {
	leakcheck.Check(t)
	c := startCluster(t, "node-a", "node-b", "node-c") // room-1's home: node-b
	home := c.nodes["node-b"]
	hasRoom := func() bool { _, ok := home.local.Router(room); return ok }
	alice := c.dial("node-a", "alice", "attendee", wsmediatest.FramesOnly)

	offer := alice.JoinForMedia()
	if !hasRoom() {
		t.Fatal("no router at the home")
	}
	// An offer from the client: the home refuses it, and the connection
	// closes with invalid_command.
	alice.Send(wire.AppendSignal(nil, wire.Signal{Description: &wire.SessionDescription{Type: wire.SDPOffer, SDP: offer.Signal.Description.SDP}}))
	if f, _ := alice.Until("media_closed", isMediaClosed); f.Media.Err == nil || f.Media.Err.Code != core.CodeInvalidCommand {
		t.Errorf("after an offer from the client: %+v, want invalid_command", f.Media)
	}
	mediatest.WaitUntil(t, "the room at the home to close", func() bool { return !hasRoom() })

	// The socket closes: so does the connection at the home.
	alice.Send(wire.AppendMediaConnect(nil))
	alice.Until("an offer", isOffer)
	alice.Close()
	mediatest.WaitUntil(t, "the room at the home to close", func() bool { return !hasRoom() })

	if testing.Short() {
		return // the rest waits for a key to expire
	}
	// node-c crashes with bob's socket: the home closes his connection
	// once node-c's key expires.
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.FramesOnly)
	bob.Join()
	bob.Send(wire.AppendMediaConnect(nil))
	bob.Until("an offer", isOffer)
	c.crash(testwait.Context(t), c.nodes["node-c"], false)
	mediatest.WaitUntil(t, "the room at the home to close", func() bool { return !hasRoom() })
}

// TestNodeJoinTakesItsSessions: a node that joins becomes the home of its
// share of the sessions; their media moves to it.
func TestNodeJoinTakesItsSessions(t *testing.T) {
	leakcheck.Check(t)
	c := startCluster(t, "node-a", "node-c") // room-1's home: node-c, then node-b
	hana := c.dial("node-a", "hana", "host", wsmediatest.WithPC)
	bob := c.dial("node-c", "bob", "attendee", wsmediatest.Publishing)
	connect(hana, bob)
	bob.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(t, "hana receiving bob's audio", func() bool { return hana.Received(from("bob", audio), 2) })
	c.wantRouters("node-c")

	c.add("node-b")
	moved(t, hana, bob)
	bob.Publish(mediatest.PacketInterval)
	mediatest.WaitUntil(t, "hana receiving bob's audio from node-b", func() bool { return hana.Received(from("bob", audio), 2) })
	c.wantRouters("node-b")
}

// TestUnansweredConnectCloses: a connection the home served for a node
// that then says nothing (it never had the home's answer) closes after
// the request timeout, and with it the session's router.
func TestUnansweredConnectCloses(t *testing.T) {
	leakcheck.Check(t)
	c := startClusterWith(t, options{relay: []relay.Option{relay.WithRequestTimeout(300 * time.Millisecond)}}, "node-a", "node-b") // room-1's home: node-b
	ctx := testwait.Context(t)
	if _, err := c.nodes["node-b"].m.Submit(ctx, room, core.Command{ID: "j", Type: core.Join, Actor: "ann", Name: "Ann", Preset: "attendee"}); err != nil {
		t.Fatal(err)
	}
	// node-a as a relay that asks and then goes quiet.
	nc, err := nats.Connect(c.nats.url(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.RequestWithContext(ctx, "gavel.media.node-b.connect", []byte(`{"session":"room-1","participant":"ann","via":"node-a","id":"quiet"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(m.Data), `{"peer":`) {
		t.Fatalf("connect: %s", m.Data)
	}
	c.wantRouters("node-b")
	mediatest.WaitUntil(t, "the room at node-b to close", func() bool { return len(c.routers()) == 0 })
}

// TestNewOptions: New takes a context without a deadline (it bounds its
// own wait), and refuses bad arguments.
func TestNewOptions(t *testing.T) {
	leakcheck.Check(t)
	c := startCluster(t, "node-a")
	nc, err := nats.Connect(c.nats.url(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	local := c.nodes["node-a"].local
	h, err := relay.New(context.Background(), nc, "node-b", local)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		node string
		opt  relay.Option
	}{
		"node id with a dot": {"node.b", nil},
		"empty node id":      {"", nil},
		"short TTL":          {"node-b", relay.WithTTL(time.Millisecond)},
		"prefix":             {"node-b", relay.WithPrefix("a.b")},
		"bucket":             {"node-b", relay.WithBucket("")},
		"replicas":           {"node-b", relay.WithReplicas(0)},
		"request timeout":    {"node-b", relay.WithRequestTimeout(0)},
	} {
		if _, err := relay.New(testwait.Context(t), nc, tc.node, local, tc.opt); !errors.Is(err, relay.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// TestRegistryOutlivesItsLeader: the node whose NATS server leads the
// bucket of live nodes dies with its server. The bucket has a new leader
// among the other two servers; the other nodes' watches whose consumer
// was on the dead server stall without a word (TestRegistryWatchStalls),
// find out from their own heartbeats and watch again; every other node
// sees the dead one go.
func TestRegistryOutlivesItsLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a three-server cluster")
	}
	leakcheck.Check(t)
	c := startCluster(t, "node-a", "node-b", "node-c")
	js, err := jetstream.New(c.nodes["node-a"].nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	mediatest.WaitUntil(t, "the bucket's stream leader", func() bool {
		s, err := js.Stream(testwait.Context(t), "KV_"+relay.DefaultBucket)
		if err == nil && s.CachedInfo().Cluster != nil {
			leader = s.CachedInfo().Cluster.Leader
		}
		return leader != ""
	})
	var victim *node
	for _, n := range c.nodes {
		if c.nats.servers[n.i].Name() == leader {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("no node on the leader %s", leader)
	}
	c.crash(testwait.Context(t), victim, true)
	rest := c.live()
	for _, id := range rest {
		n := c.nodes[id]
		mediatest.WaitUntil(t, id+" seeing "+victim.id+" go", func() bool { return slices.Equal(n.hub.Nodes(), rest) })
	}
}
