package ws

import (
	"errors"
	"time"

	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// Defaults of the options.
const (
	DefaultMaxFrameSize  = 64 << 10
	DefaultCommandRate   = 20 // commands a second, per connection
	DefaultCommandBurst  = 40
	DefaultOutboundQueue = 256 // frames
	DefaultPingInterval  = 30 * time.Second
	DefaultPingTimeout   = 10 * time.Second
	DefaultResumeWindow  = 1024 // events
	DefaultResumeWait    = 5 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
)

// Option configures NewServer. A nil Option is skipped.
type Option func(*config) error

type config struct {
	origins      []string
	maxFrame     int64
	rate         float64
	burst        int
	queue        int
	pingInterval time.Duration
	pingTimeout  time.Duration
	resumeWindow uint64
	resumeWait   time.Duration
	writeTimeout time.Duration
	onDisconnect func(Disconnect)
	now          func() time.Time
	media        MediaHub
}

func defaults() config {
	return config{
		maxFrame:     DefaultMaxFrameSize,
		rate:         DefaultCommandRate,
		burst:        DefaultCommandBurst,
		queue:        DefaultOutboundQueue,
		pingInterval: DefaultPingInterval,
		pingTimeout:  DefaultPingTimeout,
		resumeWindow: DefaultResumeWindow,
		resumeWait:   DefaultResumeWait,
		writeTimeout: DefaultWriteTimeout,
		now:          time.Now,
	}
}

// ErrInvalidOption is matched by the error of an Option given a bad value.
var ErrInvalidOption = errors.New("ws: invalid option")

func invalid(msg string) error { return errors.Join(ErrInvalidOption, errors.New(msg)) }

// WithOriginPatterns accepts cross-origin browser connections from origins
// matching one of patterns (path.Match, case-insensitive, against the
// origin's host, or "scheme://host" when the pattern has "://"). Without
// it only same-origin browser requests are accepted; clients that send no
// Origin header (programs) always are.
func WithOriginPatterns(patterns ...string) Option {
	return func(c *config) error {
		c.origins = append(c.origins, patterns...)
		return nil
	}
}

// WithMaxFrameSize sets the largest frame a client may send (default
// 64 KiB). A larger frame closes the connection with status 1009.
func WithMaxFrameSize(n int64) Option {
	return func(c *config) error {
		if n < 512 {
			return invalid("max frame size below 512 bytes")
		}
		c.maxFrame = n
		return nil
	}
}

// WithCommandRate sets each connection's token bucket: perSecond commands
// a second on average, burst at once (default 20 and 40). A command over
// the rate is refused (rate_limited) and not applied. perSecond 0 turns
// the limit off.
func WithCommandRate(perSecond float64, burst int) Option {
	return func(c *config) error {
		if perSecond < 0 || (perSecond > 0 && burst < 1) {
			return invalid("command rate below 0 or burst below 1")
		}
		c.rate, c.burst = perSecond, burst
		return nil
	}
}

// WithOutboundQueue sets how many frames may wait to be written to one
// client (default 256), whatever they are: events, answers to its
// commands, media signalling. Past it the connection takes no more of the
// session's events until the socket takes some (the session buffers them,
// then they are read from the store), so a burst or a catch-up is sent at
// the client's pace; and it reads no more frames from the client, so a
// client that sends and does not read holds at most this many answers.
// It never delays the session or other clients.
func WithOutboundQueue(frames int) Option {
	return func(c *config) error {
		if frames < 1 {
			return invalid("outbound queue below 1")
		}
		c.queue = frames
		return nil
	}
}

// WithKeepalive sets how often the server pings each client and how long
// it waits for the pong before it closes the connection (default 30 s and
// 10 s). An interval of 0 turns pings off.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(c *config) error {
		if interval < 0 || (interval > 0 && timeout <= 0) {
			return invalid("negative ping interval or no ping timeout")
		}
		c.pingInterval, c.pingTimeout = interval, timeout
		return nil
	}
}

// WithResumeWindow sets how many events a reconnecting client may have
// missed and still be sent them (default 1024); further behind, it gets a
// fresh snapshot instead.
func WithResumeWindow(events uint64) Option {
	return func(c *config) error {
		c.resumeWindow = events
		return nil
	}
}

// WithResumeWait sets how long a client resuming from a seq beyond the
// session's waits for the session to reach it (default 5 s): a client that
// had its events from another node, whose log this node follows a few
// milliseconds behind (seconds while the stream's leader changes: 2 s were
// seen on a loaded machine). After it, the seq is taken for one the session
// never had and the client gets a fresh state. 0 gives the fresh state at
// once, for a server that is the session's only writer.
func WithResumeWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return invalid("resume wait below 0")
		}
		c.resumeWait = d
		return nil
	}
}

// WithWriteTimeout sets how long a client's socket may take no frame while
// frames wait for it before the client is cut off with goodbye slow, and
// how long that goodbye may then wait before the connection is dropped
// without it (default 10 s). A frame counts once it is written whole: a
// service whose welcome snapshots are large (about 100 bytes a
// participant) and whose clients are on slow links raises it to fit.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return invalid("write timeout not above 0")
		}
		c.writeTimeout = d
		return nil
	}
}

// Disconnect describes a connection that ended, for WithDisconnectHandler.
// At most one of Reason and Err is set; neither when the client closed the
// connection itself, cleanly.
type Disconnect struct {
	Session     string
	Participant string
	// Reason is the goodbye the server decided (shutdown also when it
	// refused the connection as it shut down; slow even if the client was
	// too slow to be sent it), or "".
	Reason wire.Reason
	// Err, when Reason is "", says why the connection ended if the client
	// did not close it with status 1000 (normal), 1001 (going away) or
	// none: the network failed or the peer stopped answering pings, a
	// protocol violation (an oversized, binary or unknown frame), the
	// session could not be opened, or a close frame with another status
	// (a websocket.CloseError; websocket.CloseStatus reads it).
	Err error
}

// WithDisconnectHandler calls f, on the connection's goroutine, after each
// connection has ended and released everything. The transport never
// removes a participant from its session when its connection ends (it may
// reconnect, here or on another instance); a service that wants presence
// timeouts submits leave from here.
func WithDisconnectHandler(f func(Disconnect)) Option {
	return func(c *config) error {
		c.onDisconnect = f
		return nil
	}
}

// WithClock sets the clock tokens' expiry is checked against (default
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return invalid("nil clock")
		}
		c.now = now
		return nil
	}
}

// WithMedia lets clients open a media connection through hub: the
// media_connect and signal frames of docs/ws-protocol.md. Without it a
// media_connect is answered with media_closed, refused unavailable. The
// Server does not close hub.
//
// A large room's SDP answers may exceed the frame size limit (a few hundred
// bytes per forwarded track): raise WithMaxFrameSize to fit.
func WithMedia(hub MediaHub) Option {
	return func(c *config) error {
		if hub == nil {
			return invalid("nil media hub")
		}
		c.media = hub
		return nil
	}
}
