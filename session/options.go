package session

import (
	"errors"
	"time"

	"github.com/gavelrtc/gavel/core"
)

// Defaults of the options.
const (
	DefaultIdempotencyWindow = 10_000
	DefaultSubscriberBuffer  = 1024
	DefaultRecentEvents      = 1024
	DefaultCatchUpBatch      = 1024
	DefaultSnapshotInterval  = 10_000
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultConflictRetries   = 32
	DefaultMaxBatch          = 512
	DefaultOpenTimeout       = 30 * time.Second
)

// Option configures Open and NewManager. A nil Option is skipped.
type Option func(*config) error

// config is what the options set; Open and NewManager start from defaults().
type config struct {
	presets          core.Presets
	window           int
	subLimit         int // WithSubscriberBuffer: a subscriber's bound
	subBuffer        int // WithRecentEvents: the owner's ring (owner.go reads it under this name)
	catchUpBatch     int // WithCatchUpBatch
	snapshotInterval uint64
	idleTimeout      time.Duration
	clock            func() time.Time
	conflictRetries  int
	maxBatch         int
	openTimeout      time.Duration
	router           Router // WithRouter; the Manager's only
}

func defaults() config {
	return config{
		window:           DefaultIdempotencyWindow,
		subLimit:         DefaultSubscriberBuffer,
		subBuffer:        DefaultRecentEvents,
		catchUpBatch:     DefaultCatchUpBatch,
		snapshotInterval: DefaultSnapshotInterval,
		idleTimeout:      DefaultIdleTimeout,
		clock:            time.Now,
		conflictRetries:  DefaultConflictRetries,
		maxBatch:         DefaultMaxBatch,
		openTimeout:      DefaultOpenTimeout,
	}
}

// newConfig checks the store that Open or NewManager was given and applies
// opts to the defaults.
func newConfig(store Store, opts []Option) (config, error) {
	if store == nil {
		return config{}, errors.New("session: nil store")
	}
	c := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// ErrInvalidOption is matched by the error of an Option given a bad value.
var ErrInvalidOption = errors.New("session: invalid option")

// WithPresets sets the presets of sessions created by Open (a session that
// exists keeps those of its header). Default: none, so only commands that
// need no permission can succeed, and join fails with unknown_preset.
func WithPresets(p core.Presets) Option {
	return func(c *config) error {
		c.presets = p
		return nil
	}
}

// WithIdempotencyWindow sets how many recent command ids a session
// remembers (default 10,000). 0 turns idempotency off.
func WithIdempotencyWindow(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.Join(ErrInvalidOption, errors.New("negative idempotency window"))
		}
		c.window = n
		return nil
	}
}

// WithSubscriberBuffer sets n, the bound of a subscriber's buffer in events
// (default 1024, at least 1): how far a subscriber may fall behind before
// it is cut off with ErrSlowSubscriber. A subscription queues each
// command's events whole. Not counting the command it is reading (the
// oldest it has not finished), it takes a command's events if nothing else
// waits, however many they are, or if the events waiting plus theirs are at
// most n; otherwise it is cut off. The queue holds the owner's slices, not
// copies, and grows only as commands wait in it: n costs no memory up
// front.
func WithSubscriberBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.Join(ErrInvalidOption, errors.New("subscriber buffer below 1"))
		}
		c.subLimit = n
		return nil
	}
}

// WithRecentEvents sets how many of its latest events an open session
// keeps in memory (default 1024, at least 1; the events are shared with
// the subscribers, so each costs a reference). A subscription that starts
// within half of them of the present (a client resuming after a short
// drop) is served from memory; one that starts further back reads the
// store first (see WithCatchUpBatch).
func WithRecentEvents(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.Join(ErrInvalidOption, errors.New("recent events below 1"))
		}
		c.subBuffer = n
		return nil
	}
}

// WithCatchUpBatch sets how many events a subscription that starts before
// the session's recent events reads from the store at a time, in its own
// Next calls (default 1024, at least 1): what it holds in memory while it
// catches up, and how many reads of the store catching up takes.
func WithCatchUpBatch(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.Join(ErrInvalidOption, errors.New("catch-up batch below 1"))
		}
		c.catchUpBatch = n
		return nil
	}
}

// WithSnapshotInterval sets how many events pass between two snapshots, for
// a store that implements Snapshotter (default 10,000). 0 turns snapshots off.
func WithSnapshotInterval(events uint64) Option {
	return func(c *config) error {
		c.snapshotInterval = events
		return nil
	}
}

// WithIdleTimeout sets how long, on the clock, a Manager keeps a session with
// no command and no subscriber open (default 5 minutes). 0 keeps sessions
// open until Close.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.Join(ErrInvalidOption, errors.New("negative idle timeout"))
		}
		c.idleTimeout = d
		return nil
	}
}

// WithClock sets the clock that gives records their at time and measures
// idleness (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.Join(ErrInvalidOption, errors.New("nil clock"))
		}
		c.clock = now
		return nil
	}
}

// WithConflictRetries sets how many times a command is decided again after
// an ErrConflict from the store before Submit gives up (default 32; each
// retry waits a little longer, see the package doc).
func WithConflictRetries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.Join(ErrInvalidOption, errors.New("negative conflict retries"))
		}
		c.conflictRetries = n
		return nil
	}
}

// WithMaxBatch sets how many queued commands the owner decides and appends
// together (default 512, at least 1).
func WithMaxBatch(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.Join(ErrInvalidOption, errors.New("max batch below 1"))
		}
		c.maxBatch = n
		return nil
	}
}

// WithOpenTimeout sets how long a Manager gives a session to open (read
// its header, snapshot and log from the store) before every caller waiting
// for it fails (default 30 s, above 0). The session opens under the
// manager's lifetime, not a caller's context.
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.Join(ErrInvalidOption, errors.New("open timeout not above 0"))
		}
		c.openTimeout = d
		return nil
	}
}
