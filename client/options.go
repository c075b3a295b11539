package client

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Defaults of the options.
const (
	DefaultMaxReconnects  = 60
	DefaultReconnectWait  = 100 * time.Millisecond
	MaxReconnectWait      = 5 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPingTimeout    = 10 * time.Second
	DefaultReadLimit      = 16 << 20
	defaultConnectTimeout = 10 * time.Second
)

// Option configures Dial. A nil Option is skipped.
type Option func(*options) error

type options struct {
	name          string
	urls          []string
	audio, video  bool
	httpClient    *http.Client
	header        http.Header
	maxReconnects int
	reconnectWait time.Duration
	pingInterval  time.Duration
	pingTimeout   time.Duration
	readLimit     int64
	refresh       func(context.Context) (string, error)
	setup         func(*Meeting)
}

func defaultOptions() options {
	return options{
		maxReconnects: DefaultMaxReconnects,
		reconnectWait: DefaultReconnectWait,
		pingInterval:  DefaultPingInterval,
		pingTimeout:   DefaultPingTimeout,
		readLimit:     DefaultReadLimit,
	}
}

// ErrInvalidOption is matched by the error of an Option given a bad value.
var ErrInvalidOption = errors.New("client: invalid option")

func invalid(msg string) error { return errors.Join(ErrInvalidOption, errors.New(msg)) }

// WithName sets the name self joins with (default: its participant id).
func WithName(name string) Option {
	return func(o *options) error {
		o.name = name
		return nil
	}
}

// WithURLs gives more URLs of the same deployment (other gavel nodes,
// which share the sessions and the token key) after Dial's own. Dial tries
// them in order until one welcomes the meeting; when the connection is
// lost, the meeting reconnects to the next URL (after the last, the
// first), and resumes there from the last event it applied. It waits
// between attempts (WithReconnectWait) only once a whole round of URLs
// has failed; each URL tried is one attempt (WithMaxReconnects).
func WithURLs(urls ...string) Option {
	return func(o *options) error {
		for _, u := range urls {
			if u == "" {
				return invalid("empty URL")
			}
		}
		o.urls = append(o.urls, urls...)
		return nil
	}
}

// WithMedia sets whether self joins with audio and video on (default off).
func WithMedia(audio, video bool) Option {
	return func(o *options) error {
		o.audio, o.video = audio, video
		return nil
	}
}

// WithHTTPClient sets the HTTP client the websocket handshake uses.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		o.httpClient = c
		return nil
	}
}

// WithHeader adds headers to the websocket handshake (an Origin, say).
func WithHeader(h http.Header) Option {
	return func(o *options) error {
		o.header = h.Clone()
		return nil
	}
}

// WithMaxReconnects sets how many times in a row the meeting tries to
// reconnect after losing its connection (default 60); 0 never, -1 without
// end.
func WithMaxReconnects(n int) Option {
	return func(o *options) error {
		if n < -1 {
			return invalid("max reconnects below -1")
		}
		o.maxReconnects = n
		return nil
	}
}

// WithReconnectWait sets the wait before the second attempt to reconnect
// (the first is immediate); it doubles with each attempt, up to
// MaxReconnectWait (default 100 ms).
func WithReconnectWait(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return invalid("negative reconnect wait")
		}
		o.reconnectWait = d
		return nil
	}
}

// WithKeepalive sets how often the client pings the server and how long it
// waits for the pong before it takes the connection for lost (default 30 s
// and 10 s); an interval of 0 turns pings off.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(o *options) error {
		if interval < 0 || (interval > 0 && timeout <= 0) {
			return invalid("negative ping interval or no ping timeout")
		}
		o.pingInterval, o.pingTimeout = interval, timeout
		return nil
	}
}

// WithReadLimit sets the largest frame the client accepts (default 16 MiB:
// a welcome carries the whole session).
func WithReadLimit(n int64) Option {
	return func(o *options) error {
		if n < 1024 {
			return invalid("read limit below 1 KiB")
		}
		o.readLimit = n
		return nil
	}
}

// WithTokenRefresh sets a function that returns a fresh token before each
// reconnection, for tokens that expire during a meeting.
func WithTokenRefresh(f func(ctx context.Context) (string, error)) Option {
	return func(o *options) error {
		o.refresh = f
		return nil
	}
}

// WithSetup calls f with the meeting after its first welcome and before
// anything else happens (the join included), so that the handlers f adds
// see every event, roomJoined too. f must only add handlers: the meeting
// does not run yet.
func WithSetup(f func(m *Meeting)) Option {
	return func(o *options) error {
		o.setup = f
		return nil
	}
}
