package taskstate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// ViewBasic lists and watches tasks without variables, result and error.
func TestViewBasic(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 30*time.Second)
	c := dial(t, srv.Addr)

	basicWatch, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{View: taskstate.ViewBasic})
	if err != nil {
		t.Fatal(err)
	}
	defer basicWatch.Close()
	fullWatch, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{View: taskstate.ViewFull})
	if err != nil {
		t.Fatal(err)
	}
	defer fullWatch.Close()

	done, err := c.CreateTask(ctx, taskstate.CreateTaskParams{RequestMethod: "tools/call", Variables: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteTask(ctx, done.ID, taskstate.Completion{Result: map[string]any{"answer": 42}}); err != nil {
		t.Fatal(err)
	}
	failed, err := c.CreateTask(ctx, taskstate.CreateTaskParams{Variables: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FailTask(ctx, failed.ID, taskstate.TaskError{Code: -1, Message: "boom", Data: "d"}); err != nil {
		t.Fatal(err)
	}

	basic, err := c.ListTasks(ctx, taskstate.ListTasksParams{View: taskstate.ViewBasic})
	if err != nil || len(basic.Tasks) != 2 {
		t.Fatalf("ListTasks(basic): %v %v", basic, err)
	}
	for _, tk := range basic.Tasks {
		wantBasic(t, "ListTasks(basic)", tk)
		if !tk.Terminal() || tk.Version != 2 || tk.CreateTime.IsZero() {
			t.Fatalf("ListTasks(basic) lost a basic field: %+v", tk)
		}
	}
	if basic.Tasks[1].RequestMethod != "tools/call" {
		t.Fatalf("ListTasks(basic) lost request_method: %+v", basic.Tasks[1])
	}
	for _, view := range []taskstate.View{taskstate.ViewDefault, taskstate.ViewFull} {
		full, err := c.ListTasks(ctx, taskstate.ListTasksParams{View: view})
		if err != nil || len(full.Tasks) != 2 {
			t.Fatalf("ListTasks(%s): %v %v", view, full, err)
		}
		if full.Tasks[0].Error == nil || full.Tasks[0].Variables["k"] != "v" || full.Tasks[1].Result == nil {
			t.Fatalf("ListTasks(%s) left fields out: %+v %+v", view, full.Tasks[0], full.Tasks[1])
		}
	}

	for range 4 { // two tasks, two versions each
		tk, err := basicWatch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		wantBasic(t, "WatchTasks(basic)", tk)
		tk, err = fullWatch.Recv()
		if err != nil || tk.Variables["k"] != "v" {
			t.Fatalf("WatchTasks(full): %+v %v", tk, err)
		}
	}
}

func wantBasic(t *testing.T, what string, tk *taskstate.Task) {
	t.Helper()
	m := tk.Proto()
	if len(m.GetVariables()) != 0 || m.Result != nil || m.Error != nil {
		t.Fatalf("%s: the server sent variables/result/error: %v", what, m)
	}
	if tk.Variables != nil || tk.Result != nil || tk.Error != nil || tk.ID == "" || tk.Status == taskstate.StatusUnspecified {
		t.Fatalf("%s: %+v", what, tk)
	}
}

// A page is cut under 4 MiB: shorter than page_size, yet not the last.
// AllTasks keeps following next_page_token.
func TestAllTasksFollowsShortPages(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	chunk := strings.Repeat("x", 60_000)
	want := map[string]bool{}
	for range 6 { // about 900 KB of variables each: 5.4 MB in all
		vars := map[string]any{}
		for k := range 15 {
			vars[fmt.Sprint("part", k)] = chunk
		}
		tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{Variables: vars})
		if err != nil {
			t.Fatal(err)
		}
		want[tk.ID] = true
	}
	first, err := c.ListTasks(ctx, taskstate.ListTasksParams{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Tasks) == 0 || len(first.Tasks) >= 6 || first.NextPageToken == "" {
		t.Fatalf("first page: %d tasks, next %q; want a short page with a token", len(first.Tasks), first.NextPageToken)
	}
	got := map[string]bool{}
	for tk, err := range c.AllTasks(ctx, taskstate.ListTasksParams{PageSize: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(tk.Variables) != 15 {
			t.Fatalf("task %s: %d variables", tk.ID, len(tk.Variables))
		}
		got[tk.ID] = true
	}
	if len(got) != len(want) {
		t.Fatalf("AllTasks returned %d of %d tasks", len(got), len(want))
	}
}
