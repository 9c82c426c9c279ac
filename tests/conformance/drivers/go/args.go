package main

// The args of a request, decoded strictly: an unknown key or a wrong type is
// a failure before any call.

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// args holds every arg of every op; an op accepts only its own keys (ops).
// keys, pointers and json.RawMessage (which keeps a JSON null) say what was
// given; JSON values keep their numbers exact (json.Number, RawMessage),
// which the client converts itself.
type args struct {
	keys            map[string]bool
	TaskID          string             `json:"task_id"`
	TTLMs           *uint64            `json:"ttl_ms"`
	PollIntervalMs  *uint64            `json:"poll_interval_ms"`
	RequestMethod   string             `json:"request_method"`
	RequestID       string             `json:"request_id"`
	Variables       map[string]any     `json:"variables"`
	PageSize        int32              `json:"page_size"`
	PageToken       string             `json:"page_token"`
	Statuses        []taskstate.Status `json:"statuses"`
	View            string             `json:"view"`
	Status          taskstate.Status   `json:"status"`
	Message         string             `json:"message"`
	ExpectedVersion *uint64            `json:"expected_version"`
	Task            *taskArgs          `json:"task"`
	UpdateMask      *[]string          `json:"update_mask"`
	Result          json.RawMessage    `json:"result"`
	Error           *taskError         `json:"error"`
	TimeoutMs       *uint64            `json:"timeout_ms"`
	Fn              *struct {
		Increment *string        `json:"increment"`
		By        *float64       `json:"by"`
		Merge     map[string]any `json:"merge"`
	} `json:"fn"`
	AfterVersion uint64 `json:"after_version"`
	Stream       string `json:"stream"`
	// Issue 10: leases and the resumable feed.
	FencingToken *uint64 `json:"fencing_token"`
	LeasePolicy  string  `json:"lease_policy"`
	MaxAttempts  uint32  `json:"max_attempts"`
	WorkerID     string  `json:"worker_id"`
	LeaseMs      *uint64 `json:"lease_ms"`
	WaitMs       *uint64 `json:"wait_ms"`
	ResumeCursor string  `json:"resume_cursor"`
	AllEvents    bool    `json:"all_events"`
	// Issue 11: input requests.
	InputRequests  map[string]any `json:"input_requests"`
	InputResponses map[string]any `json:"input_responses"`
}

// taskArgs is put_if_version's task: the fields to write.
type taskArgs struct {
	keys           map[string]bool
	Status         taskstate.Status `json:"status"`
	StatusMessage  string           `json:"status_message"`
	Variables      map[string]any   `json:"variables"`
	Result         json.RawMessage  `json:"result"`
	Error          *taskError       `json:"error"`
	TTLMs          *uint64          `json:"ttl_ms"`
	PollIntervalMs *uint64          `json:"poll_interval_ms"`
}

type taskError struct {
	Code    int32           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (t *taskArgs) UnmarshalJSON(b []byte) error {
	type plain taskArgs // without this method
	keys, err := decodeStrict(b, (*plain)(t))
	t.keys = keys
	return err
}

// decodeStrict decodes a JSON object into v (unknown keys and wrong types
// are errors; numbers in JSON values stay json.Number) and returns its keys.
func decodeStrict(b []byte, v any) (map[string]bool, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	keys := map[string]bool{}
	for k := range raw {
		keys[k] = true
	}
	return keys, dec.Decode(v)
}

// ms is a duration given in integer milliseconds (0 if absent).
func ms(v *uint64) time.Duration {
	if v == nil {
		return 0
	}
	return time.Duration(*v) * time.Millisecond
}

// isZero reports an arg given as 0, which the client cannot send (its zero
// Duration or version means "unset").
func isZero(v *uint64) bool { return v != nil && *v == 0 }

// value is a JSON value for the client: a RawMessage it parses itself (JSON
// null included, which a nil any would leave unset); nil if absent.
func value(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return raw
}

func (e *taskError) client() *taskstate.TaskError {
	if e == nil {
		return nil
	}
	return &taskstate.TaskError{Code: e.Code, Message: e.Message, Data: value(e.Data)}
}
