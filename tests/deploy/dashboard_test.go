package deploy

import "encoding/json"
import "os"
import "path/filepath"
import "regexp"
import "strings"
import "testing"

// TestGrafanaDashboard: the dashboard the chart ships is valid JSON, charts every metric
// of the README's table and nothing the services do not export, and splits by service
// with the router's noetl_service label, not the scrape target's service (the
// Kubernetes Service: noetl-router for every sample).
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "noetl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard has no uid, title or panels")
	}
	used := map[string]bool{}
	name := regexp.MustCompile(`\bnoetl_[a-z0-9_]+`)
	byTarget := regexp.MustCompile(`[(,\s]service[),\s]`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if byTarget.MatchString(tg.Expr) {
				t.Errorf("panel %q splits by the target's service label: %s", p.Title, tg.Expr)
			}
			for _, m := range name.FindAllString(tg.Expr, -1) {
				if m == "noetl_service" {
					continue // the router's label, not a metric
				}
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					m = strings.TrimSuffix(m, suffix)
				}
				used[m] = true
			}
		}
	}
	docs := documentedMetrics(t)
	for m := range docs {
		if !used[m] {
			t.Errorf("the dashboard does not chart %s", m)
		}
	}
	for m := range used {
		if !docs[m] {
			t.Errorf("the dashboard charts %s, which no service exports (not in the README)", m)
		}
	}
}
