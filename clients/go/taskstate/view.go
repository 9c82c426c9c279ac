package taskstate

import (
	"strconv"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// View says how much of each task ListTasks and WatchTasks return (in the
// style of AIP-157). Its values are those of the generated TaskView enum.
type View int32

// The views. The zero value, ViewDefault, is the server's default: full.
const (
	ViewDefault = View(taskstatev1.TaskView_TASK_VIEW_UNSPECIFIED)
	// ViewBasic leaves out variables, result, error and the input requests
	// and responses, so a dashboard or a worker scanning for work does not
	// pull megabytes. Tasks read with it have nil Variables (not loaded),
	// Result, Error, InputRequests and InputResponses.
	ViewBasic = View(taskstatev1.TaskView_TASK_VIEW_BASIC)
	// ViewFull returns every field.
	ViewFull = View(taskstatev1.TaskView_TASK_VIEW_FULL)
)

// String returns "default", "basic", "full", or View(n).
func (v View) String() string {
	switch v {
	case ViewDefault:
		return "default"
	case ViewBasic:
		return "basic"
	case ViewFull:
		return "full"
	}
	return "View(" + strconv.Itoa(int(v)) + ")"
}

func (v View) proto() taskstatev1.TaskView { return taskstatev1.TaskView(v) }

// strip marks tasks read with ViewBasic: their Variables, InputRequests and
// InputResponses are nil rather than empty maps, which would read as "none".
func (v View) strip(tasks []*Task) {
	if v != ViewBasic {
		return
	}
	for _, t := range tasks {
		if t != nil {
			t.Variables, t.InputRequests, t.InputResponses = nil, nil, nil
		}
	}
}
