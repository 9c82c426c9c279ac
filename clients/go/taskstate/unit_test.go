package taskstate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

func TestIsLoopbackTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:50051":            true,
		"localhost:1":                true,
		"[::1]:50051":                true,
		"dns:///localhost:50051":     true,
		"unix:///tmp/sock":           true,
		"passthrough:///127.0.0.2:1": true,
		"10.0.0.1:50051":             false,
		"example.com:443":            false,
		"dns:///example.com:443":     false,
	} {
		if got := isLoopbackTarget(target); got != want {
			t.Errorf("isLoopbackTarget(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(RetryPolicy{MaxAttempts: 5, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 25 * time.Millisecond, Multiplier: 2})
	caps := []time.Duration{10, 20, 25, 25}
	for i, c := range caps {
		d, ok := b.next()
		if !ok || d < 0 || d > c*time.Millisecond {
			t.Fatalf("retry %d: %v %v (cap %v)", i+1, d, ok, c*time.Millisecond)
		}
	}
	if _, ok := b.next(); ok {
		t.Fatal("more retries than MaxAttempts-1")
	}
	b.reset()
	if _, ok := b.next(); !ok {
		t.Fatal("reset did not restore the budget")
	}
}

func statusErr(t *testing.T, c codes.Code, reason string, md map[string]string) error {
	t.Helper()
	st, err := status.New(c, "msg").WithDetails(
		&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: md},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "f", Description: "d"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestErrorConversion(t *testing.T) {
	err := convertError(statusErr(t, codes.FailedPrecondition, ReasonTaskTerminal, nil))
	if !errors.Is(err, ErrTaskTerminal) || !errors.Is(err, ErrFailedPrecondition) || errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("Is: %v", err)
	}
	if status.Code(err) != codes.FailedPrecondition || Reason(err) != ReasonTaskTerminal || Code(err) != codes.FailedPrecondition {
		t.Fatalf("code/reason: %v", err)
	}
	var e *Error
	if !errors.As(fmt.Errorf("ctx: %w", err), &e) || len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "f" {
		t.Fatalf("As: %+v", e)
	}
	if st, ok := status.FromError(err); !ok || len(st.Details()) != 2 {
		t.Fatalf("status.FromError lost the details")
	}

	vm := convertError(statusErr(t, codes.Aborted, ReasonVersionMismatch, map[string]string{"expected_version": "3", "actual_version": "5"}))
	e, _ = AsError(vm)
	if a, ok := e.ActualVersion(); !ok || a != 5 || !errors.Is(vm, ErrVersionMismatch) {
		t.Fatalf("version mismatch: %+v", e)
	}
	// Plain gRPC errors are readable too.
	if Reason(statusErr(t, codes.NotFound, ReasonTaskNotFound, nil)) != ReasonTaskNotFound {
		t.Fatal("Reason on a raw status error")
	}
	if Reason(errors.New("x")) != "" || Code(nil) != codes.OK || Code(context.Canceled) != codes.Canceled {
		t.Fatal("Reason/Code on non-gRPC errors")
	}
	dl := convertError(status.Error(codes.DeadlineExceeded, "late"))
	if !errors.Is(dl, context.DeadlineExceeded) || errors.Is(dl, context.Canceled) {
		t.Fatalf("context matching: %v", dl)
	}
	// A sentinel only matches its own code.
	if errors.Is(ErrNotFound, ErrUnavailable) || !errors.Is(ErrNotFound, ErrNotFound) {
		t.Fatal("sentinel identity")
	}
}

func TestValues(t *testing.T) {
	type point struct{ X, Y int }
	for _, v := range []any{nil, 1, int64(2), 1.5, "s", true, []string{"a"}, map[string]int{"a": 1}, point{1, 2}, []any{1, map[string]any{"k": []int{1}}}} {
		pv, err := Value(v)
		if err != nil {
			t.Fatalf("toValue(%#v): %v", v, err)
		}
		if pv == nil {
			t.Fatalf("toValue(%#v) = nil", v)
		}
	}
	pv, _ := Value(point{1, 2})
	if got := fromValue(pv).(map[string]any); got["X"] != 1.0 {
		t.Fatalf("struct round trip: %#v", got)
	}
	null := structpb.NewNullValue()
	if pv, _ := Value(null); pv != null {
		t.Fatal("a *structpb.Value is not passed through")
	}
	if _, err := Value(func() {}); err == nil {
		t.Fatal("a func converted")
	}
}

func TestChangedFields(t *testing.T) {
	orig := &Task{Status: StatusWorking, Variables: map[string]any{"n": 1.0, "l": []any{"a"}}, TTL: time.Hour}
	same := orig.Clone()
	same.Variables["n"] = 1 // int equal to 1.0
	same.Version = 99       // not writable: ignored
	if f, err := changedFields(orig, same); err != nil || len(f) != 0 {
		t.Fatalf("no change: %v %v", f, err)
	}
	ch := orig.Clone()
	ch.Variables["l"].([]any)[0] = "b"
	ch.Status = StatusCompleted
	ch.Result = map[string]any{"ok": true}
	ch.TTL = 0
	f, err := changedFields(orig, ch)
	if err != nil || fmt.Sprint(f) != "[status variables result ttl]" {
		t.Fatalf("changed: %v %v", f, err)
	}
	if orig.Variables["l"].([]any)[0] != "a" {
		t.Fatal("Clone is not deep")
	}
}

func TestOutstandingInput(t *testing.T) {
	task := TaskFromProto(&taskstatev1.Task{
		InputRequests:  map[string]*structpb.Value{"a": structpb.NewStringValue("A?"), "b": structpb.NewStringValue("B?")},
		InputResponses: map[string]*structpb.Value{"a": structpb.NewBoolValue(true)},
	})
	if got := task.OutstandingInput(); len(got) != 1 || got["b"] != "B?" {
		t.Fatalf("OutstandingInput = %v", got)
	}
	if got := (&Task{}).OutstandingInput(); got == nil || len(got) != 0 {
		t.Fatalf("OutstandingInput of a task without requests = %#v", got)
	}
}

func TestCallMetadata(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want map[string]string
	}{
		{nil, nil},
		{[]Option{WithToken("t")}, map[string]string{"authorization": "Bearer t"}},
		{[]Option{WithSubject("alice")}, map[string]string{"taskstate-subject": "alice"}},
		{[]Option{WithToken("t"), WithSubject("alice")}, map[string]string{"authorization": "Bearer t", "taskstate-subject": "alice"}},
	} {
		c := newClient(nil, buildOptions(tc.opts), true)
		if got := metadataOf(t, c); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("metadata = %v, want %v", got, tc.want)
		}
	}
	base := newClient(nil, buildOptions([]Option{WithToken("t")}), true)
	view := base.WithSubject("bob")
	if got := metadataOf(t, view); got["taskstate-subject"] != "bob" || got["authorization"] != "Bearer t" || view.Subject() != "bob" {
		t.Errorf("WithSubject view metadata = %v", got)
	}
	if got := metadataOf(t, base); got["taskstate-subject"] != "" {
		t.Errorf("the base client gained a subject: %v", got)
	}
	if got := metadataOf(t, view.WithSubject("")); got["taskstate-subject"] != "" {
		t.Errorf(`WithSubject("") kept a subject: %v`, got)
	}
}

// metadataOf is what c's per-RPC credentials send (nil: none).
func metadataOf(t *testing.T, c *Client) map[string]string {
	t.Helper()
	if len(c.callOpts) == 0 {
		return nil
	}
	creds, ok := c.callOpts[0].(grpc.PerRPCCredsCallOption)
	if !ok {
		t.Fatalf("call option %T", c.callOpts[0])
	}
	md, err := creds.Creds.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return md
}
