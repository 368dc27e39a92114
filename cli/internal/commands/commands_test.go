package commands

import "bytes"
import "context"
import "encoding/json"
import "io"
import "net"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "strings"
import "sync"
import "testing"

// run executes the command line against srv and returns the exit code and both streams.
func run(t *testing.T, srv *httptest.Server, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	stdio := IO{
		In: strings.NewReader(stdin), Out: &out, Err: &errOut,
		IsTerminal: func(any) bool { return false },
		ReadSecret: func() ([]byte, error) { t.Fatal("read from a terminal"); return nil, nil },
		Getenv: func(k string) string {
			if k == "NOETL_URL" && srv != nil {
				return srv.URL
			}
			return ""
		},
	}
	code := Run(context.Background(), args, stdio, "test")
	return code, out.String(), errOut.String()
}

// errorServer answers every request with status and the error envelope of msg(r).
func errorServer(t *testing.T, status int, msg func(r *http.Request) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(map[string]any{"error": msg(r), "status": status})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeFile writes body to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildPayload(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(file, []byte("name: noetl\nn: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		f := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name, payload string
		sets          []string
		want, err     string
	}{
		{"empty", "", nil, `{}`, ""},
		{"json", `{"a": 1}`, []string{"b=x"}, `{"a":1,"b":"x"}`, ""},
		{"file", file, []string{"n=3", "deep.k=true"}, `{"deep":{"k":true},"n":3,"name":"noetl"}`, ""},
		{"set json", "", []string{`list=[1,2]`, "s=hello world"}, `{"list":[1,2],"s":"hello world"}`, ""},
		{"yaml keys that are not strings", write("keys.yaml", "{1: a, true: {2.5: b}}"), nil, `{"1":"a","true":{"2.5":"b"}}`, ""},
		{"bad set", "", []string{"novalue"}, "", "want key=value"},
		{"not object", `{`, nil, "", "--payload is not valid JSON"},
		{"missing file", "/nonexistent/p.json", nil, "", "neither a JSON object nor a readable file: open /nonexistent/p.json"},
		{"a key=value pair", "name=bob", nil, "", "(a key=value pair goes in --set name=bob)"},
		// Inline JSON is read whole: YAML would have sent {"a": 1} and "NaN" without a word.
		{"junk after the object", `{"a": 1} xyz`, nil, "", "--payload is not valid JSON: unexpected data after the document"},
		{"two objects", `{"a": 1}{"b": 2}`, nil, "", "--payload is not valid JSON"},
		{"NaN", `{"a": NaN}`, nil, "", "--payload is not valid JSON"},
		{"array", `[1, 2]`, nil, "", "--payload must be an object (key: value pairs), not array"},
		{"null", `null`, nil, "", "--payload must be an object (key: value pairs), not null"},
		{"bad yaml file", write("bad.yaml", "a: [1,"), nil, "", "bad.yaml is not valid JSON or YAML"},
		{"two documents", write("two.yaml", "a: 1\n---\nb: 2\n"), nil, "", "two.yaml holds more than one YAML document"},
		{"file of a list", write("list.json", "[1]"), nil, "", "list.json must be an object (key: value pairs), not array"},
		{"empty file", write("empty.yaml", ""), nil, "", "empty.yaml must be an object (key: value pairs), not null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildPayload(tc.payload, tc.sets)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("payload %s, want %s", b, tc.want)
			}
		})
	}
}

