package strictjson

import "encoding/json"
import "errors"
import "reflect"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/httpx"

type inner struct {
	Name string            `json:"name"`
	Map  map[string]string `json:"map"`
}

type embedded struct {
	Alias string `json:"alias"`
	Entry *inner `json:"entry"`
}

type request struct {
	embedded
	Identifier string          `json:"identifier"`
	Data       json.RawMessage `json:"data"`
	List       []inner         `json:"list"`
	Skip       string          `json:"-"`
}

func TestCheckKeys(t *testing.T) {
	typ := reflect.TypeFor[*request]()
	for _, tc := range []struct {
		name, body string
		want       string // "" when accepted
	}{
		{"distinct fields", `{"alias":"a","identifier":"b","data":{"x":1}}`, ""},
		{"raw data keys differing in case", `{"data":{"Key":1,"key":2,"KEY":3}}`, ""},
		{"map keys differing in case", `{"entry":{"map":{"A":"1","a":"2"}}}`, ""},
		{"same key in sibling objects", `{"list":[{"name":"a"},{"name":"b"}],"data":[{"k":1},{"k":2}]}`, ""},
		{"Kelvin sign is not K in raw data", "{\"data\":{\"k\":1,\"\u212a\":2}}", ""},
		{"top-level field twice", `{"identifier":"a","identifier":"b"}`, `field "identifier" appears more than once`},
		{"promoted field in two cases", `{"alias":"a","ALIAS":"b"}`, `field "alias" appears more than once`},
		{"long s folds into a field", "{\"alias\":\"a\",\"alia\u017f\":\"b\"}", `field "alias" appears more than once`},
		{"struct field in two cases", `{"entry":{"name":"a","NaMe":"b"}}`, `field "entry" holds an object`},
		{"map key twice", `{"entry":{"map":{"a":"1","a":"2"}}}`, `field "entry" holds an object`},
		{"deep in raw data", `{"data":{"a":[{"b":{"c":1,"c":2}}]}}`, `field "data" holds an object`},
		{"in a list of structs", `{"list":[{"name":"a"},{"name":"a","Name":"b"}]}`, `field "list" holds an object`},
		{"ignored field twice", `{"Skip":1,"Skip":2}`, "names a key more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKeys([]byte(tc.body), typ)
			var he *httpx.Error
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case !errors.As(err, &he) || he.Status != 400 || !strings.Contains(he.Error(), tc.want):
				t.Fatalf("error = %v, want a 400 naming %s", err, tc.want)
			}
		})
	}
}

func TestCheckDepth(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"at the bound", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		{"brackets inside strings", `{"a":"` + strings.Repeat("[{", 100) + `\"[["}`, true},
		{"past the bound", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDepth([]byte(tc.body))
			var he *httpx.Error
			if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &he) || he.Status != 422)) {
				t.Fatalf("checkDepth = %v, want ok=%v (else 422)", err, tc.ok)
			}
		})
	}
}

func TestCheckKeysNumbers(t *testing.T) {
	typ := reflect.TypeFor[*request]()
	for _, tc := range []struct {
		body   string
		status int // 0 when accepted
	}{
		{`{"data":{"n":1.7976931348623157e308,"m":-5e-400,"i":123456789012345678901234567890}}`, 0},
		{`{"data":{"n":1e400}}`, 422},
		{`{"data":[-1e309]}`, 422},
		{`{"entry":{"map":{}},"list":[],"data":` + strings.Repeat("9", 400) + `}`, 422},
	} {
		t.Run(tc.body[:min(len(tc.body), 40)], func(t *testing.T) {
			err := checkKeys([]byte(tc.body), typ)
			var he *httpx.Error
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.status != 0 && (!errors.As(err, &he) || he.Status != tc.status || !strings.Contains(he.Error(), "out of range")):
				t.Fatalf("error = %v, want %d out of range", err, tc.status)
			}
		})
	}
}

// TestNullableText: an absent or null optional field is SQL NULL; anything else is its
// text, trimmed.
func TestNullableText(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"": "<nil>", " null ": "<nil>", `{"a":1}`: `{"a":1}`, ` "x" `: `"x"`, "0": "0"} {
		got := "<nil>"
		if p := NullableText(json.RawMessage(raw)); p != nil {
			got = *p
		}
		if got != want {
			t.Errorf("NullableText(%q) = %s, want %s", raw, got, want)
		}
	}
}
