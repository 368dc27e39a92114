package executions

import (
	"strings"
	"testing"

	"github.com/noetl/controlplane/shared/httpx"
)

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