// The server's error message and status reach the user, with exit code 1; bad usage
// exits 2 without a call.
func TestErrorsAndExitCodes(t *testing.T) {
	t.Parallel()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"Execution not found: 42","status":404}`)
	}))
	t.Cleanup(srv.Close)
	code, _, errOut := run(t, srv, "", "status", "42")
	if code != ExitFailed || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "Execution not found: 42") {
		t.Errorf("status 42: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"status", "abc"}, {"status"}, {"nosuch"}, {"executions", "-o", "xml"}, {"run", "p", "--set", "x"}, {"run", "p", "--payload", `{"a": 1} x`}, {"run", "p", "--payload", "[1]"}, {"catalog", "get", "x"}, {"credentials", "frob"}, {"executions", "--limit", "-1"}, {"events", "42", "--after-seq", "-1"}, {"run", "p", "--version", "0"}, {"run", "p", "--version", "-1"}, {"catalog", "show", "p", "--version", "0"}, {"credentials", "set", "x", "--type", "bearer", "--from-file", "/nonexistent/secret.json"}} {
		before := calls
		if code, _, errOut := run(t, srv, "", args...); code != ExitUsage || calls != before {
			t.Errorf("%v: exit %d (calls %d), stderr %q; want 2 and no call", args, code, calls-before, errOut)
		}
	}
}

// A server that does not answer is one line naming it and the cause, exit 1: not the
// chain "GET /api/executions: Get "...": dial tcp ...: connect: ...".
func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	stop := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-stop // answers only when the test ends; the client's --timeout ends the call first
	}))
	t.Cleanup(silent.Close)
	t.Cleanup(func() { close(stop) }) // runs first: Close waits for the handler
	// register stops at the first file: the rest would fail alike.
	playbooks := t.TempDir()
	for _, name := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(playbooks, name), []byte("kind: Playbook\nmetadata: {name: x, path: t/x}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"refused", []string{"--server", closed, "executions"}, "cannot reach the server " + closed + ": connection refused"},
		{"register a directory", []string{"--server", closed, "register", playbooks}, "cannot reach the server " + closed + ": connection refused"},
		{"no such host", []string{"--server", "http://noetl.invalid:8082", "status", "1"}, "cannot reach the server http://noetl.invalid:8082: no such host noetl.invalid"},
		{"timeout", []string{"--server", silent.URL, "--timeout", "50ms", "catalog", "list"}, "cannot reach the server " + silent.URL + ": no answer in time (--timeout)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := run(t, nil, "", tc.args...)
			if code != ExitFailed || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "dial tcp") {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", code, errOut, tc.want)
			}
		})
	}
}

// credentials set sends the value read from stdin and never prints it; get masks it.
func TestCredentialsNeverEcho(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/credentials":
			if r.Header.Get("Authorization") != "" {
				t.Errorf("a token was sent without one configured")
			}
			_ = json.NewDecoder(r.Body).Decode(&got)
			_, _ = io.WriteString(w, `{"id":"9","name":"pg","type":"postgres","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/credentials/pg":
			data := ""
			if r.URL.Query().Get("include_data") == "true" {
				data = `,"data":{"password":"` + secret + `"}`
			}
			_, _ = io.WriteString(w, `{"id":"9","name":"pg","type":"postgres"`+data+`,"created_at":"x","updated_at":"x"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	code, out, errOut := run(t, srv, secret+"\n", "credentials", "set", "pg", "--type", "postgres", "--field", "password")
	if code != 0 || strings.Contains(out+errOut, secret) {
		t.Fatalf("set: exit %d, output %q %q", code, out, errOut)
	}
	if d, _ := got["data"].(map[string]any); d["password"] != secret || got["name"] != "pg" {
		t.Fatalf("sent %v", got)
	}
	// A value that is not JSON is refused without quoting it.
	code, out, errOut = run(t, srv, secret, "credentials", "set", "pg", "--type", "postgres")
	if code != ExitUsage || strings.Contains(out+errOut, secret) {
		t.Fatalf("set non-JSON: exit %d, output %q %q", code, out, errOut)
	}
	// Without --type the hint names the types the worker applies, never "http" (an http
	// step refuses a credential of that type).
	code, out, errOut = run(t, srv, secret, "credentials", "set", "pg")
	if code != ExitUsage || !strings.Contains(errOut, "postgres, bearer, basic or api_key") || strings.Contains(errOut, "http,") {
		t.Fatalf("set without --type: exit %d, output %q %q", code, out, errOut)
	}
	for _, format := range []string{"table", "json", "yaml"} {
		code, out, _ = run(t, srv, "", "credentials", "get", "pg", "-o", format)
		if code != 0 || strings.Contains(out, secret) {
			t.Errorf("get -o %s: exit %d, printed the value:\n%s", format, code, out)
		}
	}
	if _, out, _ := run(t, srv, "", "credentials", "get", "pg"); !strings.Contains(out, "********") {
		t.Errorf("get does not show the mask:\n%s", out)
	}
	if code, out, _ = run(t, srv, "", "credentials", "get", "pg", "--reveal"); code != 0 || !strings.Contains(out, secret) {
		t.Errorf("get --reveal: exit %d\n%s", code, out)
	}
}

func TestTokenAndServerFromFlags(t *testing.T) {
	t.Parallel()
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"execution_id":387504528288690176,"catalog_id":1,"path":"a/b","status":"COMPLETED","started_at":"t","completed_at":null,"event_count":3}]`)
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := run(t, nil, "", "executions", "--server", srv.URL, "--token", "tok", "-o", "json")
	if code != 0 || auth != "Bearer tok" {
		t.Fatalf("exit %d auth %q stderr %q", code, auth, errOut)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0]["execution_id"] != "387504528288690176" {
		t.Fatalf("-o json: %v %s", err, out)
	}
	if _, out, _ := run(t, nil, "", "executions", "--server", srv.URL); !strings.Contains(out, "387504528288690176") || !strings.Contains(out, "EXECUTION_ID") {
		t.Errorf("table:\n%s", out)
	}
}

