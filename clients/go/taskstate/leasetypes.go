package taskstate

import (
	"strconv"
	"time"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// LeasePolicy says what happens to a task whose lease ends without renewal
// (docs/design.md §4.10). Its values are those of the generated enum.
type LeasePolicy int32

// The lease policies.
const (
	// LeasePolicyUnspecified: the task is not offered to ClaimNext; a lease
	// taken by id expires as LeasePolicyFail.
	LeasePolicyUnspecified = LeasePolicy(taskstatev1.LeasePolicy_LEASE_POLICY_UNSPECIFIED)
	// LeasePolicyFail: the task fails, its error data's reason is
	// ReasonLeaseExpired.
	LeasePolicyFail = LeasePolicy(taskstatev1.LeasePolicy_LEASE_POLICY_FAIL)
	// LeasePolicyRelease: the task goes back to unclaimed StatusWorking with
	// Attempt + 1, and fails as with LeasePolicyFail once Attempt reaches
	// MaxAttempts.
	LeasePolicyRelease = LeasePolicy(taskstatev1.LeasePolicy_LEASE_POLICY_RELEASE)
)

// String returns "unspecified", "fail", "release", or LeasePolicy(n).
func (p LeasePolicy) String() string {
	switch p {
	case LeasePolicyUnspecified:
		return "unspecified"
	case LeasePolicyFail:
		return "fail"
	case LeasePolicyRelease:
		return "release"
	}
	return "LeasePolicy(" + strconv.Itoa(int(p)) + ")"
}

// TaskLease is a worker's hold on a task, as stored in the task.
type TaskLease struct {
	// WorkerID names the holder (the claim's worker id).
	WorkerID string
	// FencingToken is the task's lease epoch: +1 per claim, never reused.
	// Writes naming it (WithFencingToken) fail with ErrLeaseLost once this
	// lease is no longer the live one.
	FencingToken uint64
	// ExpireTime is when the lease ends unless renewed (server clock).
	ExpireTime time.Time
	// Duration is what the last claim or renewal asked for.
	Duration time.Duration
}

func leaseFromProto(m *taskstatev1.Lease) *TaskLease {
	if m == nil {
		return nil
	}
	l := &TaskLease{WorkerID: m.GetWorkerId(), FencingToken: m.GetFencingToken()}
	if m.ExpireTime != nil {
		l.ExpireTime = m.ExpireTime.AsTime()
	}
	if m.Duration != nil {
		l.Duration = m.Duration.AsDuration()
	}
	return l
}
