package taskstate

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy is a bounded, jittered exponential backoff: before retry n
// (n = 1, 2, ...) the client sleeps a random duration in
// [0, min(MaxBackoff, InitialBackoff*Multiplier^(n-1))] ("full jitter"),
// which spreads out writers that collided.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included (>= 1).
	MaxAttempts int
	// InitialBackoff caps the first sleep.
	InitialBackoff time.Duration
	// MaxBackoff caps every sleep.
	MaxBackoff time.Duration
	// Multiplier grows the cap after each retry (>= 1; 0 means 2).
	Multiplier float64
}

// DefaultUpdateRetry is the policy of Update: 20 attempts, sleeps capped at
// 10ms doubling up to 1s.
var DefaultUpdateRetry = RetryPolicy{MaxAttempts: 20, InitialBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, Multiplier: 2}

// DefaultWatchRetry is the policy of Watch's resumption: 12 reconnections in
// a row without progress, sleeps capped at 100ms doubling up to 5s. Every
// received version resets the budget.
var DefaultWatchRetry = RetryPolicy{MaxAttempts: 12, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, Multiplier: 2}

// backoff hands out the sleeps of one retry loop.
type backoff struct {
	p     RetryPolicy
	tries int // retries done so far
	cap   time.Duration
}

func newBackoff(p RetryPolicy) *backoff {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	return &backoff{p: p, cap: p.InitialBackoff}
}

// next returns the sleep before the next retry, or false when the attempts
// are used up.
func (b *backoff) next() (time.Duration, bool) {
	if b.tries+1 >= b.p.MaxAttempts {
		return 0, false
	}
	b.tries++
	c := min(b.cap, b.p.MaxBackoff)
	b.cap = time.Duration(float64(b.cap) * b.p.Multiplier)
	if c <= 0 {
		return 0, true
	}
	return rand.N(c + 1), true
}

func (b *backoff) reset() { b.tries = 0; b.cap = b.p.InitialBackoff }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Update is a read-modify-write that never loses a concurrent write: it reads
// the task, calls fn with a deep copy of it, and writes back with
// PutIfVersion at the version read.
//
// What is written: exactly the writable fields fn changed — Status,
// StatusMessage, Variables (the whole map is replaced), Result, Error, TTL
// (renewing the expiry; 0 removes it) and PollInterval. Changes to other
// fields (ID, Version, times, RequestMethod) are ignored. If fn changes
// nothing, nothing is written and the task as read is returned.
//
// If another writer got there first (ABORTED), the whole read-fn-write is
// retried with jittered exponential backoff (WithUpdateRetry), so fn may run
// several times and must have no side effects; when the attempts are used up
// the last ErrVersionMismatch is returned. An error returned by fn stops
// Update and is returned as is. ctx bounds the whole loop.
func (c *Client) Update(ctx context.Context, taskID string, fn func(*Task) error) (*Task, error) {
	return c.update(ctx, taskID, nil, fn)
}

// update is Update, its writes fenced by *fence if not nil.
func (c *Client) update(ctx context.Context, taskID string, fence *uint64, fn func(*Task) error) (*Task, error) {
	b := newBackoff(c.opts.updateRetry)
	for {
		orig, err := c.GetTask(ctx, taskID)
		if err != nil {
			return nil, err
		}
		work := orig.Clone()
		if err := fn(work); err != nil {
			return nil, err
		}
		fields, err := changedFields(orig, work)
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			return orig, nil
		}
		t, err := c.putIfVersion(ctx, taskID, orig.Version, fence, work, fields)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, ErrVersionMismatch) {
			return nil, err
		}
		d, ok := b.next()
		if !ok {
			return nil, err
		}
		if sleep(ctx, d) != nil {
			return nil, ctxError(ctx)
		}
	}
}
