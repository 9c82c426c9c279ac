package main

// The generated-stub fallbacks: requests the idiomatic client cannot express
// on purpose (they test the server's validation), or whose explicit zero the
// client reads as "unset". Same connection, token and deadline as the client;
// the answer goes through the same views.

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// stubCall runs one stub call with the 30 s deadline and views its task.
func stubCall[Resp interface{ GetTask() *taskstatev1.Task }](a *args, call func(context.Context) (Resp, error)) (any, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	resp, err := call(ctx)
	if err != nil {
		return nil, err
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

func (a *args) pbValue(k string) *structpb.Value {
	if !a.has(k) {
		return nil
	}
	v, err := taskstate.Value(a.m[k])
	if err != nil {
		a.fail("%s.%s: %v", a.what, k, err)
	}
	return v
}

func (a *args) pbMap(k string) map[string]*structpb.Value {
	m := a.object(k)
	if m == nil {
		return nil
	}
	out := make(map[string]*structpb.Value, len(m))
	for key := range m {
		out[key] = (&args{m: m, what: a.what + "." + k, err: a.err}).pbValue(key)
	}
	return out
}

func (a *args) pbDuration(k string) *durationpb.Duration {
	if !a.has(k) {
		return nil
	}
	return durationpb.New(a.ms(k))
}

func (a *args) pbStatuses(k string) []taskstatev1.TaskStatus {
	var out []taskstatev1.TaskStatus
	for _, s := range a.statuses(k) {
		out = append(out, s.Proto())
	}
	return out
}

func (a *args) pbError(k string) *taskstatev1.TaskError {
	if !a.has(k) {
		return nil
	}
	e := a.sub(k, "code", "message", "data")
	return &taskstatev1.TaskError{Code: e.i32("code"), Message: e.str("message"), Data: e.pbValue("data")}
}

func stubCreate(c *taskstate.Client, a *args) (any, error) {
	req := &taskstatev1.CreateTaskRequest{
		Ttl: a.pbDuration("ttl_ms"), PollInterval: a.pbDuration("poll_interval_ms"), RequestMethod: a.str("request_method"),
		Variables: a.pbMap("variables"), RequestId: a.str("request_id"),
	}
	return stubCall(a, func(ctx context.Context) (*taskstatev1.CreateTaskResponse, error) {
		return c.Raw().CreateTask(ctx, req, c.CallOptions()...)
	})
}

// stubPutIfVersion sends task's fields with update_mask if given, else with
// the mask of task's keys.
func stubPutIfVersion(c *taskstate.Client, a, ta *args) (any, error) {
	t := &taskstatev1.Task{
		Status: ta.status("status").Proto(), StatusMessage: ta.str("status_message"), Variables: ta.pbMap("variables"),
		Result: ta.pbValue("result"), Error: ta.pbError("error"), Ttl: ta.pbDuration("ttl_ms"), PollInterval: ta.pbDuration("poll_interval_ms"),
	}
	paths := a.strings("update_mask")
	if !a.has("update_mask") {
		for _, f := range taskFields {
			if ta.has(f.key) {
				paths = append(paths, string(f.field))
			}
		}
	}
	req := &taskstatev1.PutIfVersionRequest{
		TaskId: a.str("task_id"), ExpectedVersion: a.u64("expected_version"), Task: t, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	}
	return stubCall(a, func(ctx context.Context) (*taskstatev1.PutIfVersionResponse, error) {
		return c.Raw().PutIfVersion(ctx, req, c.CallOptions()...)
	})
}

func stubComplete(c *taskstate.Client, a *args) (any, error) {
	status := taskstate.StatusCompleted
	if a.has("status") {
		status = a.status("status")
	}
	req := &taskstatev1.CompleteTaskRequest{
		TaskId: a.str("task_id"), Status: status.Proto(), StatusMessage: a.str("message"), Result: a.pbValue("result"),
		Error: a.pbError("error"), Variables: a.pbMap("variables"),
	}
	if a.has("expected_version") {
		v := a.u64("expected_version")
		req.ExpectedVersion = &v
	}
	return stubCall(a, func(ctx context.Context) (*taskstatev1.CompleteTaskResponse, error) {
		return c.Raw().CompleteTask(ctx, req, c.CallOptions()...)
	})
}

func stubWait(c *taskstate.Client, a *args) (any, error) {
	req := &taskstatev1.WaitTaskRequest{TaskId: a.str("task_id"), Timeout: a.pbDuration("timeout_ms"), Statuses: a.pbStatuses("statuses")}
	return stubCall(a, func(ctx context.Context) (*taskstatev1.WaitTaskResponse, error) {
		return c.Raw().WaitTask(ctx, req, c.CallOptions()...)
	})
}
