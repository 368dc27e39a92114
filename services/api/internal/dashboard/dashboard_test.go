package dashboard

import "context"
import "fmt"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

func TestStatsAndWidgets(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO catalog (catalog_id, path, version, kind, content) VALUES
		(1, 'a', 1, 'playbook', 'x'), (2, 'a', 2, 'playbook', 'x'), (3, 'b', 1, 'playbook', 'x'), (4, 'c', 1, 'credential', 'x')`)
	today := time.Now().UTC()
	statuses := []string{"COMPLETED", "COMPLETED", "FAILED", "CANCELLED", "RUNNING"}
	for i, st := range statuses {
		exec(`INSERT INTO execution (execution_id, catalog_id, path, status, started_at) VALUES ($1, 1, $2, $3, $4)`,
			int64(100+i), fmt.Sprint("p", i), st, today.Add(-time.Duration(i)*time.Minute))
	}
	exec(`INSERT INTO execution (execution_id, catalog_id, path, status, started_at) VALUES (200, 3, 'old', 'COMPLETED', $1)`, today.AddDate(0, 0, -2))
	exec(`INSERT INTO execution (execution_id, catalog_id, path, status, started_at) VALUES (300, 3, 'ancient', 'COMPLETED', $1)`, today.AddDate(0, 0, -30))
	exec(`INSERT INTO runtime (runtime_id, name, kind, status) VALUES (1, 'w1', 'worker_pool', 'active'), (2, 'w2', 'worker_pool', 'offline'),
		(3, 'w3', 'worker_pool', 'ready'), (4, 'api', 'server_api', 'ready')`)

	e := httpkit.Engine(t, "")
	NewHandlers(s.Pool).Register(e.Group("/api"))
	get := func(path string) map[string]any {
		rec := httpkit.Request(t, e, "GET", path, "", "")
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return httpkit.JSONBody(t, rec)
	}

	m := get("/api/dashboard/stats")
	want := "map[cancelled_executions:1 failed_executions:1 running_executions:1 successful_executions:4 total_executions:7 total_playbooks:2 total_workers:2]"
	if m["status"] != "ok" || fmt.Sprint(m["stats"]) != want {
		t.Fatalf("stats = %v", m)
	}

	ws := get("/api/dashboard/widgets")["widgets"].([]any)
	trend, recent := ws[0].(map[string]any), ws[1].(map[string]any)
	if trend["id"] != "execution-trend" || trend["type"] != "chart" || recent["id"] != "recent-executions" {
		t.Fatalf("widgets = %v", ws)
	}
	days := trend["data"].([]any)
	if len(days) != 7 {
		t.Fatalf("trend days = %d", len(days))
	}
	last, twoAgo := days[6].(map[string]any), days[4].(map[string]any)
	if last["date"] != today.Format("2006-01-02") || twoAgo["date"] != today.AddDate(0, 0, -2).Format("2006-01-02") || twoAgo["count"] != int64(1) {
		t.Fatalf("trend = %v", days)
	}
	// Executions started minutes ago may fall on yesterday just after midnight.
	if last["count"].(int64)+days[5].(map[string]any)["count"].(int64) != 5 {
		t.Fatalf("trend = %v", days)
	}
	rows := recent["data"].([]any)
	first := rows[0].(map[string]any)
	if len(rows) != 7 || first["execution_id"] != int64(100) || first["status"] != "COMPLETED" || first["path"] != "p0" {
		t.Fatalf("recent = %v", rows)
	}
}
