package taskstate_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// ±(2^53-1) reach the server and come back exactly; 2^53+1 never leaves the
// client, and the task keeps its old value.
func TestSafeIntegersRoundTrip(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 30*time.Second)
	c := dial(t, srv.Addr)
	tk, err := c.CreateTask(ctx, taskstate.CreateTaskParams{Variables: map[string]any{"max": int64(taskstate.MaxSafeInteger), "min": int64(-taskstate.MaxSafeInteger)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetTask(ctx, tk.ID)
	if err != nil || got.Variables["max"] != float64(1<<53-1) || got.Variables["min"] != -float64(1<<53-1) {
		t.Fatalf("safe integers changed: %v %v", got.Variables, err)
	}
	_, err = c.SetVariables(ctx, tk.ID, map[string]any{"max": uint64(1<<53 + 1)})
	if !errors.Is(err, taskstate.ErrValueNotRepresentable) {
		t.Fatalf("2^53+1: %v", err)
	}
	_, err = c.CompleteTask(ctx, tk.ID, taskstate.Completion{Result: []any{math.NaN()}})
	if !errors.Is(err, taskstate.ErrValueNotRepresentable) {
		t.Fatalf("NaN: %v", err)
	}
	after, err := c.GetTask(ctx, tk.ID)
	if err != nil || after.Version != 1 || after.Status != taskstate.StatusWorking {
		t.Fatalf("a refused write reached the server: %+v %v", after, err)
	}
}
