package taskstate

import (
	"maps"
	"slices"
	"testing"

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
