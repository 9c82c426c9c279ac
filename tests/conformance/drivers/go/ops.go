package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// callTimeout is the deadline of every unary call (the client's default
// timeout, or an explicit one where the client sets none).
const callTimeout = 30 * time.Second

// op is one operation: the arg keys it accepts and how it calls the client.
type op struct {
	keys []string
	run  func(d *driver, c *taskstate.Client, a *args) (any, error)
}

var ops = map[string]op{
	"create":          {[]string{"ttl_ms", "poll_interval_ms", "request_method", "variables", "request_id", "lease_policy", "max_attempts"}, opCreate},
	"get":             {[]string{"task_id"}, opGet},
	"list":            {[]string{"page_size", "page_token", "statuses", "view"}, opList},
	"update_status":   {[]string{"task_id", "status", "message", "expected_version", "fencing_token", "input_requests"}, opUpdateStatus},
	"set_variables":   {[]string{"task_id", "variables", "expected_version", "fencing_token"}, opSetVariables},
	"put_if_version":  {[]string{"task_id", "expected_version", "task", "update_mask", "fencing_token"}, opPutIfVersion},
	"complete":        {[]string{"task_id", "status", "message", "result", "error", "variables", "expected_version", "fencing_token"}, opComplete},
	"cancel":          {[]string{"task_id", "message"}, opCancel},
	"delete":          {[]string{"task_id"}, opDelete},
	"wait":            {[]string{"task_id", "timeout_ms", "statuses"}, opWait},
	"update":          {[]string{"task_id", "fn"}, opUpdate},
	"watch":           {[]string{"task_id", "after_version"}, opWatch},
	"watch_all_open":  {[]string{"stream", "statuses", "view", "resume_cursor", "all_events"}, opWatchAllOpen},
	"watch_all_next":  {[]string{"stream"}, opWatchAllNext},
	"watch_all_close": {[]string{"stream"}, opWatchAllClose},
	"claim":           {[]string{"worker_id", "task_id", "lease_ms", "request_method", "wait_ms"}, opClaim},
	"renew_lease":     {[]string{"task_id", "fencing_token", "lease_ms", "message"}, opRenewLease},
	"worker_run":      {[]string{"worker_id", "request_method", "lease_ms", "wait_ms", "variables", "result"}, opWorkerRun},
	"provide_input":   {[]string{"task_id", "input_responses"}, opProvideInput},
	"request_cancel":  {[]string{"task_id"}, opRequestCancel},
}

// taskFields maps put_if_version's task keys to the client's Fields, in mask order.
var taskFields = []struct {
	key   string
	field taskstate.Field
}{
	{"status", taskstate.FieldStatus}, {"status_message", taskstate.FieldStatusMessage},
	{"variables", taskstate.FieldVariables}, {"result", taskstate.FieldResult}, {"error", taskstate.FieldError},
	{"ttl_ms", taskstate.FieldTTL}, {"poll_interval_ms", taskstate.FieldPollInterval},
}

// driver holds what outlives a request: the clients and the open WatchTasks streams.
type driver struct {
	mu      sync.Mutex
	clients map[string]*taskstate.Client // by address, token and subject
	streams map[string]*watchAll
}

func newDriver() *driver {
	return &driver{clients: map[string]*taskstate.Client{}, streams: map[string]*watchAll{}}
}

func (d *driver) dispatch(req *request) (any, error) {
	o, ok := ops[req.Op]
	if !ok {
		return nil, failf("unknown op %q", req.Op)
	}
	a := &args{}
	if req.Args == nil {
		req.Args = json.RawMessage("{}")
	}
	keys, err := decodeStrict(req.Args, a)
	if err != nil {
		return nil, failf("%s args: %v", req.Op, err)
	}
	for k := range keys {
		if !slices.Contains(o.keys, k) {
			return nil, failf("%s: unknown arg %q", req.Op, k)
		}
	}
	a.keys = keys
	var c *taskstate.Client
	if req.Target != nil {
		if c, err = d.client(req.Target); err != nil {
			return nil, failf("dial %s: %v", req.Target.Address, err)
		}
	} else if req.Op != "watch_all_next" && req.Op != "watch_all_close" {
		return nil, failf("op %q needs a target", req.Op)
	}
	return o.run(d, c, a)
}

