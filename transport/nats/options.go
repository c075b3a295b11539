package nats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	gonats "github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/session"
)

// Defaults of the options.
const (
	DefaultStream         = "GAVEL"
	DefaultPrefix         = "gavel"
	DefaultQueue          = "gavel"
	DefaultDuplicates     = 2 * time.Minute
	DefaultMaxCommand     = 16 << 10
	DefaultConcurrency    = 256
	DefaultRequestTimeout = 2 * time.Second
	DefaultSubmitTimeout  = 10 * time.Second
	DefaultStoreTimeout   = 10 * time.Second
)

// ErrInvalidOption is matched by the error of an Option given a bad value.
var ErrInvalidOption = errors.New("gavel/nats: invalid option")

// Option configures Start, StartServer, NewStore, NewService and NewClient;
// each reads the options that concern it and ignores the others, so one
// list can configure a whole deployment. A nil Option is skipped.
type Option func(*config) error

type config struct {
	// connection (Start)
	url      string
	natsOpts []gonats.Option

	// embedded server (Start without a URL, StartServer)
	dataDir    string
	port       int
	syncAlways bool

	// stream and subjects (NewStore, NewService, NewClient)
	stream     string
	prefix     string
	replicas   int
	memory     bool
	duplicates time.Duration
	storeWait  time.Duration

	// command service (NewService)
	queue       string
	maxCommand  int
	concurrency int
	sessionOpts []session.Option

	// client (NewClient)
	requestTimeout time.Duration
	submitTimeout  time.Duration
}

func newConfig(opts []Option) (config, error) {
	c := config{
		dataDir:        filepath.Join(os.TempDir(), "gavel", "jetstream"),
		port:           -1,
		stream:         DefaultStream,
		prefix:         DefaultPrefix,
		replicas:       1,
		duplicates:     DefaultDuplicates,
		storeWait:      DefaultStoreTimeout,
		queue:          DefaultQueue,
		maxCommand:     DefaultMaxCommand,
		concurrency:    DefaultConcurrency,
		requestTimeout: DefaultRequestTimeout,
		submitTimeout:  DefaultSubmitTimeout,
	}
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

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// WithURL makes Start connect to the NATS server or cluster at urls (comma
// separated, as nats.Connect takes them) instead of starting an embedded
// server. Default: none, so Start embeds one.
func WithURL(urls string) Option {
	return func(c *config) error {
		c.url = urls
		return nil
	}
}

// WithNATSOptions adds options to the connection Start makes (credentials,
// TLS, reconnect settings).
func WithNATSOptions(opts ...gonats.Option) Option {
	return func(c *config) error {
		c.natsOpts = append(c.natsOpts, opts...)
		return nil
	}
}

// WithDataDir sets the JetStream directory of the embedded server. Default:
// gavel/jetstream under os.TempDir(), which survives a restart of the
// process but maybe not of the machine: give a real directory in production.
func WithDataDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return invalid("empty data directory")
		}
		c.dataDir = dir
		return nil
	}
}

// WithPort sets the loopback port the embedded server listens on for other
// processes (default: a free port, see Node.URL). The embedded server never
// listens beyond 127.0.0.1.
func WithPort(port int) Option {
	return func(c *config) error {
		if port < -1 || port > 65535 {
			return invalid("port %d", port)
		}
		c.port = port
		return nil
	}
}

// WithSyncAlways makes the embedded server fsync every JetStream write
// before it acknowledges it (about 9× slower here). The default is the
// server's: writes reach the operating system before the acknowledgement,
// so an acknowledged command survives a crash of the process, and the disk
// is synced every two minutes. See the package doc.
func WithSyncAlways(always bool) Option {
	return func(c *config) error {
		c.syncAlways = always
		return nil
	}
}

// WithStream sets the JetStream stream that holds the logs (default GAVEL).
func WithStream(name string) Option {
	return func(c *config) error {
		if name == "" || strings.ContainsAny(name, ".*> \t\r\n/\\") {
			return invalid("stream name %q", name)
		}
		c.stream = name
		return nil
	}
}

// WithPrefix sets the first subject token of every gavel subject (default
// gavel): commands on <prefix>.cmd.<session>, records on
// <prefix>.log.<session>, headers on <prefix>.head.<session>.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" || strings.ContainsAny(prefix, "*> \t\r\n") ||
			strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") || strings.Contains(prefix, "..") {
			return invalid("subject prefix %q", prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithReplicas sets the stream's replicas (default 1; 3 on a cluster gives a
// log that survives the loss of any one server).
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 5 {
			return invalid("%d replicas", n)
		}
		c.replicas = n
		return nil
	}
}

// WithMemoryStorage keeps the stream in memory instead of files: for tests
// and benchmarks, not for logs that must survive a restart.
func WithMemoryStorage() Option {
	return func(c *config) error {
		c.memory = true
		return nil
	}
}

// WithDuplicateWindow sets the stream's duplicate window (default 2
// minutes): how long the server remembers a record's Nats-Msg-Id. It must
// cover the time a writer may retry one append.
func WithDuplicateWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return invalid("duplicate window %v", d)
		}
		c.duplicates = d
		return nil
	}
}

// WithStoreTimeout bounds how long one operation on the stream (an append,
// a read of a log) keeps sending a request whose answer did not come in
// time (a timeout, no responders while a stream leader is elected) before
// it gives up with an error (default 10 s). Each attempt waits half a
// second; appends are sent again with the same Nats-Msg-Id, so nothing is
// stored twice.
func WithStoreTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("store timeout %v", d)
		}
		c.storeWait = d
		return nil
	}
}

// WithQueue sets the queue group the command service joins (default gavel):
// every instance in one group shares the command subjects.
func WithQueue(name string) Option {
	return func(c *config) error {
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			return invalid("queue group %q", name)
		}
		c.queue = name
		return nil
	}
}

// WithMaxCommand sets the largest command, in bytes, the service decodes
// (default 16 KiB); a larger one is answered with invalid_command.
func WithMaxCommand(n int) Option {
	return func(c *config) error {
		if n < 64 {
			return invalid("max command %d bytes", n)
		}
		c.maxCommand = n
		return nil
	}
}

// WithConcurrency sets how many commands one service instance works on at
// once (default 256); more wait in the subscription's buffer.
func WithConcurrency(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalid("concurrency %d", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithSessionOptions sets the options of the session.Manager that Start
// makes (presets, idempotency window, idle timeout …). Start adds the
// JetStream store itself.
func WithSessionOptions(opts ...session.Option) Option {
	return func(c *config) error {
		c.sessionOpts = append(c.sessionOpts, opts...)
		return nil
	}
}

// WithRequestTimeout sets how long the client waits for the answer to one
// attempt of a command before it tries again (default 2 s).
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("request timeout %v", d)
		}
		c.requestTimeout = d
		return nil
	}
}

// WithSubmitTimeout bounds Client.Submit when its context has no deadline
// (default 10 s).
func WithSubmitTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("submit timeout %v", d)
		}
		c.submitTimeout = d
		return nil
	}
}
