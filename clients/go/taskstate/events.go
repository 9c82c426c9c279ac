package taskstate

import (
	"cmp"
	"context"
	"errors"
	"io"
	"iter"
	"strconv"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// EventKind says what an Event reports. The server's kinds have the values
// of the generated WatchEventKind enum; EventReset is the client's own.
type EventKind int32

// The event kinds.
const (
	// EventUnknown is a kind this client does not know (from a newer server).
	EventUnknown = EventKind(taskstatev1.WatchEventKind_WATCH_EVENT_KIND_UNSPECIFIED)
	// EventWrite is a committed version of a task (Event.Task is set).
	EventWrite = EventKind(taskstatev1.WatchEventKind_WATCH_EVENT_KIND_WRITE)
	// EventDeleted: DeleteTask removed the task.
	EventDeleted = EventKind(taskstatev1.WatchEventKind_WATCH_EVENT_KIND_DELETED)
	// EventExpired: the task reached its expire time and no longer exists.
	EventExpired = EventKind(taskstatev1.WatchEventKind_WATCH_EVENT_KIND_EXPIRED)
	// EventProgress: no change, only a newer ResumeCursor.
	EventProgress = EventKind(taskstatev1.WatchEventKind_WATCH_EVENT_KIND_PROGRESS)
	// EventReset is sent by Client.Events, never by the server: the feed was
	// compacted past the watcher's cursor, so what the watcher knows is
	// stale; an EventWrite per current task follows (a fresh listing).
	EventReset EventKind = 100
)

// String returns "write", "deleted", "expired", "progress", "reset", or
// EventKind(n).
func (k EventKind) String() string {
	switch k {
	case EventWrite:
		return "write"
	case EventDeleted:
		return "deleted"
	case EventExpired:
		return "expired"
	case EventProgress:
		return "progress"
	case EventReset:
		return "reset"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one message of the owner's feed (WatchTasks, Events).
type Event struct {
	Kind EventKind
	// TaskID is the task the event is about; "" with EventProgress and
	// EventReset.
	TaskID string
	// Task is the committed version, with EventWrite; nil otherwise.
	Task *Task
	// Version is the task's version with EventWrite; with EventDeleted and
	// EventExpired, the last version the store knew (0 if none).
	Version uint64
	// ResumeCursor is the feed position after this event: a watch from it
	// (WatchTasksParams.ResumeCursor, EventsParams.ResumeCursor) resumes
	// right after it. It may be "" on a stream opened without AllEvents.
	ResumeCursor string
}

func eventFromProto(m *taskstatev1.WatchTasksResponse) *Event {
	kind := EventKind(m.GetKind())
	if kind == EventUnknown && m.GetTask() != nil {
		kind = EventWrite // a server older than event kinds sends only writes
	}
	ev := &Event{Kind: kind, TaskID: m.GetTaskId(), Version: m.GetVersion(), ResumeCursor: m.GetResumeCursor()}
	if m.GetTask() != nil {
		ev.Task = TaskFromProto(m.GetTask())
		ev.Version = ev.Task.Version
		if ev.TaskID == "" {
			ev.TaskID = ev.Task.ID
		}
	}
	return ev
}

// EventsParams are the inputs of Events; the zero value follows every change
// from now on, in full.
type EventsParams struct {
	// Statuses keeps only changes leaving a task in one of them; empty means all.
	Statuses []Status
	// View says how much of each task to send (see WatchTasksParams.View).
	View View
	// ResumeCursor starts after this position (the ResumeCursor of an Event
	// handled earlier, or of a TaskPage); "" means now.
	ResumeCursor string
}

// Events follows every change to the caller's tasks as events (writes,
// deletions, expiries; progress messages only move the cursor and are not
// yielded), each with the ResumeCursor that resumes right after it: store
// it with what the event caused to continue from there after a restart.
//
// When the stream breaks with UNAVAILABLE, Events reopens it from the last
// cursor with jittered backoff (WithWatchRetry; every message received
// restores the budget), so nothing is missed. When the cursor is older than
// the server keeps events for (ErrFeedCompacted), Events lists the tasks
// again: it yields an EventReset, then an EventWrite per listed task, and
// continues from the listing's first-page cursor. Any other error ends the
// iteration, yielded last; breaking out of the loop closes the stream.
//
//	for ev, err := range c.Events(ctx, taskstate.EventsParams{}) {
//		if err != nil { return err }
//		fmt.Println(ev.Kind, ev.TaskID, ev.Version)
//	}
func (c *Client) Events(ctx context.Context, p EventsParams) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		cursor := p.ResumeCursor
		b := newBackoff(c.opts.watchRetry)
		relist := false
		for {
			var failure error
			var done bool
			switch {
			case cursor == "":
				// "now" as a position, so even the first reconnection misses nothing.
				page, err := c.ListTasks(ctx, ListTasksParams{PageSize: 1, Statuses: p.Statuses, View: ViewBasic})
				if err == nil && page.ResumeCursor != "" {
					cursor = page.ResumeCursor
					continue
				}
				if err == nil {
					// A server that gives no cursor: watch from now, as WatchTasks does.
					failure, done = c.eventsOnce(ctx, p, &cursor, b, yield)
				}
				failure = cmp.Or(err, failure)
			case relist:
				failure, done = c.relist(ctx, p, &cursor, yield)
				if failure == nil && !done {
					relist = false
					b.reset()
					continue
				}
			default:
				failure, done = c.eventsOnce(ctx, p, &cursor, b, yield)
				if errors.Is(failure, ErrFeedCompacted) {
					relist = true
					continue
				}
			}
			if done {
				return
			}
			if err := pause(ctx, b, failure); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// eventsOnce runs one WatchTasks stream from *cursor, moving *cursor on with
// every message. done is true when the consumer stopped; otherwise failure
// is the stream's error (nil for a clean end).
func (c *Client) eventsOnce(ctx context.Context, p EventsParams, cursor *string, b *backoff, yield func(*Event, error) bool) (failure error, done bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := &taskstatev1.WatchTasksRequest{Statuses: statusesToProto(p.Statuses), View: p.View.proto(), ResumeCursor: *cursor, AllEvents: true}
	st, err := c.raw.WatchTasks(sctx, req, c.callOpts...)
	if err != nil {
		return convertError(err), false
	}
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil, false
		}
		if err != nil {
			return convertError(err), false
		}
		b.reset()
		ev := eventFromProto(m)
		if ev.ResumeCursor != "" {
			*cursor = ev.ResumeCursor
		} else {
			ev.ResumeCursor = *cursor
		}
		if ev.Kind != EventWrite && ev.Kind != EventDeleted && ev.Kind != EventExpired {
			continue // progress, or a kind this client does not know
		}
		if ev.Task != nil {
			p.View.strip([]*Task{ev.Task})
		}
		if !yield(ev, nil) {
			return nil, true
		}
	}
}

// relist lists every task after a compaction and yields an EventReset and a
// write per task, all with the first page's cursor, which becomes *cursor.
func (c *Client) relist(ctx context.Context, p EventsParams, cursor *string, yield func(*Event, error) bool) (failure error, done bool) {
	lp := ListTasksParams{Statuses: p.Statuses, View: p.View}
	first, err := c.ListTasks(ctx, lp)
	if err != nil {
		return err, false
	}
	tasks := first.Tasks
	for next := first.NextPageToken; next != ""; {
		lp.PageToken = next
		page, err := c.ListTasks(ctx, lp)
		if err != nil {
			return err, false
		}
		tasks = append(tasks, page.Tasks...)
		next = page.NextPageToken
	}
	*cursor = first.ResumeCursor
	if !yield(&Event{Kind: EventReset, ResumeCursor: *cursor}, nil) {
		return nil, true
	}
	for _, t := range tasks {
		if !yield(&Event{Kind: EventWrite, TaskID: t.ID, Task: t, Version: t.Version, ResumeCursor: *cursor}, nil) {
			return nil, true
		}
	}
	return nil, false
}
