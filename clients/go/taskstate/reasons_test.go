package taskstate

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// The Reason constants are the names of the proto's ErrorReason values: every
// one of them but ERROR_REASON_UNSPECIFIED, each once, with the same strings
// the client has always exported.
func TestReasonsAreTheProtoErrorReasons(t *testing.T) {
	reasons := map[string]struct {
		got  string
		enum taskstatev1.ErrorReason
	}{
		"TASK_NOT_FOUND":          {ReasonTaskNotFound, taskstatev1.ErrorReason_TASK_NOT_FOUND},
		"VERSION_MISMATCH":        {ReasonVersionMismatch, taskstatev1.ErrorReason_VERSION_MISMATCH},
		"INVALID_TRANSITION":      {ReasonInvalidTransition, taskstatev1.ErrorReason_INVALID_TRANSITION},
		"TASK_TERMINAL":           {ReasonTaskTerminal, taskstatev1.ErrorReason_TASK_TERMINAL},
		"INVALID_ARGUMENT":        {ReasonInvalidArgument, taskstatev1.ErrorReason_INVALID_ARGUMENT},
		"TASK_QUOTA_EXCEEDED":     {ReasonTaskQuotaExceeded, taskstatev1.ErrorReason_TASK_QUOTA_EXCEEDED},
		"VARIABLES_TOO_LARGE":     {ReasonVariablesTooLarge, taskstatev1.ErrorReason_VARIABLES_TOO_LARGE},
		"BACKEND_UNAVAILABLE":     {ReasonBackendUnavailable, taskstatev1.ErrorReason_BACKEND_UNAVAILABLE},
		"VALUE_NOT_REPRESENTABLE": {ReasonValueNotRepresentable, taskstatev1.ErrorReason_VALUE_NOT_REPRESENTABLE},
		"LEASE_LOST":              {ReasonLeaseLost, taskstatev1.ErrorReason_LEASE_LOST},
		"LEASE_HELD":              {ReasonLeaseHeld, taskstatev1.ErrorReason_LEASE_HELD},
		"FEED_COMPACTED":          {ReasonFeedCompacted, taskstatev1.ErrorReason_FEED_COMPACTED},
		"LEASE_EXPIRED":           {ReasonLeaseExpired, taskstatev1.ErrorReason_LEASE_EXPIRED},
		"UNSUPPORTED_BY_STORE":    {ReasonUnsupportedByStore, taskstatev1.ErrorReason_UNSUPPORTED_BY_STORE},
	}
	for want, r := range reasons {
		if r.got != want || r.enum.String() != want {
			t.Errorf("reason %s: constant %q, enum name %q", want, r.got, r.enum.String())
		}
	}
	var proto []string
	for _, name := range taskstatev1.ErrorReason_name {
		if name != taskstatev1.ErrorReason_ERROR_REASON_UNSPECIFIED.String() {
			proto = append(proto, name)
		}
	}
	slices.Sort(proto)
	if ours := slices.Sorted(maps.Keys(reasons)); !slices.Equal(proto, ours) {
		t.Fatalf("proto reasons %v, client reasons %v", proto, ours)
	}
}

// The lease and feed reasons pick their sentinels, and their metadata reads
// back typed.
func TestLeaseAndFeedErrorsMatchTheirSentinels(t *testing.T) {
	withInfo := func(code codes.Code, reason string, meta map[string]string) error {
		st, err := status.New(code, "m").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		return convertError(st.Err())
	}
	lost := withInfo(codes.FailedPrecondition, ReasonLeaseLost, map[string]string{"fencing_token": "3", "current_fencing_token": "0"})
	if !errors.Is(lost, ErrLeaseLost) || !errors.Is(lost, ErrFailedPrecondition) || errors.Is(lost, ErrLeaseHeld) {
		t.Fatalf("LEASE_LOST: %v", lost)
	}
	e, _ := AsError(lost)
	if tok, ok := e.FencingToken(); !ok || tok != 3 {
		t.Errorf("FencingToken %d %v", tok, ok)
	}
	if cur, ok := e.CurrentFencingToken(); !ok || cur != 0 {
		t.Errorf("CurrentFencingToken %d %v", cur, ok)
	}
	held := withInfo(codes.FailedPrecondition, ReasonLeaseHeld, map[string]string{"lease_expire_time": "2026-12-03T10:00:01.500Z"})
	e, _ = AsError(held)
	if at, ok := e.LeaseExpireTime(); !errors.Is(held, ErrLeaseHeld) || !ok || at.UnixMilli() != 1796292001500 {
		t.Errorf("LEASE_HELD: %v, expire %v %v", held, at, ok)
	}
	if err := withInfo(codes.OutOfRange, ReasonFeedCompacted, nil); !errors.Is(err, ErrFeedCompacted) {
		t.Errorf("FEED_COMPACTED: %v", err)
	}
	if err := withInfo(codes.Unimplemented, ReasonUnsupportedByStore, nil); !errors.Is(err, ErrUnsupportedByStore) {
		t.Errorf("UNSUPPORTED_BY_STORE: %v", err)
	}
}
