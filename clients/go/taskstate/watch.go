package taskstate

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// TaskStream is one open server stream of tasks (WatchTask or WatchTasks),
// read with Recv or ranged over with All (RecvEvent and Events for every
// event kind of WatchTasks). It does not reconnect; see Watch and Events
// for calls that do. Close it when done.
type TaskStream struct {
	recv   func() (*Event, error)
	cancel context.CancelFunc
	view   View
}

// Recv returns the task of the next write event, io.EOF when the server
// ended the stream with OK, or a *Error. Other event kinds (with
// WatchTasksParams.AllEvents or ResumeCursor) are skipped: use RecvEvent.
func (s *TaskStream) Recv() (*Task, error) {
	for {
		ev, err := s.RecvEvent()
		if err != nil {
			return nil, err
		}
		if ev.Kind == EventWrite {
			return ev.Task, nil
		}
	}
}

// RecvEvent returns the next event, io.EOF when the server ended the stream
// with OK, or a *Error (ErrFeedCompacted when WatchTasks' ResumeCursor is
// older than the server keeps events for).
func (s *TaskStream) RecvEvent() (*Event, error) {
	ev, err := s.recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, convertError(err)
	}
	if ev.Task != nil {
		s.view.strip([]*Task{ev.Task})
	}
	return ev, nil
}

// Events ranges over the stream's events (see RecvEvent) until it ends (no
// error is yielded for a clean end) or fails (the error is yielded last).
// Breaking out of the loop closes the stream.
func (s *TaskStream) Events() iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		defer s.Close()
		for {
			ev, err := s.RecvEvent()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// Close cancels the stream; later Recv calls fail with CANCELLED.
func (s *TaskStream) Close() { s.cancel() }

// All ranges over the stream until it ends (no error is yielded for a clean
// end) or fails (the error is yielded last). Breaking out of the loop closes
// the stream.
func (s *TaskStream) All() iter.Seq2[*Task, error] {
	return func(yield func(*Task, error) bool) {
		defer s.Close()
		for {
			t, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(t, nil) {
				return
			}
		}
	}
}

// WatchTask opens one WatchTask stream: first the current task if its
// version is greater than afterVersion, then every later committed version,
// ending (io.EOF) right after the terminal version, or with ErrNotFound if
// the task is deleted or expires. It does not resume after a dropped
// connection: use Watch for that.
func (c *Client) WatchTask(ctx context.Context, taskID string, afterVersion uint64) (*TaskStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	st, err := c.raw.WatchTask(sctx, &taskstatev1.WatchTaskRequest{TaskId: taskID, AfterVersion: afterVersion}, c.callOpts...)
	if err != nil {
		cancel()
		return nil, convertError(err)
	}
	return &TaskStream{
		recv: func() (*Event, error) {
			m, err := st.Recv()
			if err != nil {
				return nil, err
			}
			t := TaskFromProto(m.GetTask())
			return &Event{Kind: EventWrite, TaskID: t.ID, Task: t, Version: t.Version}, nil
		},
		cancel: cancel,
	}, nil
}

// WatchTasksParams are the inputs of WatchTasks; the zero value watches
// every change in full.
type WatchTasksParams struct {
	// Statuses keeps only changes leaving a task in one of them; empty means all.
	Statuses []Status
	// View says how much of each task to send: ViewBasic leaves out
	// variables, result and error; the default is ViewFull.
	View View
	// ResumeCursor, if set, starts the stream right after this position (an
	// Event.ResumeCursor or TaskPage.ResumeCursor) instead of now; a cursor
	// older than the server keeps events for fails with ErrFeedCompacted.
	// It implies AllEvents.
	ResumeCursor string
	// AllEvents also sends EventDeleted, EventExpired and EventProgress
	// events (read them with RecvEvent).
	AllEvents bool
}

// WatchTasks opens a stream of every committed change to any of the
// caller's tasks (creates included) whose new status is in p.Statuses (all
// if none). It returns once the server has registered the watch, so a
// ListTasks made afterwards misses nothing: the worker pattern is watch,
// then list, keeping the highest version per task. It does not resume after
// a dropped connection; Events does (from its last ResumeCursor).
func (c *Client) WatchTasks(ctx context.Context, p WatchTasksParams) (*TaskStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	req := &taskstatev1.WatchTasksRequest{Statuses: statusesToProto(p.Statuses), View: p.View.proto(), ResumeCursor: p.ResumeCursor, AllEvents: p.AllEvents}
	st, err := c.raw.WatchTasks(sctx, req, c.callOpts...)
	if err != nil {
		cancel()
		return nil, convertError(err)
	}
	md, err := st.Header()
	if err != nil {
		cancel()
		return nil, convertError(err)
	}
	if md == nil {
		// A trailers-only answer (e.g. UNAUTHENTICATED): grpc-go's Header gives
		// (nil, nil) and leaves the status to Recv, but a refused open must fail here.
		if _, err := st.Recv(); err != nil && !errors.Is(err, io.EOF) {
			cancel()
			return nil, convertError(err)
		}
	}
	return &TaskStream{
		recv: func() (*Event, error) {
			m, err := st.Recv()
			if err != nil {
				return nil, err
			}
			return eventFromProto(m), nil
		},
		cancel: cancel,
		view:   p.View,
	}, nil
}

// resumable reports whether reopening a watch can help after err: the
// connection dropped or the server is draining.
func resumable(err error) bool { return Code(err) == codes.Unavailable }

// ctxError is ctx's error as a *Error (CANCELLED or DEADLINE_EXCEEDED), which
// still matches context.Canceled / context.DeadlineExceeded with errors.Is.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	return fromStatus(status.FromContextError(err))
}

