package main

import (
	"context"
	"errors"
	"io"
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
	"create":          {[]string{"ttl_ms", "poll_interval_ms", "request_method", "variables", "request_id"}, opCreate},
	"get":             {[]string{"task_id"}, opGet},
	"list":            {[]string{"page_size", "page_token", "statuses", "view"}, opList},
	"update_status":   {[]string{"task_id", "status", "message", "expected_version"}, opUpdateStatus},
	"set_variables":   {[]string{"task_id", "variables", "expected_version"}, opSetVariables},
	"put_if_version":  {[]string{"task_id", "expected_version", "task", "update_mask"}, opPutIfVersion},
	"complete":        {[]string{"task_id", "status", "message", "result", "error", "variables", "expected_version"}, opComplete},
	"cancel":          {[]string{"task_id", "message"}, opCancel},
	"delete":          {[]string{"task_id"}, opDelete},
	"wait":            {[]string{"task_id", "timeout_ms", "statuses"}, opWait},
	"update":          {[]string{"task_id", "fn"}, opUpdate},
	"watch":           {[]string{"task_id", "after_version"}, opWatch},
	"watch_all_open":  {[]string{"stream", "statuses", "view"}, opWatchAllOpen},
	"watch_all_next":  {[]string{"stream"}, opWatchAllNext},
	"watch_all_close": {[]string{"stream"}, opWatchAllClose},
}

// taskFields are the keys of put_if_version's task, in the client's mask
// order, with the Field each one writes.
var taskFields = []struct {
	key   string
	field taskstate.Field
}{
	{"status", taskstate.FieldStatus}, {"status_message", taskstate.FieldStatusMessage},
	{"variables", taskstate.FieldVariables}, {"result", taskstate.FieldResult}, {"error", taskstate.FieldError},
	{"ttl_ms", taskstate.FieldTTL}, {"poll_interval_ms", taskstate.FieldPollInterval},
}

// clientKey names one client: one per distinct (address, token).
type clientKey struct {
	address, token string
	anonymous      bool
}

// driver holds what outlives a request: the clients and the open WatchTasks streams.
type driver struct {
	mu      sync.Mutex
	clients map[clientKey]*taskstate.Client
	streams map[string]*watchAll
}

func newDriver() *driver {
	return &driver{clients: map[clientKey]*taskstate.Client{}, streams: map[string]*watchAll{}}
}

func (d *driver) dispatch(req *request) (any, error) {
	o, ok := ops[req.Op]
	if !ok {
		return nil, failf("unknown op %q", req.Op)
	}
	a := newArgs(req.Args, "args", o.keys...)
	if err := a.check(); err != nil {
		return nil, err
	}
	var c *taskstate.Client
	if req.Target != nil {
		var err error
		if c, err = d.client(req.Target); err != nil {
			return nil, failf("dial %s: %v", req.Target.Address, err)
		}
	}
	if c == nil && req.Op != "watch_all_next" && req.Op != "watch_all_close" {
		return nil, failf("op %q needs a target", req.Op)
	}
	return o.run(d, c, a)
}

