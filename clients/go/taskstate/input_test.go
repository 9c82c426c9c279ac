package taskstate_test

// Issue 11 against the real server: subjects, input requests, cancel requests.

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

func TestSubjectScope(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.Addr)
	ctx := testCtx(t, 30*time.Second)
	alice, bob := c.WithSubject("alice"), dial(t, srv.Addr, taskstate.WithSubject("bob"))

	mine, err := alice.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil || mine.Subject != "alice" {
		t.Fatalf("create under alice: %+v %v", mine, err)
	}
	if _, err := bob.GetTask(ctx, mine.ID); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("bob reads alice's task: %v", err)
	}
	if got, err := c.GetTask(ctx, mine.ID); err != nil || got.Subject != "alice" {
		t.Fatalf("the subject-less client reads it: %+v %v", got, err)
	}
	page, err := bob.ListTasks(ctx, taskstate.ListTasksParams{})
	if err != nil || len(page.Tasks) != 0 {
		t.Fatalf("bob lists %d tasks (%v)", len(page.Tasks), err)
	}
	if err := alice.Close(); err != nil { // a view's Close leaves the connection open
		t.Fatal(err)
	}
	if _, err := c.GetTask(ctx, mine.ID); err != nil {
		t.Fatalf("after the view's Close: %v", err)
	}
}

func TestInputRequests(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.Addr)
	ctx := testCtx(t, 30*time.Second)
	task, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	asked, err := c.UpdateTaskStatus(ctx, task.ID, taskstate.StatusInputRequired, "need input",
		taskstate.WithInputRequests(map[string]any{"name": map[string]any{"message": "Name?"}, "age": "Age?"}))
	if err != nil || len(asked.InputRequests) != 2 || len(asked.OutstandingInput()) != 2 {
		t.Fatalf("ask: %+v %v", asked, err)
	}
	if _, err := c.SetVariables(ctx, task.ID, nil, taskstate.WithInputRequests(map[string]any{"x": 1})); err == nil {
		t.Fatal("SetVariables took input requests")
	}
	got, keys, err := c.ProvideInput(ctx, task.ID, map[string]any{"age": 42, "never_asked": true})
	if err != nil || !slices.Equal(keys, []string{"age"}) || got.Status != taskstate.StatusInputRequired || got.Version != asked.Version+1 {
		t.Fatalf("first answer: %+v %v %v", got, keys, err)
	}
	got, keys, err = c.ProvideInput(ctx, task.ID, map[string]any{"age": 43, "name": "Ada"})
	if err != nil || !slices.Equal(keys, []string{"name"}) || got.Status != taskstate.StatusWorking {
		t.Fatalf("last answer: %+v %v %v", got, keys, err)
	}
	if got.InputResponses["age"] != 42.0 || len(got.OutstandingInput()) != 0 {
		t.Fatalf("responses %v outstanding %v", got.InputResponses, got.OutstandingInput())
	}
	again, keys, err := c.ProvideInput(ctx, task.ID, map[string]any{"name": "Bob"})
	if err != nil || len(keys) != 0 || keys == nil || again.Version != got.Version {
		t.Fatalf("nothing to accept: %+v %#v %v", again, keys, err)
	}
	basic, err := c.ListTasks(ctx, taskstate.ListTasksParams{View: taskstate.ViewBasic})
	if err != nil || basic.Tasks[0].InputRequests != nil || basic.Tasks[0].InputResponses != nil {
		t.Fatalf("basic view: %+v %v", basic, err)
	}
}

func TestRequestCancel(t *testing.T) {
	srv := startServer(t, serverConfig{})
	c := dial(t, srv.Addr)
	ctx := testCtx(t, 30*time.Second)
	task, err := c.CreateTask(ctx, taskstate.CreateTaskParams{})
	if err != nil {
		t.Fatal(err)
	}
	asked, err := c.RequestCancel(ctx, task.ID)
	if err != nil || !asked.CancelRequested || asked.Status != taskstate.StatusWorking || asked.Version != 2 {
		t.Fatalf("RequestCancel: %+v %v", asked, err)
	}
	again, err := c.RequestCancel(ctx, task.ID)
	if err != nil || again.Version != 2 {
		t.Fatalf("RequestCancel again: %+v %v", again, err)
	}
	if _, err := c.RequestCancel(ctx, missingID); !errors.Is(err, taskstate.ErrNotFound) {
		t.Fatalf("RequestCancel of a missing task: %v", err)
	}
}
