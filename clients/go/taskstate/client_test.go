package taskstate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

const missingID = "01890000-0000-7000-8000-000000000000"

func TestCRUD(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.Addr)
	ctx := testCtx(t, 30*time.Second)

	created, err := c.CreateTask(ctx, taskstate.CreateTaskParams{
		TTL:           time.Hour,
		PollInterval:  2 * time.Second,
		RequestMethod: "tools/call",
		Variables:     map[string]any{"n": 1, "tags": []string{"a", "b"}, "obj": map[string]any{"k": true}},
		RequestID:     "req-1",
	})
	if err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	if created.Version != 1 || created.Status != taskstate.StatusWorking || created.ID == "" {
		t.Fatalf("created = %+v", created)
	}
	if created.TTL != time.Hour || created.PollInterval != 2*time.Second || created.RequestMethod != "tools/call" {
		t.Fatalf("created fields = %+v", created)
	}
	if created.ExpireTime.IsZero() || created.CreateTime.IsZero() || !created.ExpireTime.After(created.CreateTime) {
		t.Fatalf("times: create %v expire %v", created.CreateTime, created.ExpireTime)
	}
	if got := created.Variables["n"]; got != 1.0 {
		t.Fatalf("variables[n] = %#v", got)
	}
	if tags, ok := created.Variables["tags"].([]any); !ok || len(tags) != 2 || tags[0] != "a" {
		t.Fatalf("variables[tags] = %#v", created.Variables["tags"])
	}
	// Idempotent retry: same task.
	again, err := c.CreateTask(ctx, taskstate.CreateTaskParams{RequestID: "req-1"})
	if err != nil || again.ID != created.ID {
		t.Fatalf("idempotent create: %v %v", again, err)
	}

	got, err := c.GetTask(ctx, created.ID)
	if err != nil || got.ID != created.ID || got.Version != 1 {
		t.Fatalf("GetTask: %+v %v", got, err)
	}

	// SetVariables merges; nil deletes.
	got, err = c.SetVariables(ctx, created.ID, map[string]any{"n": 2, "obj": nil, "s": "x"})
	if err != nil {
		t.Fatalf("SetVariables: %v", err)
	}
	if got.Version != 2 || got.Variables["n"] != 2.0 || got.Variables["s"] != "x" {
		t.Fatalf("after SetVariables: %+v", got)
	}
	if _, ok := got.Variables["obj"]; ok {
		t.Fatalf("obj not deleted: %+v", got.Variables)
	}
	// Conditional write at the right version.
	got, err = c.SetVariables(ctx, created.ID, map[string]any{"n": 3}, taskstate.IfVersion(2))
	if err != nil || got.Version != 3 {
		t.Fatalf("SetVariables IfVersion: %+v %v", got, err)
	}

	got, err = c.UpdateTaskStatus(ctx, created.ID, taskstate.StatusInputRequired, "need input")
	if err != nil || got.Status != taskstate.StatusInputRequired || got.StatusMessage != "need input" {
		t.Fatalf("UpdateTaskStatus: %+v %v", got, err)
	}

	// PutIfVersion: mask replaces the variables.
	got, err = c.PutIfVersion(ctx, created.ID, got.Version, &taskstate.Task{
		Status:    taskstate.StatusWorking,
		Variables: map[string]any{"only": "this"},
	}, taskstate.FieldStatus, taskstate.FieldVariables)
	if err != nil {
		t.Fatalf("PutIfVersion: %v", err)
	}
	if got.Status != taskstate.StatusWorking || len(got.Variables) != 1 || got.Variables["only"] != "this" || got.StatusMessage != "need input" {
		t.Fatalf("after PutIfVersion: %+v", got)
	}

	done, err := c.CompleteTask(ctx, created.ID, taskstate.Completion{
		Result:        map[string]any{"answer": 42},
		StatusMessage: "done",
		Variables:     map[string]any{"final": true},
	})
	if err != nil {
		t.Fatalf("CompleteTask: %v", err)
	}
	if done.Status != taskstate.StatusCompleted || !done.Terminal() || done.Variables["final"] != true {
		t.Fatalf("completed: %+v", done)
	}
	if r, ok := done.Result.(map[string]any); !ok || r["answer"] != 42.0 {
		t.Fatalf("result = %#v", done.Result)
	}

	// FailTask and CancelTask on fresh tasks.
	f, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	f, err = c.FailTask(ctx, f.ID, taskstate.TaskError{Code: -32000, Message: "boom", Data: map[string]any{"why": "test"}})
	if err != nil || f.Status != taskstate.StatusFailed || f.Error == nil || f.Error.Code != -32000 || f.Error.Message != "boom" {
		t.Fatalf("FailTask: %+v %v", f, err)
	}
	if d, ok := f.Error.Data.(map[string]any); !ok || d["why"] != "test" {
		t.Fatalf("error data = %#v", f.Error.Data)
	}
	x, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	x, err = c.CancelTask(ctx, x.ID, "nope")
	if err != nil || x.Status != taskstate.StatusCancelled || x.StatusMessage != "nope" {
		t.Fatalf("CancelTask: %+v %v", x, err)
	}

	// Listing: newest first, pages, filter.
	page, err := c.ListTasks(ctx, taskstate.ListTasksParams{PageSize: 2})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(page.Tasks) != 2 || page.NextPageToken == "" || page.Tasks[0].ID != x.ID || page.Tasks[1].ID != f.ID {
		t.Fatalf("page 1 = %+v", page)
	}
	var all []string
	for tk, err := range c.AllTasks(ctx, taskstate.ListTasksParams{PageSize: 1}) {
		if err != nil {
			t.Fatalf("AllTasks: %v", err)
		}
		all = append(all, tk.ID)
	}
	if want := []string{x.ID, f.ID, created.ID}; fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("AllTasks = %v, want %v", all, want)
	}
	page, err = c.ListTasks(ctx, taskstate.ListTasksParams{Statuses: []taskstate.Status{taskstate.StatusFailed}})
	if err != nil || len(page.Tasks) != 1 || page.Tasks[0].ID != f.ID {
		t.Fatalf("filtered list: %+v %v", page, err)
	}

	if err := c.DeleteTask(ctx, created.ID); err != nil {
		t.Fatalf("DeleteTask: %v", err)
	}
	if _, err := c.GetTask(ctx, created.ID); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("GetTask after delete: %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.Addr)
	ctx := testCtx(t, 30*time.Second)

	// NOT_FOUND.
	_, err := c.GetTask(ctx, missingID)
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status.Code = %v (%v)", status.Code(err), err)
	}
	if taskstate.Reason(err) != taskstate.ReasonTaskNotFound {
		t.Fatalf("Reason = %q", taskstate.Reason(err))
	}
	if !errors.Is(err, taskstate.ErrNotFound) || errors.Is(err, taskstate.ErrVersionMismatch) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	var te *taskstate.Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &te) || te.Code != codes.NotFound || te.Domain != taskstate.ErrorDomain || te.Message == "" {
		t.Fatalf("errors.As: %+v", te)
	}

	// ABORTED with metadata.
	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetVariables(ctx, tk.ID, map[string]any{"a": 1}, taskstate.IfVersion(7))
	if status.Code(err) != codes.Aborted || !errors.Is(err, taskstate.ErrVersionMismatch) || taskstate.Reason(err) != taskstate.ReasonVersionMismatch {
		t.Fatalf("version mismatch: %v", err)
	}
	if !errors.As(err, &te) || te.Metadata["expected_version"] != "7" || te.Metadata["actual_version"] != "1" {
		t.Fatalf("metadata: %+v", te)
	}
	if v, ok := te.ExpectedVersion(); !ok || v != 7 {
		t.Fatalf("ExpectedVersion = %v %v", v, ok)
	}
	if v, ok := te.ActualVersion(); !ok || v != 1 {
		t.Fatalf("ActualVersion = %v %v", v, ok)
	}
	_, err = c.PutIfVersion(ctx, tk.ID, 3, &taskstate.Task{StatusMessage: "x"}, taskstate.FieldStatusMessage)
	if !errors.Is(err, taskstate.ErrVersionMismatch) {
		t.Fatalf("PutIfVersion mismatch: %v", err)
	}

	// FAILED_PRECONDITION: self transition, then terminal.
	_, err = c.UpdateTaskStatus(ctx, tk.ID, taskstate.StatusWorking, "")
	if !errors.Is(err, taskstate.ErrInvalidTransition) || errors.Is(err, taskstate.ErrTaskTerminal) || !errors.Is(err, taskstate.ErrFailedPrecondition) {
		t.Fatalf("self transition: %v", err)
	}
	if _, err := c.CancelTask(ctx, tk.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.SetVariables(ctx, tk.ID, map[string]any{"a": 1})
	if !errors.Is(err, taskstate.ErrTaskTerminal) || taskstate.Reason(err) != taskstate.ReasonTaskTerminal {
		t.Fatalf("terminal: %v", err)
	}

	// INVALID_ARGUMENT with field violations.
	_, err = c.GetTask(ctx, "not-a-uuid")
	if !errors.Is(err, taskstate.ErrInvalidArgument) || !errors.As(err, &te) || len(te.FieldViolations) == 0 {
		t.Fatalf("invalid id: %v %+v", err, te)
	}
	_, err = c.CreateTask(ctx, taskstate.CreateTaskParams{TTL: -time.Second})
	if taskstate.Code(err) != codes.InvalidArgument {
		t.Fatalf("negative ttl: %v", err)
	}
	_, err = c.CompleteTask(ctx, tk.ID, taskstate.Completion{Status: taskstate.StatusCancelled})
	if taskstate.Code(err) != codes.InvalidArgument {
		t.Fatalf("CompleteTask(cancelled): %v", err)
	}

	// Deadline: the context's deadline is honoured and matches context.DeadlineExceeded.
	w, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var last error
	for _, err := range c.Watch(dctx, w.ID, 0) {
		last = err
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Watch ignored the deadline: %v", el)
	}
	if !errors.Is(last, context.DeadlineExceeded) || status.Code(last) != codes.DeadlineExceeded {
		t.Fatalf("Watch after deadline: %v", last)
	}
}

