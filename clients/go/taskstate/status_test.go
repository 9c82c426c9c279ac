package taskstate_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// fmt, %s / %v and encoding/json spell statuses as every other surface does.
func TestStatusNames(t *testing.T) {
	want := map[taskstate.Status]string{
		taskstate.StatusWorking:       "working",
		taskstate.StatusInputRequired: "input_required",
		taskstate.StatusCompleted:     "completed",
		taskstate.StatusFailed:        "failed",
		taskstate.StatusCancelled:     "cancelled",
	}
	for s, name := range want {
		task := &taskstate.Task{Status: s}
		if got := fmt.Sprintln(task.Status); got != name+"\n" {
			t.Errorf("fmt.Println(%d) prints %q, want %q", int32(s), got, name)
		}
		if got := fmt.Sprintf("%s %v", s, s); got != name+" "+name {
			t.Errorf("%%s %%v of %d: %q", int32(s), got)
		}
		raw, err := json.Marshal(map[string]taskstate.Status{"status": s})
		if err != nil || string(raw) != `{"status":"`+name+`"}` {
			t.Errorf("json of %d: %s %v", int32(s), raw, err)
		}
		var back struct{ Status taskstate.Status }
		if err := json.Unmarshal([]byte(`{"Status":"`+name+`"}`), &back); err != nil || back.Status != s {
			t.Errorf("json round trip of %s: %v %v", name, back.Status, err)
		}
		if p, err := taskstate.ParseStatus(name); err != nil || p != s {
			t.Errorf("ParseStatus(%s) = %v %v", name, p, err)
		}
	}
	if _, err := taskstate.ParseStatus("TASK_STATUS_COMPLETED"); err == nil {
		t.Error("ParseStatus accepted a proto enum name")
	}
	if got := taskstate.Status(42).String(); got != "Status(42)" {
		t.Errorf("unknown status: %q", got)
	}
}
