package media

import "errors"

// Options configure a Router. Use the Option functions.
type Options struct {
	// Network is where the router's PeerConnections run; DefaultNetwork()
	// unless set.
	Network Network
	// Stages make the extra forwarding stages of each router, run in order
	// between the mute gate and the sequence rewriter (see [Stage]).
	Stages []StageFactory
	// ErrorHandler, if set, is told of errors that happen away from any
	// caller: a renegotiation that failed (the peer is then closed), a
	// PeerConnection that failed, a track that could not be forwarded. It is
	// called from the router's goroutines and must not block.
	ErrorHandler func(error)
}

// Option sets a Router option.
type Option func(*Options) error

// WithNetwork sets the network set-up, such as [LoopbackNetwork].
func WithNetwork(n Network) Option {
	return func(o *Options) error {
		o.Network = n
		return nil
	}
}

// WithStages adds forwarding stages after those already given: NewRouter
// makes one Stage from each factory, for that router alone.
func WithStages(factories ...StageFactory) Option {
	return func(o *Options) error {
		for _, f := range factories {
			if f == nil {
				return errors.New("media: nil stage factory")
			}
		}
		o.Stages = append(o.Stages, factories...)
		return nil
	}
}

// WithErrorHandler sets Options.ErrorHandler.
func WithErrorHandler(h func(error)) Option {
	return func(o *Options) error {
		o.ErrorHandler = h
		return nil
	}
}
