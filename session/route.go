package session

import (
	"context"
	"errors"

	"github.com/gavelrtc/gavel/core"
)

// Router sends a session's commands to the one instance that decides
// them, when several instances share a Follower store (several gavel nodes
// on one JetStream stream). Without one, every instance decides the
// commands it is given and appends them with an expected position: that
// is always correct (a conflict makes the loser read the log and decide
// again), but the instances' batches then exclude one another, and a
// session spread over three instances commits less than through one. With
// one, Manager.Submit asks the Router first; the instance it names (the
// session's home) decides every command of the session with one group
// commit, as a single instance does.
//
// Routing is an optimisation, never a condition of correctness: when the
// home cannot be reached, or two instances each take themselves for the
// home for a moment, commands are decided where they are, and the log's
// expected positions and idempotency window still give each command one
// outcome.
type Router interface {
	// Route submits cmd (well formed) to the home of session, when that
	// is another instance, and returns the outcome it decided with routed
	// true: a Result, a *core.Error, an error matching ErrPermanent, or
	// ctx's error once ctx has ended. It returns routed false, and nothing
	// else, when this instance is to decide cmd itself: it is the home,
	// there is none, or the home gave no outcome (it could not be
	// reached, did not answer in time, or failed for a passing reason).
	// cmd may then have been decided at the home too; deciding it here
	// gives the same outcome (its id is in the log's window).
	Route(ctx context.Context, session string, cmd core.Command) (res Result, routed bool, err error)
}

// WithRouter makes a Manager's Submit send each command through r, and
// decide it itself only when r says so (see Router). Manager.Decide
// skips r: it is what the receiving end of r calls. Open ignores it.
func WithRouter(r Router) Option {
	return func(c *config) error {
		if r == nil {
			return errors.Join(ErrInvalidOption, errors.New("nil router"))
		}
		c.router = r
		return nil
	}
}
