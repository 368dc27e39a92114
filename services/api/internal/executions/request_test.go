package executions

import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/shared/httpx"

// A payload, workload or args that is not an object is refused naming the field: the
// body itself is an object, and "request body must be a JSON object" sent users to
// look for a syntax error that is not there.
func TestExecuteRequestNamesTheNonObjectField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"path":"p","payload":[1]}`, `field "payload": expected an object, got JSON array`},
		{`{"path":"p","workload":"x"}`, `field "workload": expected an object, got JSON string`},
		{`{"path":"p","args":5}`, `field "args": expected an object, got JSON number`},
		{`{"path":"p","payload":true}`, `field "payload": expected an object, got JSON bool`},
	} {
		t.Run(tc.body, func(t *testing.T) { wantDecode422(t, tc.body, tc.want) })
	}
	var req executeRequest
	if err := httpx.DecodeJSON([]byte(`{"path":"p","payload":{"n":1},"args":null}`), &req); err != nil || req.Payload.m["n"] != int64(1) || req.Args.m != nil {
		t.Fatalf("an object payload and a null args: %v %#v", err, req)
	}
}

// An id field that does not hold an id is refused naming the field, as every id field
// decoded with the shared id type is ("id \"abc\" is not a 64-bit integer" named none).
func TestExecuteRequestNamesTheBadIDField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"path":"p","version":"abc"}`, `field "version": expected an integer, got JSON string "abc"`},
		{`{"catalog_id":1.5}`, `field "catalog_id": expected an integer, got JSON number 1.5`},
		{`{"path":"p","parent_execution_id":[1]}`, `field "parent_execution_id": expected an integer, got JSON array`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			wantDecode422(t, tc.body, tc.want)
		})
	}
}

// wantDecode422 decodes body as an execute request and wants a 422 containing want.
func wantDecode422(t *testing.T, body, want string) {
	t.Helper()
	var req executeRequest
	err := httpx.DecodeJSON([]byte(body), &req)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
	if he, ok := err.(*httpx.Error); !ok || he.Status != 422 {
		t.Fatalf("error %#v, want a 422", err)
	}
}

// The execution's input is payload or one of its aliases, whichever is named; args used
// to be decoded and dropped, and workload was dropped beside a payload. More than one is
// a 422 naming them, never a silent pick.
func TestExecuteRequestInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want, err string
	}{
		{"none", `{"path":"p"}`, `map[]`, ""},
		{"payload", `{"path":"p","payload":{"n":1}}`, `map[n:1]`, ""},
		{"workload", `{"path":"p","workload":{"n":2}}`, `map[n:2]`, ""},
		{"args", `{"path":"p","args":{"n":3}}`, `map[n:3]`, ""},
		{"null aliases", `{"path":"p","payload":null,"workload":null,"args":{"n":4}}`, `map[n:4]`, ""},
		{"payload and workload", `{"path":"p","payload":{"a":1},"workload":{"b":2}}`, "", "payload and workload are aliases"},
		{"payload and args", `{"path":"p","payload":{"a":1},"args":{"b":2}}`, "", "payload and args are aliases"},
		{"all three", `{"path":"p","payload":{},"workload":{},"args":{}}`, "", "payload and workload and args are aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req executeRequest
			if err := httpx.DecodeJSON([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			m, err := req.input()
			if tc.err != "" {
				he, ok := err.(*httpx.Error)
				if !ok || he.Status != 422 || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %#v, want a 422 containing %q", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(m) != tc.want {
				t.Fatalf("input %v, %v; want %s", m, err, tc.want)
			}
		})
	}
}

// The version selector takes what the catalog routes take: "latest" (any case), "" and
// null name the highest version (it was a 422 here while /api/catalog/resource took it).
func TestExecuteRequestVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, want string }{
		{"absent", `{"path":"p"}`, "latest"},
		{"null", `{"path":"p","version":null}`, "latest"},
		{"latest", `{"path":"p","version":"latest"}`, "latest"},
		{"Latest with spaces", `{"path":"p","version":" Latest "}`, "latest"},
		{"empty", `{"path":"p","version":""}`, "latest"},
		{"number", `{"path":"p","version":3}`, "3"},
		{"decimal string", `{"path":"p","version":"4"}`, "4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req executeRequest
			if err := httpx.DecodeJSON([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			got := "latest"
			if req.Version.n != nil {
				got = fmt.Sprint(*req.Version.n)
			}
			if got != tc.want {
				t.Fatalf("version %s, want %s", got, tc.want)
			}
		})
	}
}
