// Package taskstate is the Go client for the taskstate service: a durable
// task-state store for tool handlers, spoken to over gRPC.
//
// A tool handler creates a task and gets its id back at once; from then on any
// process can read the task, move it through its lifecycle (working,
// input_required, then completed, failed or cancelled), share variables with
// it, wait for it, or watch it change.
//
//	c, err := taskstate.DialFromEnv(ctx) // $TASKSTATE_ADDRESS or 127.0.0.1:50051
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
// # Workers and leases
//
// A task created with a LeasePolicy is offered to workers. A Worker claims
// one (Worker.ClaimNext, Worker.Claim) and gets a *Lease that renews itself
// in the background; its Context is cancelled when the lease is lost, and its
// writes carry the fencing token, so none lands after the lease has moved on
// (ErrLeaseLost). Client.Events follows the owner's feed as events with
// resume cursors, resuming after a dropped connection and re-listing when
// the feed was compacted past its cursor.
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
// value deletes the key. A JSON number is an IEEE double on the wire, so an
// integer outside ±MaxSafeInteger (2^53-1), NaN or ±Inf is refused locally
// with ErrValueNotRepresentable, naming the value's path.
//
// # Connecting and TLS
//
// DialFromEnv reads TASKSTATE_ADDRESS, TASKSTATE_TOKEN, TASKSTATE_TLS,
// TASKSTATE_CA_CERT, TASKSTATE_CLIENT_CERT and TASKSTATE_CLIENT_KEY. TLS or
// plaintext follows the rule all taskstate clients share: an explicit option
// (WithTLS, WithCACert, WithClientCert / WithInsecure), else the scheme
// (https:// / http://), else plaintext for a loopback host and TLS with the
// system roots for any other.
//
// Statuses print as working, input_required, completed, failed and
// cancelled.
//
// The generated protobuf and gRPC code lives in
// github.com/taskstate/taskstate/clients/go/gen/taskstate/v1; Client.Raw
// gives the generated stub for anything this package does not wrap.
package taskstate
