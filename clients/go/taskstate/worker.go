package taskstate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
)

// DefaultLease is the lease a Worker asks for when WorkerOptions.Lease is 0.
const DefaultLease = 30 * time.Second

// retryPause bounds the pause between renewals that met UNAVAILABLE (also
// at most a tenth of the lease).
const retryPause = 200 * time.Millisecond

// WorkerOptions configure NewWorker; the zero value is valid.
type WorkerOptions struct {
	// WorkerID names the worker in the leases it takes; "" means
	// "host:pid:random" (unique per Worker).
	WorkerID string
	// Lease is the lease duration to ask for; 0 means DefaultLease. It is
	// renewed every third of it.
	Lease time.Duration
}

// ClaimOptions are the inputs of Worker.ClaimNext; the zero value claims any
// task at once.
type ClaimOptions struct {
	// RequestMethod: only tasks of this request method ("": any).
	RequestMethod string
	// Wait is how long to wait for a task to claim; 0 answers at once.
	Wait time.Duration
}

// Worker claims tasks under one worker id and keeps their leases alive:
//
//	w := taskstate.NewWorker(c, taskstate.WorkerOptions{Lease: 30 * time.Second})
//	lease, err := w.ClaimNext(ctx, taskstate.ClaimOptions{RequestMethod: "tools/call", Wait: time.Minute})
//	if err != nil || lease == nil { ... }
//	defer lease.Close()
//	result, err := work(lease.Context(), lease.Task()) // cancelled if the lease is lost
//	_, err = lease.Complete(ctx, taskstate.Completion{Result: result})
//
// It is safe for concurrent use; every Lease has its own heartbeat.
type Worker struct {
	c     *Client
	id    string
	lease time.Duration
}

// NewWorker returns a Worker claiming through c.
func NewWorker(c *Client, o WorkerOptions) *Worker {
	if o.WorkerID == "" {
		o.WorkerID = defaultWorkerID()
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	return &Worker{c: c, id: o.WorkerID, lease: o.Lease}
}

// defaultWorkerID is host:pid:random, readable in a task's lease.
func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s:%d:%08x", host, os.Getpid(), rand.Uint32())
}

// ID returns the worker id sent with every claim.
func (w *Worker) ID() string { return w.id }

// ClaimNext claims the oldest claimable task (see Client.ClaimNext), waiting
// up to o.Wait, and starts its heartbeat. It returns nil (and no error) when
// there was none. ctx bounds the claim; the Lease's Context keeps its values
// but not its cancellation.
func (w *Worker) ClaimNext(ctx context.Context, o ClaimOptions) (*Lease, error) {
	return w.start(ctx, "", ClaimParams{WorkerID: w.id, Lease: w.lease, RequestMethod: o.RequestMethod, Wait: o.Wait})
}

// Claim claims the task taskID (ErrLeaseHeld if another worker holds it) and
// starts its heartbeat.
func (w *Worker) Claim(ctx context.Context, taskID string) (*Lease, error) {
	if taskID == "" {
		return nil, errors.New("taskstate: Worker.Claim: empty task id (use ClaimNext)")
	}
	return w.start(ctx, taskID, ClaimParams{WorkerID: w.id, Lease: w.lease})
}

func (w *Worker) start(ctx context.Context, taskID string, p ClaimParams) (*Lease, error) {
	sent := time.Now()
	t, err := w.c.claim(ctx, taskID, p)
	if err != nil || t == nil {
		return nil, err
	}
	if t.Lease == nil {
		return nil, fmt.Errorf("taskstate: the server answered the claim of %s without a lease", t.ID)
	}
	d := t.Lease.Duration
	if d <= 0 {
		d = w.lease
	}
	if time.Since(sent) > d/3 {
		// A claim that waited was granted at some unknown point of the wait:
		// renew at once, so the local deadline is known.
		sent = time.Now()
		if t, err = w.c.RenewLease(ctx, t.ID, t.Lease.FencingToken, RenewParams{}); err != nil {
			return nil, err
		}
	}
	return newLease(ctx, w.c, t, d, sent), nil
}

// Lease is a claimed task whose lease a background heartbeat renews every
// third of its duration. A renewal meeting UNAVAILABLE is retried until the
// local deadline, counted from when the last successful claim or renewal
// was sent (the server's clock started no earlier), so the worker gives up
// no later than the server could hand the task to another worker.
//
// The lease is lost on ErrLeaseLost (the task was finished, changed status,
// expired or was claimed by someone else) or when the local deadline
// passes: then Context is cancelled, Err says why (errors.Is(err,
// ErrLeaseLost)), and the writes through the Lease fail with that error
// without being sent. Writes through the Lease carry its fencing token, so
// none lands once the lease has moved on. Close stops the heartbeat; a task
// left unfinished is then up to its LeasePolicy once the lease runs out.
type Lease struct {
	c     *Client
	id    string
	token uint64
	dur   time.Duration

	ctx     context.Context
	cancel  context.CancelCauseFunc
	stop    context.CancelFunc // ends the heartbeat
	beatCtx context.Context
	done    chan struct{}
	closed  sync.Once

	call sync.Mutex // one call at a time: a renewal never overlaps a write
	mu   sync.Mutex // guards task and lost
	task *Task
	lost error
}

