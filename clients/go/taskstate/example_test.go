package taskstate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc/status"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// The README's example (compiled here; internal/readme runs the README itself).
func Example() {
	ctx := context.Background()
	// $TASKSTATE_ADDRESS (default 127.0.0.1:50051), $TASKSTATE_TOKEN, TLS settings.
	c, err := taskstate.DialFromEnv(ctx, taskstate.WithDefaultTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	t, err := c.CreateTask(ctx, taskstate.CreateTaskParams{RequestMethod: "tools/call", TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	go func() { // a worker somewhere else
		_, _ = c.SetVariables(ctx, t.ID, map[string]any{"progress": 0.5})
		_, _ = c.CompleteTask(ctx, t.ID, taskstate.Completion{Result: map[string]any{"answer": 42}})
	}()
	for v, err := range c.Watch(ctx, t.ID, 0) { // resumes after a dropped connection
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v.Version, v.Status, v.Variables)
	}
}

func ExampleClient_Update() {
	ctx := context.Background()
	c, _ := taskstate.Dial(ctx, "127.0.0.1:50051")
	defer c.Close()
	t, err := c.Update(ctx, "0190a2b4-0000-7000-8000-000000000000", func(t *taskstate.Task) error {
		n, _ := t.Variables["count"].(float64)
		t.Variables["count"] = n + 1
		return nil
	})
	fmt.Println(t, err)
}

func ExampleError() {
	ctx := context.Background()
	c, _ := taskstate.Dial(ctx, "127.0.0.1:50051")
	defer c.Close()
	id, v := "0190a2b4-0000-7000-8000-000000000000", uint64(3)
	_, err := c.SetVariables(ctx, id, map[string]any{"k": "v"}, taskstate.IfVersion(v))
	switch {
	case errors.Is(err, taskstate.ErrNotFound):
		fmt.Println("no such task")
	case errors.Is(err, taskstate.ErrVersionMismatch):
		var e *taskstate.Error
		errors.As(err, &e)
		actual, _ := e.ActualVersion()
		fmt.Println("someone else wrote version", actual)
	case errors.Is(err, taskstate.ErrTaskTerminal):
		fmt.Println("task is finished")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("too slow")
	case err != nil:
		fmt.Printf("code=%s reason=%s: %v\n", status.Code(err), taskstate.Reason(err), err)
	}
}

func ExampleStatus() {
	fmt.Println(taskstate.StatusInputRequired, taskstate.StatusCompleted)
	// Output: input_required completed
}

func ExampleValue() {
	_, err := taskstate.Value(map[string]any{"id": uint64(1<<53 + 1)})
	fmt.Println(taskstate.Reason(err))
	// Output: VALUE_NOT_REPRESENTABLE
}
