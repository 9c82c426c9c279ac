// Package taskstate is the Go client for the taskstate service: a durable
// task-state store for tool handlers, spoken to over gRPC.
//
// A tool handler creates a task and gets its id back at once; from then on any
// process can read the task, move it through its lifecycle (working,
// input_required, then completed, failed or cancelled), share variables with
// it, wait for it, or watch it change.
//
//	c, err := taskstate.Dial(ctx, "127.0.0.1:50051", taskstate.WithToken(tok))
//	if err != nil { ... }
//	defer c.Close()
//	t, err := c.CreateTask(ctx, taskstate.CreateTaskParams{RequestMethod: "tools/call"})
//	t, err = c.Update(ctx, t.ID, func(t *taskstate.Task) error {
//		n, _ := t.Variables["count"].(float64)
//		t.Variables["count"] = n + 1
//		return nil
//	})
//	for t, err := range c.Watch(ctx, t.ID, 0) { ... }
//
// # Errors
//
// Every error that comes from the server is a *Error carrying the gRPC code,
// the google.rpc.ErrorInfo reason and metadata and the field violations of a
// google.rpc.BadRequest. It still works with status.Code and status.FromError,
// and with errors.Is against the sentinels (ErrNotFound, ErrVersionMismatch,
// ErrTaskTerminal, ...) and against context.Canceled / context.DeadlineExceeded.
//
// # Variables and JSON values
//
// Variables, results and error data are JSON values. They are exposed as Go
// values of the shapes encoding/json produces: nil, bool, float64, string,
// []any and map[string]any. Writes accept those and anything else
// encoding/json can marshal (ints, []string, structs, ...); a *structpb.Value
// is sent as is. Numbers always come back as float64. In SetVariables a nil
// value deletes the key.
//
// The generated protobuf and gRPC code lives in
// github.com/taskstate/taskstate/clients/go/gen/taskstate/v1; Client.Raw
// gives the generated stub for anything this package does not wrap.
package taskstate
