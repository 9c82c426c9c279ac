// Command relay is the Go worker of the cross-language relay test
// (tests/relay/test_relay.py): it watches the caller's working tasks and
// claims the first one whose request_method is --method.
//
//	TASKSTATE_ADDRESS=127.0.0.1:50051 TASKSTATE_TOKEN=... \
//	  go -C clients/go run ./cmd/relay --method relay/1234
//
// Protocol on stdout (everything else goes to stderr):
//
//	READY                          the WatchTasks stream is registered by the server
//	CLAIMED <task_id> <version>    the claim committed; then it exits 0
//
// The claim is a PutIfVersion at the version seen, writing the variables (the
// existing ones plus claimed_by: "go") and the status message "claimed by go".
// On ABORTED (another writer got there first) it re-reads the task and tries
// again at the new version. Any failure, or --timeout passing first, exits 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

const maxClaimAttempts = 20

func main() {
	method := flag.String("method", "", "request_method of the task to claim (required)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if err := run(*method, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		os.Exit(1)
	}
}

func run(method string, timeout time.Duration) error {
	if method == "" {
		return errors.New("--method is required")
	}
	if os.Getenv(taskstate.EnvAddress) == "" {
		return errors.New("TASKSTATE_ADDRESS is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// The token and TLS settings come from the environment too.
	c, err := taskstate.DialFromEnv(ctx, taskstate.WithDefaultTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("dial %s: %w", taskstate.AddressFromEnv(), err)
	}
	defer c.Close()

	// WatchTasks returns once the server has registered the watch: from here
	// on no change is missed.
	stream, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{Statuses: []taskstate.Status{taskstate.StatusWorking}})
	if err != nil {
		return fmt.Errorf("WatchTasks: %w", err)
	}
	defer stream.Close()
	fmt.Println("READY")

	t, err := findTask(ctx, c, stream, method)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "relay: saw task %s at version %d\n", t.ID, t.Version)
	claimed, err := claim(ctx, c, t)
	if err != nil {
		return err
	}
	fmt.Printf("CLAIMED %s %d\n", claimed.ID, claimed.Version)
	return nil
}

// wanted reports whether t is an unclaimed task of the method.
func wanted(t *taskstate.Task, method string) bool {
	_, claimed := t.Variables["claimed_by"]
	return t.RequestMethod == method && t.Status == taskstate.StatusWorking && !claimed
}

// findTask is the worker pattern: with the watch open, list what already
// exists, then follow the watch.
func findTask(ctx context.Context, c *taskstate.Client, stream *taskstate.TaskStream, method string) (*taskstate.Task, error) {
	for t, err := range c.AllTasks(ctx, taskstate.ListTasksParams{Statuses: []taskstate.Status{taskstate.StatusWorking}}) {
		if err != nil {
			return nil, fmt.Errorf("ListTasks: %w", err)
		}
		if wanted(t, method) {
			return t, nil
		}
	}
	for t, err := range stream.All() {
		if err != nil {
			return nil, fmt.Errorf("WatchTasks stream: %w", err)
		}
		if wanted(t, method) {
			return t, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("no task with request_method %q: %w", method, err)
	}
	return nil, fmt.Errorf("WatchTasks stream ended before a task with request_method %q arrived", method)
}

// claim writes claimed_by and the status message with PutIfVersion at t's
// version, re-reading and retrying when the version moved on.
func claim(ctx context.Context, c *taskstate.Client, t *taskstate.Task) (*taskstate.Task, error) {
	id, method := t.ID, t.RequestMethod
	for attempt := 1; ; attempt++ {
		next := t.Clone()
		next.Variables["claimed_by"] = "go"
		next.StatusMessage = "claimed by go"
		out, err := c.PutIfVersion(ctx, id, t.Version, next, taskstate.FieldVariables, taskstate.FieldStatusMessage)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, taskstate.ErrVersionMismatch) || attempt >= maxClaimAttempts {
			return nil, fmt.Errorf("PutIfVersion(%s, expected_version=%d) attempt %d: %w", id, t.Version, attempt, err)
		}
		fmt.Fprintf(os.Stderr, "relay: version %d of %s is stale (%v); re-reading\n", t.Version, id, err)
		if t, err = c.GetTask(ctx, id); err != nil {
			return nil, fmt.Errorf("GetTask(%s): %w", id, err)
		}
		if !wanted(t, method) {
			return nil, fmt.Errorf("task %s can no longer be claimed: status %s, variables %v", id, t.Status, t.Variables)
		}
	}
}
