package e2e

import "context"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strings"
import "testing"
import "time"

// Every playbook in examples/ runs to completion on a real worker and ends with the
// data its comment promises.
func TestExamples(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s, c, ctx := startSuiteWithScratchCredential(t, "pg_local")
	files, _ := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if len(files) < 5 {
		t.Fatalf("examples/ holds %d playbooks", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.register(ctx, string(b)); err != nil {
			t.Fatalf("register %s: %v", filepath.Base(f), err)
		}
	}
	tests := []struct {
		path    string
		payload map[string]any
		step    string
		want    string // the step's data as JSON
	}{
		{"examples/hello_world", map[string]any{"name": "noetl"}, "end", `{"greeting":"hello, noetl"}`},
		{"examples/http_call", map[string]any{"base_url": s.URL}, "end", `{"code":200,"health":"ok"}`},
		{"examples/postgres_query", nil, "end", `{"first":"apple","rows":2}`},
		{"examples/loop", nil, "summary", `{"done":4,"letters":[4,4,5,5]}`},
		{"examples/sub_playbook", nil, "end", `{"from_child":"hello from the child, parent"}`},
		{"examples/shell_branch", nil, "end", `{"verdict":"long","words":9}`},
		{"examples/shell_branch", map[string]any{"text": "a b"}, "end", `{"verdict":"short","words":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			id, err := c.execute(ctx, tc.path, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			log := waitCompleted(ctx, t, c, id, tc.path)
			if g := canonical(stepData(log, tc.step)); g != tc.want {
				t.Fatalf("%s data %s, want %s\n%s", tc.step, g, tc.want, describeLog(log))
			}
		})
	}
}

// canonical is JSON with sorted keys and without the synthetic `data` alias.
func canonical(v any) string {
	if m, ok := v.(map[string]any); ok {
		delete(m, "data")
	}
	return jsonText(v)
}

// The README's quick starts, the CLI one and the curl one, run as written against a
// suite with tokens (its localhost:8082 pointed at the suite's router; the environment
// that `source .run/client.env` gives a `make run` terminal is set by the test), print
// the hello-world result.
func TestReadmeQuickStart(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_API_TOKEN": e2eAPIToken, "NOETL_WORKER_TOKEN": e2eWorkerToken,
	}})
	s.StartWorker(t, map[string]string{"NOETL_WORKER_TOKEN": e2eWorkerToken})
	for _, tc := range []struct {
		marker string
		want   []string
	}{
		{"quickstart", []string{"step end completed", " COMPLETED in ", "end {'greeting': 'hello, noetl'}"}},
		{"quickstart-curl", []string{`"status":"COMPLETED"`, "end {'greeting': 'hello, noetl'}"}},
	} {
		t.Run(tc.marker, func(t *testing.T) {
			m := regexp.MustCompile("(?s)<!-- " + tc.marker + " -->\n```sh\n(.*?)```").FindSubmatch(readme)
			if m == nil {
				t.Fatalf("README.md has no %s block", tc.marker)
			}
			script := string(m[1])
			if !strings.Contains(script, "source .run/client.env") && tc.marker == "quickstart" {
				t.Fatal("the CLI quick start no longer sources .run/client.env; update this test")
			}
			script = strings.ReplaceAll(script, "source .run/client.env", ": the environment of client.env is set by the test")
			script = strings.ReplaceAll(script, "localhost:8082", strings.TrimPrefix(s.URL, "http://"))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "NOETL_URL="+s.URL, "NOETL_API_TOKEN="+e2eAPIToken,
				"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the quick start failed: %v\n%s", err, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("the quick start's output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// startSuiteWithScratchCredential starts the suite and a reference worker, and stores a
// postgres credential named name for a scratch database of the test's own. The context
// ends with the test, three minutes at the most.
func startSuiteWithScratchCredential(t *testing.T, name string) (*Suite, *rtClient, context.Context) {
	t.Helper()
	s, c, ctx, _ := startSuiteWithScratch(t, name)
	return s, c, ctx
}

// startSuiteWithScratch is startSuiteWithScratchCredential that also returns the scratch
// database, for a test that stores more credentials for it.
func startSuiteWithScratch(t *testing.T, name string) (*Suite, *rtClient, context.Context, *scratchDB) {
	t.Helper()
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, nil)
	c := newRTClient(s)
	scratch := newScratchDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	if err := c.createCredential(ctx, map[string]any{"name": name, "type": "postgres", "data": map[string]any{
		"db_host": scratch.Host, "db_port": scratch.Port, "db_user": scratch.User, "db_password": "", "db_name": scratch.Database,
	}}); err != nil {
		t.Fatal(err)
	}
	return s, c, ctx, scratch
}