func TestRegisterWalksPlaybooks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		playbook   bool // what isPlaybook says; the walk also skips other extensions and hidden directories
	}{
		{"a.yaml", "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: a, path: t/a}\n", true},
		{"sub/b.yml", "kind: playbook\nmetadata: {name: b, path: t/b}\n", true},
		// A playbook with a YAML mistake is sent, so that the server names the line.
		{"broken.yaml", "apiVersion: noetl.io/v2\nkind: Playbook\nworkflow:\n  - step: start\n    tool: {kind: python\n", true},
		{"broken_quoted.yaml", "kind: \"Playbook\"  # mine\nworkflow: [\n", true},
		{"values.yaml", "replicas: 2\n", false},
		{"notes.txt", "kind: Playbook\n", true},
		{".hidden/c.yaml", "kind: Playbook\n", true},
		// Not YAML and not a playbook: a Helm template, a nested kind.
		{"chart.yaml", "{{- if .Values.x }}\nkind: Deployment\n", false},
		{"nested.yaml", "spec:\n  kind: Playbook\n  x: [\n", false},
		{"playbooks.yaml", "kind: Playbooks\nx: [\n", false},
	} {
		p := filepath.Join(dir, tc.name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name, func(t *testing.T) {
			ok, err := isPlaybook(p)
			if err != nil || ok != tc.playbook {
				t.Errorf("isPlaybook = %v, %v; want %v", ok, err, tc.playbook)
			}
		})
	}
	got, err := playbookFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "broken.yaml"),
		filepath.Join(dir, "broken_quoted.yaml"), filepath.Join(dir, "sub/b.yml")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("found %v, want %v", got, want)
	}
}

// A directory holding a playbook with a YAML mistake: register sends it and fails with
// the server's error naming the file, instead of skipping it and exiting 0.
func TestRegisterDirWithBrokenPlaybook(t *testing.T) {
	t.Parallel()
	srv := errorServer(t, http.StatusBadRequest, func(*http.Request) string { return "Invalid YAML at line 5: did not find expected ',' or '}'" })
	dir := t.TempDir()
	file := writeFile(t, dir, "mine.yaml", "kind: Playbook\nworkflow:\n  - step: start\n    tool: {kind: python\n")
	code, _, errOut := run(t, srv, "", "register", dir)
	if code != ExitFailed || !strings.Contains(errOut, file) || !strings.Contains(errOut, "Invalid YAML at line 5") {
		t.Errorf("exit %d, stderr %q; want 1 and the server's error for %s", code, errOut, file)
	}
}

