package executions

import "context"
import "fmt"
import "net/http/httptest"
import "sync"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// TestExecuteVersionOutOfRange: a version no entry can have (below 1, or beyond the
// catalog's SMALLINT column) is a 422 saying what versions are, as in POST
// /api/catalog/resource; beyond the column it used to be a 500 from encoding it.
func TestExecuteVersionOutOfRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start("execver/pb") // registers version 1
	for _, v := range []string{"99999999", "-40000", `"32768"`, "0", "-1"} {
		t.Run(v, func(t *testing.T) {
			rec := f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": `+v+`}`, "")
			httpkit.WantStatus(t, rec, 422)
		})
	}
	httpkit.WantError(t, f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": 99999999}`, ""), 422,
		`Invalid version number "99999999": a version is an integer from 1 to 32767, or "latest"`)
	httpkit.WantError(t, f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": 2}`, ""), 404,
		"Playbook not found: execver/pb (version 2)")
	httpkit.WantJSON(t, f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": 1}`, ""), 200)
}

// TestExecuteAnEntryOfAnotherKind: a catalog entry that is not a playbook (a credential)
// has nothing to run: a 422 that says so, by catalog_id or by path, rather than the
// parser's complaint about an apiVersion the entry never had.
func TestExecuteAnEntryOfAnotherKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, _ := f.Gen.Next()
	if _, err := f.Pool.Exec(context.Background(), `INSERT INTO catalog (catalog_id, path, version, kind, content)
		VALUES ($1, 'kinds/cred', 1, 'credential', 'kind: Credential')`, id); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Catalog entry %d (kinds/cred version 1) is a credential, not a playbook: there is nothing to execute", id)
	for name, body := range map[string]string{
		"by catalog_id": fmt.Sprintf(`{"catalog_id": "%d"}`, id),
		"by path":       `{"path": "kinds/cred"}`,
		"by version":    `{"path": "kinds/cred", "version": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			httpkit.WantError(t, f.Do("POST", "/api/execute", body, ""), 422, want)
		})
	}
}

// TestExecuteUnderACancelledTree: a child started under a cancelled parent, or below a
// cancelled execution, would run until the reconciliation sweep cancelled it: the start
// is refused (409) and nothing is created. A parent that ended otherwise takes children
// (only a cancel cascades), and a repeat of a start made before the cancel still
// answers its execution.
func TestExecuteUnderACancelledTree(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.start("tree/pb")
	child := func(parent int64, key string) *httptest.ResponseRecorder {
		return f.Do("POST", "/api/execute", fmt.Sprintf(`{"path": "tree/pb", "parent_execution_id": "%d", "idempotency_key": %q}`, parent, key), "")
	}
	children := func(parent int64) int64 {
		return testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE parent_execution_id = $1`, parent)
	}

	root := f.start("tree/pb")
	mid := f.start("tree/pb")
	if _, err := f.Pool.Exec(ctx, `UPDATE execution SET parent_execution_id = $1 WHERE execution_id = $2`, root, mid); err != nil {
		t.Fatal(err)
	}
	first := httpkit.WantJSON(t, child(root, "before"), 200)["execution_id"]
	if err := f.o.Finalize(ctx, mid, engine.StatusCompleted, ""); err != nil {
		t.Fatal(err)
	}
	httpkit.WantJSON(t, child(mid, "under a completed parent"), 200)
	if err := f.o.Cancel(ctx, root); err != nil {
		t.Fatal(err)
	}

	httpkit.WantError(t, child(root, "after"), 409, fmt.Sprintf("Cannot start a child of execution %d: it was cancelled", root))
	if got := children(root); got != 2 { // first and mid
		t.Errorf("children of the cancelled parent = %d, want 2", got)
	}
	httpkit.WantError(t, child(mid, "below"), 409,
		fmt.Sprintf("Cannot start a child of execution %d: execution %d above it was cancelled", mid, root))
	if got := children(mid); got != 1 {
		t.Errorf("children of the completed parent = %d, want 1", got)
	}
	again := httpkit.WantJSON(t, child(root, "before"), 200)
	if again["execution_id"] != first || again["existing"] != true {
		t.Errorf("repeat of a start made before the cancel = %v, want execution %v with existing true", again, first)
	}
}

