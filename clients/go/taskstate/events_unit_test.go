package taskstate

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

func TestEventFromProto(t *testing.T) {
	write := eventFromProto(&taskstatev1.WatchTasksResponse{
		Kind: taskstatev1.WatchEventKind_WATCH_EVENT_KIND_WRITE, TaskId: "a", ResumeCursor: "c1",
		Task: &taskstatev1.Task{TaskId: "a", Version: 3},
	})
	if write.Kind != EventWrite || write.TaskID != "a" || write.Version != 3 || write.Task == nil || write.ResumeCursor != "c1" {
		t.Errorf("write %+v", write)
	}
	// A server older than event kinds sends writes without kind or task_id.
	old := eventFromProto(&taskstatev1.WatchTasksResponse{Task: &taskstatev1.Task{TaskId: "b", Version: 1}})
	if old.Kind != EventWrite || old.TaskID != "b" || old.Version != 1 {
		t.Errorf("kindless write %+v", old)
	}
	gone := eventFromProto(&taskstatev1.WatchTasksResponse{Kind: taskstatev1.WatchEventKind_WATCH_EVENT_KIND_EXPIRED, TaskId: "c", Version: 7})
	if gone.Kind != EventExpired || gone.Task != nil || gone.Version != 7 {
		t.Errorf("expired %+v", gone)
	}
	for k, want := range map[EventKind]string{EventWrite: "write", EventDeleted: "deleted", EventExpired: "expired", EventProgress: "progress", EventReset: "reset", 42: "EventKind(42)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

func TestTaskLeaseFromProto(t *testing.T) {
	tk := TaskFromProto(&taskstatev1.Task{
		TaskId: "a", Lease: &taskstatev1.Lease{WorkerId: "w", FencingToken: 9, ExpireTime: timestamppb.New(time.UnixMilli(5000)), Duration: durationpb.New(time.Second)},
		LeasePolicy: taskstatev1.LeasePolicy_LEASE_POLICY_FAIL, MaxAttempts: 0, Attempt: 1,
	})
	want := TaskLease{WorkerID: "w", FencingToken: 9, ExpireTime: time.UnixMilli(5000).UTC(), Duration: time.Second}
	if tk.Lease == nil || *tk.Lease != want || tk.LeasePolicy != LeasePolicyFail || tk.LeasePolicy.String() != "fail" || tk.Attempt != 1 {
		t.Errorf("task %+v lease %+v", tk, tk.Lease)
	}
	c := tk.Clone()
	c.Lease.FencingToken = 10
	if tk.Lease.FencingToken != 9 {
		t.Error("Clone shares the lease")
	}
}

func TestMissedDeadlineIsLeaseLost(t *testing.T) {
	err := missedDeadline("a", 4)
	if !errors.Is(err, ErrLeaseLost) || Reason(err) != ReasonLeaseLost {
		t.Errorf("%v", err)
	}
	if tok, ok := err.FencingToken(); !ok || tok != 4 {
		t.Errorf("fencing_token %d %v", tok, ok)
	}
	if !errors.Is(ErrFeedCompacted, ErrCompacted) {
		t.Error("ErrCompacted is not ErrFeedCompacted")
	}
}