// client returns the client of t, dialling it on first use: plaintext,
// t's token or none (never one from the environment), a 30 s default timeout.
func (d *driver) client(t *target) (*taskstate.Client, error) {
	key := clientKey{address: t.Address, anonymous: t.Token == nil}
	if t.Token != nil {
		key.token = *t.Token
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	opts := []taskstate.Option{taskstate.WithInsecure(), taskstate.WithDefaultTimeout(callTimeout)}
	if !key.anonymous {
		opts = append(opts, taskstate.WithToken(key.token), taskstate.WithPlaintextToken())
	}
	c, err := taskstate.Dial(context.Background(), t.Address, opts...)
	if err != nil {
		return nil, err
	}
	d.clients[key] = c
	return c, nil
}

func (a *args) check() error { return *a.err }

// view answers a client call that returns a task.
func view(t *taskstate.Task, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return taskView(t), nil
}

func writeOptions(a *args) []taskstate.WriteOption {
	if !a.has("expected_version") {
		return nil
	}
	return []taskstate.WriteOption{taskstate.IfVersion(a.u64("expected_version"))}
}

func opCreate(_ *driver, c *taskstate.Client, a *args) (any, error) {
	if a.zeroMs("ttl_ms") || a.zeroMs("poll_interval_ms") {
		return stubCreate(c, a)
	}
	p := taskstate.CreateTaskParams{
		TTL: a.ms("ttl_ms"), PollInterval: a.ms("poll_interval_ms"), RequestMethod: a.str("request_method"),
		Variables: a.object("variables"), RequestID: a.str("request_id"),
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.CreateTask(context.Background(), p))
}

func opGet(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id := a.str("task_id")
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.GetTask(context.Background(), id))
}

func opList(_ *driver, c *taskstate.Client, a *args) (any, error) {
	p := taskstate.ListTasksParams{PageSize: a.i32("page_size"), PageToken: a.str("page_token"), Statuses: a.statuses("statuses"), View: a.view("view")}
	if err := a.check(); err != nil {
		return nil, err
	}
	page, err := c.ListTasks(context.Background(), p)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": taskViews(page.Tasks), "next_page_token": page.NextPageToken}, nil
}

func opUpdateStatus(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id, status, msg, opts := a.str("task_id"), a.status("status"), a.str("message"), writeOptions(a)
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.UpdateTaskStatus(context.Background(), id, status, msg, opts...))
}

func opSetVariables(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id, vars, opts := a.str("task_id"), a.object("variables"), writeOptions(a)
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.SetVariables(context.Background(), id, vars, opts...))
}

// opPutIfVersion writes the keys of task through the client; an explicit
// update_mask, or a zero duration (which the client cannot send), goes
// through the stub.
func opPutIfVersion(_ *driver, c *taskstate.Client, a *args) (any, error) {
	keys := make([]string, len(taskFields))
	for i, f := range taskFields {
		keys[i] = f.key
	}
	ta := a.sub("task", keys...)
	if a.has("update_mask") || ta.zeroMs("ttl_ms") || ta.zeroMs("poll_interval_ms") {
		return stubPutIfVersion(c, a, ta)
	}
	t := &taskstate.Task{
		Status: ta.status("status"), StatusMessage: ta.str("status_message"), Variables: ta.object("variables"),
		Error: ta.taskError("error"), TTL: ta.ms("ttl_ms"), PollInterval: ta.ms("poll_interval_ms"),
	}
	if ta.has("result") {
		t.Result = jsonValue(ta.m["result"])
	}
	var fields []taskstate.Field
	for _, f := range taskFields {
		if ta.has(f.key) {
			fields = append(fields, f.field)
		}
	}
	id, expected := a.str("task_id"), a.u64("expected_version")
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.PutIfVersion(context.Background(), id, expected, t, fields...))
}

// opComplete uses the client's complete or fail; the combinations they
// cannot express on purpose (and an explicit expected_version 0, which the
// client reads as unset) go through the stub.
func opComplete(_ *driver, c *taskstate.Client, a *args) (any, error) {
	status := "completed"
	if a.has("status") {
		status = a.str("status")
	}
	if a.zeroU64("expected_version") || (status == "completed") == a.has("error") || (status != "completed" && status != "failed") {
		return stubComplete(c, a)
	}
	comp := taskstate.Completion{StatusMessage: a.str("message"), Variables: a.object("variables"), ExpectedVersion: a.u64("expected_version")}
	if a.has("result") {
		comp.Result = jsonValue(a.m["result"])
	}
	id, te := a.str("task_id"), a.taskError("error")
	if err := a.check(); err != nil {
		return nil, err
	}
	if te != nil {
		return view(c.FailTask(context.Background(), id, *te, comp))
	}
	return view(c.CompleteTask(context.Background(), id, comp))
}

