package nats

import (
	"errors"
	"fmt"
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
	DefaultForwardTimeout = time.Second
)

// ErrInvalidOption is matched by the error of an option given a bad value,
// and by Start's when the options name no server or two.
var ErrInvalidOption = errors.New("gavel/nats: invalid option")

// Each constructor takes its own kind of option, so an option given where
// it means nothing does not compile (NewClient(nc, WithReplicas(3))).
// Start takes them all: it hands each to the part it configures.
type (
	// NodeOption configures Start. Every StoreOption, ServiceOption and
	// ClientOption is a NodeOption too, for the node's store, service and
	// client. A nil NodeOption is skipped.
	NodeOption interface {
		applyNode(*nodeConfig) error
	}
	// StoreOption configures NewStore. A nil StoreOption is skipped.
	StoreOption interface {
		NodeOption
		applyStore(*storeConfig) error
	}
	// ServiceOption configures NewService. A nil ServiceOption is skipped.
	ServiceOption interface {
		NodeOption
		applyService(*serviceConfig) error
	}
	// ClientOption configures NewClient. A nil ClientOption is skipped.
	ClientOption interface {
		NodeOption
		applyClient(*clientConfig) error
	}
	// RouterOption configures NewRouter, and the router of Start's
	// WithRouting. A nil RouterOption is skipped.
	RouterOption interface {
		NodeOption
		applyRouter(*routerConfig) error
	}
	// StreamOption configures the stream as both the store, which writes
	// it, and the client, which reads it, must see it: give the same to
	// NewStore and NewClient.
	StreamOption interface {
		StoreOption
		ClientOption
	}
	// SubjectOption configures the subjects, on which the store, the
	// service and the client must agree: give the same to all three.
	SubjectOption interface {
		StoreOption
		ServiceOption
		ClientOption
		RouterOption
	}
)

// shared is what more than one part reads.
type shared struct {
	stream    string
	prefix    string
	storeWait time.Duration
}

type storeConfig struct {
	shared
	replicas   int
	memory     bool
	duplicates time.Duration
}

type serviceConfig struct {
	shared
	queue       string
	maxCommand  int
	concurrency int
	node        string                      // WithNode: "" serves no routed commands
	home        func(session string) string // WithNode: the homes its answers name
}

type clientConfig struct {
	shared
	requestTimeout time.Duration
	submitTimeout  time.Duration
	direct         bool // WithDirectToHome
}

type routerConfig struct {
	shared
	timeout time.Duration
}

type nodeConfig struct {
	url         string
	server      EmbeddedServer
	natsOpts    []gonats.Option
	sessionOpts []session.Option
	store       storeConfig
	service     serviceConfig
	client      clientConfig
	router      routerConfig
	home        func(session string) string // WithRouting; nil: no router
}

func defaultShared() shared {
	return shared{stream: DefaultStream, prefix: DefaultPrefix, storeWait: DefaultStoreTimeout}
}

func defaultStore() storeConfig {
	return storeConfig{shared: defaultShared(), replicas: 1, duplicates: DefaultDuplicates}
}

func defaultService() serviceConfig {
	return serviceConfig{shared: defaultShared(), queue: DefaultQueue, maxCommand: DefaultMaxCommand,
		concurrency: DefaultConcurrency}
}

func defaultClient() clientConfig {
	return clientConfig{shared: defaultShared(), requestTimeout: DefaultRequestTimeout,
		submitTimeout: DefaultSubmitTimeout}
}

func defaultRouter() routerConfig {
	return routerConfig{shared: defaultShared(), timeout: DefaultForwardTimeout}
}

func defaultNode() nodeConfig {
	return nodeConfig{store: defaultStore(), service: defaultService(), client: defaultClient(), router: defaultRouter()}
}