// A register that registers nothing prints only the errors in a table (no lone header),
// and still [] in JSON so a script can parse the answer.
func TestRegisterNothingRegistered(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"error":"Step 'start' references unknown step 'nowhere' in next","status":422}`)
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(file, []byte("kind: Playbook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ format, wantOut string }{{"table", ""}, {"json", "[]\n"}} {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errOut := run(t, srv, "", "register", file, "-o", tc.format)
			if code != ExitFailed || out != tc.wantOut || !strings.Contains(errOut, "unknown step 'nowhere'") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, %q and the server's error", code, out, errOut, tc.wantOut)
			}
		})
	}
}

// noetl workers lists GET /api/worker/pools with its filters: a table of name, status,
// capacity, last heartbeat and interval, or the rows themselves with -o json.
func TestWorkers(t *testing.T) {
	t.Parallel()
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/worker/pools" {
			http.NotFound(w, r)
			return
		}
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"runtime_id":387504528288690176,"name":"pool-a","kind":"worker_pool","uri":null,"status":"ready",
			"labels":{"pool_name":"pool-a"},"capabilities":null,"capacity":4,"runtime":{"kind":"go"},"heartbeat":"2026-12-06T20:00:00Z",
			"created_at":"2026-12-06T19:00:00Z","updated_at":"2026-12-06T20:00:00Z","heartbeat_interval_seconds":2.5},
			{"runtime_id":2,"name":"pool-b","kind":"worker_pool","uri":null,"status":"offline","labels":null,"capabilities":null,
			"capacity":null,"runtime":null,"heartbeat":"2026-12-06T18:00:00Z","created_at":"2026-12-06T18:00:00Z",
			"updated_at":"2026-12-06T18:05:00Z","heartbeat_interval_seconds":null}]`)
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := run(t, srv, "", "workers")
	if code != 0 {
		t.Fatalf("workers: exit %d, stderr %q", code, errOut)
	}
	want := "NAME    STATUS   CAPACITY  HEARTBEAT             INTERVAL  RUNTIME_ID\n" +
		"pool-a  ready    4         2026-12-06T20:00:00Z  2.5s      387504528288690176\n" +
		"pool-b  offline  -         2026-12-06T18:00:00Z  -         2\n"
	if out != want {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}
	if query != "" {
		t.Errorf("no flags sent the query %q", query)
	}
	code, out, _ = run(t, srv, "", "workers", "--status", "ready", "--name", "pool", "-o", "json")
	if query != "name=pool&status=ready" {
		t.Errorf("query %q, want the name and status filters", query)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 ||
		list[0]["runtime_id"] != "387504528288690176" || list[0]["heartbeat_interval_seconds"] != 2.5 {
		t.Errorf("-o json: exit %d, %v\n%s", code, err, out)
	}
	if code, _, _ := run(t, srv, "", "workers", "extra"); code != ExitUsage {
		t.Errorf("workers with an argument: exit %d, want %d", code, ExitUsage)
	}
}

// events --follow rides out a transient failure (a proxy's 503, a dropped connection)
// as a watch does, instead of exiting on the first failed poll.
func TestFollowRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/events"):
			polls++
			switch polls {
			case 1:
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":"no upstream","status":503}`)
			case 2:
				_, _ = io.WriteString(w, `{"execution_id":"1","events":[`+
					`{"seq":1,"event_type":"playbook_started","node_name":"t/p","created_at":"2026-01-02T03:04:05Z"},`+
					`{"seq":2,"event_type":"playbook.completed","node_name":"playbook","created_at":"2026-01-02T03:04:06Z"}],"has_more":false}`)
			default:
				_, _ = io.WriteString(w, `{"execution_id":"1","events":[],"has_more":false}`)
			}
		case strings.HasSuffix(r.URL.Path, "/status"):
			_, _ = io.WriteString(w, `{"execution_id":"1","status":"COMPLETED"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := run(t, srv, "", "events", "1", "--follow", "--poll-interval", "1ms")
	if code != 0 || !strings.Contains(out, "playbook.completed") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the log and exit 0 after a 503", code, out, errOut)
	}
}

// `noetl run FILE` (a new user's first try) answers the server's 404 with the command to
// use instead: register the file, run the path it declares.
func TestRunFileHint(t *testing.T) {
	t.Parallel()
	srv := errorServer(t, http.StatusNotFound, func(r *http.Request) string {
		var body struct {
			Path string `json:"path"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		return "Playbook not found: " + body.Path
	})
	dir := t.TempDir()
	file := writeFile(t, dir, "hello.yaml", "kind: Playbook\nmetadata: {name: hello, path: mine/hello}\n")
	noPath := writeFile(t, dir, "nopath.yaml", "kind: Playbook\n")
	nameOnly := writeFile(t, dir, "name.yaml", "kind: Playbook\nmetadata: {name: greet}\n")
	for _, tc := range []struct {
		name, arg, want, notWant string
	}{
		{"a playbook file", file, "register it with `noetl register " + file + "`, then run its path: `noetl run mine/hello`", ""},
		{"a file with only metadata.name, the catalog's path then", nameOnly, "then run its path: `noetl run greet`", ""},
		{"a file without metadata", noPath, "is a file: run takes a registered playbook's path", ""},
		{"a yaml name that is no file", "examples/nothere.yaml", "not a file name", ""},
		{"a catalog path", "mine/nothere", "Playbook not found: mine/nothere", "("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, srv, "", "run", tc.arg)
			if code != ExitFailed || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %q", code, errOut, tc.want)
			}
			if tc.notWant != "" && strings.Contains(errOut, tc.notWant) {
				t.Errorf("stderr %q holds %q", errOut, tc.notWant)
			}
		})
	}
}