func TestAuth(t *testing.T) {
	srv := startServer(t, serverConfig{Tokens: map[string][]string{"alice": {"tok-a"}, "bob": {"tok-b"}}})
	ctx := testCtx(t, 30*time.Second)
	alice := dial(t, srv.Addr, taskstate.WithToken("tok-a"))
	bob := dial(t, srv.Addr, taskstate.WithToken("tok-b"))
	anon := dial(t, srv.Addr)
	wrong := dial(t, srv.Addr, taskstate.WithToken("nope"))

	tk, err := alice.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatalf("alice CreateTask: %v", err)
	}
	if _, err := alice.GetTask(ctx, tk.ID); err != nil {
		t.Fatalf("alice GetTask: %v", err)
	}
	if _, err := bob.GetTask(ctx, tk.ID); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("bob sees alice's task: %v", err)
	}
	page, err := bob.ListTasks(ctx, taskstate.ListTasksParams{})
	if err != nil || len(page.Tasks) != 0 {
		t.Fatalf("bob's list: %+v %v", page, err)
	}
	if _, err := anon.GetTask(ctx, tk.ID); !errors.Is(err, taskstate.ErrUnauthenticated) {
		t.Fatalf("anonymous: %v", err)
	}
	if _, err := wrong.GetTask(ctx, tk.ID); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unknown token: %v", err)
	}
	// A refused stream fails when it is opened, not at its first event.
	if st, err := wrong.WatchTasks(ctx, taskstate.WatchTasksParams{}); !errors.Is(err, taskstate.ErrUnauthenticated) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("WatchTasks with an unknown token: %v", err)
	}

	// A token is not sent in plaintext to a non-loopback address.
	c, err := taskstate.Dial(ctx, "192.0.2.1:50051", taskstate.WithInsecure(), taskstate.WithToken("tok-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.GetTask(sctx, tk.ID); err == nil {
		t.Fatal("plaintext token to a remote address was accepted")
	}
}

