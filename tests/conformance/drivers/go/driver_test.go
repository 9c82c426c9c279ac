package main

// Server-less checks of the driver's side of the protocol; the engine's
// conformance run (tests/conformance) checks every op against real servers.

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// session runs the driver on pipes and returns a request writer and a line reader.
func session(t *testing.T) (io.WriteCloser, *bufio.Scanner, chan error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(inR, outW) }()
	lines := bufio.NewScanner(outR)
	t.Cleanup(func() { _ = inW.Close(); _ = outR.Close() })
	return inW, lines, done
}

func next(t *testing.T, lines *bufio.Scanner) map[string]any {
	t.Helper()
	if !lines.Scan() {
		t.Fatalf("no answer: %v", lines.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", lines.Bytes(), err)
	}
	return m
}

func TestBadRequestsAreFailures(t *testing.T) {
	in, lines, _ := session(t)
	if got := next(t, lines); !reflect.DeepEqual(got, map[string]any{"hello": "go"}) {
		t.Fatalf("hello = %v", got)
	}
	target := `"target": {"address": "127.0.0.1:1", "token": null}`
	cases := []string{
		`{"id": 1, "op": "frobnicate", ` + target + `, "args": {}}`,
		`{"id": 2, "op": "get", ` + target + `, "args": {"task_id": "x", "colour": "red"}}`,
		`{"id": 3, "op": "watch_all_next", "args": {"stream": "never-opened"}}`,
		`{"id": 4, "op": "get", "args": {"task_id": "x"}}`,
		`{"id": 5, "op": "get", ` + target + `, "args": {"task_id": 7}}`,
	}
	for i, c := range cases {
		if _, err := io.WriteString(in, c+"\n"); err != nil {
			t.Fatal(err)
		}
		got := next(t, lines)
		if got["id"] != float64(i+1) || got["failure"] == nil || len(got) != 2 {
			t.Errorf("%s\n  answered %v, want a failure", c, got)
		}
	}
}

// A request that hangs (a server that never speaks) does not hold up the
// next one, and closing stdin ends run without waiting for it.
func TestRequestsAnswerConcurrently(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	in, lines, done := session(t)
	next(t, lines) // hello
	hang := `{"id": 1, "op": "get", "target": {"address": "` + silent.Addr().String() + `", "token": "t"}, "args": {"task_id": "x"}}`
	closeUnknown := `{"id": 2, "op": "watch_all_close", "args": {"stream": "s"}}`
	if _, err := io.WriteString(in, hang+"\n"+closeUnknown+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, lines); got["id"] != float64(2) || !reflect.DeepEqual(got["ok"], map[string]any{}) {
		t.Fatalf("first answer = %v, want id 2 ok {}", got)
	}
	_ = in.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after stdin closed")
	}
}

func TestTaskViewPresence(t *testing.T) {
	m := &taskstatev1.Task{
		TaskId: "id", Status: taskstatev1.TaskStatus_TASK_STATUS_FAILED, Version: 3,
		CreateTime: timestamppb.New(time.UnixMilli(1000)), UpdateTime: timestamppb.New(time.UnixMilli(2000)),
		Result: structpb.NewNullValue(), Error: &taskstatev1.TaskError{Code: -1, Message: "m"},
		PollInterval: durationpb.New(1500 * time.Millisecond),
		Lease: &taskstatev1.Lease{
			WorkerId: "w", FencingToken: 4, ExpireTime: timestamppb.New(time.UnixMilli(5000)), Duration: durationpb.New(3 * time.Second),
		},
		LeasePolicy: taskstatev1.LeasePolicy_LEASE_POLICY_RELEASE, MaxAttempts: 3, Attempt: 2,
		Subject: "alice", InputRequests: map[string]*structpb.Value{"q": structpb.NewStringValue("why?")}, CancelRequested: true,
	}
	raw, err := json.Marshal(taskView(taskstate.TaskFromProto(m)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"attempt":2,"cancel_requested":true,"create_time_ms":1000,"error":{"code":-1,"message":"m"},` +
		`"input_requests":{"q":"why?"},"input_responses":{},` +
		`"lease":{"duration_ms":3000,"expire_time_ms":5000,"fencing_token":4,"worker_id":"w"},"lease_policy":"release",` +
		`"max_attempts":3,"poll_interval_ms":1500,"request_method":"",` +
		`"result":null,"status":"failed","status_message":"","subject":"alice","task_id":"id","update_time_ms":2000,"variables":{},"version":3}`
	if string(raw) != want {
		t.Errorf("view\n  got  %s\n  want %s", raw, want)
	}
}

func TestEventView(t *testing.T) {
	gone := eventView(&taskstate.Event{Kind: taskstate.EventDeleted, TaskID: "id", Version: 4, ResumeCursor: "c"})
	if !reflect.DeepEqual(gone, map[string]any{"kind": "deleted", "task_id": "id", "version": uint64(4), "resume_cursor": "c"}) {
		t.Errorf("deleted event view %v", gone)
	}
	progress := eventView(&taskstate.Event{Kind: taskstate.EventProgress, ResumeCursor: "d"})
	if !reflect.DeepEqual(progress, map[string]any{"kind": "progress", "task_id": "", "version": uint64(0), "resume_cursor": "d"}) {
		t.Errorf("progress event view %v", progress)
	}
}
