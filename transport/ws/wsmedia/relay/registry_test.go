package relay

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/mediatest"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
)

// views records the live nodes a registry reports.
type views struct {
	mu   sync.Mutex
	last []string
	errs []error
}

func (v *views) set(nodes []string) {
	v.mu.Lock()
	v.last = nodes
	v.mu.Unlock()
}

func (v *views) report(err error) {
	v.mu.Lock()
	v.errs = append(v.errs, err)
	v.mu.Unlock()
}

// wait waits until the registry reports want.
func (v *views) wait(t *testing.T, who string, want ...string) {
	t.Helper()
	mediatest.WaitUntil(t, who+" seeing "+cmp.Diff([]string(nil), want), func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return slices.Equal(v.last, want)
	})
}

// natsURL starts an embedded server for the test and returns its URL.
func natsURL(t *testing.T) string {
	t.Helper()
	return natscluster.StartOne(t).ClientURL()
}

func join(t *testing.T, url, node string, cfg config) (*registry, *views, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	v := &views{}
	r, err := joinRegistry(testwait.Context(t), js, cfg, node, v.set, v.report)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped however the test ends; the test checks the leaves it makes.
	testwait.Cleanup(t, func(ctx context.Context) { _ = r.leave(ctx) })
	return r, v, nc
}

// TestRegistry: nodes see each other join; a node that leaves is gone at
// once for the others, one that stops beating (its connection closed, as
// in a crash) once its key expires; and such a node counts itself out.
func TestRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for keys to expire")
	}
	leakcheck.Check(t)
	url := natsURL(t)
	cfg := defaultConfig()
	cfg.ttl = time.Second
	a, av, anc := join(t, url, "node-a", cfg)
	av.wait(t, "node-a", "node-a") // itself, at once
	b, bv, _ := join(t, url, "node-b", cfg)
	bv.wait(t, "node-b", "node-a", "node-b")
	av.wait(t, "node-a", "node-a", "node-b")
	_, cv, cnc := join(t, url, "node-c", cfg)
	cv.wait(t, "node-c", "node-a", "node-b", "node-c")
	av.wait(t, "node-a", "node-a", "node-b", "node-c")

	// node-b leaves: the others see it go by its deletion.
	if err := b.leave(testwait.Context(t)); err != nil {
		t.Fatal(err)
	}
	av.wait(t, "node-a", "node-a", "node-c")
	cv.wait(t, "node-c", "node-a", "node-c")

	// node-c's connection closes: its key expires.
	start := time.Now()
	cnc.Close()
	av.wait(t, "node-a", "node-a")
	t.Logf("node-c's key expired %v after its connection closed (TTL %v)", time.Since(start).Round(time.Millisecond), cfg.ttl)

	// So does node-a's: it counts itself out.
	anc.Close()
	av.wait(t, "node-a")
	if err := a.leave(testwait.Context(t)); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("leaving without a connection: %v, want nats.ErrConnectionClosed", err)
	}
	av.mu.Lock()
	defer av.mu.Unlock()
	if len(av.errs) == 0 {
		t.Error("node-a's failed heartbeats were not reported")
	}
}

// stalledKV is a bucket whose first watch stalls once it has given its
// first values, as a watch does whose consumer was on a server that died:
// no error, no more updates.
type stalledKV struct {
	jetstream.KeyValue
	watches atomic.Int32
}

func (kv *stalledKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w, err := kv.KeyValue.WatchAll(ctx, opts...)
	if err != nil || kv.watches.Add(1) > 1 {
		return w, err
	}
	return newStalled(w), nil
}

// stalled passes on a watcher's first values and nothing after.
type stalled struct {
	jetstream.KeyWatcher
	updates chan jetstream.KeyValueEntry
}

func newStalled(w jetstream.KeyWatcher) *stalled {
	s := &stalled{KeyWatcher: w, updates: make(chan jetstream.KeyValueEntry)}
	go func() {
		defer close(s.updates)
		first := true
		for e := range w.Updates() {
			if first {
				s.updates <- e
			}
			first = first && e != nil
		}
	}()
	return s
}

func (s *stalled) Updates() <-chan jetstream.KeyValueEntry { return s.updates }

// TestRegistryWatchStalls: a node's watch of the bucket stalls silently;
// the node finds out from its own heartbeat, which the watch does not
// deliver, watches again and sees the node that joined meanwhile.
func TestRegistryWatchStalls(t *testing.T) {
	leakcheck.Check(t)
	url := natsURL(t)
	cfg := defaultConfig()
	cfg.ttl = time.Second
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := openBucket(testwait.Context(t), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	skv := &stalledKV{KeyValue: kv}
	av := &views{}
	a, err := startRegistry(testwait.Context(t), skv, cfg, "node-a", av.set, av.report)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { _ = a.leave(ctx) })
	av.wait(t, "node-a", "node-a")
	join(t, url, "node-b", cfg)
	av.wait(t, "node-a", "node-a", "node-b")
	if n := skv.watches.Load(); n < 2 {
		t.Errorf("%d watches, want the stalled one and another", n)
	}
	av.mu.Lock()
	defer av.mu.Unlock()
	if len(av.errs) == 0 {
		t.Error("the stalled watch was not reported")
	}
}

// TestRegistrySameID: two processes with one node id are reported.
func TestRegistrySameID(t *testing.T) {
	leakcheck.Check(t)
	url := natsURL(t)
	cfg := defaultConfig()
	a, av, _ := join(t, url, "node-a", cfg)
	b, _, _ := join(t, url, "node-a", cfg)
	mediatest.WaitUntil(t, "the first node-a reporting the second", func() bool {
		av.mu.Lock()
		defer av.mu.Unlock()
		return len(av.errs) > 0
	})
	for _, r := range []*registry{a, b} {
		if err := r.leave(testwait.Context(t)); err != nil {
			t.Error(err)
		}
	}
}

// TestLeaveWithoutQuorum: a node that cannot delete its key (its server is
// gone, as for the last nodes of a cluster without a quorum) still leaves
// without an error: the key expires within a TTL. The error handler hears
// of it.
func TestLeaveWithoutQuorum(t *testing.T) {
	leakcheck.Check(t)
	srv := natscluster.StartOne(t)
	cfg := defaultConfig()
	cfg.ttl = 300 * time.Millisecond // bounds the delete's wait
	r, v, _ := join(t, srv.ClientURL(), "node-a", cfg)
	v.wait(t, "node-a", "node-a")
	srv.Shutdown()
	if err := r.leave(testwait.Context(t)); err != nil {
		t.Fatalf("leave: %v, want nil (the key expires)", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !slices.ContainsFunc(v.errs, func(err error) bool { return err != nil && strings.Contains(err.Error(), "deregistering node node-a") }) {
		t.Errorf("errors reported %v, want the failed deregistration", v.errs)
	}
}