func newLease(ctx context.Context, c *Client, t *Task, d time.Duration, sent time.Time) *Lease {
	l := &Lease{c: c, id: t.ID, token: t.Lease.FencingToken, dur: d, task: t, done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	l.beatCtx, l.stop = context.WithCancel(context.Background())
	go l.beat(sent.Add(d))
	return l
}

// TaskID returns the id of the leased task.
func (l *Lease) TaskID() string { return l.id }

// FencingToken returns the token the Lease's writes carry.
func (l *Lease) FencingToken() uint64 { return l.token }

// Task returns the task as of the last claim, renewal or write through the
// Lease (a copy).
func (l *Lease) Task() *Task {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.task.Clone()
}

// Context is cancelled when the lease is lost (context.Cause then is Err)
// or the Lease is closed. Run the work under it.
func (l *Lease) Context() context.Context { return l.ctx }

// Err returns why the lease was lost, or nil while it holds.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Close stops the heartbeat and cancels Context. It does not release the
// lease: finish the task first (Complete, Fail), or leave it to its
// LeasePolicy. Closing twice is fine.
func (l *Lease) Close() {
	l.closed.Do(func() {
		l.stop()
		<-l.done
		l.cancel(nil)
	})
}

// SetVariables merges vars into the task's variables (see
// Client.SetVariables), fenced by the lease.
func (l *Lease) SetVariables(ctx context.Context, vars map[string]any, opts ...WriteOption) (*Task, error) {
	return l.write(func() (*Task, error) {
		return l.c.SetVariables(ctx, l.id, vars, append(opts, WithFencingToken(l.token))...)
	})
}

// UpdateStatus moves the task to status (see Client.UpdateTaskStatus),
// fenced by the lease. Leaving StatusWorking ends the lease.
func (l *Lease) UpdateStatus(ctx context.Context, status Status, message string, opts ...WriteOption) (*Task, error) {
	return l.write(func() (*Task, error) {
		return l.c.UpdateTaskStatus(ctx, l.id, status, message, append(opts, WithFencingToken(l.token))...)
	})
}

// Update is Client.Update with every write fenced by the lease.
func (l *Lease) Update(ctx context.Context, fn func(*Task) error) (*Task, error) {
	return l.write(func() (*Task, error) { return l.c.update(ctx, l.id, &l.token, fn) })
}

// Complete finishes the task (see Client.CompleteTask), fenced by the lease.
func (l *Lease) Complete(ctx context.Context, comp Completion) (*Task, error) {
	comp.FencingToken = l.token
	return l.write(func() (*Task, error) { return l.c.CompleteTask(ctx, l.id, comp) })
}

// Fail marks the task failed (see Client.FailTask), fenced by the lease.
func (l *Lease) Fail(ctx context.Context, taskErr TaskError, extra ...Completion) (*Task, error) {
	if len(extra) > 1 {
		return nil, errors.New("taskstate: Lease.Fail: at most one Completion")
	}
	comp := Completion{StatusMessage: taskErr.Message}
	if len(extra) == 1 {
		comp = extra[0]
	}
	comp.Status = StatusFailed
	comp.Error = &taskErr
	return l.Complete(ctx, comp)
}

// write runs one fenced call; a LEASE_LOST answer loses the lease.
func (l *Lease) write(call func() (*Task, error)) (*Task, error) {
	l.call.Lock()
	defer l.call.Unlock()
	if err := l.Err(); err != nil {
		return nil, err
	}
	t, err := call()
	if err != nil {
		if errors.Is(err, ErrLeaseLost) {
			l.lose(err)
		}
		return nil, err
	}
	l.keep(t)
	return t, nil
}

func (l *Lease) keep(t *Task) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.task = t
}

// holding reports whether there is a lease to renew: a write leaving
// StatusWorking ends it.
func (l *Lease) holding() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost == nil && l.task.Status == StatusWorking
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	if l.lost == nil {
		l.lost = err
	}
	l.mu.Unlock()
	l.cancel(err)
}

// beat renews the lease until it is lost, ends, or the Lease is closed.
func (l *Lease) beat(deadline time.Time) {
	defer close(l.done)
	for l.holding() {
		if sleep(l.beatCtx, min(l.dur/3, time.Until(deadline))) != nil {
			return
		}
		for l.holding() {
			left := time.Until(deadline)
			if left <= 0 {
				l.lose(missedDeadline(l.id, l.token))
				return
			}
			sent := time.Now()
			t, err := l.renew(left)
			if l.beatCtx.Err() != nil {
				return // closed
			}
			if err == nil {
				if t == nil {
					return // the lease ended with a write
				}
				l.keep(t)
				deadline = sent.Add(l.dur)
				break
			}
			if c := Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
				l.lose(err)
				return
			}
			pause := min(retryPause, l.dur/10, time.Until(deadline))
			if sleep(l.beatCtx, pause) != nil {
				return
			}
		}
	}
}

// renew sends one renewal bounded by the time left; (nil, nil) when there
// is no lease to renew any more.
func (l *Lease) renew(left time.Duration) (*Task, error) {
	l.call.Lock()
	defer l.call.Unlock()
	if !l.holding() {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(l.beatCtx, left)
	defer cancel()
	return l.c.RenewLease(ctx, l.id, l.token, RenewParams{})
}

// missedDeadline is the loss of a lease not renewed in time: a local
// LEASE_LOST, the same shape as the server's.
func missedDeadline(taskID string, token uint64) *Error {
	return &Error{
		Code:     codes.FailedPrecondition,
		Reason:   ReasonLeaseLost,
		Domain:   ErrorDomain,
		Metadata: map[string]string{"fencing_token": strconv.FormatUint(token, 10)},
		Message:  fmt.Sprintf("lease on task %s not renewed before its local deadline", taskID),
	}
}
