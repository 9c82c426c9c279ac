package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/taskstate/taskstate/clients/go/taskstate"
)

// failure is an answer that is neither a result nor a server error: a bad
// request, an unknown op or arg, a driver bug. The engine fails the scenario.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return &failure{fmt.Sprintf(format, a...)} }

// args reads one JSON object of arguments. The first type error is kept in
// *err (shared with nested objects), so op code reads fields without checks
// and looks at the error once.
type args struct {
	m    map[string]any
	what string
	err  *error
}

func newArgs(m map[string]any, what string, allowed ...string) *args {
	var err error
	a := &args{m: m, what: what, err: &err}
	for k := range m {
		if !slices.Contains(allowed, k) {
			a.fail("unknown %s key %q", what, k)
		}
	}
	return a
}

func (a *args) fail(format string, v ...any) {
	if *a.err == nil {
		*a.err = failf(format, v...)
	}
}

func (a *args) has(k string) bool { _, ok := a.m[k]; return ok }

func (a *args) str(k string) string {
	v, ok := a.m[k]
	s, isStr := v.(string)
	if ok && !isStr {
		a.fail("%s.%s: want a string, got %v", a.what, k, v)
	}
	return s
}

func (a *args) u64(k string) uint64 {
	n, ok := a.m[k].(json.Number)
	if !ok {
		if a.has(k) {
			a.fail("%s.%s: want an integer", a.what, k)
		}
		return 0
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		a.fail("%s.%s: want an unsigned integer, got %s", a.what, k, n)
	}
	return u
}

func (a *args) i32(k string) int32 {
	n, ok := a.m[k].(json.Number)
	if !ok {
		if a.has(k) {
			a.fail("%s.%s: want an integer", a.what, k)
		}
		return 0
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		a.fail("%s.%s: want a 32-bit integer, got %s", a.what, k, n)
	}
	return int32(i)
}

// ms reads a duration given in integer milliseconds.
func (a *args) ms(k string) time.Duration { return time.Duration(a.u64(k)) * time.Millisecond }

// zeroMs reports whether a duration arg is present and 0, which the Go
// client cannot send (its zero Duration means "unset").
func (a *args) zeroMs(k string) bool { return a.has(k) && a.u64(k) == 0 }

func (a *args) object(k string) map[string]any {
	v, ok := a.m[k]
	m, isObj := v.(map[string]any)
	if ok && !isObj {
		a.fail("%s.%s: want an object, got %v", a.what, k, v)
	}
	return m
}

// sub reads a nested object, sharing this one's error.
func (a *args) sub(k string, allowed ...string) *args {
	s := newArgs(nil, a.what+"."+k)
	s.err = a.err
	s.m = a.object(k)
	for key := range s.m {
		if !slices.Contains(allowed, key) {
			s.fail("unknown %s key %q", s.what, key)
		}
	}
	return s
}

func (a *args) strings(k string) []string {
	v, ok := a.m[k]
	l, isList := v.([]any)
	if ok && !isList {
		a.fail("%s.%s: want an array", a.what, k)
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, isStr := e.(string)
		if !isStr {
			a.fail("%s.%s: want strings, got %v", a.what, k, e)
		}
		out = append(out, s)
	}
	return out
}

func (a *args) status(k string) taskstate.Status {
	s, err := taskstate.ParseStatus(a.str(k))
	if err != nil && a.has(k) {
		a.fail("%s.%s: %v", a.what, k, err)
	}
	return s
}

func (a *args) statuses(k string) []taskstate.Status {
	var out []taskstate.Status
	for _, name := range a.strings(k) {
		s, err := taskstate.ParseStatus(name)
		if err != nil {
			a.fail("%s.%s: %v", a.what, k, err)
		}
		out = append(out, s)
	}
	return out
}

func (a *args) view(k string) taskstate.View {
	switch v := a.str(k); v {
	case "":
		if a.has(k) {
			a.fail("%s.%s: want basic or full", a.what, k)
		}
		return taskstate.ViewDefault
	case "basic":
		return taskstate.ViewBasic
	case "full":
		return taskstate.ViewFull
	default:
		a.fail("%s.%s: want basic or full, got %q", a.what, k, v)
		return taskstate.ViewDefault
	}
}

// taskError reads a task error object {code, message, data?}.
func (a *args) taskError(k string) *taskstate.TaskError {
	if !a.has(k) {
		return nil
	}
	e := a.sub(k, "code", "message", "data")
	te := &taskstate.TaskError{Code: e.i32("code"), Message: e.str("message")}
	if e.has("data") {
		te.Data = jsonValue(e.m["data"])
	}
	return te
}
