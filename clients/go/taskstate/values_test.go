package taskstate

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	safe   = int64(1<<53 - 1)
	unsafe = int64(1<<53 + 1)
)

// wantNotRepresentable checks the typed local error and its path.
func wantNotRepresentable(t *testing.T, err error, path string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error at %s, got %T %v", path, err, err)
	}
	if e.Code != codes.InvalidArgument || e.Reason != ReasonValueNotRepresentable || e.Metadata["path"] != path {
		t.Fatalf("want INVALID_ARGUMENT/VALUE_NOT_REPRESENTABLE at %s, got %v %s %v", path, e.Code, e.Reason, e.Metadata)
	}
	if len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != path {
		t.Fatalf("field violations: %+v", e.FieldViolations)
	}
	if !strings.Contains(e.Message, path) || !strings.Contains(e.Message, "2^53-1") {
		t.Fatalf("the message must name the path and the rule: %s", e.Message)
	}
	if !errors.Is(err, ErrValueNotRepresentable) || !errors.Is(err, ErrInvalidArgument) || status.Code(err) != codes.InvalidArgument {
		t.Fatalf("errors.Is / status.Code: %v", err)
	}
}

// Both sides of the ±(2^53-1) boundary, for every integer shape.
func TestValueIntegerBoundary(t *testing.T) {
	type count int64
	ok := []any{
		safe, -safe, uint64(safe), count(safe), big.NewInt(safe), big.NewInt(-safe),
		json.Number("9007199254740991"), json.Number("-9007199254740991"),
		json.RawMessage(`{"n": 9007199254740991}`), float64(1 << 60), 1.5,
		json.Number("1e300"), int32(math.MaxInt32),
	}
	for _, v := range ok {
		if _, err := Value(v); err != nil {
			t.Errorf("Value(%T %v): %v", v, v, err)
		}
	}
	pv, err := Value(safe)
	if err != nil || pv.GetNumberValue() != float64(safe) {
		t.Fatalf("2^53-1 changed: %v %v", pv, err)
	}
	refused := []any{
		unsafe, -unsafe, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), uint64(1 << 53),
		count(unsafe), new(big.Int).Lsh(big.NewInt(1), 100), json.Number("9007199254740993"),
		json.Number("-9007199254740993"), json.Number("1e400"), math.NaN(), math.Inf(1), math.Inf(-1),
		float32(math.Inf(1)), structpb.NewNumberValue(math.NaN()),
	}
	for _, v := range refused {
		_, err := Value(v)
		wantNotRepresentable(t, err, "value")
	}
}

// The error names the path of the bad value inside nested shapes.
func TestValueNotRepresentablePaths(t *testing.T) {
	type inner struct {
		Items []uint64 `json:"items"`
	}
	for path, v := range map[string]any{
		"variables.count":             map[string]any{"count": unsafe},
		`variables.a["odd key"][1].b`: map[string]any{"a": map[string]any{"odd key": []any{1, map[string]any{"b": math.NaN()}}}},
		"variables.s.items[2]":        map[string]any{"s": inner{Items: []uint64{1, 2, math.MaxUint64}}},
		"variables.m.x":               map[string]any{"m": map[string]int64{"x": math.MaxInt64}},
		"variables.raw.deep[0]":       map[string]any{"raw": json.RawMessage(`{"deep": [18446744073709551615]}`)},
		"variables.pb.l[0]":           map[string]any{"pb": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"l": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(math.Inf(1))}})}})},
	} {
		_, err := toValueMap(v.(map[string]any), "variables")
		wantNotRepresentable(t, err, path)
	}
	// A NaN inside a struct is only seen by encoding/json: the path is the struct's.
	type point struct{ X float64 }
	_, err := toValue(map[string]any{"p": point{X: math.NaN()}}, "result")
	wantNotRepresentable(t, err, "result.p")
}

// Every write refuses locally, before any call: the client has no server.
func TestWritesRefuseUnrepresentableValues(t *testing.T) {
	c := &Client{} // a nil stub: reaching the network would panic
	ctx := t.Context()
	_, err := c.CreateTask(ctx, CreateTaskParams{Variables: map[string]any{"n": unsafe}})
	wantNotRepresentable(t, err, "variables.n")
	_, err = c.SetVariables(ctx, "id", map[string]any{"n": []any{uint64(math.MaxUint64)}})
	wantNotRepresentable(t, err, "variables.n[0]")
	_, err = c.CompleteTask(ctx, "id", Completion{Result: map[string]any{"items": []any{0, 1, math.Inf(-1)}}})
	wantNotRepresentable(t, err, "result.items[2]")
	_, err = c.FailTask(ctx, "id", TaskError{Message: "x", Data: big.NewInt(math.MaxInt64)})
	wantNotRepresentable(t, err, "error.data")
	_, err = c.PutIfVersion(ctx, "id", 1, &Task{Variables: map[string]any{"v": int64(math.MinInt64)}}, FieldVariables)
	wantNotRepresentable(t, err, "variables.v")
}

// Safe shapes keep converting as before.
func TestValueShapes(t *testing.T) {
	type named string
	for _, tc := range []struct {
		in   any
		want string
	}{
		{map[string]int{"a": 1}, `{"a":1}`},
		{[]uint8("hi"), `"aGk="`},
		{[]int(nil), `null`},
		{map[string]any(nil), `{}`},
		{named("x"), `"x"`},
		{[2]int{1, 2}, `[1,2]`},
		{json.Number("2.5"), `2.5`},
		{(*int)(nil), `null`},
	} {
		pv, err := Value(tc.in)
		if err != nil {
			t.Fatalf("Value(%#v): %v", tc.in, err)
		}
		got, _ := json.Marshal(pv.AsInterface())
		if string(got) != tc.want {
			t.Errorf("Value(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