// TestExecuteCatalogIDAndPathMustAgree: a request naming an entry by catalog_id and by
// path (or version) runs it when both name the same entry; when they name two, it is a
// 422 naming both, not a silent run of the catalog_id's playbook.
func TestExecuteCatalogIDAndPathMustAgree(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	one := f.catalogID(f.start("agree/one"))
	f.start("agree/two")
	ok := []string{
		fmt.Sprintf(`{"catalog_id": "%d", "path": "agree/one"}`, one),
		fmt.Sprintf(`{"catalog_id": "%d", "path": "agree/one", "version": 1}`, one),
		fmt.Sprintf(`{"catalog_id": "%d", "version": "latest"}`, one),
	}
	for _, body := range ok {
		httpkit.WantJSON(t, f.Do("POST", "/api/execute", body, ""), 200)
	}
	bad := []struct{ body, msg string }{
		{fmt.Sprintf(`{"catalog_id": "%d", "path": "agree/two"}`, one),
			fmt.Sprintf("catalog_id %d is agree/one, not agree/two: send path or catalog_id, or both naming one entry", one)},
		{fmt.Sprintf(`{"catalog_id": "%d", "path": "agree/one", "version": 2}`, one),
			fmt.Sprintf("catalog_id %d is version 1 of agree/one, not version 2: send version or catalog_id, or both naming one entry", one)},
	}
	for _, tc := range bad {
		httpkit.WantError(t, f.Do("POST", "/api/execute", tc.body, ""), 422, tc.msg)
	}
	if n := testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE path = 'agree/two'`); n != 1 {
		t.Errorf("executions of agree/two = %d, want 1 (the fixture's own)", n)
	}
}

// TestExecuteParentMustExist: a parent_execution_id that names no execution is a 404,
// a negative one too (it used to start an execution with no parent); 0 means none.
func TestExecuteParentMustExist(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start("parent/pb")
	for _, id := range []string{"-5", `"77"`} {
		rec := f.Do("POST", "/api/execute", `{"path": "parent/pb", "parent_execution_id": `+id+`}`, "")
		httpkit.WantStatus(t, rec, 404)
	}
	httpkit.WantError(t, f.Do("POST", "/api/execute", `{"path": "parent/pb", "parent_execution_id": -5}`, ""), 404, "Parent execution not found: -5")
	httpkit.WantJSON(t, f.Do("POST", "/api/execute", `{"path": "parent/pb", "parent_execution_id": 0}`, ""), 200)
	if n := testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE path = 'parent/pb'`); n != 2 {
		t.Errorf("executions = %d, want 2 (the fixture's and the one without a parent)", n)
	}
}

// TestExecuteIdempotencyAcrossVersions: a repeat that names the playbook by path alone
// answers the first start's execution though a newer version was registered since (a
// command run again after a hand-back adopts its child); a repeat pinned to another
// version is a 409 that names both versions.
func TestExecuteIdempotencyAcrossVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start("idem/pb") // version 1
	const byPath = `{"path": "idem/pb", "idempotency_key": "cmd/#1"}`
	first := httpkit.WantJSON(t, f.Do("POST", "/api/execute", byPath, ""), 200)["execution_id"]
	id, _ := f.Gen.Next()
	testkit.InsertCatalog(t, f.Schema, id, "idem/pb", fmt.Sprintf(twoSteps, "idem_pb", "idem/pb")+"# version 2\n")

	for _, body := range []string{byPath, `{"path": "idem/pb", "version": 1, "idempotency_key": "cmd/#1"}`} {
		again := httpkit.WantJSON(t, f.Do("POST", "/api/execute", body, ""), 200)
		if again["execution_id"] != first || again["existing"] != true {
			t.Errorf("%s after version 2 = %v, want execution %v with existing true", body, again, first)
		}
	}
	httpkit.WantError(t, f.Do("POST", "/api/execute", `{"path": "idem/pb", "version": 2, "idempotency_key": "cmd/#1"}`, ""), 409,
		fmt.Sprintf("idempotency_key \"cmd/#1\" already started execution %v of idem/pb version 1, not version 2", first))
	if n := testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE idempotency_key = 'cmd/#1'`); n != 1 {
		t.Errorf("executions of the key = %d, want 1", n)
	}
}

// TestExecuteRacingACancel: children started while their parent is being cancelled are
// each either refused or cancelled by the cascade; none is left running.
func TestExecuteRacingACancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for round := range 8 {
		parent := f.start("race/pb")
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				rec := f.Do("POST", "/api/execute", fmt.Sprintf(`{"path": "race/pb", "parent_execution_id": "%d", "idempotency_key": "%d/%d"}`, parent, round, i), "")
				if rec.Code != 200 && rec.Code != 409 {
					t.Errorf("child start: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Go(func() {
			if err := f.o.Cancel(ctx, parent); err != nil {
				t.Errorf("cancel: %v", err)
			}
		})
		wg.Wait()
		if n := testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE parent_execution_id = $1 AND status = 'RUNNING'`, parent); n != 0 {
			t.Fatalf("round %d: %d children of the cancelled parent still running", round, n)
		}
	}
}

