package taskstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the taskstate service.
const ErrorDomain = "taskstate.dev"

// ErrorInfo reasons sent by the server (docs/design.md §6).
// They are the names of the proto's ErrorReason values (variables, as the
// generated enum's String is not a constant), so they cannot drift from the
// server's.
var (
	ReasonTaskNotFound       = taskstatev1.ErrorReason_TASK_NOT_FOUND.String()
	ReasonVersionMismatch    = taskstatev1.ErrorReason_VERSION_MISMATCH.String()
	ReasonInvalidTransition  = taskstatev1.ErrorReason_INVALID_TRANSITION.String()
	ReasonTaskTerminal       = taskstatev1.ErrorReason_TASK_TERMINAL.String()
	ReasonInvalidArgument    = taskstatev1.ErrorReason_INVALID_ARGUMENT.String()
	ReasonTaskQuotaExceeded  = taskstatev1.ErrorReason_TASK_QUOTA_EXCEEDED.String()
	ReasonVariablesTooLarge  = taskstatev1.ErrorReason_VARIABLES_TOO_LARGE.String()
	ReasonBackendUnavailable = taskstatev1.ErrorReason_BACKEND_UNAVAILABLE.String()
	// ReasonValueNotRepresentable is raised locally, before any call, for a
	// JSON number a google.protobuf.Value cannot carry exactly (see Value).
	ReasonValueNotRepresentable = taskstatev1.ErrorReason_VALUE_NOT_REPRESENTABLE.String()
	ReasonLeaseLost             = taskstatev1.ErrorReason_LEASE_LOST.String()
	ReasonLeaseHeld             = taskstatev1.ErrorReason_LEASE_HELD.String()
	ReasonFeedCompacted         = taskstatev1.ErrorReason_FEED_COMPACTED.String()
	ReasonUnsupportedByStore    = taskstatev1.ErrorReason_UNSUPPORTED_BY_STORE.String()
	// ReasonLeaseExpired is never the reason of a call's error: it is the
	// "reason" in the error data of a task failed because its lease expired.
	ReasonLeaseExpired = taskstatev1.ErrorReason_LEASE_EXPIRED.String()
)

// Error is an error answered by the server (or by gRPC on its behalf).
//
// It implements GRPCStatus, so status.Code(err) and status.FromError(err)
// work on it and on anything wrapping it. errors.Is matches it against the
// sentinel errors of this package (by code, and by reason where a code is
// shared by several reasons) and against context.Canceled and
// context.DeadlineExceeded.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the google.rpc.ErrorInfo reason, e.g. "TASK_NOT_FOUND"; empty
	// if the status carried no ErrorInfo.
	Reason string
	// Domain is the ErrorInfo domain ("taskstate.dev").
	Domain string
	// Metadata is the ErrorInfo metadata, e.g. expected_version and
	// actual_version for VERSION_MISMATCH. Never nil.
	Metadata map[string]string
	// Message is the status message.
	Message string
	// FieldViolations lists the google.rpc.BadRequest violations of an
	// INVALID_ARGUMENT error.
	FieldViolations []FieldViolation

	st       *status.Status
	sentinel bool
}

// FieldViolation is one google.rpc.BadRequest field violation.
type FieldViolation struct {
	Field       string
	Description string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("taskstate: %s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("taskstate: %s: %s", e.Code, e.Message)
}

// GRPCStatus returns the gRPC status the error came from, so the helpers of
// google.golang.org/grpc/status see through it.
func (e *Error) GRPCStatus() *status.Status {
	if e.st != nil {
		return e.st
	}
	return status.New(e.Code, e.Message)
}

// Is reports whether e matches target: a sentinel *Error matches when the
// codes are equal and the sentinel's reason, if any, is e's reason.
// context.Canceled and context.DeadlineExceeded match the codes CANCELLED and
// DEADLINE_EXCEEDED.
func (e *Error) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Code == codes.Canceled
	case context.DeadlineExceeded:
		return e.Code == codes.DeadlineExceeded
	}
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t == e {
		return true
	}
	return t.sentinel && t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

// ExpectedVersion returns the expected_version metadata of a VERSION_MISMATCH.
func (e *Error) ExpectedVersion() (uint64, bool) { return e.metaUint("expected_version") }

// ActualVersion returns the actual_version metadata of a VERSION_MISMATCH: the
// task's version when the write was refused.
func (e *Error) ActualVersion() (uint64, bool) { return e.metaUint("actual_version") }

// FencingToken returns the fencing_token metadata of a LEASE_LOST: the token
// the refused write or renewal named.
func (e *Error) FencingToken() (uint64, bool) { return e.metaUint("fencing_token") }

// CurrentFencingToken returns the current_fencing_token metadata of a
// LEASE_LOST: the token of the task's live lease, 0 when it has none.
func (e *Error) CurrentFencingToken() (uint64, bool) { return e.metaUint("current_fencing_token") }

// LeaseExpireTime returns the lease_expire_time metadata of a LEASE_HELD: when
// the other worker's lease ends unless renewed.
func (e *Error) LeaseExpireTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, e.Metadata["lease_expire_time"])
	return t, err == nil
}

