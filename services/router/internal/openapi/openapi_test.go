package openapi

import "encoding/json"
import "net/http"
import "net/http/httptest"
import "os"
import "path/filepath"
import "regexp"
import "sort"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/testkit"

// document is the part of openapi.json the agreement test reads.
type document struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Access      string                     `json:"x-noetl-access"`
	Security    []map[string][]string      `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

var methods = map[string]bool{"get": true, "head": true, "post": true, "put": true, "patch": true, "delete": true, "options": true}

// publicRoutes are the routes reachable through the router, from shared/access.Table:
// every binary refuses to start when it serves a route the table lacks, and the route
// tests of each binary fail on a table entry it does not serve, so the table is the
// list of the code's routes. The services' own /internal/* routes are never forwarded.
// Keys are "METHOD /path" with gin's :name and *name turned into OpenAPI's {name}.
func publicRoutes() map[string]access.Rule {
	out := map[string]access.Rule{}
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	for key, rule := range access.Table {
		method, path, _ := strings.Cut(key, " ")
		if strings.HasPrefix(path, "/internal/") {
			continue
		}
		out[method+" "+param.ReplaceAllString(path, "{$1}")] = rule
	}
	return out
}

func load(t *testing.T) (document, map[string]operation) {
	t.Helper()
	var doc document
	if err := json.Unmarshal(Document, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !methods[method] {
				continue // parameters, summary, ...
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return doc, ops
}

// TestDocumentMatchesRoutes fails when a route exists in the code but not in the
// document, or the reverse, or when the document states another access class.
func TestDocumentMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, ops := load(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	routes := publicRoutes()
	var missing, extra []string
	for key := range routes {
		if _, ok := ops[key]; !ok {
			missing = append(missing, key)
		}
	}
	for key := range ops {
		if _, ok := routes[key]; !ok {
			extra = append(extra, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes the code serves but openapi.json does not describe: %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("routes openapi.json describes but no binary serves (shared/access.Table): %s", strings.Join(extra, ", "))
	}
	for key, rule := range routes {
		op, ok := ops[key]
		if !ok {
			continue
		}
		if op.Access != string(rule.Class) {
			t.Errorf("%s: x-noetl-access %q, the access table says %q", key, op.Access, rule.Class)
		}
		if open := rule.Class == access.Open; open != (op.Security != nil && len(op.Security) == 0) {
			t.Errorf("%s: security %v does not match class %s (open routes declare security: [])", key, op.Security, rule.Class)
		}
	}
}

// TestOperationsAreComplete: unique operation ids, every path parameter declared, a
// 200 answer, the error envelope for the rest and 401 wherever a token is needed.
func TestOperationsAreComplete(t *testing.T) {
	t.Parallel()
	_, ops := load(t)
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for key, op := range ops {
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s and %s share operationId %s", key, other, op.OperationID)
		}
		ids[op.OperationID] = key
		_, path, _ := strings.Cut(key, " ")
		declared := map[string]bool{}
		for _, p := range op.Parameters {
			if p.In == "path" {
				declared[p.Name] = true
			}
		}
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %s is not declared", key, m[1])
			}
		}
		for _, code := range []string{"200", "default"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: no %s response", key, code)
			}
		}
		if op.Access != string(access.Open) {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: takes a token but documents no 401", key)
			}
		}
	}
}

// TestREADMEQueryParameters: every query parameter the README's route table shows
// (`GET /api/worker/pools?kind=&status=&name=`) is declared in the document; the pools'
// name filter once was not.
func TestREADMEQueryParameters(t *testing.T) {
	t.Parallel()
	_, ops := load(t)
	readme, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/api/[^`?]*)\\?([^`]*)`").FindAllStringSubmatch(string(readme), -1)
	if len(routes) < 2 {
		t.Fatalf("the README shows %d routes with a query; the pattern is broken", len(routes))
	}
	for _, m := range routes {
		key := m[1] + " " + m[2]
		t.Run(key, func(t *testing.T) {
			op, ok := ops[key]
			if !ok {
				t.Fatalf("%s is not in openapi.json", key)
			}
			declared := map[string]bool{}
			for _, p := range op.Parameters {
				if p.In == "query" {
					declared[p.Name] = true
				}
			}
			for _, pair := range strings.Split(m[3], "&") {
				name, _, _ := strings.Cut(pair, "=")
				if !declared[name] {
					t.Errorf("query parameter %s is in the README, not in openapi.json", name)
				}
			}
		})
	}
}

func TestHandlerServesTheDocument(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET(Path, Handler)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || w.Body.String() != string(Document) {
		t.Fatalf("GET %s: %d %s", Path, w.Code, w.Header().Get("Content-Type"))
	}
}
