package wire

import "encoding/json"
import "errors"
import "math"
import "strconv"
import "strings"
import "testing"
import "time"

func TestIDDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{`0`, 0},
		{`123`, 123},
		{`"123"`, 123},
		{`-7`, -7},
		{`"-7"`, -7},
		{`" 42 "`, 42},
		{`9007199254740993`, 9007199254740993}, // 2^53+1: not representable as float64
		{`"9007199254740993"`, 9007199254740993},
		{`320816801799737344`, 320816801799737344},
		{`"320816801799737344"`, 320816801799737344},
		{`9223372036854775807`, math.MaxInt64},
		{`"9223372036854775807"`, math.MaxInt64},
		{`-9223372036854775808`, math.MinInt64},
		{`"-9223372036854775808"`, math.MinInt64},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var id ID
			if err := json.Unmarshal([]byte(tc.in), &id); err != nil {
				t.Fatalf("ID from %s: %v", tc.in, err)
			}
			if int64(id) != tc.want {
				t.Errorf("ID from %s = %d, want %d", tc.in, id, tc.want)
			}
			var sid StringID
			if err := json.Unmarshal([]byte(tc.in), &sid); err != nil {
				t.Fatalf("StringID from %s: %v", tc.in, err)
			}
			if int64(sid) != tc.want {
				t.Errorf("StringID from %s = %d, want %d", tc.in, sid, tc.want)
			}
		})
	}
}

func TestIDDecodeRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`1.5`, `1.0`, `1e3`, `-0.0`,
		`[]`, `[1]`, `{}`, `{"id":1}`,
		`null`, `true`, `false`,
		`""`, `"abc"`, `"0x10"`, `"1e3"`, `"1.5"`, `"12 34"`, `"١٢٣"`,
		`9223372036854775808`, `"9223372036854775808"`, `-9223372036854775809`,
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			var id ID
			if err := json.Unmarshal([]byte(in), &id); err == nil {
				t.Errorf("ID accepted %s as %d", in, id)
			}
			var sid StringID
			if err := json.Unmarshal([]byte(in), &sid); err == nil {
				t.Errorf("StringID accepted %s as %d", in, sid)
			}
		})
	}
}

// TestIDInStruct: a null or absent id must not silently become 0 when it is a field; a
// null is an error and an absent field leaves the value untouched.
func TestIDInStruct(t *testing.T) {
	t.Parallel()
	type req struct {
		ExecutionID ID                  `json:"execution_id"`
		CatalogID   StringID            `json:"catalog_id"`
		Parent      *ID                 `json:"parent"`
		IDs         []ID                `json:"ids"`
		M           map[string]StringID `json:"m"`
	}
	var r req
	err := json.Unmarshal([]byte(`{"execution_id":"320816801799737344","catalog_id":9007199254740993,"parent":"5","ids":[1,"2"],"m":{"a":"3"}}`), &r)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if r.ExecutionID != 320816801799737344 || r.CatalogID != 9007199254740993 || r.Parent == nil || *r.Parent != 5 ||
		len(r.IDs) != 2 || r.IDs[1] != 2 || r.M["a"] != 3 {
		t.Errorf("decoded %+v", r)
	}
	var r2 req
	if err := json.Unmarshal([]byte(`{"catalog_id":null}`), &r2); err == nil {
		t.Errorf("null catalog_id accepted as %d", r2.CatalogID)
	}
	var r3 req
	if err := json.Unmarshal([]byte(`{"parent":null}`), &r3); err != nil || r3.Parent != nil {
		t.Errorf("null pointer id: %v, %v", r3.Parent, err)
	}
}

// A value that is not an id is a *json.UnmarshalTypeError, so the decoder names the
// field it was in, for every id field (it used to be a plain error, which encoding/json
// returns without the field: "id \"abc\" is not a 64-bit integer").
func TestIDErrorNamesTheField(t *testing.T) {
	t.Parallel()
	type req struct {
		Version ID       `json:"version"`
		Catalog StringID `json:"catalog_id"`
		Parent  *ID      `json:"parent"`
		IDs     []ID     `json:"ids"`
		Inner   struct {
			ID StringID `json:"id"`
		} `json:"inner"`
	}
	for _, tc := range []struct{ body, field, value string }{
		{`{"version":"abc"}`, "version", `string "abc"`},
		{`{"catalog_id":1.5}`, "catalog_id", "number 1.5"},
		{`{"parent":[1]}`, "parent", "array"},
		{`{"ids":[1,{}]}`, "ids", "object"},
		{`{"inner":{"id":true}}`, "inner.id", "bool"},
		{`{"catalog_id":null}`, "catalog_id", "null"},
		{`{"version":9223372036854775808}`, "version", "number 9223372036854775808 (beyond 64 bits)"},
		{`{"version":"9223372036854775808"}`, "version", `string "9223372036854775808" (beyond 64 bits)`},
		{`{"version":"` + strings.Repeat("x", 60) + `"}`, "version", `string "` + strings.Repeat("x", 40) + `..."`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			var r req
			err := json.Unmarshal([]byte(tc.body), &r)
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T), want a *json.UnmarshalTypeError", err, err)
			}
			if te.Field != tc.field || te.Value != tc.value {
				t.Errorf("field %q value %q, want %q %q", te.Field, te.Value, tc.field, tc.value)
			}
		})
	}
}

