package taskstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

func mustCreate(t *testing.T, ctx context.Context, c *taskstate.Client, p taskstate.CreateTaskParams) *taskstate.Task {
	t.Helper()
	tk, err := c.CreateTask(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// lostWithin waits (bounded) for the lease's context to end and checks it
// ended because the lease was lost.
func lostWithin(t *testing.T, l *taskstate.Lease, d time.Duration) {
	t.Helper()
	select {
	case <-l.Context().Done():
	case <-time.After(d):
		t.Fatalf("lease on %s not lost within %s", l.TaskID(), d)
	}
	wantErr(t, "context cause", context.Cause(l.Context()), taskstate.ErrLeaseLost)
	wantErr(t, "Lease.Err", l.Err(), taskstate.ErrLeaseLost)
}

func TestClaimRenewAndFencedWrites(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 30*time.Second)
	c := dial(t, srv.Addr)

	tk := mustCreate(t, ctx, c, taskstate.CreateTaskParams{LeasePolicy: taskstate.LeasePolicyRelease, MaxAttempts: 5})
	if tk.LeasePolicy != taskstate.LeasePolicyRelease || tk.MaxAttempts != 5 || tk.Attempt != 1 || tk.Lease != nil {
		t.Fatalf("created %+v", tk)
	}
	claimed, err := c.ClaimNext(ctx, taskstate.ClaimParams{WorkerID: "w1", Lease: time.Minute})
	if err != nil || claimed == nil || claimed.ID != tk.ID {
		t.Fatalf("ClaimNext: %v %v", claimed, err)
	}
	ls := claimed.Lease
	if ls == nil || ls.WorkerID != "w1" || ls.FencingToken == 0 || ls.Duration != time.Minute || !ls.ExpireTime.After(claimed.UpdateTime) {
		t.Fatalf("lease %+v", ls)
	}
	token := ls.FencingToken
	if none, err := c.ClaimNext(ctx, taskstate.ClaimParams{WorkerID: "w2"}); err != nil || none != nil {
		t.Fatalf("ClaimNext with nothing to claim: %v %v", none, err)
	}
	_, err = c.Claim(ctx, tk.ID, taskstate.ClaimParams{WorkerID: "w2"})
	wantErr(t, "claim of a held task", err, taskstate.ErrLeaseHeld)
	again, err := c.Claim(ctx, tk.ID, taskstate.ClaimParams{WorkerID: "w1"})
	if err != nil || again.Lease.FencingToken != token {
		t.Fatalf("the holder's claim again: %v %v", again, err)
	}

	note := "half way"
	renewed, err := c.RenewLease(ctx, tk.ID, token, taskstate.RenewParams{Lease: 2 * time.Minute, StatusMessage: &note})
	if err != nil || renewed.Lease.Duration != 2*time.Minute || renewed.StatusMessage != note || !renewed.Lease.ExpireTime.After(ls.ExpireTime) {
		t.Fatalf("RenewLease: %+v %v", renewed, err)
	}
	if _, err := c.SetVariables(ctx, tk.ID, map[string]any{"k": 1}, taskstate.WithFencingToken(token)); err != nil {
		t.Fatal(err)
	}
	cur, err := c.GetTask(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Variables["k"] = 2
	if _, err := c.PutIfVersionFenced(ctx, tk.ID, cur.Version, token, cur, taskstate.FieldVariables); err != nil {
		t.Fatal(err)
	}
	// Any write leaving working ends the lease.
	moved, err := c.UpdateTaskStatus(ctx, tk.ID, taskstate.StatusInputRequired, "need input", taskstate.WithFencingToken(token))
	if err != nil || moved.Lease != nil {
		t.Fatalf("UpdateTaskStatus: %+v %v", moved, err)
	}
	_, err = c.SetVariables(ctx, tk.ID, map[string]any{"k": 3}, taskstate.WithFencingToken(token))
	wantErr(t, "fenced write after the lease ended", err, taskstate.ErrLeaseLost)
	if e, _ := taskstate.AsError(err); e == nil {
		t.Fatal("not a *Error")
	} else if cur, ok := e.CurrentFencingToken(); !ok || cur != 0 {
		t.Fatalf("current_fencing_token %d %v", cur, ok)
	}
	_, err = c.RenewLease(ctx, tk.ID, token, taskstate.RenewParams{})
	wantErr(t, "renewal after the lease ended", err, taskstate.ErrLeaseLost)
	_, err = c.CompleteTask(ctx, tk.ID, taskstate.Completion{FencingToken: token})
	wantErr(t, "fenced complete after the lease ended", err, taskstate.ErrLeaseLost)
	// Unfenced writes stay allowed.
	if _, err := c.SetVariables(ctx, tk.ID, map[string]any{"k": 4}); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerClaimNextWaitsAndCompletes(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	w := taskstate.NewWorker(c, taskstate.WorkerOptions{Lease: 3 * time.Second})
	if w.ID() == "" {
		t.Fatal("no default worker id")
	}
	if l, err := w.ClaimNext(ctx, taskstate.ClaimOptions{}); err != nil || l != nil {
		t.Fatalf("ClaimNext with nothing to claim: %v %v", l, err)
	}

	type claimed struct {
		l   *taskstate.Lease
		err error
	}
	got := make(chan claimed, 1)
	go func() {
		l, err := w.ClaimNext(ctx, taskstate.ClaimOptions{RequestMethod: "m", Wait: 30 * time.Second})
		got <- claimed{l, err}
	}()
	mustCreate(t, ctx, c, taskstate.CreateTaskParams{RequestMethod: "other", LeasePolicy: taskstate.LeasePolicyFail})
	want := mustCreate(t, ctx, c, taskstate.CreateTaskParams{RequestMethod: "m", LeasePolicy: taskstate.LeasePolicyFail})
	r := <-got
	if r.err != nil || r.l == nil || r.l.TaskID() != want.ID {
		t.Fatalf("ClaimNext(wait): %v %v", r.l, r.err)
	}
	l := r.l
	defer l.Close()
	if lt := l.Task().Lease; lt == nil || lt.WorkerID != w.ID() || lt.FencingToken != l.FencingToken() {
		t.Fatalf("claimed lease %+v", lt)
	}
	if _, err := l.SetVariables(ctx, map[string]any{"step": 1}); err != nil {
		t.Fatal(err)
	}
	done, err := l.Complete(ctx, taskstate.Completion{Result: "ok"})
	if err != nil || done.Status != taskstate.StatusCompleted || done.Result != "ok" || done.Variables["step"] != float64(1) || done.Lease != nil {
		t.Fatalf("Complete: %+v %v", done, err)
	}
	l.Close()
	if l.Err() != nil || context.Cause(l.Context()) != context.Canceled {
		t.Fatalf("after Close: %v %v", l.Err(), context.Cause(l.Context()))
	}
	l.Close() // twice is fine
}

// TestWorkerHeartbeatsThenLosesLeaseOnStatusChange: the heartbeat keeps a
// short lease alive past its duration; another client's status change ends
// the lease, and the next renewal cancels the lease's context.
func TestWorkerHeartbeatsThenLosesLeaseOnStatusChange(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	other := dial(t, srv.Addr)
	tk := mustCreate(t, ctx, c, taskstate.CreateTaskParams{LeasePolicy: taskstate.LeasePolicyFail})
	w := taskstate.NewWorker(c, taskstate.WorkerOptions{Lease: 900 * time.Millisecond, WorkerID: "hb"})
	l, err := w.Claim(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first := l.Task()
	// Renewals are versioned writes: watch four of them go by, 4 x 300ms
	// later than the claim, so the lease outlived its duration.
	renewals := 0
	for tv, err := range other.Watch(ctx, tk.ID, first.Version) {
		if err != nil {
			t.Fatal(err)
		}
		if tv.Status != taskstate.StatusWorking || tv.Lease == nil || tv.Lease.FencingToken != l.FencingToken() {
			t.Fatalf("lease not kept: %+v", tv)
		}
		if renewals++; renewals == 4 {
			break
		}
	}
	if l.Err() != nil {
		t.Fatalf("lost while renewing: %v", l.Err())
	}
	if _, err := other.UpdateTaskStatus(ctx, tk.ID, taskstate.StatusInputRequired, "question"); err != nil {
		t.Fatal(err)
	}
	lostWithin(t, l, 10*time.Second)
	_, err = l.SetVariables(ctx, map[string]any{"late": true})
	wantErr(t, "write through a lost lease", err, taskstate.ErrLeaseLost)
	if now, err := other.GetTask(ctx, tk.ID); err != nil || now.Variables["late"] != nil {
		t.Fatalf("late write landed: %v %v", now, err)
	}
}

// TestWorkerLeaseLostWhenServerUnreachable: renewals fail with UNAVAILABLE
// until the local deadline; the lease is lost then, and the server expires it
// (LeasePolicyFail) so the old token is refused.
func TestWorkerLeaseLostWhenServerUnreachable(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	px := startProxy(t, srv.Addr)
	direct := dial(t, srv.Addr)
	viaProxy := dial(t, px.Addr)
	tk := mustCreate(t, ctx, direct, taskstate.CreateTaskParams{LeasePolicy: taskstate.LeasePolicyFail})
	l, err := taskstate.NewWorker(viaProxy, taskstate.WorkerOptions{Lease: 900 * time.Millisecond}).Claim(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	px.Close()
	lostWithin(t, l, 10*time.Second)
	var last *taskstate.Task
	for tv, err := range direct.Watch(ctx, tk.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = tv
	}
	if last.Status != taskstate.StatusFailed || last.Error == nil {
		t.Fatalf("expired task %+v", last)
	}
	if data, _ := last.Error.Data.(map[string]any); data["reason"] != taskstate.ReasonLeaseExpired {
		t.Fatalf("error data %v", last.Error.Data)
	}
	_, err = direct.SetVariables(ctx, tk.ID, map[string]any{"late": true}, taskstate.WithFencingToken(l.FencingToken()))
	if !errors.Is(err, taskstate.ErrLeaseLost) && !errors.Is(err, taskstate.ErrTaskTerminal) {
		t.Fatalf("fenced write after expiry: %v", err)
	}
}

// TestExpiredLeaseReleasesTheTask: a lease not renewed expires; with
// LeasePolicyRelease the task is offered again (Attempt + 1) under a new
// token, and the old token is refused.
func TestExpiredLeaseReleasesTheTask(t *testing.T) {
	srv := startServer(t, serverConfig{})
	ctx := testCtx(t, 60*time.Second)
	c := dial(t, srv.Addr)
	tk := mustCreate(t, ctx, c, taskstate.CreateTaskParams{LeasePolicy: taskstate.LeasePolicyRelease, MaxAttempts: 2})
	first, err := c.Claim(ctx, tk.ID, taskstate.ClaimParams{WorkerID: "slow", Lease: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for tv, err := range c.Watch(ctx, tk.ID, first.Version) {
		if err != nil {
			t.Fatal(err)
		}
		if tv.Lease == nil {
			if tv.Status != taskstate.StatusWorking || tv.Attempt != 2 {
				t.Fatalf("released task %+v", tv)
			}
			break
		}
	}
	second, err := c.ClaimNext(ctx, taskstate.ClaimParams{WorkerID: "next", Lease: time.Minute})
	if err != nil || second == nil || second.ID != tk.ID || second.Lease.FencingToken <= first.Lease.FencingToken {
		t.Fatalf("claim after release: %+v %v", second, err)
	}
	_, err = c.CompleteTask(ctx, tk.ID, taskstate.Completion{FencingToken: first.Lease.FencingToken})
	wantErr(t, "complete with the expired token", err, taskstate.ErrLeaseLost)
	if e, _ := taskstate.AsError(err); e == nil {
		t.Fatal("not a *Error")
	} else if cur, _ := e.CurrentFencingToken(); cur != second.Lease.FencingToken {
		t.Fatalf("current_fencing_token %d, want %d", cur, second.Lease.FencingToken)
	}
	if _, err := c.CompleteTask(ctx, tk.ID, taskstate.Completion{FencingToken: second.Lease.FencingToken}); err != nil {
		t.Fatal(err)
	}
}
