package taskstate

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
)

// Task is one version of a task, in Go types. JSON values (variables,
// result, error data) are nil, bool, float64, string, []any or
// map[string]any.
type Task struct {
	ID            string
	Status        Status
	StatusMessage string
	RequestMethod string
	CreateTime    time.Time
	UpdateTime    time.Time
	// TTL is the time to live; 0 means the task never expires.
	TTL time.Duration
	// ExpireTime is when the task stops existing; zero if TTL is 0.
	ExpireTime   time.Time
	PollInterval time.Duration
	// Variables is the shared scratchpad; never nil on a task read from the
	// server, except with ViewBasic (not loaded).
	Variables map[string]any
	// Result is the outcome (nil if unset, or JSON null).
	Result any
	// Error is set when the task failed.
	Error *TaskError
	// Version is 1 at creation and +1 on every committed write.
	Version uint64
	// Lease is the worker's hold on the task; nil when nobody holds it.
	Lease *TaskLease
	// LeasePolicy says what happens when a lease ends without renewal;
	// LeasePolicyUnspecified: the task is not offered to ClaimNext.
	LeasePolicy LeasePolicy
	// MaxAttempts is the most attempts LeasePolicyRelease allows; 0 with
	// any other policy.
	MaxAttempts uint32
	// Attempt is 1 at creation, +1 each time an expired lease releases the
	// task.
	Attempt uint32
	// Subject is the end user the task belongs to (WithSubject at its
	// creation); "" when it had none.
	Subject string
	// InputRequests are the requests the worker needs answered, by a key
	// unique over the task's lifetime (UpdateTaskStatus with
	// WithInputRequests). Nil with ViewBasic (not loaded).
	InputRequests map[string]any
	// InputResponses are the answers given with ProvideInput, by the key of
	// their request. Nil with ViewBasic (not loaded).
	InputResponses map[string]any
	// CancelRequested is set by RequestCancel: the requester wants the work
	// stopped; the worker then cancels or finishes the task.
	CancelRequested bool

	pb *taskstatev1.Task
}

// TaskError is the JSON-RPC shaped error of a failed task.
type TaskError struct {
	Code    int32
	Message string
	// Data is optional structured detail (nil if unset).
	Data any
}

// Terminal reports whether the task is completed, failed or cancelled.
func (t *Task) Terminal() bool { return IsTerminal(t.Status) }

// OutstandingInput returns the input requests still without a response (an
// empty, non-nil map when none is).
func (t *Task) OutstandingInput() map[string]any {
	out := make(map[string]any)
	for k, v := range t.InputRequests {
		if _, answered := t.InputResponses[k]; !answered {
			out[k] = v
		}
	}
	return out
}

// Proto returns the protobuf message this Task was read from (nil for a Task
// built by hand). Do not modify it.
func (t *Task) Proto() *taskstatev1.Task { return t.pb }

// Clone returns a deep copy of t (JSON values included).
func (t *Task) Clone() *Task {
	c := *t
	c.Variables = deepCopyMap(t.Variables)
	c.InputRequests = deepCopyMap(t.InputRequests)
	c.InputResponses = deepCopyMap(t.InputResponses)
	c.Result = deepCopy(t.Result)
	if t.Lease != nil {
		l := *t.Lease
		c.Lease = &l
	}
	if t.Error != nil {
		e := *t.Error
		e.Data = deepCopy(t.Error.Data)
		c.Error = &e
	}
	return &c
}

// TaskFromProto converts a generated Task message; nil gives nil.
func TaskFromProto(m *taskstatev1.Task) *Task {
	if m == nil {
		return nil
	}
	t := &Task{
		ID:              m.GetTaskId(),
		Status:          Status(m.GetStatus()),
		StatusMessage:   m.GetStatusMessage(),
		RequestMethod:   m.GetRequestMethod(),
		Variables:       fromValueMap(m.GetVariables()),
		Version:         m.GetVersion(),
		Lease:           leaseFromProto(m.GetLease()),
		LeasePolicy:     LeasePolicy(m.GetLeasePolicy()),
		MaxAttempts:     m.GetMaxAttempts(),
		Attempt:         m.GetAttempt(),
		Subject:         m.GetSubject(),
		InputRequests:   fromValueMap(m.GetInputRequests()),
		InputResponses:  fromValueMap(m.GetInputResponses()),
		CancelRequested: m.GetCancelRequested(),
		pb:              m,
	}
	if m.CreateTime != nil {
		t.CreateTime = m.CreateTime.AsTime()
	}
	if m.UpdateTime != nil {
		t.UpdateTime = m.UpdateTime.AsTime()
	}
	if m.ExpireTime != nil {
		t.ExpireTime = m.ExpireTime.AsTime()
	}
	if m.Ttl != nil {
		t.TTL = m.Ttl.AsDuration()
	}
	if m.PollInterval != nil {
		t.PollInterval = m.PollInterval.AsDuration()
	}
	if m.Result != nil {
		t.Result = fromValue(m.Result)
	}
	if m.Error != nil {
		t.Error = &TaskError{Code: m.Error.GetCode(), Message: m.Error.GetMessage()}
		if m.Error.Data != nil {
			t.Error.Data = fromValue(m.Error.Data)
		}
	}
	return t
}

