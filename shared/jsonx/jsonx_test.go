package jsonx

import "encoding/json"
import "math"
import "reflect"
import "slices"
import "strings"
import "testing"
import "time"

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"bigint keeps every digit", `3900000000000000123`, int64(3900000000000000123)},
		{"2^53+1", `9007199254740993`, int64(9007199254740993)},
		{"negative", `-12`, int64(-12)},
		{"fraction", `1.5`, 1.5},
		{"exponent stays float", `1e3`, 1000.0},
		{"zero fraction stays float", `2.0`, 2.0},
		{"beyond int64 is float", `18446744073709551616`, 18446744073709551616.0},
		{"nested", `{"a":[1,{"b":null}],"c":true,"d":"x"}`, map[string]any{
			"a": []any{int64(1), map[string]any{"b": nil}}, "c": true, "d": "x"}},
		{"null", `null`, nil},
		{"underflow is zero", `1e-400`, 0.0},
		{"largest float", `1.7976931348623157e308`, math.MaxFloat64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `{"a":1} x`, `[1,]`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) succeeded", in)
		}
	}
	// Numbers float64 cannot hold fail instead of becoming +Inf, which no encoder (and no
	// PostgreSQL column) takes.
	huge := strings.Repeat("9", 1_500_000)
	for _, in := range []string{`1e400`, `-1e400`, `{"a":[1,2e999]}`, huge, `{"n":` + huge + `}`} {
		_, err := Decode([]byte(in))
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Decode(%.30q) = %v, want an out-of-range error", in, err)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("the error quotes the whole number (%d bytes)", len(err.Error()))
		}
	}
	if _, err := DecodeObject([]byte(`[1]`)); err == nil {
		t.Error("DecodeObject of an array succeeded")
	}
	if m, err := DecodeObject([]byte(` {"a": 1} `)); err != nil || m["a"] != int64(1) {
		t.Errorf("DecodeObject = %v, %v", m, err)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type point struct {
		X int `json:"x"`
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"yaml int", 5, int64(5)},
		{"uint64 fits", uint64(7), int64(7)},
		{"uint64 too big", uint64(math.MaxUint64), float64(math.MaxUint64)},
		{"float32", float32(0.5), 0.5},
		{"json.Number int", json.Number("9007199254740993"), int64(9007199254740993)},
		{"json.Number float", json.Number("0.25"), 0.25},
		{"map any any", map[any]any{"a": 1, 2: []any{3}, true: nil}, map[string]any{
			"a": int64(1), "2": []any{int64(3)}, "true": nil}},
		{"nested ints in string map", map[string]any{"a": []any{1, "x"}}, map[string]any{"a": []any{int64(1), "x"}}},
		{"string slice", []string{"a"}, []any{"a"}},
		{"struct via json", point{X: 3}, map[string]any{"x": int64(3)}},
		{"time via json", ts, "2026-01-02T03:04:05Z"},
		{"nil map", map[string]int(nil), nil},
		{"typed map", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Normalize(c.in)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestNormalizeDoesNotMutateInput(t *testing.T) {
	t.Parallel()
	in := map[string]any{"a": 1, "b": []any{2}}
	out := Normalize(in).(map[string]any)
	if _, ok := in["a"].(int); !ok {
		t.Fatal("input map was modified")
	}
	if _, ok := in["b"].([]any)[0].(int); !ok {
		t.Fatal("input slice was modified")
	}
	if out["a"] != int64(1) || out["b"].([]any)[0] != int64(2) {
		t.Fatalf("bad output %#v", out)
	}
	// Already-normalized values come back as the same map.
	m := map[string]any{"x": int64(1)}
	if got := Normalize(m).(map[string]any); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
		t.Fatal("normalized map was copied")
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	got, err := MarshalString(map[string]any{"b": int64(3900000000000000123), "a": "<x>&", "c": []any{true, nil, 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"<x>&","b":3900000000000000123,"c":[true,null,1.5]}`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if _, err := Marshal(math.NaN()); err == nil {
		t.Fatal("NaN encoded")
	}
}

func TestTypeName(t *testing.T) {
	t.Parallel()
	for v, want := range map[any]string{nil: "null", true: "boolean", int64(1): "number", 1.5: "number", "s": "string"} {
		if got := TypeName(v); got != want {
			t.Errorf("TypeName(%v) = %s want %s", v, got, want)
		}
	}
	if TypeName([]any{}) != "array" || TypeName(map[string]any{}) != "object" {
		t.Error("composite type names")
	}
}

func TestKindNamesOf(t *testing.T) {
	t.Parallel()
	short := KindNames{Null: "null", Integer: "a number", Float: "a number"}
	for v, want := range map[any]string{nil: "null", int64(1): "a number", 1.5: "a number", true: "bool", "s": "string"} {
		if got := short.Of(v); got != want {
			t.Errorf("Of(%v) = %s want %s", v, got, want)
		}
	}
	if got := (KindNames{Other: "string"}).Of(int8(1)); got != "string" {
		t.Errorf("Other: got %s", got)
	}
}

func TestAsFloat(t *testing.T) {
	t.Parallel()
	if f, ok := AsFloat(int64(3)); !ok || f != 3 {
		t.Errorf("int64: %v %v", f, ok)
	}
	if f, ok := AsFloat(2.5); !ok || f != 2.5 {
		t.Errorf("float64: %v %v", f, ok)
	}
	for _, v := range []any{nil, 3, "3", true} {
		if _, ok := AsFloat(v); ok {
			t.Errorf("AsFloat(%#v) accepted", v)
		}
	}
}

func TestMapChildren(t *testing.T) {
	t.Parallel()
	double := func(v any) any { return v.(int64) * 2 }
	in := []any{int64(1), int64(2)}
	if got := MapChildren(in, double); !reflect.DeepEqual(got, []any{int64(2), int64(4)}) || in[0] != int64(1) {
		t.Errorf("list: %v (input %v)", got, in)
	}
	if got := MapChildren(map[string]any{"a": int64(3)}, double); !reflect.DeepEqual(got, map[string]any{"a": int64(6)}) {
		t.Errorf("map: %v", got)
	}
	if got := MapChildren("s", double); got != "s" {
		t.Errorf("scalar: %v", got)
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want []string
	}{
		{"scalar string", "a", []string{"a"}},
		{"non-string scalars", []any{int64(1), 2.5, true, nil}, nil},
		{"nested with keys", map[string]any{"k": []any{"v", map[string]any{"k2": "v2", "n": int64(3)}}},
			[]string{"k", "k2", "n", "v", "v2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := slices.Sorted(Strings(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Strings(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	t.Run("stops when the consumer breaks", func(t *testing.T) {
		t.Parallel()
		n := 0
		for range Strings([]any{"a", []any{"b", "c"}, "d"}) {
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Fatalf("visited %d strings after break at 2", n)
		}
	})
}

func TestAbsent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want bool
	}{{"", true}, {"  ", true}, {"null", true}, {" null\n", true}, {"{}", false}, {`"null"`, false}, {"0", false}, {"false", false}} {
		if got := Absent([]byte(tc.raw)); got != tc.want {
			t.Errorf("Absent(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

// Integers beyond 64 bits from outside are identifiers: DecodeExactIntegers keeps their
// digits as text where Decode rounds them to a float.
func TestDecodeExactIntegers(t *testing.T) {
	tests := []struct {
		name, doc string
		want      any
	}{
		{"an unsigned 64-bit id", `{"id": 12345678901234567890}`, map[string]any{"id": "12345678901234567890"}},
		{"a negative one in a list", `[-12345678901234567890, 7]`, []any{"-12345678901234567890", int64(7)}},
		{"an integer past any float", `[1` + strings.Repeat("0", 400) + `]`, []any{"1" + strings.Repeat("0", 400)}},
		{"int64 bounds stay numbers", `[9223372036854775807, -9223372036854775808]`, []any{int64(math.MaxInt64), int64(math.MinInt64)}},
		{"a float literal stays a float", `[1.5e20, 2.0]`, []any{1.5e20, 2.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeExactIntegers([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if got, _ := Decode([]byte(`12345678901234567890`)); got != float64(12345678901234567890) {
		t.Fatalf("Decode: got %#v, want the float", got)
	}
}
