package relay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// registry keeps its node in a JetStream key-value bucket of live nodes
// and follows the bucket (see the package doc): one goroutine puts the
// node's key every beat and reads the bucket's changes, and tells onChange
// the live nodes whenever they change.
type registry struct {
	kv       jetstream.KeyValue
	self     string
	instance string // the key's value: another value under self's key is another process
	ttl      time.Duration
	beat     time.Duration
	onChange func(nodes []string) // from the registry's goroutine (and from join); must not block
	onError  func(error)

	// The watch's self-check, the goroutine's (and join's) only: the
	// revision of the last put of self's key, and the highest the watch
	// delivered. See run.
	putRev, seenRev uint64

	cancel context.CancelFunc // ends the goroutine
	done   chan struct{}      // closed when it has ended
}

// createAttempt bounds one attempt to create the bucket: far above the
// answer's usual time (a hundred milliseconds on a cluster).
const createAttempt = time.Second

// createBucket creates the bucket or updates its configuration. Nodes of a
// JetStream cluster that create one stream at once may get no answer (the
// server drops the replies of concurrent creates), so an attempt that has
// none is made again, until ctx ends: creating is idempotent.
func createBucket(ctx context.Context, js jetstream.JetStream, c jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, createAttempt)
		kv, err := js.CreateOrUpdateKeyValue(actx, c)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return kv, err
		}
	}
}

// joinRegistry opens the bucket (openBucket), puts self's key, reads the
// bucket and tells onChange the live nodes, then starts the registry's
// goroutine. The key is put first, so the first view holds self.
func joinRegistry(ctx context.Context, js jetstream.JetStream, cfg config, self string,
	onChange func([]string), onError func(error)) (*registry, error) {
	kv, err := openBucket(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	return startRegistry(ctx, kv, cfg, self, onChange, onError)
}

// openBucket creates the bucket of live nodes if need be (the bucket's TTL
// is what makes a silent node's key expire, so every node must be given
// the same).
func openBucket(ctx context.Context, js jetstream.JetStream, cfg config) (jetstream.KeyValue, error) {
	kv, err := createBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:         cfg.bucket,
		Description:    "gavel: the live nodes, for the media homes of sessions",
		History:        1,
		TTL:            cfg.ttl,
		LimitMarkerTTL: max(cfg.ttl, time.Second), // the server counts in seconds
		Storage:        jetstream.FileStorage,
		Replicas:       cfg.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: bucket %s: %w", cfg.bucket, err)
	}
	return kv, nil
}

// startRegistry is joinRegistry once the bucket is open.
func startRegistry(ctx context.Context, kv jetstream.KeyValue, cfg config, self string,
	onChange func([]string), onError func(error)) (*registry, error) {
	r := &registry{kv: kv, self: self, instance: nuid.Next(), ttl: cfg.ttl, beat: cfg.ttl / 3,
		onChange: onChange, onError: onError, done: make(chan struct{})}
	var err error
	if r.putRev, err = kv.PutString(ctx, self, r.instance); err != nil {
		return nil, fmt.Errorf("relay: registering node %s: %w", self, err)
	}
	life, cancel := context.WithCancel(context.Background())
	w, live, err := r.watch(ctx, life)
	if err != nil {
		cancel()
		return nil, err
	}
	r.cancel = cancel
	onChange(sortedKeys(live))
	go r.run(life, w, live)
	return r, nil
}

// watch starts a watcher of the bucket, living until life ends, and reads
// its first values (until ctx ends): the live nodes now.
func (r *registry) watch(ctx, life context.Context) (jetstream.KeyWatcher, map[string]bool, error) {
	w, err := r.kv.WatchAll(life)
	if err != nil {
		return nil, nil, fmt.Errorf("relay: watching bucket %s: %w", r.kv.Bucket(), err)
	}
	live := make(map[string]bool)
	for {
		select {
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return nil, nil, fmt.Errorf("relay: watching bucket %s: the watcher ended", r.kv.Bucket())
			case e == nil: // the first values are in
				return w, live, nil
			}
			r.apply(live, e)
		case <-ctx.Done():
			stopWatcher(w)
			return nil, nil, fmt.Errorf("relay: reading bucket %s: %w", r.kv.Bucket(), ctx.Err())
		}
	}
}