// TestExecuteIdempotencyKeyWithAnotherPayload: a key used before for another payload
// is a 409 naming the key and the execution it started, not a silent answer of that
// execution (the caller's request never ran). The same payload, in another key order or
// under another alias of the input, answers the first execution. Under a parent the key
// names a tool call whose input a re-run renders again, so a repeat adopts its child
// whatever input it sends.
func TestExecuteIdempotencyKeyWithAnotherPayload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	parent := f.start("idemin/pb")
	first := httpkit.WantJSON(t, f.Do("POST", "/api/execute",
		`{"path": "idemin/pb", "payload": {"a": 1, "b": [1, "x"], "c": {"d": null}}, "idempotency_key": "k1"}`, ""), 200)["execution_id"]
	for _, body := range []string{
		`{"path": "idemin/pb", "payload": {"c": {"d": null}, "b": [1, "x"], "a": 1}, "idempotency_key": "k1"}`,
		`{"path": "idemin/pb", "workload": {"a": 1, "b": [1, "x"], "c": {"d": null}}, "idempotency_key": "k1"}`,
	} {
		again := httpkit.WantJSON(t, f.Do("POST", "/api/execute", body, ""), 200)
		if again["execution_id"] != first || again["existing"] != true {
			t.Errorf("%s = %v, want execution %v with existing true", body, again, first)
		}
	}
	want := fmt.Sprintf("idempotency_key \"k1\" already started execution %v of idemin/pb with another payload: "+
		"send the same payload to get that execution, or use a new key", first)
	for _, body := range []string{
		`{"path": "idemin/pb", "payload": {"a": 2, "b": [1, "x"], "c": {"d": null}}, "idempotency_key": "k1"}`,
		`{"path": "idemin/pb", "payload": {"a": 1, "b": ["x", 1], "c": {"d": null}}, "idempotency_key": "k1"}`,
		`{"path": "idemin/pb", "idempotency_key": "k1"}`,
	} {
		httpkit.WantError(t, f.Do("POST", "/api/execute", body, ""), 409, want)
	}
	if n := testkit.QueryOne[int64](t, f.Schema, `SELECT count(*) FROM execution WHERE idempotency_key = 'k1'`); n != 1 {
		t.Errorf("executions of the key = %d, want 1", n)
	}

	child := func(payload string) map[string]any {
		return httpkit.WantJSON(t, f.Do("POST", "/api/execute", fmt.Sprintf(
			`{"path": "idemin/pb", "parent_execution_id": "%d", "payload": %s, "idempotency_key": "playbook:c/#1"}`, parent, payload), ""), 200)
	}
	kid := child(`{"n": 1}`)["execution_id"]
	if again := child(`{"n": 2}`); again["execution_id"] != kid || again["existing"] != true {
		t.Errorf("a child's repeat with a re-rendered input = %v, want its child %v with existing true", again, kid)
	}
}