// Watch yields each new version of the task once, in increasing order,
// starting after afterVersion (0: the current version first), and ends after
// the terminal version. Intermediate versions may be coalesced; the terminal
// one never is.
//
// When the stream breaks with UNAVAILABLE (dropped connection, server
// draining or restarting) Watch reopens it from the last version it yielded,
// with jittered backoff (WithWatchRetry; every received version restores the
// budget), so the caller sees no gap that matters. Any other error ends the
// iteration, yielded last: ErrNotFound when the task is deleted, expires or
// never existed; CANCELLED / DEADLINE_EXCEEDED when ctx ends. Breaking out
// of the loop closes the stream.
//
//	for t, err := range c.Watch(ctx, id, 0) {
//		if err != nil { return err }
//		fmt.Println(t.Version, t.Status)
//	}
func (c *Client) Watch(ctx context.Context, taskID string, afterVersion uint64) iter.Seq2[*Task, error] {
	return func(yield func(*Task, error) bool) {
		last := afterVersion
		b := newBackoff(c.opts.watchRetry)
		for {
			failure, done := c.watchOnce(ctx, taskID, &last, b, yield)
			if done {
				return
			}
			if failure == nil && ctx.Err() == nil {
				// A clean end without a terminal version: the task was already
				// terminal at or before `last`, or the server closed politely.
				// A read tells which.
				t, err := c.GetTask(ctx, taskID)
				if err != nil {
					yield(nil, err)
					return
				}
				if t.Terminal() {
					if t.Version > last {
						yield(t, nil)
					}
					return
				}
			}
			if err := pause(ctx, b, failure); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// pause follows a resuming watch's stream end (failure nil: a clean end):
// it sleeps the backoff and returns nil to reopen, or returns the error that
// ends the iteration (ctx's, a failure that reopening cannot help, or the
// last failure when the retry budget is spent).
func pause(ctx context.Context, b *backoff, failure error) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	if failure != nil && !resumable(failure) {
		return failure
	}
	d, ok := b.next()
	if !ok {
		if failure == nil {
			failure = fromStatus(status.New(codes.Unavailable, "watch stream kept ending early"))
		}
		return failure
	}
	if sleep(ctx, d) != nil {
		return ctxError(ctx)
	}
	return nil
}

// watchOnce runs one WatchTask stream, yielding versions newer than *last.
// done is true when the iteration is over (terminal version yielded, or the
// consumer stopped); otherwise failure is the stream's error (nil for a clean
// end).
func (c *Client) watchOnce(ctx context.Context, taskID string, last *uint64, b *backoff, yield func(*Task, error) bool) (failure error, done bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.raw.WatchTask(sctx, &taskstatev1.WatchTaskRequest{TaskId: taskID, AfterVersion: *last}, c.callOpts...)
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
		pt := m.GetTask()
		if pt.GetVersion() <= *last {
			continue // a replica replaying what we already have
		}
		*last = pt.GetVersion()
		b.reset()
		t := TaskFromProto(pt)
		if !yield(t, nil) || t.Terminal() {
			return nil, true
		}
	}
}