// credentials delete prints a sentence in a table and the server's answer with -o json
// or yaml, as every other command does.
func TestCredentialsDeleteOutput(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.EscapedPath() != "/api/credentials/team%2Fdb" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"388102471592976384","message":"Credential deleted successfully"}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ format, want string }{
		{"table", "credential team/db deleted\n"},
		{"json", "{\n  \"id\": \"388102471592976384\",\n  \"message\": \"Credential deleted successfully\"\n}\n"},
		{"yaml", "id: \"388102471592976384\"\nmessage: Credential deleted successfully\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errOut := run(t, srv, "", "credentials", "delete", "team/db", "-o", tc.format)
			if code != ExitOK || out != tc.want {
				t.Errorf("exit %d, stdout %q (stderr %q); want 0 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestRevealWithTheClientToken: get --reveal with the client token gets the server's
// 401 (the value route takes the worker or the internal token); the message says which
// token to give, and exits 1 as any server error does.
func TestRevealWithTheClientToken(t *testing.T) {
	t.Parallel()
	srv := errorServer(t, http.StatusUnauthorized, func(*http.Request) string {
		return "invalid token for this route (it takes NOETL_WORKER_TOKEN or NOETL_INTERNAL_API_TOKEN)"
	})
	code, _, errOut := run(t, srv, "", "credentials", "get", "pg", "--reveal", "--token", "client-token")
	if code != ExitFailed || !strings.Contains(errOut, `--token "$NOETL_WORKER_TOKEN"`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming --token \"$NOETL_WORKER_TOKEN\"", code, errOut)
	}
	// Without --reveal, a 401 is the server's own answer.
	if code, _, errOut := run(t, srv, "", "credentials", "get", "pg", "--token", "client-token"); code != ExitFailed || strings.Contains(errOut, "--reveal") {
		t.Errorf("get without --reveal: exit %d, stderr %q", code, errOut)
	}
}

// TestCatalogListUnknownKind: the server refuses a kind by its request field
// (resource_type); the user typed --kind, so that is what the error names, as a usage
// error, with the kinds the server listed.
func TestCatalogListUnknownKind(t *testing.T) {
	t.Parallel()
	srv := errorServer(t, http.StatusBadRequest, func(r *http.Request) string {
		return `Invalid field "resource_type": "bogus" is not one of credential, playbook`
	})
	code, _, errOut := run(t, srv, "", "catalog", "list", "--kind", "bogus")
	if code != ExitUsage || strings.Contains(errOut, "resource_type") || !strings.Contains(errOut, `--kind "bogus"`) ||
		!strings.Contains(errOut, "credential, playbook") {
		t.Errorf("exit %d, stderr %q; want 2 naming --kind and the kinds, not resource_type", code, errOut)
	}
	// Any other failure is passed on as it came.
	other := errorServer(t, http.StatusBadRequest, func(r *http.Request) string { return "something else" })
	if code, _, errOut := run(t, other, "", "catalog", "list", "--kind", "bogus"); code != ExitFailed || !strings.Contains(errOut, "something else") {
		t.Errorf("another 400: exit %d, stderr %q", code, errOut)
	}
}
