package taskstate

import (
	"fmt"
	"strconv"
	"strings"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// Status is a task's lifecycle status. Its values are those of the generated
// enum (taskstatev1.TaskStatus), but its text form is the lower-case MCP
// name that every taskstate surface (CLI, Python, TypeScript, Rust) prints:
// working, input_required, completed, failed, cancelled.
type Status int32

// The statuses. Working and InputRequired are active; Completed, Failed and
// Cancelled are terminal, and a terminal task is frozen.
const (
	StatusUnspecified   = Status(taskstatev1.TaskStatus_TASK_STATUS_UNSPECIFIED)
	StatusWorking       = Status(taskstatev1.TaskStatus_TASK_STATUS_WORKING)
	StatusInputRequired = Status(taskstatev1.TaskStatus_TASK_STATUS_INPUT_REQUIRED)
	StatusCompleted     = Status(taskstatev1.TaskStatus_TASK_STATUS_COMPLETED)
	StatusFailed        = Status(taskstatev1.TaskStatus_TASK_STATUS_FAILED)
	StatusCancelled     = Status(taskstatev1.TaskStatus_TASK_STATUS_CANCELLED)
)

var statusNames = map[Status]string{
	StatusUnspecified:   "unspecified",
	StatusWorking:       "working",
	StatusInputRequired: "input_required",
	StatusCompleted:     "completed",
	StatusFailed:        "failed",
	StatusCancelled:     "cancelled",
}

// String returns the MCP name ("completed", not "TASK_STATUS_COMPLETED"), so
// fmt prints statuses the way users read them everywhere else; an unknown
// value prints as Status(n).
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText gives the String form, so encoding/json writes "completed".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a name as ParseStatus does.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseStatus parses an MCP status name (case-insensitive), e.g.
// "input_required".
func ParseStatus(name string) (Status, error) {
	lower := strings.ToLower(strings.TrimSpace(name))
	for s, n := range statusNames {
		if n == lower && s != StatusUnspecified {
			return s, nil
		}
	}
	return StatusUnspecified, fmt.Errorf("taskstate: unknown status %q (want working, input_required, completed, failed or cancelled)", name)
}

// Proto returns the generated enum value.
func (s Status) Proto() taskstatev1.TaskStatus { return taskstatev1.TaskStatus(s) }

// IsTerminal reports whether s is completed, failed or cancelled.
func IsTerminal(s Status) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

func statusesToProto(ss []Status) []taskstatev1.TaskStatus {
	if len(ss) == 0 {
		return nil
	}
	out := make([]taskstatev1.TaskStatus, len(ss))
	for i, s := range ss {
		out[i] = s.Proto()
	}
	return out
}