// fromValueMap converts a map of JSON values; never nil.
func fromValueMap(m map[string]*structpb.Value) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fromValue(v)
	}
	return out
}

func tasksFromProto(ms []*taskstatev1.Task) []*Task {
	out := make([]*Task, len(ms))
	for i, m := range ms {
		out[i] = TaskFromProto(m)
	}
	return out
}

// Field names a field of a task that PutIfVersion can write (its update_mask paths).
type Field string

// The fields PutIfVersion can write.
const (
	FieldStatus        Field = "status"
	FieldStatusMessage Field = "status_message"
	FieldVariables     Field = "variables"
	FieldResult        Field = "result"
	FieldError         Field = "error"
	FieldTTL           Field = "ttl"
	FieldPollInterval  Field = "poll_interval"
)

// AllFields lists every field PutIfVersion can write, in mask order.
var AllFields = []Field{FieldStatus, FieldStatusMessage, FieldVariables, FieldResult, FieldError, FieldTTL, FieldPollInterval}

// toProtoFields builds the message carrying t's values for the given fields.
func (t *Task) toProtoFields(fields []Field) (*taskstatev1.Task, error) {
	m := &taskstatev1.Task{}
	for _, f := range fields {
		switch f {
		case FieldStatus:
			m.Status = t.Status.Proto()
		case FieldStatusMessage:
			m.StatusMessage = t.StatusMessage
		case FieldVariables:
			vars, err := toValueMap(t.Variables, "variables")
			if err != nil {
				return nil, err
			}
			m.Variables = vars
		case FieldResult:
			if t.Result != nil {
				v, err := toValue(t.Result, "result")
				if err != nil {
					return nil, err
				}
				m.Result = v
			}
		case FieldError:
			e, err := t.Error.toProto()
			if err != nil {
				return nil, err
			}
			m.Error = e
		case FieldTTL:
			if t.TTL != 0 {
				m.Ttl = durationpb.New(t.TTL)
			}
		case FieldPollInterval:
			if t.PollInterval != 0 {
				m.PollInterval = durationpb.New(t.PollInterval)
			}
		default:
			return nil, fmt.Errorf("taskstate: %q is not a writable task field", f)
		}
	}
	return m, nil
}

// changedFields lists the writable fields whose values differ between the
// task as read (orig) and as modified (t); JSON values are compared after
// conversion, so 1 and 1.0 are the same.
func changedFields(orig, t *Task) ([]Field, error) {
	a, err := orig.toProtoFields(AllFields)
	if err != nil {
		return nil, err
	}
	b, err := t.toProtoFields(AllFields)
	if err != nil {
		return nil, err
	}
	var out []Field
	if a.Status != b.Status {
		out = append(out, FieldStatus)
	}
	if a.StatusMessage != b.StatusMessage {
		out = append(out, FieldStatusMessage)
	}
	if !equalValueMaps(a.Variables, b.Variables) {
		out = append(out, FieldVariables)
	}
	if !proto.Equal(a.Result, b.Result) {
		out = append(out, FieldResult)
	}
	if !proto.Equal(a.Error, b.Error) {
		out = append(out, FieldError)
	}
	if orig.TTL != t.TTL {
		out = append(out, FieldTTL)
	}
	if orig.PollInterval != t.PollInterval {
		out = append(out, FieldPollInterval)
	}
	return out, nil
}

func equalValueMaps(a, b map[string]*structpb.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !proto.Equal(va, vb) {
			return false
		}
	}
	return true
}

func (e *TaskError) toProto() (*taskstatev1.TaskError, error) {
	if e == nil {
		return nil, nil
	}
	m := &taskstatev1.TaskError{Code: e.Code, Message: e.Message}
	if e.Data != nil {
		v, err := toValue(e.Data, "error.data")
		if err != nil {
			return nil, err
		}
		m.Data = v
	}
	return m, nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func durationOrNil(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}
