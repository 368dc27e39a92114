package executions

import "context"
import "fmt"
import "testing"

import "github.com/noetl/controlplane/shared/testkit/httpkit"

// TestExecuteVersionOutsideTheColumn: a version the catalog's version column cannot hold
// names no entry, like version 0 does: a 404 naming it, not a 500 from encoding it.
func TestExecuteVersionOutsideTheColumn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start("execver/pb") // registers version 1
	for _, v := range []string{"99999999", "-40000", `"32768"`} {
		t.Run(v, func(t *testing.T) {
			rec := f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": `+v+`}`, "")
			httpkit.WantStatus(t, rec, 404)
		})
	}
	httpkit.WantError(t, f.Do("POST", "/api/execute", `{"path": "execver/pb", "version": 99999999}`, ""), 404,
		"Playbook not found: execver/pb (version 99999999)")
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
