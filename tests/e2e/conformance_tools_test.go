package e2e

import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "os"
import "path/filepath"
import "sort"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

// TestConformanceTools runs every case of testdata/conformance/tools, and every engine
// run without a `worker:` section, on real noetl-worker processes through the router:
// it registers the playbooks and credentials, starts reference workers with each run's
// worker_env, executes the runs, waits until they are terminal and judges every field
// the case names (db checks on a scratch database, the secret audit, absent_text over
// child executions too) plus the invariants.
func TestConformanceTools(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tools, err := loadConfCases(filepath.Join(root, "testdata", "conformance", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := loadConfCases(filepath.Join(root, "testdata", "conformance", "engine"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) == 0 {
		t.Fatal("no tools cases found")
	}
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	scratch := newScratchDB(t)
	places := map[string]string{
		"{base_url}": s.URL, "{tmp}": t.TempDir(),
		"{pg_host}": scratch.Host, "{pg_port}": scratch.Port, "{pg_user}": scratch.User,
		"{pg_password}": scratch.Password, "{pg_database}": scratch.Database,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var secrets []string
	for _, cs := range append(append([]*confCase{}, tools...), engine...) {
		for i, req := range cs.Required {
			if err := c.register(ctx, req); err != nil {
				t.Fatalf("%s: register requires[%d]: %v", cs.caseName(), i, err)
			}
		}
		if err := c.register(ctx, cs.Content); err != nil {
			t.Fatalf("%s: register: %v", cs.caseName(), err)
		}
		for _, cr := range cs.Credentials {
			if err := c.createCredential(ctx, substitute(cr, places)); err != nil {
				t.Fatalf("%s: credential: %v", cs.caseName(), err)
			}
			for k, v := range mapOf(pathOr(cr, "data")) {
				if str, ok := v.(string); ok && str != "" && (strings.Contains(k, "token") || strings.Contains(k, "password")) {
					secrets = append(secrets, str)
				}
			}
		}
	}

	// Runs with the same worker_env share workers; each environment gets workers of
	// its own, and only one environment's workers run at a time.
	groups := map[string][]*runResult{}
	for _, cs := range tools {
		for i := range cs.Runs {
			r := &runResult{Case: cs, Run: &cs.Runs[i]}
			key := envKey(substitute(r.Run.WorkerEnv, places))
			groups[key] = append(groups[key], r)
		}
	}
	for _, cs := range engine {
		for i := range cs.Runs {
			if len(cs.Runs[i].Worker) == 0 {
				groups["{}"] = append(groups["{}"], &runResult{Case: cs, Run: &cs.Runs[i]})
			}
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var results []*runResult
	for _, key := range keys {
		runs := groups[key]
		results = append(results, runs...)
		env := map[string]string{}
		_ = json.Unmarshal([]byte(key), &env)
		runGroup(t, s, c, scratch, env, runs, places, secrets)
	}

	for _, r := range results {
		t.Run(r.name(), func(t *testing.T) {
			for _, f := range judgeRun(r) {
				t.Error(f)
			}
			if t.Failed() || os.Getenv("NOETL_CONFORMANCE_DUMP") != "" {
				t.Logf("execution %d event log:\n%s", r.ExecID, describeLog(r.Log))
			}
		})
	}
	t.Run("Status of list, detail and /status agree for every execution in the run", func(t *testing.T) {
		assertStatusesAgree(t, c, results)
	})
}

// runGroup starts the group's workers, drives its runs (four at a time) and stops the
// workers. Two workers share the load unless the environment names the worker (one
// WORKER_ID is one process); each runs eight commands at once, so runs that hold a slot
// while a child runs (tools/13, 14) never starve the rest.
func runGroup(t *testing.T, s *Suite, c *rtClient, scratch *scratchDB, env map[string]string, runs []*runResult, places map[string]string, secrets []string) {
	full := map[string]string{"WORKER_MAX_CONCURRENT": "8"}
	for k, v := range env {
		full[k] = v
	}
	n := 2
	if env["WORKER_ID"] != "" {
		n = 1
	}
	var workers []*Worker
	for i := 0; i < n; i++ {
		workers = append(workers, s.StartWorker(t, full))
	}
	sem := make(chan struct{}, confConcurrency)
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runToolsCase(c, s, scratch, r, places)
		}()
	}
	wg.Wait()
	for _, w := range workers {
		if err := w.Stop(os.Interrupt, 60*time.Second); err != nil {
			t.Errorf("worker %s did not stop cleanly: %v\n%s", w.ID, err, tail(w.Output(), 30))
		}
		// Credential values never reach a log line (the workers log at debug level).
		for _, secret := range secrets {
			if strings.Contains(w.Output(), secret) {
				t.Errorf("worker %s logged the value of a credential", w.ID)
			}
		}
	}
}

// runToolsCase drives one run on the reference workers and collects what the judge
// reads, db rows, audit rows and child logs included.
func runToolsCase(c *rtClient, s *Suite, scratch *scratchDB, r *runResult, places map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), confRunDeadline)
	defer cancel()
	payload, _ := substitute(r.Run.Payload, places).(map[string]any)
	if !driveRun(ctx, c, r, payload, nil) {
		return
	}
	collectRun(c, r)
	exp := r.Run.Expect
	if len(exp.DB) > 0 {
		r.DB = []dbResult{}
		withID := map[string]string{"{execution_id}": idOf(r.ExecID)}
		for k, v := range places {
			withID[k] = v
		}
		for _, q := range exp.DB {
			sql, _ := substitute(pathOr(q, "sql"), withID).(string)
			rows, err := scratch.query(ctx, sql)
			r.DB = append(r.DB, dbResult{SQL: sql, Rows: rows, Err: err})
		}
	}
	if len(exp.Audit) > 0 {
		r.AuditRead = true
		// Audit rows are written asynchronously: re-read for up to 10 s.
		deadline := time.Now().Add(10 * time.Second)
		for {
			rows, err := c.auditRows(ctx, s.Token, r.ExecID)
			if err != nil {
				r.harness("read the secret audit: %v", err)
			}
			r.Audit = rows
			if auditSatisfied(exp.Audit, rows) || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(exp.AbsentText) > 0 {
		r.ChildLogs = map[int64][]scripted.Event{}
		for _, req := range r.Case.Requires {
			path := childPath(r.Case, req)
			ids, err := c.childExecutions(ctx, path, r.ExecID)
			if err != nil {
				r.harness("list children of %s: %v", path, err)
			}
			for _, id := range ids {
				if log, err := c.log(ctx, id); err == nil {
					r.ChildLogs[id] = log
				} else {
					r.harness("read child %d: %v", id, err)
				}
			}
		}
	}
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func auditSatisfied(want, rows []any) bool {
	for _, w := range want {
		ok := false
		for _, row := range rows {
			if len(deepSubset("audit", w, row)) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// childPath reads a required playbook's metadata.path.
func childPath(cs *confCase, file string) string {
	for i, f := range cs.Requires {
		if f == file {
			for _, line := range strings.Split(cs.Required[i], "\n") {
				if p, ok := strings.CutPrefix(strings.TrimSpace(line), "path:"); ok {
					return strings.TrimSpace(p)
				}
			}
		}
	}
	return ""
}

// substitute replaces placeholders in every string of v, at any depth.
func substitute(v any, places map[string]string) any {
	switch t := v.(type) {
	case string:
		for k, r := range places {
			t = strings.ReplaceAll(t, k, r)
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substitute(e, places)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = substitute(e, places)
		}
		return out
	}
	return v
}

// envKey is a worker_env as a canonical JSON object of strings.
func envKey(v any) string {
	m, _ := v.(map[string]any)
	env := map[string]string{}
	for k, e := range m {
		env[k] = fmt.Sprint(e)
	}
	b, _ := json.Marshal(env)
	return string(b)
}

// createCredential stores a credential ({name, type, data}) through the router.
func (c *rtClient) createCredential(ctx context.Context, cred any) error {
	code, body, err := c.do(ctx, http.MethodPost, "/api/credentials", cred)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("POST /api/credentials: HTTP %d: %s", code, clip(string(body), 300))
	}
	return nil
}

// auditRows reads the secret-audit rows of an execution (internal token).
func (c *rtClient) auditRows(ctx context.Context, token string, id int64) ([]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/internal/secret-audit?execution_id="+idOf(id), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(string(b), 300))
	}
	v, err := scripted.DecodeJSON(b)
	if err != nil {
		return nil, err
	}
	rows, _ := mapGet(v, "rows").([]any)
	return rows, nil
}

// childExecutions lists the executions of path whose parent is parent.
func (c *rtClient) childExecutions(ctx context.Context, path string, parent int64) ([]int64, error) {
	v, err := c.doJSON(ctx, http.MethodGet, "/api/executions?"+url.Values{"path": {path}, "limit": {"100"}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range listEntries(v) {
		id, ok := scripted.AsInt(mapGet(e, "execution_id"))
		if !ok {
			continue
		}
		d, err := c.doJSON(ctx, http.MethodGet, fmt.Sprintf("/api/executions/%d", id), nil)
		if err != nil {
			return out, err
		}
		if scripted.IDString(mapGet(d, "parent_execution_id")) == idOf(parent) {
			out = append(out, id)
		}
	}
	return out, nil
}

// scratchDB is the database the tools' postgres steps use: a role of its own whose
// default schema (named like it) holds the conformance_* tables, so concurrent suites
// never share a table. Both are dropped at cleanup.
type scratchDB struct {
	Host, Port, User, Password, Database string
	pool                                 *pgxpool.Pool
}

func newScratchDB(t *testing.T) *scratchDB {
	t.Helper()
	admin := testkit.OpenURL(t, testkit.DatabaseURL())
	name := testkit.UniqueName("conf_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{
		"CREATE ROLE " + pg.QuoteIdent(name) + " LOGIN",
		"CREATE SCHEMA " + pg.QuoteIdent(name) + " AUTHORIZATION " + pg.QuoteIdent(name),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("scratch database: %s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, q := range []string{"DROP SCHEMA IF EXISTS " + pg.QuoteIdent(name) + " CASCADE", "DROP ROLE IF EXISTS " + pg.QuoteIdent(name)} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Logf("scratch cleanup: %s: %v", q, err)
			}
		}
	})
	u, err := url.Parse(testkit.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	d := &scratchDB{Host: u.Hostname(), Port: u.Port(), User: name, Database: strings.TrimPrefix(u.Path, "/")}
	if d.Port == "" {
		d.Port = "5432"
	}
	su := *u
	su.User = url.User(name)
	d.pool = testkit.OpenURL(t, su.String())
	return d
}

// query runs a check as the scratch role and returns its rows in the JSON model
// (numbers exact, NULL as nil).
func (d *scratchDB) query(ctx context.Context, sql string) (any, error) {
	rows, err := d.pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []any{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return scripted.DecodeJSON(b)
}
