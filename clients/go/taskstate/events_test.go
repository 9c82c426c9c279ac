package taskstate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// collectEvents runs Events in the background and hands each event over.
func collectEvents(ctx context.Context, c *taskstate.Client, p taskstate.EventsParams) <-chan *taskstate.Event {
	each := make(chan *taskstate.Event, 100)
	go func() {
		defer close(each)
		for ev, err := range c.Events(ctx, p) {
			if err != nil {
				each <- &taskstate.Event{Kind: taskstate.EventUnknown, TaskID: err.Error()}
				return
			}
			each <- ev
		}
	}()
	return each
}

// describe is an event as "kind id version", for comparisons.
func describe(ev *taskstate.Event) string {
	return fmt.Sprintf("%s %s %d", ev.Kind, ev.TaskID, ev.Version)
}

// nextEvents takes n events (bounded wait), checking each has a cursor.
func nextEvents(t *testing.T, each <-chan *taskstate.Event, n int) []string {
	t.Helper()
	var out []string
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-each:
			if !ok || ev.Kind == taskstate.EventUnknown {
				t.Fatalf("events ended after %v: %v", out, ev)
			}
			if ev.ResumeCursor == "" {
				t.Fatalf("event without a cursor: %+v", ev)
			}
			out = append(out, describe(ev))
		case <-timeout:
			t.Fatalf("only %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

func sameEvents(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}

func TestEventsResumeAfterDroppedConnection(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	px := startProxy(t, srv.Addr)
	writer := dial(t, srv.Addr)
	watcher := dial(t, px.Addr, quickResume)
	// From an explicit "now": Events from "" would take its own in the
	// background, after or before the create.
	page, err := writer.ListTasks(ctx, taskstate.ListTasksParams{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	each := collectEvents(ctx, watcher, taskstate.EventsParams{ResumeCursor: page.ResumeCursor})
	a := mustCreate(t, ctx, writer, taskstate.CreateTaskParams{})
	sameEvents(t, nextEvents(t, each, 1), "write "+a.ID+" 1")
	for round := range 3 {
		if px.DropAll() == 0 {
			t.Fatal("no proxied connection to drop")
		}
		// Changes while the watcher is cut off: none may be missed or repeated.
		// (One write per task: a feed replayed from a cursor carries each
		// task's current version.)
		up, err := writer.SetVariables(ctx, a.ID, map[string]any{"round": round})
		if err != nil {
			t.Fatal(err)
		}
		b := mustCreate(t, ctx, writer, taskstate.CreateTaskParams{})
		sameEvents(t, nextEvents(t, each, 2), fmt.Sprintf("write %s %d", a.ID, up.Version), "write "+b.ID+" 1")
		if err := writer.DeleteTask(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		sameEvents(t, nextEvents(t, each, 1), "deleted "+b.ID+" 1")
	}
}

// TestEventsRelistWhenCompacted: a cursor older than the feed retention makes
// Events list the tasks again (a reset, then a write per task) and go on
// from the listing's cursor.
func TestEventsRelistWhenCompacted(t *testing.T) {
	srv := startServer(t, serverConfig{Args: []string{"--feed-retention", "1s"}})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	page, err := c.ListTasks(ctx, taskstate.ListTasksParams{})
	if err != nil || page.ResumeCursor == "" {
		t.Fatalf("ListTasks: %v %v", page, err)
	}
	old := page.ResumeCursor
	a := mustCreate(t, ctx, c, taskstate.CreateTaskParams{})
	b := mustCreate(t, ctx, c, taskstate.CreateTaskParams{})
	a2, err := c.SetVariables(ctx, a.ID, map[string]any{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	waitCompacted(t, ctx, c, old)

	each := collectEvents(ctx, c, taskstate.EventsParams{ResumeCursor: old})
	got := nextEvents(t, each, 3) // newest first, as ListTasks
	sameEvents(t, got, "reset  0", "write "+b.ID+" 1", fmt.Sprintf("write %s %d", a.ID, a2.Version))
	cc := mustCreate(t, ctx, c, taskstate.CreateTaskParams{})
	sameEvents(t, nextEvents(t, each, 1), "write "+cc.ID+" 1")
}

// waitCompacted polls (bounded) until the server trims the feed past cursor.
func waitCompacted(t *testing.T, ctx context.Context, c *taskstate.Client, cursor string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{ResumeCursor: cursor})
		if err == nil {
			_, err = st.RecvEvent()
			st.Close()
		}
		if errors.Is(err, taskstate.ErrCompacted) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// The server trims on a 1 s sweep: poll, not a synchronisation sleep.
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the feed was not compacted within 30s")
}

// TestEventsFromNow: without a cursor, Events takes "now" from a ListTasks
// (seen here by an interceptor) and misses nothing written after it.
func TestEventsFromNow(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 30*time.Second)
	listed := make(chan struct{}, 1)
	onList := grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if strings.HasSuffix(method, "/ListTasks") {
			select {
			case listed <- struct{}{}:
			default:
			}
		}
		return err
	})
	c := dial(t, srv.Addr, taskstate.WithDialOptions(onList))
	writer := dial(t, srv.Addr)
	mustCreate(t, ctx, writer, taskstate.CreateTaskParams{}) // before: not an event
	each := collectEvents(ctx, c, taskstate.EventsParams{})
	select {
	case <-listed:
	case <-time.After(20 * time.Second):
		t.Fatal("Events did not list")
	}
	a := mustCreate(t, ctx, writer, taskstate.CreateTaskParams{})
	sameEvents(t, nextEvents(t, each, 1), "write "+a.ID+" 1")
}
