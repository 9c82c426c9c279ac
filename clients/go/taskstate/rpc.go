package taskstate

import (
	"context"
	"errors"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// unary runs one unary RPC with the default timeout and the client's call
// options, and converts its error.
func unary[Req, Resp any](c *Client, ctx context.Context, call func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := c.unaryCtx(ctx)
	defer cancel()
	resp, err := call(ctx, req, c.callOpts...)
	return resp, convertError(err)
}

// CreateTaskParams are the inputs of CreateTask; the zero value is valid.
type CreateTaskParams struct {
	// TTL is the time to live; 0 means the server's default.
	TTL time.Duration
	// PollInterval is the suggested poll interval; 0 means the server's default.
	PollInterval time.Duration
	// RequestMethod says what started the task, e.g. "tools/call".
	RequestMethod string
	// Variables are the initial variables (nil values are ignored).
	Variables map[string]any
	// RequestID makes the call idempotent: a retry with the same id returns
	// the task first created.
	RequestID string
	// LeasePolicy, if set, offers the task to ClaimNext and says what
	// happens when a lease on it ends without renewal.
	LeasePolicy LeasePolicy
	// MaxAttempts bounds the claims of a LeasePolicyRelease task; 0 means
	// the server's default (--default-max-attempts).
	MaxAttempts uint32
}

// CreateTask creates a task in StatusWorking with version 1.
func (c *Client) CreateTask(ctx context.Context, p CreateTaskParams) (*Task, error) {
	vars, err := toValueMap(p.Variables, "variables")
	if err != nil {
		return nil, err
	}
	req := &taskstatev1.CreateTaskRequest{
		Ttl:           durationOrNil(p.TTL),
		PollInterval:  durationOrNil(p.PollInterval),
		RequestMethod: p.RequestMethod,
		Variables:     vars,
		RequestId:     p.RequestID,
		LeasePolicy:   taskstatev1.LeasePolicy(p.LeasePolicy),
		MaxAttempts:   p.MaxAttempts,
	}
	resp, err := unary(c, ctx, c.raw.CreateTask, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// GetTask reads a task. A missing, deleted, expired or foreign task is
// ErrNotFound.
func (c *Client) GetTask(ctx context.Context, taskID string) (*Task, error) {
	resp, err := unary(c, ctx, c.raw.GetTask, &taskstatev1.GetTaskRequest{TaskId: taskID})
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// ListTasksParams are the inputs of ListTasks and AllTasks.
type ListTasksParams struct {
	// PageSize is the maximum page size: 0 means 50, at most 1000.
	PageSize int32
	// PageToken is the NextPageToken of the previous page ("" for the first).
	PageToken string
	// Statuses filters by status; empty means all.
	Statuses []Status
	// View says how much of each task to return: ViewBasic leaves out
	// variables, result and error; the default is ViewFull.
	View View
}

// TaskPage is one page of ListTasks.
type TaskPage struct {
	Tasks []*Task
	// NextPageToken is "" on the last page.
	NextPageToken string
	// ResumeCursor is set on the first page (empty PageToken): the feed
	// position read before the page. WatchTasks from it, after listing every
	// page, misses nothing.
	ResumeCursor string
}

// ListTasks returns one page of the caller's tasks, newest first. A page
// may hold fewer than PageSize tasks even when more follow (the server keeps
// each response under 4 MiB): the last page is the one whose NextPageToken
// is "".
func (c *Client) ListTasks(ctx context.Context, p ListTasksParams) (*TaskPage, error) {
	req := &taskstatev1.ListTasksRequest{PageSize: p.PageSize, PageToken: p.PageToken, Statuses: statusesToProto(p.Statuses), View: p.View.proto()}
	resp, err := unary(c, ctx, c.raw.ListTasks, req)
	if err != nil {
		return nil, err
	}
	tasks := tasksFromProto(resp.GetTasks())
	p.View.strip(tasks)
	return &TaskPage{Tasks: tasks, NextPageToken: resp.GetNextPageToken(), ResumeCursor: resp.GetResumeCursor()}, nil
}

// AllTasks iterates over every task of the caller, newest first, fetching
// pages of p.PageSize from p.PageToken on as it goes, until a page comes
// without a NextPageToken (a short page is not the end). An error is yielded
// once, last.
//
//	for t, err := range c.AllTasks(ctx, taskstate.ListTasksParams{}) {
//		if err != nil { return err }
//		...
//	}
func (c *Client) AllTasks(ctx context.Context, p ListTasksParams) iter.Seq2[*Task, error] {
	return func(yield func(*Task, error) bool) {
		for {
			page, err := c.ListTasks(ctx, p)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, t := range page.Tasks {
				if !yield(t, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			p.PageToken = page.NextPageToken
		}
	}
}

// WriteOption modifies a conditional write.
type WriteOption func(*writeOptions)

type writeOptions struct {
	expected      *uint64
	fence         *uint64
	inputRequests map[string]any
}

// IfVersion makes the write happen only if the task's stored version is v;
// otherwise it fails with ErrVersionMismatch (ABORTED).
func IfVersion(v uint64) WriteOption { return func(o *writeOptions) { o.expected = &v } }

// WithFencingToken makes the write happen only while the lease with this
// fencing token (TaskLease.FencingToken) is the task's live lease; otherwise
// it fails with ErrLeaseLost. A Lease of a Worker adds it to its writes.
func WithFencingToken(token uint64) WriteOption { return func(o *writeOptions) { o.fence = &token } }

// WithInputRequests adds input requests to UpdateTaskStatus with
// StatusInputRequired: the questions the worker needs answered (e.g. an MCP
// elicitation), by a key unique over the task's lifetime. They are merged
// into Task.InputRequests; a key already used by another request, or already
// answered, is INVALID_ARGUMENT (an identical re-send is fine). The
// requester answers with ProvideInput. Other writes refuse this option.
func WithInputRequests(requests map[string]any) WriteOption {
	return func(o *writeOptions) { o.inputRequests = requests }
}

func collectWriteOptions(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// UpdateTaskStatus moves the task to status (a legal, non-self transition)
// and sets its status message ("" clears it).
func (c *Client) UpdateTaskStatus(ctx context.Context, taskID string, status Status, message string, opts ...WriteOption) (*Task, error) {
	o := collectWriteOptions(opts)
	reqs, err := toValueMap(o.inputRequests, "input_requests")
	if err != nil {
		return nil, err
	}
	req := &taskstatev1.UpdateTaskStatusRequest{
		TaskId: taskID, Status: status.Proto(), StatusMessage: message, ExpectedVersion: o.expected, FencingToken: o.fence,
		InputRequests: reqs,
	}
	resp, err := unary(c, ctx, c.raw.UpdateTaskStatus, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// SetVariables merges vars into the task's variables; a nil value deletes
// its key.
func (c *Client) SetVariables(ctx context.Context, taskID string, vars map[string]any, opts ...WriteOption) (*Task, error) {
	o := collectWriteOptions(opts)
	if o.inputRequests != nil {
		return nil, errors.New("taskstate: SetVariables: WithInputRequests applies to UpdateTaskStatus only")
	}
	pv, err := toValueMap(vars, "variables")
	if err != nil {
		return nil, err
	}
	req := &taskstatev1.SetVariablesRequest{TaskId: taskID, Variables: pv, ExpectedVersion: o.expected, FencingToken: o.fence}
	resp, err := unary(c, ctx, c.raw.SetVariables, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// PutIfVersion is the general compare-and-swap write: it writes exactly the
// given fields of t (FieldVariables replaces the whole map; FieldTTL renews
// the expiry to now + TTL, and a TTL of 0 removes it) if the stored version
// is expectedVersion, else fails with ErrVersionMismatch. At least one field
// is required.
func (c *Client) PutIfVersion(ctx context.Context, taskID string, expectedVersion uint64, t *Task, fields ...Field) (*Task, error) {
	return c.putIfVersion(ctx, taskID, expectedVersion, nil, t, fields)
}

// PutIfVersionFenced is PutIfVersion that also needs the lease with this
// fencing token to be the task's live lease (else ErrLeaseLost; see
// WithFencingToken).
func (c *Client) PutIfVersionFenced(ctx context.Context, taskID string, expectedVersion, fencingToken uint64, t *Task, fields ...Field) (*Task, error) {
	return c.putIfVersion(ctx, taskID, expectedVersion, &fencingToken, t, fields)
}

func (c *Client) putIfVersion(ctx context.Context, taskID string, expectedVersion uint64, fence *uint64, t *Task, fields []Field) (*Task, error) {
	if t == nil {
		return nil, errors.New("taskstate: PutIfVersion: nil task")
	}
	msg, err := t.toProtoFields(fields)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(fields))
	for i, f := range fields {
		paths[i] = string(f)
	}
	req := &taskstatev1.PutIfVersionRequest{
		TaskId:          taskID,
		ExpectedVersion: expectedVersion,
		Task:            msg,
		UpdateMask:      &fieldmaskpb.FieldMask{Paths: paths},
		FencingToken:    fence,
	}
	resp, err := unary(c, ctx, c.raw.PutIfVersion, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// Completion are the inputs of CompleteTask.
type Completion struct {
	// Status is StatusCompleted (the default when unspecified) or StatusFailed.
	Status Status
	// StatusMessage is the final status message.
	StatusMessage string
	// Result is the outcome (nil: none; a *structpb.Value null for JSON null).
	Result any
	// Error says why the task failed (with StatusFailed).
	Error *TaskError
	// Variables are merged into the variables in the same write.
	Variables map[string]any
	// ExpectedVersion, if not 0, makes the write conditional (like IfVersion).
	ExpectedVersion uint64
	// FencingToken, if not 0, fences the write (like WithFencingToken).
	FencingToken uint64
}

// CompleteTask finishes a task (completed or failed) in one atomic write.
func (c *Client) CompleteTask(ctx context.Context, taskID string, comp Completion) (*Task, error) {
	status := comp.Status
	if status == StatusUnspecified {
		status = StatusCompleted
	}
	req := &taskstatev1.CompleteTaskRequest{TaskId: taskID, Status: status.Proto(), StatusMessage: comp.StatusMessage}
	if comp.Result != nil {
		v, err := toValue(comp.Result, "result")
		if err != nil {
			return nil, err
		}
		req.Result = v
	}
	e, err := comp.Error.toProto()
	if err != nil {
		return nil, err
	}
	req.Error = e
	if req.Variables, err = toValueMap(comp.Variables, "variables"); err != nil {
		return nil, err
	}
	if comp.ExpectedVersion != 0 {
		v := comp.ExpectedVersion
		req.ExpectedVersion = &v
	}
	if comp.FencingToken != 0 {
		v := comp.FencingToken
		req.FencingToken = &v
	}
	resp, err := unary(c, ctx, c.raw.CompleteTask, req)
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// FailTask marks a task failed with the given JSON-RPC shaped error. Its
// status message is taskErr.Message, unless a Completion is passed: then its
// StatusMessage, Result, Variables, ExpectedVersion and FencingToken are used too (its
// Status and Error are ignored).
//
//	c.FailTask(ctx, id, taskstate.TaskError{Code: -32000, Message: "upstream timed out"})
func (c *Client) FailTask(ctx context.Context, taskID string, taskErr TaskError, extra ...Completion) (*Task, error) {
	comp := Completion{StatusMessage: taskErr.Message}
	if len(extra) > 1 {
		return nil, errors.New("taskstate: FailTask: at most one Completion")
	}
	if len(extra) == 1 {
		comp = extra[0]
	}
	comp.Status = StatusFailed
	comp.Error = &taskErr
	return c.CompleteTask(ctx, taskID, comp)
}

// CancelTask moves a non-terminal task to StatusCancelled.
func (c *Client) CancelTask(ctx context.Context, taskID, message string) (*Task, error) {
	resp, err := unary(c, ctx, c.raw.CancelTask, &taskstatev1.CancelTaskRequest{TaskId: taskID, StatusMessage: message})
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// ProvideInput answers some of the task's outstanding input requests
// (Task.OutstandingInput): responses to keys without an outstanding request
// (never asked, or already answered) are ignored, so each answer is recorded
// once. It returns the task and the keys it recorded, sorted; when none was,
// nothing was written. When no request remains outstanding, a
// StatusInputRequired task moves back to StatusWorking in the same write.
func (c *Client) ProvideInput(ctx context.Context, taskID string, responses map[string]any) (*Task, []string, error) {
	pv, err := toValueMap(responses, "input_responses")
	if err != nil {
		return nil, nil, err
	}
	resp, err := unary(c, ctx, c.raw.ProvideInput, &taskstatev1.ProvideInputRequest{TaskId: taskID, InputResponses: pv})
	if err != nil {
		return nil, nil, err
	}
	keys := resp.GetAcceptedKeys()
	if keys == nil {
		keys = []string{}
	}
	return TaskFromProto(resp.GetTask()), keys, nil
}

// RequestCancel asks the task's worker to stop: it sets
// Task.CancelRequested (a task already asked, or terminal, is returned
// unchanged). The task's status does not change until the worker, seeing
// the flag through its watch, cancels or finishes it.
func (c *Client) RequestCancel(ctx context.Context, taskID string) (*Task, error) {
	resp, err := unary(c, ctx, c.raw.RequestCancel, &taskstatev1.RequestCancelRequest{TaskId: taskID})
	if err != nil {
		return nil, err
	}
	return TaskFromProto(resp.GetTask()), nil
}

// DeleteTask removes a task, whatever its status.
func (c *Client) DeleteTask(ctx context.Context, taskID string) error {
	_, err := unary(c, ctx, c.raw.DeleteTask, &taskstatev1.DeleteTaskRequest{TaskId: taskID})
	return err
}

// WaitParams are the inputs of WaitTask.
type WaitParams struct {
	// Timeout bounds the wait; 0 waits until ctx's deadline (or the
	// server's maximum wait).
	Timeout time.Duration
	// Statuses to wait for; empty means the terminal ones.
	Statuses []Status
}

// waitGrace is how much longer than the server-side timeout a WaitTask call
// may take before the client gives up on it.
const waitGrace = 10 * time.Second

// waitCtx bounds a call that waits server-side for up to wait (WaitTask,
// ClaimNext) by wait plus a grace period, if ctx has no deadline.
func waitCtx(ctx context.Context, wait time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || wait <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, wait+waitGrace)
}

// WaitTask returns the task as soon as its status is one of p.Statuses (by
// default a terminal one). When p.Timeout or ctx's deadline comes first it
// returns the current task with a nil error: look at its Status. The
// client's default timeout does not apply; without a ctx deadline the call
// may take p.Timeout plus a grace period.
func (c *Client) WaitTask(ctx context.Context, taskID string, p WaitParams) (*Task, error) {
	req := &taskstatev1.WaitTaskRequest{TaskId: taskID, Statuses: statusesToProto(p.Statuses)}
	if p.Timeout > 0 {
		req.Timeout = durationpb.New(p.Timeout)
	}
	ctx, cancel := waitCtx(ctx, p.Timeout)
	defer cancel()
	resp, err := c.raw.WaitTask(ctx, req, c.callOpts...)
	if err != nil {
		return nil, convertError(err)
	}
	return TaskFromProto(resp.GetTask()), nil
}
