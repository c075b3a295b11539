package wsmedia_test

import (
	"context"
	"testing"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	gavelnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wsmedia/internal/wsmediatest"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// TestMediaFollowsOtherInstances: two gavel instances, A and B, on one
// JetStream stream (an embedded nats-server), as two processes behind a
// load balancer. Participants connected to A publish and receive through
// A's router; a host's disable_audio decided on B, A submitting nothing,
// reaches A's router, which stops the muted audio while the video goes on,
// and the participants' sockets on A, which get its event.
func TestMediaFollowsOtherInstances(t *testing.T) {
	ns := natscluster.StartOne(t)
	store := func() *gavelnats.Store {
		nc, err := gonats.Connect(ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		st, err := gavelnats.NewStore(testwait.Context(t), nc)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	b, err := session.NewManager(store(), session.WithPresets(wstest.Presets))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { b.Close(ctx) })
	a, hub := startServerWith(t, fake.WithStore(store()))
	hana, bob, r := hostAndPublisher(t, a, hub)

	// Hana, as a host connected to B, mutes bob there.
	res, err := b.Submit(testwait.Context(t), room, core.Command{ID: "on-b", Type: core.DisableAudio, Actor: "hana", Target: "bob"})
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("disable_audio on B: %+v, %v", res, err)
	}
	checkMuted(t, r, hana, bob)
	for _, p := range []*wsmediatest.Participant{hana, bob} {
		f, _ := p.Until("the mute's event", func(f wire.Frame) bool { return f.Type == wire.TypeEvent && f.Event.Sequence() == res.Seq })
		if got, want := string(events.AppendEvents(nil, []events.Event{f.Event})), string(events.AppendEvents(nil, res.Events)); got != want {
			t.Errorf("%s's socket on A got %s, B's answer says %s", p.ID, got, want)
		}
	}
}
