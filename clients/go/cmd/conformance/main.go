// Command conformance runs the language-neutral conformance vectors
// (tests/conformance/README.md) against a live taskstate server through the
// Go client.
//
// Environment: TASKSTATE_ADDRESS, TASKSTATE_QUOTA_ADDRESS,
// TASKSTATE_TOKEN_ALICE, TASKSTATE_TOKEN_BOB, TASKSTATE_VECTORS_DIR.
// Arguments, if any, select scenarios by file name or name (a debugging aid).
//
// It prints one "PASS <name>" or "FAIL <name>: <why>" line per scenario and
// a final "<N> passed, <M> failed", and exits 0 iff nothing failed and at
// least one scenario ran.
//
// Where the idiomatic client cannot express an argument, the runner sends
// the request with the generated stub (Client.Raw, same connection and
// token): the cases README section 4 lists, plus zero durations ("0s") and
// a zero expected_version for complete, since in the Go client a zero
// time.Duration / version means "unset".
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	taskstatev1 "github.com/taskstate/taskstate/clients/go/gen/taskstate/v1"
	"github.com/taskstate/taskstate/clients/go/taskstate"
)

const (
	stepTimeout  = 10 * time.Second // await, watch_all_collect
	callTimeout  = 30 * time.Second // every unary call
	unknownToken = "conformance-unknown-token"
	maxPages     = 1000
)

var (
	owners       = []string{"alice", "bob", "nobody", "anonymous"}
	statusNames  = []string{"working", "input_required", "completed", "failed", "cancelled"}
	stepKeys     = set("op", "as", "args", "expect", "save", "async", "comment")
	scenarioKeys = set("name", "description", "server", "steps")
	taskFields   = set("status", "status_message", "variables", "result", "error", "ttl", "poll_interval")
	noAsync      = set("await", "watch_all_start", "watch_all_collect")
	matchers     = set("$exists", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$len", "$contains",
		"$not_contains", "$subsequence", "$increasing", "$unique", "$each", "$regex")
)

