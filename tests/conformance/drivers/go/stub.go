package main

// The generated-stub fallbacks: requests the idiomatic client cannot express
// on purpose (they test the server's validation), or whose explicit zero it
// reads as "unset". Same connection, token and deadline as the client; the
// answer goes through the same views.

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// toProto converts JSON args to protobuf values, keeping the first error.
type toProto struct{ err error }

// value converts one JSON value: nil is JSON null, a nil RawMessage an
// absent arg (nil).
func (p *toProto) value(v any) *structpb.Value {
	if raw, ok := v.(json.RawMessage); ok && raw == nil {
		return nil
	}
	pv, err := taskstate.Value(v)
	if err != nil && p.err == nil {
		p.err = err
	}
	return pv
}

func (p *toProto) values(m map[string]any) map[string]*structpb.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		out[k] = p.value(v)
	}
	return out
}

func (p *toProto) error(e *taskError) *taskstatev1.TaskError {
	if e == nil {
		return nil
	}
	return &taskstatev1.TaskError{Code: e.Code, Message: e.Message, Data: p.value(e.Data)}
}

func duration(v *uint64) *durationpb.Duration {
	if v == nil {
		return nil
	}
	return durationpb.New(ms(v))
}

func statuses(ss []taskstate.Status) []taskstatev1.TaskStatus {
	out := make([]taskstatev1.TaskStatus, len(ss))
	for i, s := range ss {
		out[i] = s.Proto()
	}
	return out
}

// stubCall makes one stub call (a method of the generated client) with the
// client's token and a 30 s deadline, and views its task.
func stubCall[Req any, Resp interface{ GetTask() *taskstatev1.Task }](
	c *taskstate.Client, p *toProto, req Req,
	call func(taskstatev1.TaskServiceClient, context.Context, Req, ...grpc.CallOption) (Resp, error),
) (any, error) {
	if p.err != nil {
		return nil, p.err
	}
	ctx, cancel := context.WithTimeout(bg, callTimeout)
	defer cancel()
	resp, err := call(c.Raw(), ctx, req, c.CallOptions()...)
	if err != nil {
		return nil, err
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

type stub = taskstatev1.TaskServiceClient

func stubCreate(c *taskstate.Client, a *args, policy taskstate.LeasePolicy) (any, error) {
	p := &toProto{}
	req := &taskstatev1.CreateTaskRequest{
		Ttl: duration(a.TTLMs), PollInterval: duration(a.PollIntervalMs), RequestMethod: a.RequestMethod,
		Variables: p.values(a.Variables), RequestId: a.RequestID,
		LeasePolicy: taskstatev1.LeasePolicy(policy), MaxAttempts: a.MaxAttempts,
	}
	return stubCall(c, p, req, stub.CreateTask)
}

// stubPutIfVersion sends the task's fields with update_mask if given, else
// with the mask of the task's keys.
func stubPutIfVersion(c *taskstate.Client, a *args, ta *taskArgs) (any, error) {
	p := &toProto{}
	t := &taskstatev1.Task{
		Status: ta.Status.Proto(), StatusMessage: ta.StatusMessage, Variables: p.values(ta.Variables), Result: p.value(ta.Result),
		Error: p.error(ta.Error), Ttl: duration(ta.TTLMs), PollInterval: duration(ta.PollIntervalMs),
	}
	mask := &fieldmaskpb.FieldMask{}
	if a.UpdateMask != nil {
		mask.Paths = *a.UpdateMask
	} else {
		for _, f := range taskFields {
			if ta.keys[f.key] {
				mask.Paths = append(mask.Paths, string(f.field))
			}
		}
	}
	req := &taskstatev1.PutIfVersionRequest{TaskId: a.TaskID, Task: t, UpdateMask: mask, FencingToken: a.FencingToken}
	if a.ExpectedVersion != nil {
		req.ExpectedVersion = *a.ExpectedVersion
	}
	return stubCall(c, p, req, stub.PutIfVersion)
}

func stubComplete(c *taskstate.Client, a *args, status taskstate.Status) (any, error) {
	p := &toProto{}
	req := &taskstatev1.CompleteTaskRequest{
		TaskId: a.TaskID, Status: status.Proto(), StatusMessage: a.Message, Result: p.value(a.Result),
		Error: p.error(a.Error), Variables: p.values(a.Variables), ExpectedVersion: a.ExpectedVersion,
		FencingToken: a.FencingToken,
	}
	return stubCall(c, p, req, stub.CompleteTask)
}

func stubWait(c *taskstate.Client, a *args) (any, error) {
	req := &taskstatev1.WaitTaskRequest{TaskId: a.TaskID, Timeout: duration(a.TimeoutMs), Statuses: statuses(a.Statuses)}
	return stubCall(c, &toProto{}, req, stub.WaitTask)
}
