package main

// The ops of issue 10: plain claim and renewal, and a whole claim-work-complete
// cycle through the client's Worker.

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

var leasePolicies = map[string]taskstate.LeasePolicy{"fail": taskstate.LeasePolicyFail, "release": taskstate.LeasePolicyRelease}

func (a *args) leasePolicy() (taskstate.LeasePolicy, error) {
	if !a.keys["lease_policy"] {
		return taskstate.LeasePolicyUnspecified, nil
	}
	p, ok := leasePolicies[a.LeasePolicy]
	if !ok {
		return 0, failf("lease_policy: want fail or release, got %q", a.LeasePolicy)
	}
	return p, nil
}

// opClaim claims by id or the next task through the client's plain calls;
// an explicit lease_ms or wait_ms 0 (the client's "unset") goes through the stub.
func opClaim(_ *driver, c *taskstate.Client, a *args) (any, error) {
	var t *taskstate.Task
	var err error
	if isZero(a.LeaseMs) || isZero(a.WaitMs) {
		t, err = stubClaim(c, a)
	} else {
		p := taskstate.ClaimParams{WorkerID: a.WorkerID, Lease: ms(a.LeaseMs), RequestMethod: a.RequestMethod, Wait: ms(a.WaitMs)}
		if a.keys["task_id"] {
			t, err = c.Claim(bg, a.TaskID, p)
		} else {
			t, err = c.ClaimNext(bg, p)
		}
	}
	if err != nil {
		return nil, err
	}
	if t == nil {
		return map[string]any{}, nil
	}
	return map[string]any{"task": taskView(t)}, nil
}

func stubClaim(c *taskstate.Client, a *args) (*taskstate.Task, error) {
	req := &taskstatev1.ClaimTaskRequest{TaskId: a.TaskID, WorkerId: a.WorkerID, LeaseDuration: duration(a.LeaseMs), WaitTimeout: duration(a.WaitMs)}
	if a.keys["request_method"] {
		req.RequestMethod = &a.RequestMethod
	}
	ctx, cancel := context.WithTimeout(bg, callTimeout+ms(a.WaitMs))
	defer cancel()
	resp, err := c.Raw().ClaimTask(ctx, req, c.CallOptions()...)
	if err != nil || resp.GetTask() == nil {
		return nil, err
	}
	return taskstate.TaskFromProto(resp.GetTask()), nil
}

func opRenewLease(_ *driver, c *taskstate.Client, a *args) (any, error) {
	var token uint64
	if a.FencingToken != nil {
		token = *a.FencingToken
	}
	var message *string
	if a.keys["message"] {
		message = &a.Message
	}
	if isZero(a.LeaseMs) {
		req := &taskstatev1.RenewLeaseRequest{TaskId: a.TaskID, FencingToken: token, LeaseDuration: durationpb.New(0), StatusMessage: message}
		return stubCall(c, &toProto{}, req, stub.RenewLease)
	}
	return view(c.RenewLease(bg, a.TaskID, token, taskstate.RenewParams{Lease: ms(a.LeaseMs), StatusMessage: message}))
}

// opWorkerRun claims the next task through a Worker, sets the variables and
// completes it through the lease (both fenced), then closes the lease.
func opWorkerRun(_ *driver, c *taskstate.Client, a *args) (any, error) {
	w := taskstate.NewWorker(c, taskstate.WorkerOptions{WorkerID: a.WorkerID, Lease: ms(a.LeaseMs)})
	l, err := w.ClaimNext(bg, taskstate.ClaimOptions{RequestMethod: a.RequestMethod, Wait: ms(a.WaitMs)})
	if err != nil {
		return nil, err
	}
	if l == nil {
		return map[string]any{}, nil
	}
	defer l.Close()
	claimed := l.Task()
	if a.keys["variables"] {
		if _, err := l.SetVariables(bg, a.Variables); err != nil {
			return nil, err
		}
	}
	done, err := l.Complete(bg, taskstate.Completion{Result: value(a.Result)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"claimed": taskView(claimed), "task": taskView(done)}, nil
}