// ops: op -> required args, optional args.
var ops = map[string][2]map[string]bool{
	"create":            {set(), set("ttl", "poll_interval", "request_method", "variables", "request_id")},
	"get":               {set("task_id"), set()},
	"list":              {set(), set("page_size", "page_token", "statuses")},
	"list_all":          {set(), set("page_size", "statuses")},
	"update_status":     {set("task_id", "status"), set("message", "expected_version")},
	"set_variables":     {set("task_id", "variables"), set("expected_version")},
	"put_if_version":    {set("task_id", "expected_version", "task"), set("update_mask")},
	"complete":          {set("task_id"), set("status", "message", "result", "error", "variables", "expected_version")},
	"cancel":            {set("task_id"), set("message")},
	"delete":            {set("task_id"), set()},
	"wait":              {set("task_id", "timeout"), set("statuses")},
	"update":            {set("task_id", "fn"), set("parallel")},
	"watch":             {set("task_id"), set("after_version")},
	"watch_all_start":   {set("handle"), set("statuses")},
	"watch_all_collect": {set("handle", "task_ids", "until"), set()},
	"await":             {set("handle"), set()},
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// scenarioError is a failure of the scenario (mismatch, malformed vector, timeout).
type scenarioError struct{ msg string }

func (e *scenarioError) Error() string { return e.msg }

func failf(format string, args ...any) error { return &scenarioError{fmt.Sprintf(format, args...)} }

// absentT marks a path that does not resolve.
type absentT struct{}

var absent = absentT{}

// ---------------------------------------------------------------------------
// Validation

func validateScenario(doc any, stem string) []string {
	m, ok := doc.(map[string]any)
	if !ok {
		return []string{"scenario is not a JSON object"}
	}
	var problems []string
	if unk := unknownKeys(m, scenarioKeys); len(unk) > 0 {
		problems = append(problems, fmt.Sprintf("unknown scenario keys %v", unk))
	}
	if name, ok := m["name"].(string); !ok || name == "" {
		problems = append(problems, "missing name")
	} else if name != stem {
		problems = append(problems, fmt.Sprintf("name %q differs from the file name %q", name, stem))
	}
	if _, ok := m["description"].(string); !ok {
		problems = append(problems, "missing description")
	}
	if s, ok := m["server"]; ok && s != "main" && s != "quota" {
		problems = append(problems, "server must be main or quota")
	}
	steps, ok := m["steps"].([]any)
	if !ok || len(steps) == 0 {
		return append(problems, "steps must be a non-empty list")
	}
	handles := map[string]bool{}
	for i, st := range steps {
		for _, p := range validateStep(st, handles) {
			problems = append(problems, fmt.Sprintf("step %d: %s", i, p))
		}
	}
	return problems
}

func unknownKeys(m map[string]any, allowed map[string]bool) []string {
	var out []string
	for k := range m {
		if !allowed[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func validateStep(raw any, handles map[string]bool) []string {
	step, ok := raw.(map[string]any)
	if !ok {
		return []string{"not an object"}
	}
	var problems []string
	if unk := unknownKeys(step, stepKeys); len(unk) > 0 {
		problems = append(problems, fmt.Sprintf("unknown step keys %v", unk))
	}
	op, _ := step["op"].(string)
	spec, ok := ops[op]
	if !ok {
		return append(problems, fmt.Sprintf("unknown op %v", step["op"]))
	}
	if as, ok := step["as"]; ok {
		s, _ := as.(string)
		if !contains(owners, s) {
			problems = append(problems, fmt.Sprintf("as must be one of %v", owners))
		}
	}
	args := map[string]any{}
	if a, ok := step["args"]; ok {
		if args, ok = a.(map[string]any); !ok {
			return append(problems, "args must be an object")
		}
	}
	for k := range spec[0] {
		if _, ok := args[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s: missing arg %s", op, k))
		}
	}
	for k := range args {
		if !spec[0][k] && !spec[1][k] {
			problems = append(problems, fmt.Sprintf("%s: unknown arg %s", op, k))
		}
	}
	if h, ok := step["async"]; ok {
		if noAsync[op] {
			problems = append(problems, op+" cannot be async")
		}
		if _, e := step["expect"]; e {
			problems = append(problems, "an async step takes no expect/save")
		} else if _, s := step["save"]; s {
			problems = append(problems, "an async step takes no expect/save")
		}
		handles[fmt.Sprint(h)] = true
	}
	if op == "watch_all_start" {
		handles[fmt.Sprint(args["handle"])] = true
	}
	if op == "await" || op == "watch_all_collect" {
		if h, _ := args["handle"].(string); !handles[h] {
			problems = append(problems, fmt.Sprintf("handle %v was never started", args["handle"]))
		}
	}
	if op == "put_if_version" {
		if t, ok := args["task"].(map[string]any); ok {
			if unk := unknownKeys(t, taskFields); len(unk) > 0 {
				problems = append(problems, fmt.Sprintf("put_if_version: unknown task fields %v", unk))
			}
		}
	}
	if op == "update" {
		if fn, ok := args["fn"].(map[string]any); ok {
			keys := strings.Join(sortedKeys(fn), ",")
			if keys != "increment" && keys != "by,increment" && keys != "merge" {
				problems = append(problems, fmt.Sprintf("update: bad fn %v", fn))
			}
		}
	}
	if e, ok := step["expect"]; ok {
		em, _ := e.(map[string]any)
		switch {
		case len(em) != 1:
			problems = append(problems, `expect must be {"ok": {...}} or {"error": {...}}`)
		case em["ok"] != nil:
			okm, isMap := em["ok"].(map[string]any)
			if !isMap {
				problems = append(problems, "expect.ok must be an object of path -> matcher")
			}
			for path, m := range okm {
				for _, p := range validateMatcher(m) {
					problems = append(problems, fmt.Sprintf("expect.ok[%q]: %s", path, p))
				}
			}
		case em["error"] != nil:
			errm, isMap := em["error"].(map[string]any)
			if _, hasCode := errm["code"].(string); !isMap || !hasCode {
				problems = append(problems, "expect.error needs a code")
			} else if unk := unknownKeys(errm, set("code", "reason", "message", "metadata")); len(unk) > 0 {
				problems = append(problems, fmt.Sprintf("expect.error: unknown keys %v", unk))
			}
		default:
			problems = append(problems, `expect must be {"ok": {...}} or {"error": {...}}`)
		}
	}
	if s, ok := step["save"]; ok {
		sm, isMap := s.(map[string]any)
		valid := isMap
		for _, v := range sm {
			if _, isStr := v.(string); !isStr {
				valid = false
			}
		}
		if !valid {
			problems = append(problems, "save must be an object of name -> path")
		}
	}
	return problems
}

func isMatcher(m any) bool {
	mm, ok := m.(map[string]any)
	if !ok || len(mm) == 0 {
		return false
	}
	for k := range mm {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func validateMatcher(m any) []string {
	if !isMatcher(m) {
		return nil
	}
	var out []string
	mm := m.(map[string]any)
	for k := range mm {
		if !matchers[k] {
			out = append(out, "unknown matcher "+k)
		}
	}
	if each, ok := mm["$each"]; ok {
		out = append(out, validateMatcher(each)...)
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Values

var durationRE = regexp.MustCompile(`^(\d+)(ms|s|m|h)$`)

func parseDuration(v any) (time.Duration, error) {
	s, _ := v.(string)
	m := durationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, failf("bad duration %v (use e.g. 500ms, 90s, 5m, 1h)", jsonText(v))
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, failf("bad duration %q", s)
	}
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// isZeroDuration reports whether v is a duration string of length 0 ("0s").
func isZeroDuration(v any) bool {
	d, err := parseDuration(v)
	return err == nil && d == 0
}

var (
	wholeRef = regexp.MustCompile(`^\$\{([^}]+)\}$`)
	anyRef   = regexp.MustCompile(`\$\{([^}]+)\}`)
)

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
	}
	return jsonText(v)
}

func jsonText(v any) string {
	if v == absent {
		return "<absent>"
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(raw) > 300 {
		return string(raw[:300]) + "..."
	}
	return string(raw)
}

func substitute(v any, saved map[string]any, generators bool) (any, error) {
	switch x := v.(type) {
	case string:
		if m := wholeRef.FindStringSubmatch(x); m != nil {
			return lookup(saved, m[1])
		}
		var ferr error
		out := anyRef.ReplaceAllStringFunc(x, func(ref string) string {
			val, err := lookup(saved, ref[2:len(ref)-1])
			if err != nil {
				ferr = err
				return ""
			}
			return textOf(val)
		})
		return out, ferr
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			s, err := substitute(e, saved, generators)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case map[string]any:
		if spec, ok := x["$repeat"]; generators && ok && len(x) == 1 {
			l, _ := spec.([]any)
			if len(l) != 2 {
				return nil, failf("bad $repeat %s", jsonText(spec))
			}
			s, ok1 := l[0].(string)
			n, ok2 := l[1].(float64)
			if !ok1 || !ok2 || n < 0 || n != float64(int64(n)) {
				return nil, failf("bad $repeat %s", jsonText(spec))
			}
			return strings.Repeat(s, int(n)), nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			s, err := substitute(e, saved, generators)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	}
	return v, nil
}

func lookup(saved map[string]any, name string) (any, error) {
	v, ok := saved[name]
	if !ok {
		return nil, failf("unknown reference ${%s}", name)
	}
	return v, nil
}

// normalize round-trips v through JSON, so every value is nil, bool,
// float64, string, []any or map[string]any.
func normalize(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

func statusName(s taskstate.Status) string { return s.String() }

func parseStatus(v any) (taskstate.Status, error) {
	s, _ := v.(string)
	if !contains(statusNames, s) {
		return 0, failf("unknown status %v", jsonText(v))
	}
	return taskstate.ParseStatus(s)
}

func protoStatuses(ss []taskstate.Status) []taskstatev1.TaskStatus {
	out := make([]taskstatev1.TaskStatus, len(ss))
	for i, s := range ss {
		out[i] = s.Proto()
	}
	return out
}

func parseStatuses(v any) ([]taskstate.Status, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, failf("statuses must be a list")
	}
	out := make([]taskstate.Status, 0, len(l))
	for _, e := range l {
		s, err := parseStatus(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// taskView is the canonical JSON view of a task (README section 3), built
// from the message the client read (which keeps result presence).
func taskView(t *taskstate.Task) any {
	if t == nil {
		return nil
	}
	m := t.Proto()
	view := map[string]any{
		"task_id":        m.GetTaskId(),
		"status":         statusName(t.Status),
		"status_message": m.GetStatusMessage(),
		"request_method": m.GetRequestMethod(),
		"version":        m.GetVersion(),
		"variables":      t.Variables,
		"create_time_ms": ms(t.CreateTime),
		"update_time_ms": ms(t.UpdateTime),
	}
	if m.Result != nil {
		view["result"] = t.Result
	}
	if t.Error != nil {
		e := map[string]any{"code": t.Error.Code, "message": t.Error.Message}
		if m.GetError().Data != nil {
			e["data"] = t.Error.Data
		}
		view["error"] = e
	}
	if m.Ttl != nil {
		view["ttl_ms"] = t.TTL.Milliseconds()
	}
	if m.PollInterval != nil {
		view["poll_interval_ms"] = t.PollInterval.Milliseconds()
	}
	if m.ExpireTime != nil {
		view["expire_time_ms"] = ms(t.ExpireTime)
	}
	return normalize(view)
}

func errorView(e *taskstate.Error) map[string]any {
	name, ok := code.Code_name[int32(e.Code)]
	if !ok {
		name = strconv.Itoa(int(e.Code))
	}
	var reason any
	if e.Reason != "" {
		reason = e.Reason
	}
	md := map[string]any{}
	for k, v := range e.Metadata {
		md[k] = v
	}
	return map[string]any{"code": name, "reason": reason, "message": e.Message, "metadata": md}
}

// ---------------------------------------------------------------------------
// Matching

func isNumber(v any) bool { _, ok := v.(float64); return ok }

func deepEq(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEq(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !deepEq(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

var indexRE = regexp.MustCompile(`^-?\d+$`)

func resolvePath(v any, path string) any {
	if path == "" {
		return v
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return absent
			}
			v = next
		case []any:
			if !indexRE.MatchString(seg) {
				return absent
			}
			i, err := strconv.Atoi(seg)
			if err != nil {
				return absent
			}
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return absent
			}
			v = x[i]
		default:
			return absent
		}
	}
	return v
}

func mismatch(actual, matcher any) string {
	if !isMatcher(matcher) {
		if actual == absent || !deepEq(actual, matcher) {
			return fmt.Sprintf("got %s, want %s", jsonText(actual), jsonText(matcher))
		}
		return ""
	}
	mm := matcher.(map[string]any)
	for _, op := range sortedKeys(mm) {
		if why := check(op, mm[op], actual); why != "" {
			return fmt.Sprintf("%s: %s (got %s)", op, why, jsonText(actual))
		}
	}
	return ""
}

func check(op string, arg, actual any) string {
	present := actual != absent
	if op == "$exists" {
		want, _ := arg.(bool)
		if present == want {
			return ""
		}
		if want {
			return "absent"
		}
		return "present"
	}
	if !present {
		return "absent"
	}
	switch op {
	case "$eq":
		if deepEq(actual, arg) {
			return ""
		}
		return "not equal to " + jsonText(arg)
	case "$ne":
		if !deepEq(actual, arg) {
			return ""
		}
		return "equal to " + jsonText(arg)
	case "$gt", "$gte", "$lt", "$lte":
		a, ok1 := actual.(float64)
		b, ok2 := arg.(float64)
		if !ok1 || !ok2 {
			return "not numbers (want " + jsonText(arg) + ")"
		}
		ok := map[string]bool{"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
		if ok {
			return ""
		}
		return fmt.Sprintf("want %s %s", op, jsonText(arg))
	case "$len":
		var n int
		switch x := actual.(type) {
		case []any:
			n = len(x)
		case map[string]any:
			n = len(x)
		case string:
			n = len([]rune(x))
		default:
			return "has no length"
		}
		if want, ok := arg.(float64); ok && float64(n) == want {
			return ""
		}
		return fmt.Sprintf("length %d, want %s", n, jsonText(arg))
	case "$regex":
		s, ok := actual.(string)
		if !ok {
			return "not a string"
		}
		pat, _ := arg.(string)
		re, err := regexp.Compile(pat)
		if err != nil {
			return "bad regex " + pat
		}
		if re.MatchString(s) {
			return ""
		}
		return fmt.Sprintf("does not match %q", pat)
	}
	list, ok := actual.([]any)
	if !ok {
		return "not an array"
	}
	switch op {
	case "$contains", "$not_contains":
		found := false
		for _, x := range list {
			if deepEq(x, arg) {
				found = true
			}
		}
		if found == (op == "$contains") {
			return ""
		}
		if found {
			return "has " + jsonText(arg)
		}
		return "lacks " + jsonText(arg)
	case "$subsequence":
		wants, _ := arg.([]any)
		i := 0
		for _, want := range wants {
			for i < len(list) && !deepEq(list[i], want) {
				i++
			}
			if i == len(list) {
				return fmt.Sprintf("%s missing or out of order in %s", jsonText(want), jsonText(arg))
			}
			i++
		}
		return ""
	case "$increasing":
		inc := true
		for i, x := range list {
			if !isNumber(x) {
				return "not all numbers"
			}
			if i > 0 && !(list[i-1].(float64) < x.(float64)) {
				inc = false
			}
		}
		if want, _ := arg.(bool); inc == want {
			return ""
		}
		return "not strictly increasing"
	case "$unique":
		var dupes []any
		for i, x := range list {
			for _, y := range list[:i] {
				if deepEq(x, y) {
					dupes = append(dupes, x)
					break
				}
			}
		}
		if want, _ := arg.(bool); len(dupes) == 0 || !want {
			return ""
		}
		return "duplicates " + jsonText(dupes)
	case "$each":
		for i, x := range list {
			if why := mismatch(x, arg); why != "" {
				return fmt.Sprintf("element %d: %s", i, why)
			}
		}
		return ""
	}
	return "unknown matcher " + op
}

type outcome struct {
	ok    bool
	value any // the result (ok) or the error view
}

func checkExpect(o outcome, expect any) error {
	em, _ := expect.(map[string]any)
	if want, isErr := em["error"]; isErr {
		w, _ := want.(map[string]any)
		if o.ok {
			return failf("want error %s, got success %s", jsonText(want), jsonText(o.value))
		}
		got := o.value.(map[string]any)
		if got["code"] != w["code"] {
			return failf("want code %v, got error %s", w["code"], jsonText(got))
		}
		if r, ok := w["reason"]; ok && !deepEq(got["reason"], r) {
			return failf("want reason %v, got error %s", jsonText(r), jsonText(got))
		}
		if m, ok := w["message"]; ok && !deepEq(got["message"], m) {
			return failf("want message %s, got %s", jsonText(m), jsonText(got["message"]))
		}
		wmd, _ := w["metadata"].(map[string]any)
		gmd, _ := got["metadata"].(map[string]any)
		for _, k := range sortedKeys(wmd) {
			if g, ok := gmd[k]; !ok || g != textOf(wmd[k]) {
				return failf("want metadata %s=%q, got metadata %s", k, textOf(wmd[k]), jsonText(gmd))
			}
		}
		return nil
	}
	if !o.ok {
		return failf("want success, got error %s", jsonText(o.value))
	}
	okm, _ := em["ok"].(map[string]any)
	for _, path := range sortedKeys(okm) {
		if why := mismatch(resolvePath(o.value, path), okm[path]); why != "" {
			p := path
			if p == "" {
				p = "<outcome>"
			}
			return failf("%s: %s", p, why)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Execution

type env struct {
	address, quotaAddress string
	tokens                map[string]string
	vectorsDir            string
}

func envFromOS() (*env, error) {
	names := []string{"TASKSTATE_ADDRESS", "TASKSTATE_QUOTA_ADDRESS", "TASKSTATE_TOKEN_ALICE", "TASKSTATE_TOKEN_BOB", "TASKSTATE_VECTORS_DIR"}
	var missing []string
	for _, n := range names {
		if os.Getenv(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing environment variables %v", missing)
	}
	return &env{
		address:      os.Getenv("TASKSTATE_ADDRESS"),
		quotaAddress: os.Getenv("TASKSTATE_QUOTA_ADDRESS"),
		tokens: map[string]string{
			"alice":     os.Getenv("TASKSTATE_TOKEN_ALICE"),
			"bob":       os.Getenv("TASKSTATE_TOKEN_BOB"),
			"nobody":    unknownToken,
			"anonymous": "",
		},
		vectorsDir: os.Getenv("TASKSTATE_VECTORS_DIR"),
	}, nil
}

type background struct {
	done    chan struct{}
	outcome outcome
	err     error
}

type watchAll struct {
	stream *taskstate.TaskStream
	events chan any // *taskstate.Task, error, or nil at the end
}

type scenarioRun struct {
	env      *env
	server   string
	ctx      context.Context
	saved    map[string]any
	mu       sync.Mutex
	clients  map[string]*taskstate.Client
	bg       map[string]*background
	watches  map[string]*watchAll
	shutdown context.CancelFunc
}

func (r *scenarioRun) address() string {
	if r.server == "quota" {
		return r.env.quotaAddress
	}
	return r.env.address
}

func (r *scenarioRun) client(owner string) (*taskstate.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[owner]; ok {
		return c, nil
	}
	opts := []taskstate.Option{taskstate.WithDefaultTimeout(callTimeout), taskstate.WithInsecure()}
	if tok := r.env.tokens[owner]; tok != "" {
		opts = append(opts, taskstate.WithToken(tok), taskstate.WithPlaintextToken())
	}
	c, err := taskstate.Dial(r.ctx, r.address(), opts...)
	if err != nil {
		return nil, err
	}
	r.clients[owner] = c
	return c, nil
}

func (r *scenarioRun) close() {
	for _, w := range r.watches {
		w.stream.Close()
	}
	r.shutdown()
	for _, c := range r.clients {
		_ = c.Close()
	}
}

func (r *scenarioRun) runStep(step map[string]any) error {
	op := step["op"].(string)
	owner := "alice"
	if as, ok := step["as"].(string); ok {
		owner = as
	}
	rawArgs, _ := step["args"].(map[string]any)
	if rawArgs == nil {
		rawArgs = map[string]any{}
	}
	sub, err := substitute(rawArgs, r.saved, true)
	if err != nil {
		return err
	}
	args := sub.(map[string]any)
	if h, ok := step["async"]; ok {
		handle := fmt.Sprint(h)
		if _, dup := r.bg[handle]; dup {
			return failf("handle %q already used", handle)
		}
		b := &background{done: make(chan struct{})}
		r.bg[handle] = b
		go func() {
			defer close(b.done)
			b.outcome, b.err = r.call(op, owner, args)
		}()
		return nil
	}
	o, err := r.call(op, owner, args)
	if err != nil {
		return err
	}
	expect, err := substitute(step["expect"], r.saved, false)
	if err != nil {
		return err
	}
	if err := checkExpect(o, expect); err != nil {
		return err
	}
	saves, _ := step["save"].(map[string]any)
	for _, name := range sortedKeys(saves) {
		path := saves[name].(string)
		v := resolvePath(o.value, path)
		if v == absent {
			return failf("save %s: path %q is absent in %s", name, path, jsonText(o.value))
		}
		r.saved[name] = v
	}
	return nil
}

// call runs one op: a server error becomes an error outcome; anything else
// that goes wrong is a scenario failure.
func (r *scenarioRun) call(op, owner string, args map[string]any) (outcome, error) {
	if op == "await" {
		return r.opAwait(args)
	}
	c, err := r.client(owner)
	if err != nil {
		return outcome{}, err
	}
	v, err := r.dispatch(c, op, args)
	if err != nil {
		var se *scenarioError
		if errors.As(err, &se) {
			return outcome{}, err
		}
		var te *taskstate.Error
		if errors.As(err, &te) {
			return outcome{ok: false, value: normalize(errorView(te))}, nil
		}
		return outcome{}, fmt.Errorf("client error: %w", err)
	}
	return outcome{ok: true, value: normalize(v)}, nil
}

func (r *scenarioRun) dispatch(c *taskstate.Client, op string, a map[string]any) (any, error) {
	ctx := r.ctx
	switch op {
	case "create":
		return r.opCreate(ctx, c, a)
	case "get":
		t, err := c.GetTask(ctx, str(a["task_id"]))
		return taskView(t), err
	case "list":
		return r.opList(ctx, c, a)
	case "list_all":
		return r.opListAll(ctx, c, a)
	case "update_status":
		st, err := parseStatus(a["status"])
		if err != nil {
			return nil, err
		}
		var opts []taskstate.WriteOption
		if v, ok := a["expected_version"]; ok {
			opts = append(opts, taskstate.IfVersion(u64(v)))
		}
		t, err := c.UpdateTaskStatus(ctx, str(a["task_id"]), st, str(a["message"]), opts...)
		return taskView(t), err
	case "set_variables":
		var opts []taskstate.WriteOption
		if v, ok := a["expected_version"]; ok {
			opts = append(opts, taskstate.IfVersion(u64(v)))
		}
		vars, _ := a["variables"].(map[string]any)
		t, err := c.SetVariables(ctx, str(a["task_id"]), vars, opts...)
		return taskView(t), err
	case "put_if_version":
		return r.opPutIfVersion(ctx, c, a)
	case "complete":
		return r.opComplete(ctx, c, a)
	case "cancel":
		t, err := c.CancelTask(ctx, str(a["task_id"]), str(a["message"]))
		return taskView(t), err
	case "delete":
		return map[string]any{}, c.DeleteTask(ctx, str(a["task_id"]))
	case "wait":
		return r.opWait(ctx, c, a)
	case "update":
		return r.opUpdate(ctx, c, a)
	case "watch":
		return r.opWatch(ctx, c, a)
	case "watch_all_start":
		return r.opWatchAllStart(ctx, c, a)
	case "watch_all_collect":
		return r.opWatchAllCollect(a)
	}
	return nil, failf("unknown op %q", op)
}

func str(v any) string { s, _ := v.(string); return s }

func u64(v any) uint64 {
	f, _ := v.(float64)
	if f < 0 {
		return 0
	}
	return uint64(f)
}

// jsonArg turns a JSON argument into what the client sends: JSON null is an
// explicit null value (not "unset").
func jsonArg(v any) any {
	if v == nil {
		return structpb.NewNullValue()
	}
	return v
}

func (r *scenarioRun) opCreate(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	if isZeroDuration(a["ttl"]) || isZeroDuration(a["poll_interval"]) {
		return r.rawCreate(ctx, c, a)
	}
	p := taskstate.CreateTaskParams{RequestMethod: str(a["request_method"]), RequestID: str(a["request_id"])}
	var err error
	if v, ok := a["ttl"]; ok {
		if p.TTL, err = parseDuration(v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["poll_interval"]; ok {
		if p.PollInterval, err = parseDuration(v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["variables"].(map[string]any); ok {
		p.Variables = v
	}
	t, err := c.CreateTask(ctx, p)
	return taskView(t), err
}

func (r *scenarioRun) opList(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	statuses, err := parseStatuses(a["statuses"])
	if err != nil {
		return nil, err
	}
	page, err := c.ListTasks(ctx, taskstate.ListTasksParams{PageSize: int32(u64(a["page_size"])), PageToken: str(a["page_token"]), Statuses: statuses})
	if err != nil {
		return nil, err
	}
	tasks := make([]any, 0, len(page.Tasks))
	ids := make([]any, 0, len(page.Tasks))
	for _, t := range page.Tasks {
		tasks = append(tasks, taskView(t))
		ids = append(ids, t.ID)
	}
	return map[string]any{"tasks": tasks, "task_ids": ids, "next_page_token": page.NextPageToken}, nil
}

func (r *scenarioRun) opListAll(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	statuses, err := parseStatuses(a["statuses"])
	if err != nil {
		return nil, err
	}
	ids, sts, lens := []any{}, []any{}, []any{}
	p := taskstate.ListTasksParams{PageSize: int32(u64(a["page_size"])), Statuses: statuses}
	for range maxPages {
		page, err := c.ListTasks(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tasks {
			ids = append(ids, t.ID)
			sts = append(sts, statusName(t.Status))
		}
		lens = append(lens, len(page.Tasks))
		if page.NextPageToken == "" {
			return map[string]any{"task_ids": ids, "statuses": sts, "page_lens": lens}, nil
		}
		p.PageToken = page.NextPageToken
	}
	return nil, failf("list_all: still a next_page_token after %d pages", maxPages)
}

func taskErrorArg(v any) (*taskstate.TaskError, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, failf("error must be an object")
	}
	e := &taskstate.TaskError{Code: int32(toFloat(m["code"])), Message: str(m["message"])}
	if d, ok := m["data"]; ok {
		e.Data = jsonArg(d)
	}
	return e, nil
}

func toFloat(v any) float64 { f, _ := v.(float64); return f }

func (r *scenarioRun) opPutIfVersion(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	spec, ok := a["task"].(map[string]any)
	if !ok {
		return nil, failf("put_if_version: task must be an object")
	}
	if _, explicit := a["update_mask"]; explicit || isZeroDuration(spec["ttl"]) || isZeroDuration(spec["poll_interval"]) {
		return r.rawPutIfVersion(ctx, c, a)
	}
	t := &taskstate.Task{}
	var fields []taskstate.Field
	for _, k := range sortedKeys(spec) {
		v := spec[k]
		var err error
		switch k {
		case "status":
			t.Status, err = parseStatus(v)
		case "status_message":
			t.StatusMessage = str(v)
		case "variables":
			vars, _ := v.(map[string]any)
			t.Variables = vars
		case "result":
			t.Result = jsonArg(v)
		case "error":
			t.Error, err = taskErrorArg(v)
		case "ttl":
			t.TTL, err = parseDuration(v)
		case "poll_interval":
			t.PollInterval, err = parseDuration(v)
		default:
			err = failf("put_if_version: unknown task field %q", k)
		}
		if err != nil {
			return nil, err
		}
		fields = append(fields, taskstate.Field(k))
	}
	res, err := c.PutIfVersion(ctx, str(a["task_id"]), u64(a["expected_version"]), t, fields...)
	return taskView(res), err
}

func (r *scenarioRun) opComplete(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	status := "completed"
	if s, ok := a["status"]; ok {
		status = str(s)
	}
	_, hasErr := a["error"]
	if ev, ok := a["expected_version"]; ok && u64(ev) == 0 {
		return r.rawComplete(ctx, c, a)
	}
	comp := taskstate.Completion{StatusMessage: str(a["message"]), ExpectedVersion: u64(a["expected_version"])}
	if v, ok := a["result"]; ok {
		comp.Result = jsonArg(v)
	}
	if v, ok := a["variables"].(map[string]any); ok {
		comp.Variables = v
	}
	switch {
	case status == "completed" && !hasErr:
		t, err := c.CompleteTask(ctx, str(a["task_id"]), comp)
		return taskView(t), err
	case status == "failed" && hasErr:
		te, err := taskErrorArg(a["error"])
		if err != nil {
			return nil, err
		}
		t, err := c.FailTask(ctx, str(a["task_id"]), *te, comp)
		return taskView(t), err
	}
	return r.rawComplete(ctx, c, a)
}

func (r *scenarioRun) opWait(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	statuses, err := parseStatuses(a["statuses"])
	if err != nil {
		return nil, err
	}
	timeout, err := parseDuration(a["timeout"])
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		return r.rawWait(ctx, c, a, statuses)
	}
	t, err := c.WaitTask(ctx, str(a["task_id"]), taskstate.WaitParams{Timeout: timeout, Statuses: statuses})
	return taskView(t), err
}

func (r *scenarioRun) opUpdate(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	fnSpec, _ := a["fn"].(map[string]any)
	var fn func(*taskstate.Task) error
	if key, ok := fnSpec["increment"].(string); ok {
		by := 1.0
		if b, ok := fnSpec["by"]; ok {
			by = toFloat(b)
		}
		fn = func(t *taskstate.Task) error {
			cur, present := t.Variables[key]
			n, isNum := cur.(float64)
			if present && !isNum {
				return fmt.Errorf("update: variable %q is not a number: %v", key, cur)
			}
			t.Variables[key] = n + by
			return nil
		}
	} else if merge, ok := fnSpec["merge"].(map[string]any); ok {
		fn = func(t *taskstate.Task) error {
			for k, v := range merge {
				if v == nil {
					delete(t.Variables, k)
				} else {
					t.Variables[k] = v
				}
			}
			return nil
		}
	} else {
		return nil, failf("update: bad fn %s", jsonText(fnSpec))
	}
	n := 1
	if p, ok := a["parallel"]; ok {
		n = int(toFloat(p))
	}
	if n < 1 {
		return nil, failf("update: parallel must be >= 1")
	}
	results := make([]*taskstate.Task, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Update(ctx, str(a["task_id"]), fn)
		}()
	}
	wg.Wait()
	var best *taskstate.Task
	for i := range n {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if best == nil || results[i].Version > best.Version {
			best = results[i]
		}
	}
	return taskView(best), nil
}

func (r *scenarioRun) opWatch(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	wctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	tasks, versions, statuses := []any{}, []any{}, []any{}
	out := map[string]any{"end": "OK"}
	for t, err := range c.Watch(wctx, str(a["task_id"]), u64(a["after_version"])) {
		if err != nil {
			te, ok := taskstate.AsError(err)
			if !ok {
				return nil, fmt.Errorf("watch: %w", err)
			}
			ev := errorView(te)
			out["end"] = ev["code"]
			if ev["reason"] != nil {
				out["end_reason"] = ev["reason"]
			}
			break
		}
		tasks = append(tasks, taskView(t))
		versions = append(versions, t.Version)
		statuses = append(statuses, statusName(t.Status))
	}
	out["tasks"], out["versions"], out["statuses"] = tasks, versions, statuses
	return out, nil
}

func (r *scenarioRun) opWatchAllStart(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	handle := str(a["handle"])
	if _, dup := r.watches[handle]; dup {
		return nil, failf("handle %q already used", handle)
	}
	statuses, err := parseStatuses(a["statuses"])
	if err != nil {
		return nil, err
	}
	// WatchTasks returns only once the server has sent the response headers.
	st, err := c.WatchTasks(ctx, taskstate.WatchTasksParams{Statuses: statuses})
	if err != nil {
		return nil, err
	}
	w := &watchAll{stream: st, events: make(chan any, 1024)}
	r.watches[handle] = w
	go func() {
		for t, err := range st.All() {
			if err != nil {
				w.events <- err
				break
			}
			w.events <- t
		}
		close(w.events)
	}()
	return map[string]any{}, nil
}

func (r *scenarioRun) opWatchAllCollect(a map[string]any) (any, error) {
	w, ok := r.watches[str(a["handle"])]
	if !ok {
		return nil, failf("no watch_all stream %q", str(a["handle"]))
	}
	defer w.stream.Close()
	wanted := map[string]bool{}
	ids, _ := a["task_ids"].([]any)
	for _, id := range ids {
		wanted[str(id)] = true
	}
	until, _ := a["until"].(map[string]any)
	events := []any{}
	timeout := time.NewTimer(stepTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-timeout.C:
			return nil, failf("timeout: no event matching %s in %s", jsonText(until), jsonText(events))
		case item, open := <-w.events:
			if !open {
				return nil, failf("stream ended before an event matching %s", jsonText(until))
			}
			if err, isErr := item.(error); isErr {
				return nil, err
			}
			t := item.(*taskstate.Task)
			if !wanted[t.ID] {
				continue
			}
			ev := normalize(map[string]any{"task_id": t.ID, "version": t.Version, "status": statusName(t.Status)}).(map[string]any)
			events = append(events, ev)
			match := true
			for k, v := range until {
				got, ok := ev[k]
				if !ok || !deepEq(got, v) {
					match = false
				}
			}
			if match {
				return map[string]any{"events": events}, nil
			}
		}
	}
}

func (r *scenarioRun) opAwait(a map[string]any) (outcome, error) {
	b, ok := r.bg[str(a["handle"])]
	if !ok {
		return outcome{}, failf("no async op %q", str(a["handle"]))
	}
	select {
	case <-b.done:
		return b.outcome, b.err
	case <-time.After(stepTimeout):
		return outcome{}, failf("timeout: async op %q still running", str(a["handle"]))
	}
}

// ---------------------------------------------------------------------------
// Generated-stub fallback (README section 4)

func pbValue(v any) (*structpb.Value, error) {
	pv, err := structpb.NewValue(v)
	if err != nil {
		return nil, failf("not a JSON value: %v", err)
	}
	return pv, nil
}

func pbValueMap(v any) (map[string]*structpb.Value, error) {
	m, _ := v.(map[string]any)
	out := make(map[string]*structpb.Value, len(m))
	for k, e := range m {
		pv, err := pbValue(e)
		if err != nil {
			return nil, err
		}
		out[k] = pv
	}
	return out, nil
}

func pbDuration(v any) (*durationpb.Duration, error) {
	d, err := parseDuration(v)
	if err != nil {
		return nil, err
	}
	return durationpb.New(d), nil
}

func pbError(v any) (*taskstatev1.TaskError, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, failf("error must be an object")
	}
	e := &taskstatev1.TaskError{Code: int32(toFloat(m["code"])), Message: str(m["message"])}
	if d, ok := m["data"]; ok {
		pv, err := pbValue(d)
		if err != nil {
			return nil, err
		}
		e.Data = pv
	}
	return e, nil
}

func (r *scenarioRun) rawCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

func (r *scenarioRun) rawCreate(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	req := &taskstatev1.CreateTaskRequest{RequestMethod: str(a["request_method"]), RequestId: str(a["request_id"])}
	var err error
	if v, ok := a["ttl"]; ok {
		if req.Ttl, err = pbDuration(v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["poll_interval"]; ok {
		if req.PollInterval, err = pbDuration(v); err != nil {
			return nil, err
		}
	}
	if req.Variables, err = pbValueMap(a["variables"]); err != nil {
		return nil, err
	}
	cctx, cancel := r.rawCtx(ctx)
	defer cancel()
	resp, err := c.Raw().CreateTask(cctx, req, c.CallOptions()...)
	if err != nil {
		return nil, rawErr(err)
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

func (r *scenarioRun) rawPutIfVersion(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	spec, _ := a["task"].(map[string]any)
	t := &taskstatev1.Task{}
	var err error
	for _, k := range sortedKeys(spec) {
		v := spec[k]
		switch k {
		case "status":
			var s taskstate.Status
			s, err = parseStatus(v)
			t.Status = s.Proto()
		case "status_message":
			t.StatusMessage = str(v)
		case "variables":
			t.Variables, err = pbValueMap(v)
		case "result":
			t.Result, err = pbValue(v)
		case "error":
			t.Error, err = pbError(v)
		case "ttl":
			t.Ttl, err = pbDuration(v)
		case "poll_interval":
			t.PollInterval, err = pbDuration(v)
		default:
			err = failf("put_if_version: unknown task field %q", k)
		}
		if err != nil {
			return nil, err
		}
	}
	var paths []string
	if m, ok := a["update_mask"]; ok {
		l, isList := m.([]any)
		if !isList {
			return nil, failf("update_mask must be a list")
		}
		paths = []string{}
		for _, p := range l {
			paths = append(paths, str(p))
		}
	} else {
		paths = sortedKeys(spec)
	}
	req := &taskstatev1.PutIfVersionRequest{
		TaskId: str(a["task_id"]), ExpectedVersion: u64(a["expected_version"]), Task: t,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	}
	cctx, cancel := r.rawCtx(ctx)
	defer cancel()
	resp, err := c.Raw().PutIfVersion(cctx, req, c.CallOptions()...)
	if err != nil {
		return nil, rawErr(err)
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

func (r *scenarioRun) rawComplete(ctx context.Context, c *taskstate.Client, a map[string]any) (any, error) {
	status := taskstate.StatusCompleted
	var err error
	if s, ok := a["status"]; ok {
		if status, err = parseStatus(s); err != nil {
			return nil, err
		}
	}
	req := &taskstatev1.CompleteTaskRequest{TaskId: str(a["task_id"]), Status: status.Proto(), StatusMessage: str(a["message"])}
	if v, ok := a["result"]; ok {
		if req.Result, err = pbValue(v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["error"]; ok {
		if req.Error, err = pbError(v); err != nil {
			return nil, err
		}
	}
	if req.Variables, err = pbValueMap(a["variables"]); err != nil {
		return nil, err
	}
	if v, ok := a["expected_version"]; ok {
		ev := u64(v)
		req.ExpectedVersion = &ev
	}
	cctx, cancel := r.rawCtx(ctx)
	defer cancel()
	resp, err := c.Raw().CompleteTask(cctx, req, c.CallOptions()...)
	if err != nil {
		return nil, rawErr(err)
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

func (r *scenarioRun) rawWait(ctx context.Context, c *taskstate.Client, a map[string]any, statuses []taskstate.Status) (any, error) {
	req := &taskstatev1.WaitTaskRequest{TaskId: str(a["task_id"]), Timeout: durationpb.New(0), Statuses: protoStatuses(statuses)}
	cctx, cancel := r.rawCtx(ctx)
	defer cancel()
	resp, err := c.Raw().WaitTask(cctx, req, c.CallOptions()...)
	if err != nil {
		return nil, rawErr(err)
	}
	return taskView(taskstate.TaskFromProto(resp.GetTask())), nil
}

// rawErr converts a generated-stub error with the client's error type.
func rawErr(err error) error {
	if te, ok := taskstate.AsError(err); ok {
		return te
	}
	return err
}

// ---------------------------------------------------------------------------
// Main

func randomToken() string { return strings.ToLower(rand.Text()) }

func runScenario(e *env, doc map[string]any) (err error) {
	server := "main"
	if s, ok := doc["server"].(string); ok {
		server = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &scenarioRun{
		env: e, server: server, ctx: ctx, shutdown: cancel,
		saved:   map[string]any{"$unique": randomToken()},
		clients: map[string]*taskstate.Client{}, bg: map[string]*background{}, watches: map[string]*watchAll{},
	}
	defer r.close()
	for i, raw := range doc["steps"].([]any) {
		step := raw.(map[string]any)
		if err := r.runStep(step); err != nil {
			return fmt.Errorf("step %d (%v): %w", i, step["op"], err)
		}
	}
	return nil
}

// run runs the selected scenarios (all when selected is empty), reporting to
// out, and returns the counts.
func run(e *env, selected map[string]bool, out io.Writer) (passed, failed int, err error) {
	files, err := filepath.Glob(filepath.Join(e.vectorsDir, "*.json"))
	if err != nil {
		return 0, 0, err
	}
	sort.Strings(files)
	for _, path := range files {
		base := filepath.Base(path)
		stem := strings.TrimSuffix(base, ".json")
		if len(selected) > 0 && !selected[base] && !selected[stem] {
			continue
		}
		name := stem
		err := func() error {
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				return fmt.Errorf("bad JSON: %w", err)
			}
			if m, ok := doc.(map[string]any); ok {
				if n, ok := m["name"].(string); ok && n != "" {
					name = n
				}
			}
			if problems := validateScenario(doc, stem); len(problems) > 0 {
				return failf("malformed vector: %s", strings.Join(problems, "; "))
			}
			return runScenario(e, doc.(map[string]any))
		}()
		if err != nil {
			failed++
			fmt.Fprintf(out, "FAIL %s: %s\n", name, strings.Join(strings.Fields(err.Error()), " "))
		} else {
			passed++
			fmt.Fprintf(out, "PASS %s\n", name)
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
	return passed, failed, nil
}

func main() {
	e, err := envFromOS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	selected := map[string]bool{}
	for _, a := range os.Args[1:] {
		selected[a] = true
	}
	passed, failed, err := run(e, selected, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}