func (e *Error) metaUint(key string) (uint64, bool) {
	s, ok := e.Metadata[key]
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func sentinel(code codes.Code, reason, msg string) *Error {
	return &Error{Code: code, Reason: reason, Message: msg, Metadata: map[string]string{}, sentinel: true}
}

// Sentinel errors for errors.Is. The ones without a reason match every error
// of their code.
var (
	// ErrNotFound: the task does not exist, was deleted, expired, or belongs
	// to another owner (NOT_FOUND).
	ErrNotFound = sentinel(codes.NotFound, "", "task not found")
	// ErrVersionMismatch: the stored version differs from the expected one
	// (ABORTED); see Error.ActualVersion.
	ErrVersionMismatch = sentinel(codes.Aborted, "", "version mismatch")
	// ErrFailedPrecondition: any FAILED_PRECONDITION (ErrInvalidTransition,
	// ErrTaskTerminal, ErrLeaseLost or ErrLeaseHeld).
	ErrFailedPrecondition = sentinel(codes.FailedPrecondition, "", "failed precondition")
	// ErrInvalidTransition: the status change is not a legal move.
	ErrInvalidTransition = sentinel(codes.FailedPrecondition, ReasonInvalidTransition, "invalid transition")
	// ErrTaskTerminal: the task is completed, failed or cancelled, and frozen.
	ErrTaskTerminal = sentinel(codes.FailedPrecondition, ReasonTaskTerminal, "task is terminal")
	// ErrLeaseLost: the fencing token named is no longer the task's live lease
	// (see Error.CurrentFencingToken); stop working on the task.
	ErrLeaseLost = sentinel(codes.FailedPrecondition, ReasonLeaseLost, "lease lost")
	// ErrLeaseHeld: another worker holds a live lease on the task (see
	// Error.LeaseExpireTime).
	ErrLeaseHeld = sentinel(codes.FailedPrecondition, ReasonLeaseHeld, "lease held")
	// ErrFeedCompacted: a resume cursor older than the server keeps events
	// for (OUT_OF_RANGE); list the tasks again and watch from the new cursor.
	ErrFeedCompacted = sentinel(codes.OutOfRange, ReasonFeedCompacted, "feed compacted")
	// ErrCompacted is ErrFeedCompacted (the same sentinel, a shorter name).
	ErrCompacted = ErrFeedCompacted
	// ErrUnsupportedByStore: the server's store cannot serve the call
	// (UNIMPLEMENTED), e.g. leases or a resumed feed.
	ErrUnsupportedByStore = sentinel(codes.Unimplemented, ReasonUnsupportedByStore, "unsupported by store")
	// ErrInvalidArgument: a malformed request (see Error.FieldViolations).
	ErrInvalidArgument = sentinel(codes.InvalidArgument, "", "invalid argument")
	// ErrValueNotRepresentable: a value to send holds an integer outside
	// ±MaxSafeInteger, NaN or ±Inf (refused locally; see Value).
	ErrValueNotRepresentable = sentinel(codes.InvalidArgument, ReasonValueNotRepresentable, "value not representable")
	// ErrResourceExhausted: any RESOURCE_EXHAUSTED (ErrQuotaExceeded or ErrVariablesTooLarge).
	ErrResourceExhausted = sentinel(codes.ResourceExhausted, "", "resource exhausted")
	// ErrQuotaExceeded: too many active tasks for this owner.
	ErrQuotaExceeded = sentinel(codes.ResourceExhausted, ReasonTaskQuotaExceeded, "task quota exceeded")
	// ErrVariablesTooLarge: the variables would exceed the size cap.
	ErrVariablesTooLarge = sentinel(codes.ResourceExhausted, ReasonVariablesTooLarge, "variables too large")
	// ErrUnauthenticated: missing or unknown token.
	ErrUnauthenticated = sentinel(codes.Unauthenticated, "", "unauthenticated")
	// ErrUnavailable: the server or its backend cannot be reached.
	ErrUnavailable = sentinel(codes.Unavailable, "", "unavailable")
)

// Reason returns the ErrorInfo reason of err (e.g. "VERSION_MISMATCH"), or ""
// if err carries none. It sees through wrapping and also reads plain gRPC
// status errors.
func Reason(err error) string {
	if e := asError(err); e != nil {
		return e.Reason
	}
	return ""
}

// Code returns the gRPC code of err: OK for nil, the status code of a gRPC
// or *Error error, Canceled / DeadlineExceeded for context errors, Unknown
// otherwise.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if e := asError(err); e != nil {
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// AsError returns err as a *Error if it is one or wraps one, or if it is a
// gRPC status error (which is then converted).
func AsError(err error) (*Error, bool) {
	e := asError(err)
	return e, e != nil
}

func asError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		return fromStatus(gs.GRPCStatus())
	}
	return nil
}

// convertError turns the error of a gRPC call into a *Error (or returns the
// context's error unchanged if it is not a gRPC status).
func convertError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return fromStatus(st)
}

func fromStatus(st *status.Status) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), Metadata: map[string]string{}, st: st}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if e.Reason != "" {
				continue
			}
			e.Reason = d.GetReason()
			e.Domain = d.GetDomain()
			for k, v := range d.GetMetadata() {
				e.Metadata[k] = v
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return e
}

// notRepresentable is the local error for a JSON value that a
// google.protobuf.Value (an IEEE double) cannot carry exactly. It is raised
// before any call, with the same shape as a server INVALID_ARGUMENT.
func notRepresentable(path, what string) *Error {
	rule := "JSON numbers are IEEE doubles: integers must lie within ±(2^53-1) (±9007199254740991), and NaN and ±Inf are not allowed; send such a value as a string"
	msg := fmt.Sprintf("%s: %s cannot be sent exactly; %s", path, what, rule)
	return localError(codes.InvalidArgument, ReasonValueNotRepresentable, path, msg, rule)
}

// localError builds an *Error raised by the client itself, carrying the same
// ErrorInfo and BadRequest details a server error would.
func localError(code codes.Code, reason, field, msg, description string) *Error {
	st := status.New(code, msg)
	if withDetails, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: map[string]string{"path": field}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}},
	); err == nil {
		st = withDetails
	}
	return fromStatus(st)
}