func TestIDMarshal(t *testing.T) {
	t.Parallel()
	type body struct {
		ID   ID        `json:"id"`
		SID  StringID  `json:"sid"`
		PID  *ID       `json:"pid"`
		PSID *StringID `json:"psid"`
	}
	tests := []struct {
		v    int64
		want string
	}{
		{0, `{"id":0,"sid":"0","pid":null,"psid":null}`},
		{-1, `{"id":-1,"sid":"-1","pid":null,"psid":null}`},
		{9007199254740993, `{"id":9007199254740993,"sid":"9007199254740993","pid":null,"psid":null}`},
		{math.MaxInt64, `{"id":9223372036854775807,"sid":"9223372036854775807","pid":null,"psid":null}`},
		{math.MinInt64, `{"id":-9223372036854775808,"sid":"-9223372036854775808","pid":null,"psid":null}`},
	}
	for _, tc := range tests {
		t.Run(strconv.FormatInt(tc.v, 10), func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(body{ID: ID(tc.v), SID: StringID(tc.v)})
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("Marshal = %s, want %s", b, tc.want)
			}
			// Round trip through both types, each accepting the other's encoding.
			var back struct {
				ID  StringID `json:"id"`
				SID ID       `json:"sid"`
			}
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if int64(back.ID) != tc.v || int64(back.SID) != tc.v {
				t.Errorf("round trip = %d/%d, want %d", back.ID, back.SID, tc.v)
			}
		})
	}
	id, sid := ID(5), StringID(6)
	b, _ := json.Marshal(body{PID: &id, PSID: &sid})
	if want := `{"id":0,"sid":"0","pid":5,"psid":"6"}`; string(b) != want {
		t.Errorf("Marshal pointers = %s, want %s", b, want)
	}
}

func TestParseIDJSONErrorIsShort(t *testing.T) {
	t.Parallel()
	long := `"x` + strings.Repeat("1234567890", 20) + `"`
	_, err := ParseIDJSON([]byte(long))
	if err == nil {
		t.Fatal("want an error")
	}
	if len(err.Error()) > 100 {
		t.Errorf("error is %d bytes long; the value should be truncated: %q", len(err.Error()), err)
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 6, 4, 6, 51, 26, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"no fraction", base, "2026-06-04T06:51:26Z"},
		{"millis", base.Add(37 * time.Millisecond), "2026-06-04T06:51:26.037Z"},
		{"millis round", base.Add(100 * time.Millisecond), "2026-06-04T06:51:26.100Z"},
		{"micros", base.Add(37*time.Millisecond + 5*time.Microsecond), "2026-06-04T06:51:26.037005Z"},
		{"micros round", base.Add(120 * time.Microsecond), "2026-06-04T06:51:26.000120Z"},
		{"nanos", base.Add(1), "2026-06-04T06:51:26.000000001Z"},
		{"nanos full", base.Add(123456789), "2026-06-04T06:51:26.123456789Z"},
		{"offset converted to UTC", time.Date(2026, 6, 4, 8, 51, 26, 0, time.FixedZone("CEST", 2*3600)), "2026-06-04T06:51:26Z"},
		{"epoch", time.Unix(0, 0), "1970-01-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FormatTime(tc.t); got != tc.want {
				t.Errorf("FormatTime = %q, want %q", got, tc.want)
			}
			b, err := json.Marshal(Time(tc.t))
			if err != nil || string(b) != strconv.Quote(tc.want) {
				t.Errorf("Marshal = %s, %v; want %q", b, err, tc.want)
			}
			var back Time
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("Unmarshal(%s): %v", b, err)
			}
			if !time.Time(back).Equal(tc.t) || time.Time(back).Location() != time.UTC {
				t.Errorf("round trip = %v, want %v in UTC", time.Time(back), tc.t)
			}
		})
	}
}

func TestTimeUnmarshal(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 6, 4, 6, 51, 26, 37_000_000, time.UTC)
	for _, in := range []string{`"2026-06-04T06:51:26.037Z"`, `"2026-06-04T08:51:26.037+02:00"`, `"2026-06-04T06:51:26.037000Z"`} {
		var tm Time
		if err := json.Unmarshal([]byte(in), &tm); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
			continue
		}
		if !time.Time(tm).Equal(want) {
			t.Errorf("Unmarshal(%s) = %v, want %v", in, time.Time(tm), want)
		}
	}
	for _, in := range []string{`"2026-06-04 06:51:26"`, `"2026-06-04T06:51:26"`, `1717483886`, `null`, `"yesterday"`} {
		var tm Time
		if err := json.Unmarshal([]byte(in), &tm); err == nil {
			t.Errorf("Unmarshal(%s) accepted: %v", in, time.Time(tm))
		}
	}
}

func TestTimePtr(t *testing.T) {
	t.Parallel()
	if TimePtr(nil) != nil {
		t.Error("TimePtr(nil) != nil")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := TimePtr(&now)
	if p == nil || !time.Time(*p).Equal(now) {
		t.Errorf("TimePtr = %v", p)
	}
	b, _ := json.Marshal(struct {
		A *Time `json:"a"`
		B *Time `json:"b"`
	}{TimePtr(nil), p})
	if want := `{"a":null,"b":"2026-01-01T00:00:00Z"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}
