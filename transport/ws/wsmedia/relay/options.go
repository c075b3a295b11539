package relay

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of the options.
const (
	DefaultPrefix         = "gavel"
	DefaultBucket         = "GAVEL_NODES"
	DefaultTTL            = 3 * time.Second
	DefaultRequestTimeout = 10 * time.Second
)

// ErrInvalidOption is matched by the error of New for an option given a
// bad value.
var ErrInvalidOption = errors.New("relay: invalid option")

// Option configures New. A nil Option is skipped.
type Option func(*config) error

type config struct {
	prefix         string
	bucket         string
	ttl            time.Duration
	replicas       int
	requestTimeout time.Duration
	maxConnects    int
	onError        func(error)
}

func defaultConfig() config {
	return config{prefix: DefaultPrefix, bucket: DefaultBucket, ttl: DefaultTTL, replicas: 1,
		requestTimeout: DefaultRequestTimeout, maxConnects: 64}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// WithPrefix sets the first token of the relay's subjects (default gavel:
// <prefix>.media.>), as transport/nats's WithPrefix does for its own.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if !validToken(prefix) {
			return invalid("prefix %q: want [A-Za-z0-9_-], 1 to 64 bytes", prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithBucket sets the key-value bucket of live nodes (default GAVEL_NODES,
// stream KV_GAVEL_NODES).
func WithBucket(name string) Option {
	return func(c *config) error {
		if !validToken(name) {
			return invalid("bucket %q: want [A-Za-z0-9_-], 1 to 64 bytes", name)
		}
		c.bucket = name
		return nil
	}
}

// WithTTL sets how long a node that stopped answering counts as live
// (default DefaultTTL): its key expires that long after its last
// heartbeat, and a node beats every third of it. A crashed home's
// sessions move after about this long; a node that stops gracefully
// leaves at once. Every node of a deployment must have the same TTL: the
// bucket has one, which the last node to start sets.
func WithTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 300*time.Millisecond {
			return invalid("TTL %v: want at least 300ms", d)
		}
		c.ttl = d
		return nil
	}
}

// WithReplicas sets the replicas of the bucket in a JetStream cluster
// (default 1; 3 in a three-node cluster, so the bucket outlives a server).
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 5 {
			return invalid("replicas %d: want 1 to 5", n)
		}
		c.replicas = n
		return nil
	}
}

// WithRequestTimeout bounds each request of a relayed media connection to
// its home (default DefaultRequestTimeout): the connect, which waits for
// the home's router, and each signal and close.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("request timeout %v: want above 0", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithErrorHandler sets f to be told of errors no caller sees: a failed
// heartbeat, another process with this node's id, a relayed connection
// that could not be served. It is called from the hub's goroutines and
// must not block.
func WithErrorHandler(f func(error)) Option {
	return func(c *config) error {
		c.onError = f
		return nil
	}
}