func (a *args) zeroU64(k string) bool { return a.has(k) && a.u64(k) == 0 }

func opCancel(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id, msg := a.str("task_id"), a.str("message")
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.CancelTask(context.Background(), id, msg))
}

func opDelete(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id := a.str("task_id")
	if err := a.check(); err != nil {
		return nil, err
	}
	if err := c.DeleteTask(context.Background(), id); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// opWait uses the client's wait; a timeout of 0 (the client's "none") goes
// through the stub.
func opWait(_ *driver, c *taskstate.Client, a *args) (any, error) {
	if a.zeroMs("timeout_ms") {
		return stubWait(c, a)
	}
	id, p := a.str("task_id"), taskstate.WaitParams{Timeout: a.ms("timeout_ms"), Statuses: a.statuses("statuses")}
	if err := a.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return view(c.WaitTask(ctx, id, p))
}

// opUpdate runs the client's CAS-retry helper once with fn: increment a
// number variable, or merge keys into the variables (null deletes).
func opUpdate(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id, fa := a.str("task_id"), a.sub("fn", "increment", "by", "merge")
	var fn func(*taskstate.Task) error
	switch {
	case fa.has("increment") && !fa.has("merge"):
		key, by := fa.str("increment"), 1.0
		if fa.has("by") {
			n, ok := fa.m["by"].(interface{ Float64() (float64, error) })
			if !ok {
				fa.fail("fn.by: want a number")
			} else {
				by, _ = n.Float64()
			}
		}
		fn = func(t *taskstate.Task) error {
			cur, ok := t.Variables[key].(float64)
			if _, present := t.Variables[key]; present && !ok {
				return failf("update: variable %q is not a number: %v", key, t.Variables[key])
			}
			t.Variables[key] = cur + by
			return nil
		}
	case fa.has("merge") && !fa.has("increment") && !fa.has("by"):
		merge := fa.object("merge")
		fn = func(t *taskstate.Task) error {
			for k, v := range merge {
				if v == nil {
					delete(t.Variables, k)
				} else {
					t.Variables[k] = v
				}
			}
			return nil
		}
	default:
		fa.fail("fn: want {increment, by?} or {merge}")
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return view(c.Update(context.Background(), id, fn))
}

// opWatch consumes the client's resuming watch until it ends; how it ended
// is part of the outcome, not an error.
func opWatch(_ *driver, c *taskstate.Client, a *args) (any, error) {
	id, after := a.str("task_id"), a.u64("after_version")
	if err := a.check(); err != nil {
		return nil, err
	}
	tasks := []any{}
	var end error
	for t, err := range c.Watch(context.Background(), id, after) {
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
	name, p := a.str("stream"), taskstate.WatchTasksParams{Statuses: a.statuses("statuses"), View: a.view("view")}
	if err := a.check(); err != nil {
		return nil, err
	}
	// WatchTasks returns once the server has sent the response headers.
	st, err := c.WatchTasks(context.Background(), p)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.streams[name]; dup {
		st.Close()
		return nil, failf("watch_all_open: stream %q is already open", name)
	}
	d.streams[name] = &watchAll{stream: st}
	return map[string]any{}, nil
}

func opWatchAllNext(d *driver, _ *taskstate.Client, a *args) (any, error) {
	name := a.str("stream")
	d.mu.Lock()
	w, ok := d.streams[name]
	d.mu.Unlock()
	if !ok {
		return nil, failf("watch_all_next: no open stream %q", name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.end != nil {
		return w.end, nil
	}
	t, err := w.stream.Recv()
	if err == nil {
		return map[string]any{"task": taskView(t)}, nil
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
	name := a.str("stream")
	d.mu.Lock()
	w, ok := d.streams[name]
	delete(d.streams, name)
	d.mu.Unlock()
	if ok {
		w.stream.Close()
	}
	return map[string]any{}, nil
}
