package taskstate

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// MaxSafeInteger is 2^53-1, the largest integer a JSON number can carry
// exactly everywhere: google.protobuf.Value holds IEEE doubles, and
// JavaScript's Number.MAX_SAFE_INTEGER is the same bound. Integers outside
// [-MaxSafeInteger, MaxSafeInteger] are refused rather than rounded.
const MaxSafeInteger = 1<<53 - 1

// Value converts a Go value to a protobuf JSON value, the way this package
// converts variables and results: a *structpb.Value as is, nil as JSON null,
// json.RawMessage and json.Number parsed, Go numbers, strings, bools, maps
// with string keys, slices and arrays directly, and anything else (structs,
// types with MarshalJSON) through encoding/json. An integer outside
// ±MaxSafeInteger, NaN or ±Inf gives an *Error with code INVALID_ARGUMENT and
// reason VALUE_NOT_REPRESENTABLE, whose path is rooted at "value".
func Value(v any) (*structpb.Value, error) { return toValue(v, "value") }

// toValue converts v, naming the value path in errors (e.g. "variables.count").
func toValue(v any, path string) (*structpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case *structpb.Value:
		if x == nil {
			return structpb.NewNullValue(), nil
		}
		return x, checkProtoValue(x, path)
	case json.RawMessage:
		return fromJSON(x, path)
	case json.Number:
		return numberValue(x, path)
	case *big.Int:
		if x == nil {
			return structpb.NewNullValue(), nil
		}
		return bigIntValue(x, path)
	case big.Int:
		return bigIntValue(&x, path)
	case string:
		return structpb.NewStringValue(x), nil
	case bool:
		return structpb.NewBoolValue(x), nil
	case map[string]any:
		return objectValue(x, path)
	case []any:
		list := &structpb.ListValue{Values: make([]*structpb.Value, len(x))}
		for i, e := range x {
			pv, err := toValue(e, indexPath(path, i))
			if err != nil {
				return nil, err
			}
			list.Values[i] = pv
		}
		return structpb.NewListValue(list), nil
	case json.Marshaler, encoding.TextMarshaler:
		return viaJSON(v, path) // the type chose its own JSON form
	}
	return reflectValue(reflect.ValueOf(v), path)
}

// reflectValue handles named and typed shapes (type Count int64,
// map[string]int, []uint64, pointers) by kind, so that numbers inside them
// are checked with their exact path; structs and the rest go through
// encoding/json.
func reflectValue(rv reflect.Value, path string) (*structpb.Value, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return structpb.NewNullValue(), nil
		}
		return toValue(rv.Elem().Interface(), path)
	case reflect.Bool:
		return structpb.NewBoolValue(rv.Bool()), nil
	case reflect.String:
		return structpb.NewStringValue(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(rv.Int(), path)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(rv.Uint(), path)
	case reflect.Float32, reflect.Float64:
		return floatValue(rv.Float(), path)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String || rv.IsNil() {
			break
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return objectValue(m, path)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 || (rv.Kind() == reflect.Slice && rv.IsNil()) {
			break // []byte is base64 and a nil slice null, as encoding/json says
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return toValue(l, path)
	}
	return viaJSON(rv.Interface(), path)
}

func objectValue(m map[string]any, path string) (*structpb.Value, error) {
	fields, err := toValueMap(m, path)
	if err != nil {
		return nil, err
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: fields}), nil
}

// viaJSON marshals v with encoding/json and converts the result, keeping
// numbers as json.Number so that large integers are seen, not rounded.
func viaJSON(v any, path string) (*structpb.Value, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		var unsupported *json.UnsupportedValueError
		if errors.As(err, &unsupported) && isNonFinite(unsupported.Str) {
			return nil, notRepresentable(path, unsupported.Str+" (inside this value)")
		}
		return nil, fmt.Errorf("taskstate: %s: not a JSON value: %w", path, err)
	}
	return fromJSON(raw, path)
}

func isNonFinite(s string) bool { return s == "NaN" || s == "+Inf" || s == "-Inf" }

func fromJSON(raw []byte, path string) (*structpb.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		return nil, fmt.Errorf("taskstate: %s: invalid JSON: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("taskstate: %s: invalid JSON: data after the value", path)
	}
	return toValue(decoded, path)
}

func intValue(i int64, path string) (*structpb.Value, error) {
	if i > MaxSafeInteger || i < -MaxSafeInteger {
		return nil, notRepresentable(path, "integer "+strconv.FormatInt(i, 10))
	}
	return structpb.NewNumberValue(float64(i)), nil
}

func uintValue(u uint64, path string) (*structpb.Value, error) {
	if u > MaxSafeInteger {
		return nil, notRepresentable(path, "integer "+strconv.FormatUint(u, 10))
	}
	return structpb.NewNumberValue(float64(u)), nil
}

func floatValue(f float64, path string) (*structpb.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, notRepresentable(path, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return structpb.NewNumberValue(f), nil
}

var maxSafeBig = big.NewInt(MaxSafeInteger)

func bigIntValue(b *big.Int, path string) (*structpb.Value, error) {
	if new(big.Int).Abs(b).Cmp(maxSafeBig) > 0 {
		return nil, notRepresentable(path, "integer "+b.String())
	}
	return structpb.NewNumberValue(float64(b.Int64())), nil
}

// numberValue checks a json.Number: one written as an integer follows the
// integer rule; one with a fraction or exponent is a double and only has to
// be finite.
func numberValue(n json.Number, path string) (*structpb.Value, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("taskstate: %s: %q is not a JSON number", path, s)
		}
		return bigIntValue(b, path)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("taskstate: %s: %q is not a JSON number", path, s)
	}
	if math.IsInf(f, 0) {
		return nil, notRepresentable(path, s+" (beyond the range of a double)")
	}
	return structpb.NewNumberValue(f), nil
}

// checkProtoValue refuses NaN and ±Inf inside a *structpb.Value given as is
// (its numbers are already doubles, so any finite one is exact).
func checkProtoValue(v *structpb.Value, path string) error {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			return notRepresentable(path, strconv.FormatFloat(k.NumberValue, 'g', -1, 64))
		}
	case *structpb.Value_StructValue:
		for key, e := range k.StructValue.GetFields() {
			if err := checkProtoValue(e, keyPath(path, key)); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		for i, e := range k.ListValue.GetValues() {
			if err := checkProtoValue(e, indexPath(path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func toValueMap(m map[string]any, path string) (map[string]*structpb.Value, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		pv, err := toValue(v, keyPath(path, k))
		if err != nil {
			return nil, err
		}
		out[k] = pv
	}
	return out, nil
}

func fromValue(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	return v.AsInterface()
}

// keyPath appends an object key to a value path: .key for identifier-like
// keys, ["key"] for the others.
func keyPath(path, key string) string {
	if isIdentifier(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