func TestUpdateConcurrent(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 120*time.Second)
	setup := dial(t, srv.Addr)
	tk, err := setup.CreateTask(ctx, taskstate.CreateTaskParams{Variables: map[string]any{"count": 0}})
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		c := dial(t, srv.Addr) // each worker on its own connection
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				_, err := c.Update(ctx, tk.ID, func(t *taskstate.Task) error {
					n, _ := t.Variables["count"].(float64)
					t.Variables["count"] = n + 1
					t.Variables[fmt.Sprintf("w%d", w)] = true
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	final, err := setup.GetTask(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := final.Variables["count"]; got != float64(workers*perWorker) {
		t.Fatalf("count = %v, want %d", got, workers*perWorker)
	}
	if final.Version != 1+workers*perWorker {
		t.Fatalf("version = %d, want %d", final.Version, 1+workers*perWorker)
	}

	// No change: no write.
	same, err := setup.Update(ctx, tk.ID, func(t *taskstate.Task) error {
		t.Variables["count"] = int(workers * perWorker) // equal once converted
		return nil
	})
	if err != nil || same.Version != final.Version {
		t.Fatalf("no-op Update wrote: %v %v", same, err)
	}
	// fn's error stops Update.
	boom := errors.New("boom")
	if _, err := setup.Update(ctx, tk.ID, func(*taskstate.Task) error { return boom }); err != boom {
		t.Fatalf("Update fn error = %v", err)
	}
	// Status, message and ttl through Update.
	upd, err := setup.Update(ctx, tk.ID, func(t *taskstate.Task) error {
		t.Status = taskstate.StatusInputRequired
		t.StatusMessage = "your turn"
		t.TTL = 2 * time.Hour
		return nil
	})
	if err != nil || upd.Status != taskstate.StatusInputRequired || upd.StatusMessage != "your turn" || upd.TTL != 2*time.Hour || upd.Variables["count"] != float64(workers*perWorker) {
		t.Fatalf("Update status: %+v %v", upd, err)
	}
	// Missing task.
	if _, err := setup.Update(ctx, missingID, func(*taskstate.Task) error { return nil }); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("Update missing: %v", err)
	}
}

// collectWatch runs Watch in the background and returns its results.
func collectWatch(ctx context.Context, c *taskstate.Client, id string, after uint64) (<-chan []*taskstate.Task, <-chan error, chan *taskstate.Task) {
	out := make(chan []*taskstate.Task, 1)
	errc := make(chan error, 1)
	each := make(chan *taskstate.Task, 100)
	go func() {
		var got []*taskstate.Task
		var last error
		for tk, err := range c.Watch(ctx, id, after) {
			if err != nil {
				last = err
				break
			}
			got = append(got, tk)
			each <- tk
		}
		out <- got
		errc <- last
	}()
	return out, errc, each
}

func versions(ts []*taskstate.Task) []uint64 {
	v := make([]uint64, len(ts))
	for i, t := range ts {
		v[i] = t.Version
	}
	return v
}

func TestWatch(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.SetVariables(ctx, tk.ID, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	// Now at version 4. after_version=2 resumes with the current version (4;
	// the server sends no history), then every later one up to the terminal.
	got, errc, each := collectWatch(ctx, c, tk.ID, 2)
	waitFor(t, each, 4)
	if _, err := c.SetVariables(ctx, tk.ID, map[string]any{"i": 99}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteTask(ctx, tk.ID, taskstate.Completion{Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	seen := <-got
	if err := <-errc; err != nil {
		t.Fatalf("watch error: %v", err)
	}
	if fmt.Sprint(versions(seen)) != "[4 5 6]" || !seen[len(seen)-1].Terminal() || seen[len(seen)-1].Result != "ok" {
		t.Fatalf("watched versions %v", versions(seen))
	}

	// Watching a terminal task from 0 yields just its terminal version; after it, nothing.
	n := 0
	for tk2, err := range c.Watch(ctx, tk.ID, 0) {
		if err != nil || tk2.Version != 6 {
			t.Fatalf("watch terminal: %v %v", tk2, err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("watch terminal from 0 yielded %d", n)
	}
	for tk2, err := range c.Watch(ctx, tk.ID, 6) {
		t.Fatalf("watch after terminal yielded %v %v", tk2, err)
	}

	// NOT_FOUND: unknown task, and a task deleted while watched.
	var last error
	for _, err := range c.Watch(ctx, missingID, 0) {
		last = err
	}
	if !errors.Is(last, taskstate.ErrNotFound) {
		t.Fatalf("watch missing: %v", last)
	}
	d, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	got, errc, each = collectWatch(ctx, c, d.ID, 0)
	waitFor(t, each, 1)
	if err := c.DeleteTask(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	<-got
	if err := <-errc; !errors.Is(err, taskstate.ErrNotFound) || taskstate.Reason(err) != taskstate.ReasonTaskNotFound {
		t.Fatalf("watch deleted: %v", err)
	}

	// The raw single stream.
	r, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.WatchTask(ctx, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Recv()
	if err != nil || first.Version != 1 {
		t.Fatalf("WatchTask first: %v %v", first, err)
	}
	if _, err := c.CancelTask(ctx, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	second, err := st.Recv()
	if err != nil || second.Status != taskstate.StatusCancelled {
		t.Fatalf("WatchTask second: %v %v", second, err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("WatchTask end: %v", err)
	}
}

func waitFor(t *testing.T, each <-chan *taskstate.Task, version uint64) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case tk := <-each:
			if tk.Version >= version {
				return
			}
		case <-timeout:
			t.Fatalf("watch did not reach version %d", version)
		}
	}
}

func TestWatchResumesAfterDroppedConnection(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	px := startProxy(t, srv.Addr)
	writer := dial(t, srv.Addr)
	watcher := dial(t, px.Addr, quickResume)

	tk, err := writer.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	got, errc, each := collectWatch(ctx, watcher, tk.ID, 0)
	waitFor(t, each, 1)
	for round := range 3 {
		if px.DropAll() == 0 {
			t.Fatal("no proxied connection to drop")
		}
		// Writes while the watcher is cut off.
		v := uint64(0)
		for i := range 2 {
			up, err := writer.SetVariables(ctx, tk.ID, map[string]any{"round": round, "i": i})
			if err != nil {
				t.Fatal(err)
			}
			v = up.Version
		}
		waitFor(t, each, v) // resumed and caught up
	}
	if _, err := writer.CompleteTask(ctx, tk.ID, taskstate.Completion{Result: 1}); err != nil {
		t.Fatal(err)
	}
	seen := <-got
	if err := <-errc; err != nil {
		t.Fatalf("watch error: %v", err)
	}
	vs := versions(seen)
	for i := 1; i < len(vs); i++ {
		if vs[i] <= vs[i-1] {
			t.Fatalf("versions not increasing: %v", vs)
		}
	}
	if lastT := seen[len(seen)-1]; !lastT.Terminal() || lastT.Version != 8 {
		t.Fatalf("watch ended at %v (versions %v)", lastT, vs)
	}
}

// TestWatchResumesAcrossServerRestart stops the server (SIGTERM: watch
// streams end with UNAVAILABLE) and starts another on the same port and the
// same SQLite file; the watcher resumes from its last version.
func TestWatchResumesAcrossServerRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tasks.db")
	store := "sqlite:///" + db // sqlite:////abs/path.db
	srv := startServer(t, serverConfig{Store: store})
	ctx := testCtx(t, 90*time.Second)
	c := dial(t, srv.Addr, taskstate.WithWatchRetry(taskstate.RetryPolicy{
		MaxAttempts: 100, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
	}))
	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	got, errc, each := collectWatch(ctx, c, tk.ID, 0)
	waitFor(t, each, 1)

	srv.Stop(t)
	srv2 := startServer(t, serverConfig{Store: store, Listen: srv.Addr})
	w := dial(t, srv2.Addr)
	if _, err := w.SetVariables(ctx, tk.ID, map[string]any{"after": "restart"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, each, 2)
	if _, err := w.CompleteTask(ctx, tk.ID, taskstate.Completion{}); err != nil {
		t.Fatal(err)
	}
	seen := <-got
	if err := <-errc; err != nil {
		t.Fatalf("watch error: %v", err)
	}
	if fmt.Sprint(versions(seen)) != "[1 2 3]" || !seen[2].Terminal() {
		t.Fatalf("versions %v", versions(seen))
	}
}

func TestWaitTask(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}

	// Timeout first: the current task with OK.
	start := time.Now()
	w, err := c.WaitTask(ctx, tk.ID, taskstate.WaitParams{Timeout: 300 * time.Millisecond})
	if err != nil || w.Status != taskstate.StatusWorking {
		t.Fatalf("WaitTask timeout: %v %v", w, err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
		t.Fatalf("WaitTask timeout took %v", el)
	}

	// Context deadline first: also the current task with OK.
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	w, err = c.WaitTask(dctx, tk.ID, taskstate.WaitParams{})
	cancel()
	if err != nil || w.Status != taskstate.StatusWorking {
		t.Fatalf("WaitTask deadline: %v %v", w, err)
	}

	// A specific status.
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = c.UpdateTaskStatus(context.Background(), tk.ID, taskstate.StatusInputRequired, "?")
	}()
	w, err = c.WaitTask(ctx, tk.ID, taskstate.WaitParams{Timeout: 20 * time.Second, Statuses: []taskstate.Status{taskstate.StatusInputRequired}})
	if err != nil || w.Status != taskstate.StatusInputRequired {
		t.Fatalf("WaitTask input_required: %v %v", w, err)
	}

	// Terminal by default.
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = c.CompleteTask(context.Background(), tk.ID, taskstate.Completion{Result: "r"})
	}()
	start = time.Now()
	w, err = c.WaitTask(ctx, tk.ID, taskstate.WaitParams{Timeout: 20 * time.Second})
	if err != nil || w.Status != taskstate.StatusCompleted || w.Result != "r" {
		t.Fatalf("WaitTask terminal: %v %v", w, err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("WaitTask returned late: %v", el)
	}

	if _, err := c.WaitTask(ctx, missingID, taskstate.WaitParams{Timeout: time.Second}); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("WaitTask missing: %v", err)
	}
}

func TestWatchTasks(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 30*time.Second)
	c := dial(t, srv.Addr)
	st, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	onlyDone, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{Statuses: []taskstate.Status{taskstate.StatusCompleted}})
	if err != nil {
		t.Fatal(err)
	}
	defer onlyDone.Close()

	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteTask(ctx, tk.ID, taskstate.Completion{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{1, 2} {
		got, err := st.Recv()
		if err != nil || got.ID != tk.ID || got.Version != want {
			t.Fatalf("WatchTasks: %v %v (want version %d)", got, err, want)
		}
	}
	got, err := onlyDone.Recv()
	if err != nil || got.Version != 2 || got.Status != taskstate.StatusCompleted {
		t.Fatalf("WatchTasks(completed): %v %v", got, err)
	}
	st.Close()
	if _, err := st.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after Close: %v", err)
	}
}
