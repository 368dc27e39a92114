package vars

import "crypto/sha256"
import "encoding/hex"
import "encoding/json"
import "fmt"
import "net/http/httptest"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

type fixture struct{ *apitest.Env }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{apitest.NewEnvWith(t, httpx.Options{BodyLimits: map[string]int64{"/api/result/": 8 << 20}}, "")}
	NewHandlers(NewStore(f.Pool), f.Gen).Register(f.Engine.Group("/api"))
	return f
}

func (f *fixture) do(method, path, body string) *httptest.ResponseRecorder {
	return f.Do(method, path, body, "")
}

// execution inserts a catalog row and an execution row.
func (f *fixture) execution(t *testing.T) int64 {
	t.Helper()
	id, _ := apitest.Execution(t, f.Schema, f.Gen, 0)
	return id
}

// wantStatus checks the status and, when msg is not "", the error envelope.
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	if msg == "" {
		httpkit.WantStatus(t, rec, status)
		return
	}
	httpkit.WantError(t, rec, status, msg)
}

func TestSetForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name string
		body string
		want map[string]string // var_name -> "type=value"
	}{
		{"upstream form", `{"variables":[{"var_name":"a","var_value":{"n":9007199254740993}},
			{"var_name":"b","var_value":"x","var_type":"computed","source_step":"s1"}]}`,
			map[string]string{"a": `user_defined={"n":9007199254740993}`, "b": `computed="x"`}},
		{"worker form", `{"counter": 3, "name": "x", "nested": {"k": [1, 2]}, "nothing": null}`,
			map[string]string{"counter": "user_defined=3", "name": `user_defined="x"`, "nested": `user_defined={"k":[1,2]}`, "nothing": "user_defined=null"}},
		{"worker form with a non-array variables key", `{"variables": {"a": 1}}`,
			map[string]string{"variables": `user_defined={"a":1}`}},
		{"duplicate names: the last wins", `{"variables":[{"var_name":"d","var_value":1},{"var_name":"d","var_value":2}]}`,
			map[string]string{"d": "user_defined=2"}},
		{"empty", `{}`, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := f.execution(t)
			rec := f.do("POST", fmt.Sprintf("/api/vars/%d", id), tc.body)
			wantStatus(t, rec, 200, "")
			if want := fmt.Sprintf(`{"execution_id":%d,"status":"ok","variables_set":%d}`, id, len(tc.want)); rec.Body.String() != want {
				t.Fatalf("body = %s, want %s", rec.Body, want)
			}
			rec = f.do("GET", fmt.Sprintf("/api/vars/%d", id), "")
			wantStatus(t, rec, 200, "")
			var list []struct {
				VarName    string          `json:"var_name"`
				VarType    string          `json:"var_type"`
				VarValue   json.RawMessage `json:"var_value"`
				SourceStep *string         `json:"source_step"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, v := range list {
				got[v.VarName] = v.VarType + "=" + string(v.VarValue)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("variables = %v, want %v", got, tc.want)
			}
			if strings.TrimSpace(rec.Body.String()) == "null" {
				t.Fatal("list must be an array")
			}
		})
	}
}

func TestSetIsAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	bad := []struct {
		name, body, msg string
		status          int
	}{
		{"bad var_type after a good item", `{"variables":[{"var_name":"ok","var_value":1},{"var_name":"x","var_value":1,"var_type":"bogus"}]}`, "Invalid var_type: bogus", 422},
		{"missing var_name", `{"variables":[{"var_value":1}]}`, `variables[0]: field "var_name" is required and must be a non-empty string`, 422},
		{"missing var_value", `{"variables":[{"var_name":"a"}]}`, `variables[0]: field "var_value" is required`, 422},
		{"item not an object", `{"variables":[1]}`, "variables[0]: expected an object, got number", 422},
		{"body not an object", `[1,2]`, "request body must be a JSON object", 422},
		{"malformed", `{"a":`, "malformed JSON: unexpected end of input", 400},
		{"syntax error", `{"a" 1}`, "malformed JSON at byte 6: invalid character '1' after object key", 400},
		{"number out of range", `{"a": 1e400}`, "invalid request body: number 1e400 is out of range (beyond ±1.8e308)", 422},
		{"upstream form number out of range", `{"variables":[{"var_name":"a","var_value":-1e400}]}`, "invalid request body: number -1e400 is out of range (beyond ±1.8e308)", 422},
		{"empty name", `{"": 1}`, "variable names must not be empty", 422},
		{"name too long", `{"ok": 1, "` + strings.Repeat("k", 6000) + `": 1}`, "variable name must be at most 1024 bytes (got 6000)", 422},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, f.do("POST", fmt.Sprintf("/api/vars/%d", id), tc.body), tc.status, tc.msg)
		})
	}
	rec := f.do("GET", fmt.Sprintf("/api/vars/%d", id), "")
	if rec.Body.String() != "[]" {
		t.Fatalf("after failed sets: %s", rec.Body)
	}
	wantStatus(t, f.do("POST", "/api/vars/abc", `{}`), 400, "")
}

// Variables of an execution that does not exist are refused, not stored where no
// execution's retention would ever delete them; listing them is the same 404, not an
// empty list that says the execution exists, while an execution without variables
// lists none.
func TestSetNeedsTheExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	existing := f.execution(t)
	missing := existing + 1000
	wantStatus(t, f.do("GET", fmt.Sprintf("/api/vars/%d", missing), ""), 404, fmt.Sprintf("Execution not found: %d", missing))
	if rec := f.do("GET", fmt.Sprintf("/api/vars/%d", existing), ""); rec.Code != 200 || rec.Body.String() != "[]" {
		t.Errorf("variables of an execution without any: %d %s, want 200 []", rec.Code, rec.Body)
	}
	for _, body := range []string{`{"a": 1}`, `{}`} {
		wantStatus(t, f.do("POST", fmt.Sprintf("/api/vars/%d", missing), body), 404, fmt.Sprintf("Execution not found: %d", missing))
	}
	var n int
	if err := f.Pool.QueryRow(t.Context(), `SELECT count(*) FROM transient WHERE execution_id = $1`, missing).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows stored for a missing execution: %d (%v)", n, err)
	}
}

func TestGetDeleteAndAccessCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	wantStatus(t, f.do("POST", fmt.Sprintf("/api/vars/%d", id), `{"a": 1, "b": {"x": true}, "c": "z"}`), 200, "")

	for want := int64(1); want <= 2; want++ {
		rec := f.do("GET", fmt.Sprintf("/api/vars/%d/b", id), "")
		wantStatus(t, rec, 200, "")
		if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); fmt.Sprint(got) != "[var_name var_type var_value source_step created_at accessed_at access_count]" {
			t.Fatalf("keys = %v", got)
		}
		m := httpkit.JSON(t, rec).(map[string]any)
		if m["access_count"] != want || m["source_step"] != nil || fmt.Sprint(m["var_value"]) != "map[x:true]" {
			t.Fatalf("variable = %v", m)
		}
	}
	// An upsert keeps created_at and the count, replaces the value.
	wantStatus(t, f.do("POST", fmt.Sprintf("/api/vars/%d", id), `{"variables":[{"var_name":"b","var_value":5,"var_type":"step_result","source_step":"s"}]}`), 200, "")
	m := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/vars/%d/b", id), "")).(map[string]any)
	if m["var_value"] != int64(5) || m["var_type"] != "step_result" || m["source_step"] != "s" || m["access_count"] != int64(3) {
		t.Fatalf("after upsert: %v", m)
	}

	wantStatus(t, f.do("GET", fmt.Sprintf("/api/vars/%d/nope", id), ""), 404, fmt.Sprintf("Variable not found: nope for execution %d", id))
	rec := f.do("DELETE", fmt.Sprintf("/api/vars/%d/a", id), "")
	wantStatus(t, rec, 200, "")
	if want := fmt.Sprintf(`{"execution_id":%d,"var_name":"a","status":"deleted"}`, id); rec.Body.String() != want {
		t.Fatalf("delete = %s", rec.Body)
	}
	wantStatus(t, f.do("DELETE", fmt.Sprintf("/api/vars/%d/a", id), ""), 404, fmt.Sprintf("Variable not found: a for execution %d", id))
	rec = f.do("DELETE", fmt.Sprintf("/api/vars/%d", id), "")
	if want := fmt.Sprintf(`{"execution_id":%d,"status":"ok","variables_deleted":2}`, id); rec.Body.String() != want {
		t.Fatalf("cleanup = %s", rec.Body)
	}
	if rec := f.do("GET", fmt.Sprintf("/api/vars/%d", id), ""); rec.Body.String() != "[]" {
		t.Fatalf("after cleanup: %s", rec.Body)
	}
}

func TestResultStoreRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	data := `{"status":"success","data":{"rows":[{"id":1234567890123456789,"html":"<b>&</b>"}],"z":1.5,"a":null}}`
	rec := f.do("PUT", fmt.Sprintf("/api/result/%d", id), `{"name":"fetch","data":`+data+`,"scope":"execution","source_step":"fetch"}`)
	wantStatus(t, rec, 200, "")
	if got := httpkit.KeysInOrder(t, rec.Body.Bytes()); fmt.Sprint(got) != "[kind ref store scope meta]" {
		t.Fatalf("keys = %v", got)
	}
	ref := httpkit.JSON(t, rec).(map[string]any)
	want, _, _ := Canonical(mustDecode(t, data))
	sum := sha256.Sum256(want)
	meta := ref["meta"].(map[string]any)
	if ref["kind"] != "result_ref" || ref["store"] != "postgres" || ref["scope"] != "execution" ||
		!strings.HasPrefix(ref["ref"].(string), fmt.Sprintf("noetl://execution/%d/result/", id)) ||
		meta["bytes"] != int64(len(want)) || meta["sha256"] != hex.EncodeToString(sum[:]) ||
		meta["media_type"] != "application/json" || meta["content_type"] != "application/json" {
		t.Fatalf("ref = %v", ref)
	}

	rec = f.do("GET", "/api/result/resolve?ref="+ref["ref"].(string), "")
	wantStatus(t, rec, 200, "")
	var got struct {
		Ref  string          `json:"ref"`
		Data json.RawMessage `json:"data"`
		Meta map[string]any  `json:"meta"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// The data comes back byte-identical to what was digested (keys sorted, no HTML
	// escaping, the snowflake intact).
	if string(got.Data) != string(want) || got.Ref != ref["ref"] {
		t.Fatalf("resolved data = %s, want %s", got.Data, want)
	}
	if d := sha256.Sum256(got.Data); hex.EncodeToString(d[:]) != meta["sha256"] {
		t.Fatal("digest does not match the resolved data")
	}
	if !strings.Contains(string(got.Data), `1234567890123456789`) || !strings.Contains(string(got.Data), `<b>&</b>`) {
		t.Fatalf("data = %s", got.Data)
	}
}

// TestResultStoreRedacts: a result offloaded to the store is redacted as the same result
// inline in an event is (an http step's Set-Cookie header, a token in its body), and the
// digest describes what was stored.
func TestResultStoreRedacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	data := `{"status_code":200,"headers":{"set-cookie":"sid=s3cr3t-cookie; HttpOnly","content-type":"application/json"},` +
		`"data":{"access_token":"tok-abc","token_type":"bearer","note":"call with Bearer abcdefgh12345678 next"},"rows":[1,2]}`
	rec := f.do("PUT", fmt.Sprintf("/api/result/%d", id), `{"name":"login","data":`+data+`}`)
	wantStatus(t, rec, 200, "")
	ref := httpkit.JSON(t, rec).(map[string]any)
	rec = f.do("GET", "/api/result/resolve?ref="+ref["ref"].(string), "")
	wantStatus(t, rec, 200, "")
	var got struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, fragment string
		kept           bool
	}{
		{"cookie header", "s3cr3t-cookie", false},
		{"token in the body", "tok-abc", false},
		{"bearer in text", "abcdefgh12345678", false},
		{"other headers", `"content-type":"application/json"`, true},
		{"other fields", `"rows":[1,2]`, true},
		{"marker", `"access_token":"[REDACTED]"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(string(got.Data), tc.fragment) != tc.kept {
				t.Errorf("stored data %s: %q kept = %t, want %t", got.Data, tc.fragment, !tc.kept, tc.kept)
			}
		})
	}
	sum := sha256.Sum256(got.Data)
	if meta := ref["meta"].(map[string]any); meta["sha256"] != hex.EncodeToString(sum[:]) || meta["bytes"] != int64(len(got.Data)) {
		t.Errorf("meta %v does not describe the stored data", meta)
	}
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonx.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResultStoreErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	put := []struct {
		name, path, body, msg string
		status                int
	}{
		{"unknown execution", "/api/result/42", `{"name":"n","data":1}`, "Execution not found: 42", 404},
		{"no name", fmt.Sprintf("/api/result/%d", id), `{"data":1}`, `field "name" is required`, 422},
		{"no data", fmt.Sprintf("/api/result/%d", id), `{"name":"n"}`, `field "data" is required`, 422},
		{"name not a string", fmt.Sprintf("/api/result/%d", id), `{"name":1,"data":1}`, `field "name" must be a string`, 422},
		{"bad id", "/api/result/x", `{"name":"n","data":1}`, "", 400},
	}
	for _, tc := range put {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, f.do("PUT", tc.path, tc.body), tc.status, tc.msg)
		})
	}
	resolve := []struct {
		name, query string
		status      int
	}{
		{"missing ref", "", 400},
		{"malformed ref", "?ref=s3://bucket/x", 400},
		{"trailing junk", fmt.Sprintf("?ref=noetl://execution/%d/result/1/x", id), 400},
		{"unknown ref", fmt.Sprintf("?ref=noetl://execution/%d/result/99", id), 404},
	}
	for _, tc := range resolve {
		t.Run("resolve "+tc.name, func(t *testing.T) {
			wantStatus(t, f.do("GET", "/api/result/resolve"+tc.query, ""), tc.status, "")
		})
	}
	// A ref of one execution does not resolve under another.
	rec := f.do("PUT", fmt.Sprintf("/api/result/%d", id), `{"name":"n","data":[1]}`)
	wantStatus(t, rec, 200, "")
	ref := httpkit.JSON(t, rec).(map[string]any)["ref"].(string)
	_, refID, _ := ParseRef(ref)
	other := f.execution(t)
	wantStatus(t, f.do("GET", "/api/result/resolve?ref="+FormatRef(other, refID), ""), 404, "")
}

func TestResultBodyAboveTheDefaultLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	big := strings.Repeat("x", 2<<20) // above the 1 MiB default, under the result limit
	rec := f.do("PUT", fmt.Sprintf("/api/result/%d", id), `{"name":"big","data":{"s":"`+big+`"}}`)
	wantStatus(t, rec, 200, "")
	if httpkit.JSON(t, rec).(map[string]any)["meta"].(map[string]any)["bytes"] != int64(len(big)+8) {
		t.Fatalf("meta = %s", rec.Body)
	}
}

// TestNamesWithSlashes: a variable name may hold "/" (it is set from a body), and a
// client reading or deleting it sends it escaped as %2F. Each route taking the name must
// find that row and no other, or it could be set but never read or deleted.
func TestNamesWithSlashes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.execution(t)
	wantStatus(t, f.do("POST", fmt.Sprintf("/api/vars/%d", id), `{"a/b": 1, "a": 2}`), 200, "")

	m := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/vars/%d/a%%2Fb", id), "")).(map[string]any)
	if m["var_name"] != "a/b" || m["var_value"] != int64(1) {
		t.Fatalf("GET a%%2Fb = %v", m)
	}
	// An unescaped slash still separates path segments.
	wantStatus(t, f.do("GET", fmt.Sprintf("/api/vars/%d/a/b", id), ""), 404, "")
	rec := f.do("DELETE", fmt.Sprintf("/api/vars/%d/a%%2Fb", id), "")
	if want := fmt.Sprintf(`{"execution_id":%d,"var_name":"a/b","status":"deleted"}`, id); rec.Body.String() != want {
		t.Fatalf("DELETE a%%2Fb = %d %s", rec.Code, rec.Body)
	}
	wantStatus(t, f.do("GET", fmt.Sprintf("/api/vars/%d/a%%2Fb", id), ""), 404, fmt.Sprintf("Variable not found: a/b for execution %d", id))
	if m := httpkit.JSON(t, f.do("GET", fmt.Sprintf("/api/vars/%d/a", id), "")).(map[string]any); m["var_value"] != int64(2) {
		t.Fatalf("the other variable: %v", m)
	}
}