// apply folds one change of the bucket into live.
func (r *registry) apply(live map[string]bool, e jetstream.KeyValueEntry) {
	r.seenRev = max(r.seenRev, e.Revision())
	if e.Operation() != jetstream.KeyValuePut {
		delete(live, e.Key()) // deleted (left), or expired (its marker)
		return
	}
	live[e.Key()] = true
	if e.Key() == r.self && string(e.Value()) != r.instance {
		r.report(fmt.Errorf("relay: another process registered node id %s: give every node its own", r.self))
	}
}

// run is the registry's goroutine: it puts self's key every beat and
// follows the bucket until life ends. A node whose key may expire before
// its next beat (its puts failed for the TTL less a beat) counts itself
// out, before the others do once the key expires; it is back once a put
// succeeds.
//
// The watch checks itself: it delivers this node's own puts too, so a put
// it has not delivered a beat later means it has stalled (its consumer
// was on a server that died, the bucket's stream leader: the client finds
// out only after missing its heartbeats, some ten seconds), and it is
// started again, which reads the bucket anew.
func (r *registry) run(life context.Context, w jetstream.KeyWatcher, live map[string]bool) {
	defer close(r.done)
	defer func() { stopWatcher(w) }()
	tick := time.NewTicker(r.beat)
	defer tick.Stop()
	lastPut := time.Now()
	lapsed := false
	view := func() []string {
		nodes := sortedKeys(live)
		if lapsed {
			nodes = slices.DeleteFunc(nodes, func(n string) bool { return n == r.self })
		}
		return nodes
	}
	last := view()
	for {
		var updates <-chan jetstream.KeyValueEntry
		if w != nil {
			updates = w.Updates()
		}
		select {
		case <-life.Done():
			return
		case e, ok := <-updates:
			switch {
			case !ok: // the watcher ended: start again at the next beat
				w = nil
				continue
			case e != nil:
				r.apply(live, e)
			}
		case <-tick.C:
			if w != nil && r.seenRev < r.putRev {
				r.report(fmt.Errorf("relay: watching bucket %s: revision %d not delivered within a beat: watching again", r.kv.Bucket(), r.putRev))
				stopWatcher(w)
				w = nil
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(life, r.beat)
			rev, err := r.kv.PutString(ctx, r.self, r.instance)
			cancel()
			switch {
			case err == nil:
				lastPut, lapsed, r.putRev = start, false, rev
			case life.Err() != nil:
				return
			case time.Since(lastPut)+r.beat >= r.ttl:
				// The key may expire before the next beat: step down
				// now rather than serve after the others moved on.
				lapsed = true
			}
			if err != nil {
				r.report(fmt.Errorf("relay: heartbeat of node %s: %w", r.self, err))
			}
			if w == nil {
				ctx, cancel := context.WithTimeout(life, r.beat)
				var again map[string]bool
				w, again, err = r.watch(ctx, life)
				cancel()
				if err != nil {
					r.report(err)
				} else {
					live = again
				}
			}
		}
		if v := view(); !slices.Equal(v, last) {
			last = v
			r.onChange(v)
		}
	}
}

// leave stops the goroutine (no heartbeat may put the key back), then
// deletes self's key, so that the other nodes see this one go at once. It
// waits until ctx ends at most, and no longer than the TTL for the
// deletion: by then the key has expired.
func (r *registry) leave(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("relay: leaving: %w", ctx.Err())
	}
	ctx, cancel := context.WithTimeout(ctx, r.ttl)
	defer cancel()
	err := r.kv.Delete(ctx, r.self)
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("relay: deregistering node %s: %w", r.self, err)
	default:
		// The server did not answer: the last nodes of a cluster that lost
		// its quorum cannot delete. The key expires within a TTL anyway, so
		// the others still move this node's sessions, only later: said to
		// the error handler, not a failure of leaving.
		r.report(fmt.Errorf("relay: deregistering node %s (its key expires within %v): %w", r.self, r.ttl, err))
	}
	return nil
}

func (r *registry) report(err error) {
	if r.onError != nil {
		r.onError(err)
	}
}

// stopWatcher stops w and drains it: the watcher's goroutine blocks on a
// full channel, and ends once it has delivered.
func stopWatcher(w jetstream.KeyWatcher) {
	if w == nil {
		return
	}
	if err := w.Stop(); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return // the subscription is gone with its connection: nothing is delivered
	}
	for range w.Updates() {
	}
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
