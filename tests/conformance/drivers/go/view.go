package main

import (
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// taskView is the canonical JSON of a task (protocol "The task view"). The
// typed Task does not say whether a result or a duration was set, so
// presence comes from the message it was read from.
func taskView(t *taskstate.Task) map[string]any {
	m := t.Proto()
	orEmpty := func(m map[string]any) map[string]any {
		if m == nil {
			return map[string]any{} // a basic view loads none
		}
		return m
	}
	v := map[string]any{
		"task_id":        t.ID,
		"status":         t.Status.String(),
		"status_message": t.StatusMessage,
		"request_method": t.RequestMethod,
		"version":        t.Version,
		"variables":      orEmpty(t.Variables),
		"create_time_ms": t.CreateTime.UnixMilli(),
		"update_time_ms": t.UpdateTime.UnixMilli(),
	}
	if m.Result != nil {
		v["result"] = t.Result
	}
	if t.Error != nil {
		e := map[string]any{"code": t.Error.Code, "message": t.Error.Message}
		if m.GetError().Data != nil {
			e["data"] = t.Error.Data
		}
		v["error"] = e
	}
	if m.Ttl != nil {
		v["ttl_ms"] = t.TTL.Milliseconds()
	}
	if m.PollInterval != nil {
		v["poll_interval_ms"] = t.PollInterval.Milliseconds()
	}
	if m.ExpireTime != nil {
		v["expire_time_ms"] = t.ExpireTime.UnixMilli()
	}
	if l := t.Lease; l != nil {
		v["lease"] = map[string]any{
			"worker_id": l.WorkerID, "fencing_token": l.FencingToken,
			"expire_time_ms": l.ExpireTime.UnixMilli(), "duration_ms": l.Duration.Milliseconds(),
		}
	}
	if t.LeasePolicy != taskstate.LeasePolicyUnspecified {
		v["lease_policy"] = t.LeasePolicy.String()
	}
	v["max_attempts"] = t.MaxAttempts
	v["attempt"] = t.Attempt
	v["subject"] = t.Subject
	v["input_requests"] = orEmpty(t.InputRequests)
	v["input_responses"] = orEmpty(t.InputResponses)
	v["cancel_requested"] = t.CancelRequested
	return v
}

// eventView is a WatchTasks event: the task only with a write; the
// message's version for deleted/expired, the task's for a write.
func eventView(ev *taskstate.Event) map[string]any {
	v := map[string]any{"kind": ev.Kind.String(), "task_id": ev.TaskID, "version": ev.Version, "resume_cursor": ev.ResumeCursor}
	if ev.Kind == taskstate.EventWrite && ev.Task != nil {
		v["task"] = taskView(ev.Task)
	}
	return v
}

func taskViews(ts []*taskstate.Task) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = taskView(t)
	}
	return out
}

// serverError is err as the client's typed error, or nil when the client
// failed on its own: no gRPC status, or a value it refused to send (its
// VALUE_NOT_REPRESENTABLE error looks like a server's but is raised locally).
func serverError(err error) *taskstate.Error {
	e, ok := taskstate.AsError(err)
	if !ok || errors.Is(err, taskstate.ErrValueNotRepresentable) {
		return nil
	}
	return e
}

// codeName is the canonical gRPC code name, e.g. NOT_FOUND (Go's
// codes.Code.String says NotFound).
func codeName(e *taskstate.Error) string {
	if name, ok := code.Code_name[int32(e.Code)]; ok {
		return name
	}
	return strconv.Itoa(int(e.Code))
}

func errorView(e *taskstate.Error) map[string]any {
	var reason any
	if e.Reason != "" {
		reason = e.Reason
	}
	return map[string]any{"code": codeName(e), "reason": reason, "message": e.Message, "metadata": e.Metadata}
}

// streamEnd describes how a stream ended: {"end": code, "end_reason": reason?}.
// A nil error is a clean end (OK); an error without a status is not an end.
func streamEnd(err error) (map[string]any, error) {
	if err == nil {
		return map[string]any{"end": "OK"}, nil
	}
	e := serverError(err)
	if e == nil {
		return nil, err
	}
	end := map[string]any{"end": codeName(e)}
	if e.Reason != "" {
		end["end_reason"] = e.Reason
	}
	return end, nil
}
