package nats

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attemptTimeout is how long one request to JetStream may take before it
// is sent again: far above an answer's usual time, far below a failover's.
const attemptTimeout = 500 * time.Millisecond

// retry calls f with a context bounded by attempt, and again, after a short
// pause, while the outcome is unknown (unknownOutcome), for up to wait in
// all or until ctx ends. f must be safe to repeat. retries (if not nil)
// counts the repeats.
func retry[T any](ctx context.Context, wait, attempt time.Duration, f func(context.Context) (T, error), retries *atomic.Int64) (T, error) {
	deadline := time.Now().Add(wait)
	backoff := 5 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, min(attempt, time.Until(deadline)))
		v, err := f(actx)
		cancel()
		if err == nil || !unknownOutcome(err) {
			return v, err
		}
		if ctx.Err() != nil {
			return v, fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		}
		if time.Until(deadline) <= backoff {
			return v, fmt.Errorf("no answer within %v: %w", wait, err)
		}
		if retries != nil {
			retries.Add(1)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// jsErrCodeSubjectSeqNotReady is 10163, "expected last sequence per subject
// temporarily unavailable": a new stream leader still loading its state.
const jsErrCodeSubjectSeqNotReady jetstream.ErrorCode = 10163

// unknownOutcome reports whether a request may or may not have had its
// effect, or failed for a passing reason: worth sending again. That is a
// timeout, no responders, a JetStream 503 or 10163 (a new stream leader
// still loading its state), 10176 (an atomic batch the server did not get
// whole: its first message refused, as when too many batches are in
// flight, or one lost), or a command service's failure reply.
func unknownOutcome(err error) bool {
	if c := apiCode(err); c == jsErrCodeSubjectSeqNotReady || c == jsErrCodeBatchIncomplete {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 503 {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, gonats.ErrTimeout) ||
		errors.Is(err, gonats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, ErrUnavailable)
}

// createAttempt bounds one attempt to create or update a stream: far
// above its usual time on a cluster (~100 ms).
const createAttempt = 2 * time.Second

// create creates or updates a stream (or bucket) with f, again while the
// outcome is unknown, for up to wait: nodes of a JetStream cluster that
// create one stream at once may get no answer (seen with three starting
// together), and creating is idempotent.
func create[C, T any](ctx context.Context, wait time.Duration, f func(context.Context, C) (T, error), c C) (T, error) {
	return retry(ctx, wait, createAttempt, func(ctx context.Context) (T, error) { return f(ctx, c) }, nil)
}
