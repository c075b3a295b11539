package natscluster_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
)

// TestRestart: a stream of three replicas outlives its leader's stop, and
// the server restarted comes back on its client URL with its data: the
// stream has three current replicas again and every message.
func TestRestart(t *testing.T) {
	c := natscluster.Start(t)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testwait.Context(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Replicas: natscluster.Size}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t", []byte("before")); err != nil {
		t.Fatal(err)
	}
	leader := c.StreamLeader(t, nc, "T", natscluster.Size-1)
	i := 0
	for leader != c.Server(i) {
		i++
	}
	url := c.URL(i)
	c.Stop(i)
	c.StreamLeader(t, nc, "T", natscluster.Size-2) // a new leader, one follower
	if _, err := js.Publish(ctx, "t", []byte("during")); err != nil {
		t.Fatal(err)
	}
	c.Restart(t, i)
	if c.URL(i) != url || c.Server(i).ClientURL() != url {
		t.Errorf("server %d back on %s (URL %s), want %s", i, c.Server(i).ClientURL(), c.URL(i), url)
	}
	c.StreamLeader(t, nc, "T", natscluster.Size-1)
	// The restarted server alone answers for its own copy.
	direct, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if got := c.Server(i).Name(); direct.ConnectedServerName() != got {
		t.Errorf("connected to %s, want %s", direct.ConnectedServerName(), got)
	}
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("%d messages, want 2", info.State.Msgs)
	}
}