// apply applies opts to c, skipping nil ones, and returns the first error.
func apply[O any, C any](c *C, opts []O, f func(O, *C) error) error {
	for _, o := range opts {
		if any(o) == nil {
			continue
		}
		if err := f(o, c); err != nil {
			return err
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// The option kinds. Each is its own type, so that an option is only ever
// the kinds its constructor returns, even through an interface conversion.
type (
	nodeOpt    func(*nodeConfig) error
	storeOpt   func(*storeConfig) error
	serviceOpt func(*serviceConfig) error
	clientOpt  func(*clientConfig) error
	routerOpt  func(*routerConfig) error
	streamOpt  func(*shared) error // store and client
	subjectOpt func(*shared) error // store, service, client and router
)

func (f nodeOpt) applyNode(c *nodeConfig) error { return f(c) }

func (f storeOpt) applyStore(c *storeConfig) error { return f(c) }
func (f storeOpt) applyNode(c *nodeConfig) error   { return f(&c.store) }

func (f serviceOpt) applyService(c *serviceConfig) error { return f(c) }
func (f serviceOpt) applyNode(c *nodeConfig) error       { return f(&c.service) }

func (f clientOpt) applyClient(c *clientConfig) error { return f(c) }
func (f clientOpt) applyNode(c *nodeConfig) error     { return f(&c.client) }

func (f routerOpt) applyRouter(c *routerConfig) error { return f(c) }
func (f routerOpt) applyNode(c *nodeConfig) error     { return f(&c.router) }

func (f streamOpt) applyStore(c *storeConfig) error   { return f(&c.shared) }
func (f streamOpt) applyClient(c *clientConfig) error { return f(&c.shared) }
func (f streamOpt) applyNode(c *nodeConfig) error {
	return errors.Join(f(&c.store.shared), f(&c.client.shared))
}

func (f subjectOpt) applyStore(c *storeConfig) error     { return f(&c.shared) }
func (f subjectOpt) applyService(c *serviceConfig) error { return f(&c.shared) }
func (f subjectOpt) applyClient(c *clientConfig) error   { return f(&c.shared) }
func (f subjectOpt) applyRouter(c *routerConfig) error   { return f(&c.shared) }
func (f subjectOpt) applyNode(c *nodeConfig) error {
	return errors.Join(f(&c.store.shared), f(&c.service.shared), f(&c.client.shared), f(&c.router.shared))
}

// WithURL makes Start connect to the NATS server or cluster at urls (comma
// separated, as nats.Connect takes them). Start needs it or
// WithEmbeddedServer.
func WithURL(urls string) NodeOption {
	return nodeOpt(func(c *nodeConfig) error {
		if urls == "" {
			return invalid("empty URL")
		}
		c.url = urls
		return nil
	})
}

// WithNATSOptions adds options to the connection Start makes (credentials,
// TLS, reconnect settings).
func WithNATSOptions(opts ...gonats.Option) NodeOption {
	return nodeOpt(func(c *nodeConfig) error {
		c.natsOpts = append(c.natsOpts, opts...)
		return nil
	})
}

// WithSessionOptions sets the options of the session.Manager that Start
// makes (presets, idempotency window, idle timeout …). Start adds the
// JetStream store itself.
func WithSessionOptions(opts ...session.Option) NodeOption {
	return nodeOpt(func(c *nodeConfig) error {
		c.sessionOpts = append(c.sessionOpts, opts...)
		return nil
	})
}

// WithStream sets the JetStream stream that holds the logs (default GAVEL).
func WithStream(name string) StreamOption {
	return streamOpt(func(c *shared) error {
		if name == "" || strings.ContainsAny(name, ".*> \t\r\n/\\") {
			return invalid("stream name %q", name)
		}
		c.stream = name
		return nil
	})
}

// WithPrefix sets the first subject token of every gavel subject (default
// gavel): commands on <prefix>.cmd.<session>, records on
// <prefix>.log.<session>, headers on <prefix>.head.<session>, commands
// routed to a node on <prefix>.decide.<node>.<session>.
func WithPrefix(prefix string) SubjectOption {
	return subjectOpt(func(c *shared) error {
		if prefix == "" || strings.ContainsAny(prefix, "*> \t\r\n") ||
			strings.HasPrefix(prefix, ".") || strings.HasSuffix(prefix, ".") || strings.Contains(prefix, "..") {
			return invalid("subject prefix %q", prefix)
		}
		c.prefix = prefix
		return nil
	})
}

// WithReplicas sets the stream's replicas (default 1; 3 on a cluster gives a
// log that survives the loss of any one server).
func WithReplicas(n int) StoreOption {
	return storeOpt(func(c *storeConfig) error {
		if n < 1 || n > 5 {
			return invalid("%d replicas", n)
		}
		c.replicas = n
		return nil
	})
}

// WithMemoryStorage keeps the stream in memory instead of files: for tests
// and benchmarks, not for logs that must survive a restart.
func WithMemoryStorage() StoreOption {
	return storeOpt(func(c *storeConfig) error {
		c.memory = true
		return nil
	})
}

// WithDuplicateWindow sets the stream's duplicate window (default 2
// minutes): how long the server remembers a record's Nats-Msg-Id. It must
// cover the time a writer may retry one append.
func WithDuplicateWindow(d time.Duration) StoreOption {
	return storeOpt(func(c *storeConfig) error {
		if d < time.Second {
			return invalid("duplicate window %v", d)
		}
		c.duplicates = d
		return nil
	})
}

// WithStoreTimeout bounds how long one operation on the stream (an append,
// a read of a log) keeps sending a request whose answer did not come in
// time (a timeout, no responders while a stream leader is elected) before
// it gives up with an error (default 10 s). Each attempt waits half a
// second; appends are sent again with the same Nats-Msg-Id, so nothing is
// stored twice.
func WithStoreTimeout(d time.Duration) StreamOption {
	return streamOpt(func(c *shared) error {
		if d <= 0 {
			return invalid("store timeout %v", d)
		}
		c.storeWait = d
		return nil
	})
}

// WithQueue sets the queue group the command service joins (default gavel):
// every instance in one group shares the command subjects.
func WithQueue(name string) ServiceOption {
	return serviceOpt(func(c *serviceConfig) error {
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			return invalid("queue group %q", name)
		}
		c.queue = name
		return nil
	})
}

// WithMaxCommand sets the largest command, in bytes, the service decodes
// (default 16 KiB); a larger one is answered with invalid_command.
func WithMaxCommand(n int) ServiceOption {
	return serviceOpt(func(c *serviceConfig) error {
		if n < 64 {
			return invalid("max command %d bytes", n)
		}
		c.maxCommand = n
		return nil
	})
}

// WithConcurrency sets how many commands one service instance works on at
// once (default 256); more wait in the subscription's buffer, which holds
// the connection's SubChanLen messages (nats.go's default 65,536): past
// it they are dropped, as for any slow consumer, and their requesters
// retry.
func WithConcurrency(n int) ServiceOption {
	return serviceOpt(func(c *serviceConfig) error {
		if n < 1 {
			return invalid("concurrency %d", n)
		}
		c.concurrency = n
		return nil
	})
}

// WithRequestTimeout sets how long the client waits for the answer to one
// attempt of a command before it tries again (default 2 s).
func WithRequestTimeout(d time.Duration) ClientOption {
	return clientOpt(func(c *clientConfig) error {
		if d <= 0 {
			return invalid("request timeout %v", d)
		}
		c.requestTimeout = d
		return nil
	})
}

// WithSubmitTimeout bounds Client.Submit when its context has no deadline
// (default 10 s).
func WithSubmitTimeout(d time.Duration) ClientOption {
	return clientOpt(func(c *clientConfig) error {
		if d <= 0 {
			return invalid("submit timeout %v", d)
		}
		c.submitTimeout = d
		return nil
	})
}

// WithNode makes the service also decide the commands routed to node, on
// <prefix>.decide.<node>.<session>, by the other nodes' Routers
// (NewRouter) and by Clients that know the session's home: it decides them
// itself (session.Manager.Decide), whatever it takes their session's home
// to be, so a command is routed once at most. node is the name the nodes'
// home functions give this one: 1 to 64 bytes of [A-Za-z0-9_-], unique
// among the nodes. home is that function: the service's answers on
// <prefix>.cmd.<session> name the session's home (a Gavel-Home header),
// so that a Client sends the session's next commands there itself.
func WithNode(node string, home func(session string) string) ServiceOption {
	return serviceOpt(func(c *serviceConfig) error {
		if err := checkRouting(node, home); err != nil {
			return err
		}
		c.node, c.home = node, home
		return nil
	})
}

// WithForwardTimeout sets how long a Router waits for the home's answer to
// a command (default 1 s) before it lets its own node decide the command
// (see session.Router). Keep it well below the clients' wait for an answer
// (WithRequestTimeout, 2 s by default): a client that gives up on every
// attempt before a silent home's forward ends would never be answered.
func WithForwardTimeout(d time.Duration) RouterOption {
	return routerOpt(func(c *routerConfig) error {
		if d <= 0 {
			return invalid("forward timeout %v", d)
		}
		c.timeout = d
		return nil
	})
}

// WithRouting makes Start's node one of several that route each
// session's commands to its home: node is this node's name and home gives
// the home of a session (WithNode, for its service, and NewRouter). Start
// gives the node's Manager a Router (session.WithRouter) with the node's
// RouterOptions.
func WithRouting(node string, home func(session string) string) NodeOption {
	return nodeOpt(func(c *nodeConfig) error {
		c.home = home
		return WithNode(node, home).applyNode(c)
	})
}

// WithDirectToHome makes Client.Submit send a session's commands straight
// to the session's home once a service's answer has named it (services
// with WithNode do), skipping the service that would route them there;
// after an attempt there that gives no outcome, it goes through the
// command subject again. The client's NATS user then needs to publish on
// <prefix>.decide.*.* (see the package doc's permissions): a publish it is
// refused there costs an attempt its WithRequestTimeout.
func WithDirectToHome() ClientOption {
	return clientOpt(func(c *clientConfig) error {
		c.direct = true
		return nil
	})
}
