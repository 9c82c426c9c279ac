package taskstate

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// ClaimParams are the inputs of Claim and ClaimNext. Worker wraps these
// calls with heartbeats and fenced writes; use them directly only to manage
// leases by hand.
type ClaimParams struct {
	// WorkerID names the claimer (required, 1 to 256 printable bytes); a
	// claim by the holder returns its lease unchanged.
	WorkerID string
	// Lease is how long the lease lasts unless renewed; 0 means the
	// server's default (--default-lease).
	Lease time.Duration
	// RequestMethod, for ClaimNext: only tasks of this request method ("":
	// any).
	RequestMethod string
	// Wait, for ClaimNext: how long to wait for a task to claim (bounded like
	// WaitTask's timeout); 0 answers at once.
	Wait time.Duration
}

// Claim takes a lease on the task taskID (StatusWorking, and not held by
// another worker: ErrLeaseHeld). The task returned carries the Lease and
// its FencingToken.
func (c *Client) Claim(ctx context.Context, taskID string, p ClaimParams) (*Task, error) {
	return c.claim(ctx, taskID, p)
}

// ClaimNext takes a lease on the oldest unleased StatusWorking task created
// with a LeasePolicy (of p.RequestMethod if set), waiting up to p.Wait for
// one. It returns nil (and no error) when there was none.
func (c *Client) ClaimNext(ctx context.Context, p ClaimParams) (*Task, error) {
	return c.claim(ctx, "", p)
}

func (c *Client) claim(ctx context.Context, taskID string, p ClaimParams) (*Task, error) {
	req := &taskstatev1.ClaimTaskRequest{TaskId: taskID, WorkerId: p.WorkerID, LeaseDuration: durationOrNil(p.Lease)}
	if p.RequestMethod != "" {
		req.RequestMethod = &p.RequestMethod
	}
	if p.Wait > 0 {
		req.WaitTimeout = durationpb.New(p.Wait)
	}
	ctx, cancel := waitCtx(ctx, p.Wait) // the default timeout would cut the wait short
	defer cancel()
	resp, err := unary(c, ctx, c.raw.ClaimTask, req)
	if err != nil {
		return nil, err
	}
	if resp.GetTask() == nil {
		return nil, nil
	}
	return TaskFromProto(resp.GetTask()), nil
}

// RenewParams are the optional inputs of RenewLease.
type RenewParams struct {
	// Lease is the new duration, counted from now; 0 keeps the lease's
	// current duration.
	Lease time.Duration
	// StatusMessage, if not nil, becomes the status message in the same
	// write (a progress note).
	StatusMessage *string
}

// RenewLease extends the lease with this fencing token (a heartbeat). A
// lease that has ended (expired, or the task left StatusWorking) is
// ErrLeaseLost.
func (c *Client) RenewLease(ctx context.Context, taskID string, fencingToken uint64, p RenewParams) (*Task, error) {
	req := &taskstatev1.RenewLeaseRequest{
		TaskId:        taskID,
		FencingToken:  fencingToken,
		LeaseDuration: durationOrNil(p.Lease),
		StatusMessage: p.StatusMessage,
	}
	resp, err := unary(c, ctx, c.raw.RenewLease, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}