// client returns the client of t, dialling it on first use: plaintext,
// t's token or none (never one from the environment), a 30 s default timeout;
// with a subject, a view of the (address, token) client carrying it.
func (d *driver) client(t *target) (*taskstate.Client, error) {
	key := t.Address + " anonymous"
	if t.Token != nil {
		key = t.Address + " token " + *t.Token
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clientLocked(key, t)
}

func (d *driver) clientLocked(key string, t *target) (*taskstate.Client, error) {
	if t.Subject != nil {
		skey := key + " subject " + *t.Subject
		if c, ok := d.clients[skey]; ok {
			return c, nil
		}
		base, err := d.clientLocked(key, &target{Address: t.Address, Token: t.Token})
		if err != nil {
			return nil, err
		}
		c := base.WithSubject(*t.Subject)
		d.clients[skey] = c
		return c, nil
	}
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	opts := []taskstate.Option{taskstate.WithInsecure(), taskstate.WithDefaultTimeout(callTimeout)}
	if t.Token != nil {
		opts = append(opts, taskstate.WithToken(*t.Token), taskstate.WithPlaintextToken())
	}
	c, err := taskstate.Dial(context.Background(), t.Address, opts...)
	if err == nil {
		d.clients[key] = c
	}
	return c, err
}

// view answers a client call that returns a task.
func view(t *taskstate.Task, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return taskView(t), nil
}

func (a *args) writeOptions() []taskstate.WriteOption {
	var opts []taskstate.WriteOption
	if a.keys["input_requests"] {
		opts = append(opts, taskstate.WithInputRequests(a.InputRequests))
	}
	if a.ExpectedVersion != nil {
		opts = append(opts, taskstate.IfVersion(*a.ExpectedVersion))
	}
	if a.FencingToken != nil {
		opts = append(opts, taskstate.WithFencingToken(*a.FencingToken))
	}
	return opts
}

var views = map[string]taskstate.View{"": taskstate.ViewDefault, "basic": taskstate.ViewBasic, "full": taskstate.ViewFull}

func (a *args) view() (taskstate.View, error) {
	v, ok := views[a.View]
	if !ok || (a.View == "" && a.keys["view"]) {
		return 0, failf("view: want basic or full, got %q", a.View)
	}
	return v, nil
}

var bg = context.Background()

func opCreate(_ *driver, c *taskstate.Client, a *args) (any, error) {
	policy, err := a.leasePolicy()
	if err != nil {
		return nil, err
	}
	if isZero(a.TTLMs) || isZero(a.PollIntervalMs) {
		return stubCreate(c, a, policy)
	}
	return view(c.CreateTask(bg, taskstate.CreateTaskParams{
		TTL: ms(a.TTLMs), PollInterval: ms(a.PollIntervalMs), RequestMethod: a.RequestMethod, Variables: a.Variables, RequestID: a.RequestID,
		LeasePolicy: policy, MaxAttempts: a.MaxAttempts,
	}))
}

func opGet(_ *driver, c *taskstate.Client, a *args) (any, error) {
	return view(c.GetTask(bg, a.TaskID))
}

func opList(_ *driver, c *taskstate.Client, a *args) (any, error) {
	v, err := a.view()
	if err != nil {
		return nil, err
	}
	page, err := c.ListTasks(bg, taskstate.ListTasksParams{PageSize: a.PageSize, PageToken: a.PageToken, Statuses: a.Statuses, View: v})
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": taskViews(page.Tasks), "next_page_token": page.NextPageToken, "resume_cursor": page.ResumeCursor}, nil
}

func opUpdateStatus(_ *driver, c *taskstate.Client, a *args) (any, error) {
	return view(c.UpdateTaskStatus(bg, a.TaskID, a.Status, a.Message, a.writeOptions()...))
}

func opSetVariables(_ *driver, c *taskstate.Client, a *args) (any, error) {
	return view(c.SetVariables(bg, a.TaskID, a.Variables, a.writeOptions()...))
}

// opPutIfVersion writes the keys of task through the client; an explicit
// update_mask, or a zero duration, goes through the stub.
func opPutIfVersion(_ *driver, c *taskstate.Client, a *args) (any, error) {
	ta := a.Task
	if ta == nil {
		ta = &taskArgs{keys: map[string]bool{}}
	}
	if a.UpdateMask != nil || isZero(ta.TTLMs) || isZero(ta.PollIntervalMs) {
		return stubPutIfVersion(c, a, ta)
	}
	t := &taskstate.Task{
		Status: ta.Status, StatusMessage: ta.StatusMessage, Variables: ta.Variables, Result: value(ta.Result),
		Error: ta.Error.client(), TTL: ms(ta.TTLMs), PollInterval: ms(ta.PollIntervalMs),
	}
	var fields []taskstate.Field
	for _, f := range taskFields {
		if ta.keys[f.key] {
			fields = append(fields, f.field)
		}
	}
	var expected uint64
	if a.ExpectedVersion != nil {
		expected = *a.ExpectedVersion
	}
	if a.FencingToken != nil {
		return view(c.PutIfVersionFenced(bg, a.TaskID, expected, *a.FencingToken, t, fields...))
	}
	return view(c.PutIfVersion(bg, a.TaskID, expected, t, fields...))
}

// opComplete uses the client's complete or fail; what they cannot express
// on purpose (another status, completed with an error, failed without one)
// and an explicit expected_version or fencing_token 0 go through the stub.
func opComplete(_ *driver, c *taskstate.Client, a *args) (any, error) {
	status := a.Status
	if !a.keys["status"] {
		status = taskstate.StatusCompleted
	}
	failed := status == taskstate.StatusFailed
	if isZero(a.ExpectedVersion) || isZero(a.FencingToken) || (status != taskstate.StatusCompleted && !failed) || failed != (a.Error != nil) {
		return stubComplete(c, a, status)
	}
	comp := taskstate.Completion{StatusMessage: a.Message, Result: value(a.Result), Variables: a.Variables}
	if a.ExpectedVersion != nil {
		comp.ExpectedVersion = *a.ExpectedVersion
	}
	if a.FencingToken != nil {
		comp.FencingToken = *a.FencingToken
	}
	if failed {
		return view(c.FailTask(bg, a.TaskID, *a.Error.client(), comp))
	}
	return view(c.CompleteTask(bg, a.TaskID, comp))
}

func opProvideInput(_ *driver, c *taskstate.Client, a *args) (any, error) {
	t, keys, err := c.ProvideInput(bg, a.TaskID, a.InputResponses)
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": taskView(t), "accepted_keys": keys}, nil
}

func opRequestCancel(_ *driver, c *taskstate.Client, a *args) (any, error) {
	return view(c.RequestCancel(bg, a.TaskID))
}

func opCancel(_ *driver, c *taskstate.Client, a *args) (any, error) {
	return view(c.CancelTask(bg, a.TaskID, a.Message))
}

func opDelete(_ *driver, c *taskstate.Client, a *args) (any, error) {
	if err := c.DeleteTask(bg, a.TaskID); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// opWait uses the client's wait; a timeout of 0 (the client's "none") goes
// through the stub.
func opWait(_ *driver, c *taskstate.Client, a *args) (any, error) {
	if isZero(a.TimeoutMs) {
		return stubWait(c, a)
	}
	ctx, cancel := context.WithTimeout(bg, callTimeout)
	defer cancel()
	return view(c.WaitTask(ctx, a.TaskID, taskstate.WaitParams{Timeout: ms(a.TimeoutMs), Statuses: a.Statuses}))
}

// opUpdate runs the client's CAS-retry helper once with fn: increment a
// number variable (a missing one counts as 0), or merge keys (null deletes).
func opUpdate(_ *driver, c *taskstate.Client, a *args) (any, error) {
	f := a.Fn
	var fn func(*taskstate.Task) error
	switch {
	case f == nil:
	case f.Increment != nil && f.Merge == nil:
		key, by := *f.Increment, 1.0
		if f.By != nil {
			by = *f.By
		}
		fn = func(t *taskstate.Task) error {
			cur, isNum := t.Variables[key].(float64)
			if v, present := t.Variables[key]; present && !isNum {
				return failf("update: variable %q is not a number: %v", key, v)
			}
			t.Variables[key] = cur + by
			return nil
		}
	case f.Merge != nil && f.Increment == nil && f.By == nil:
		fn = func(t *taskstate.Task) error {
			for k, v := range f.Merge {
				if v == nil {
					delete(t.Variables, k)
				} else {
					t.Variables[k] = v
				}
			}
			return nil
		}
	}
	if fn == nil {
		return nil, failf("update: fn must be {increment, by?} or {merge}")
	}
	return view(c.Update(bg, a.TaskID, fn))
}

// opWatch consumes the client's resuming watch until it ends; how it ended
// is part of the outcome, not an error.
func opWatch(_ *driver, c *taskstate.Client, a *args) (any, error) {
	tasks := []any{}
	var end error
	for t, err := range c.Watch(bg, a.TaskID, a.AfterVersion) {
		if err != nil {
			end = err
			break
		}
		tasks = append(tasks, taskView(t))
	}
	out, err := streamEnd(end)
	if err != nil {
		return nil, err
	}
	out["tasks"] = tasks
	return out, nil
}

// watchAll is one open WatchTasks stream; next calls take turns, and once
// the stream has ended every next answers that end.
type watchAll struct {
	mu     sync.Mutex
	stream *taskstate.TaskStream
	end    map[string]any
}

func opWatchAllOpen(d *driver, c *taskstate.Client, a *args) (any, error) {
	v, err := a.view()
	if err != nil {
		return nil, err
	}
	// WatchTasks returns once the server has sent the response headers.
	st, err := c.WatchTasks(bg, taskstate.WatchTasksParams{Statuses: a.Statuses, View: v, ResumeCursor: a.ResumeCursor, AllEvents: a.AllEvents})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.streams[a.Stream]; dup {
		st.Close()
		return nil, failf("watch_all_open: stream %q is already open", a.Stream)
	}
	d.streams[a.Stream] = &watchAll{stream: st}
	return map[string]any{}, nil
}

func opWatchAllNext(d *driver, _ *taskstate.Client, a *args) (any, error) {
	d.mu.Lock()
	w, ok := d.streams[a.Stream]
	d.mu.Unlock()
	if !ok {
		return nil, failf("watch_all_next: no open stream %q", a.Stream)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.end != nil {
		return w.end, nil
	}
	ev, err := w.stream.RecvEvent()
	if err == nil {
		return eventView(ev), nil
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if w.end, err = streamEnd(err); err != nil {
		return nil, err
	}
	return w.end, nil
}

func opWatchAllClose(d *driver, _ *taskstate.Client, a *args) (any, error) {
	d.mu.Lock()
	w, ok := d.streams[a.Stream]
	delete(d.streams, a.Stream)
	d.mu.Unlock()
	if ok {
		w.stream.Close()
	}
	return map[string]any{}, nil
}
