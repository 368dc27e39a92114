package e2e

import "bytes"
import "fmt"
import "io"
import "net/http"
import "os"
import "path/filepath"
import "strings"
import "sync"
import "testing"

import "github.com/pb33f/libopenapi"
import validator "github.com/pb33f/libopenapi-validator"
import "github.com/pb33f/libopenapi-validator/helpers"

// The OpenAPI document the router serves, loaded once; every response the e2e HTTP
// helpers (Suite.Do and rtClient) read through the router is checked against it.
var (
	specOnce sync.Once
	specRaw  []byte
	specVal  validator.Validator
	specErr  error
	// The validator caches compiled schemas; one response is checked at a time.
	specMu sync.Mutex
)

func openAPISpec() ([]byte, validator.Validator, error) {
	specOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			specErr = err
			return
		}
		specRaw, err = os.ReadFile(filepath.Join(root, "services", "router", "internal", "openapi", "openapi.json"))
		if err != nil {
			specErr = err
			return
		}
		doc, err := libopenapi.NewDocument(specRaw)
		if err != nil {
			specErr = fmt.Errorf("openapi.json: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			specErr = fmt.Errorf("openapi.json: %v", errs)
			return
		}
		specVal = v
	})
	return specRaw, specVal, specErr
}

// checkResponse validates one router response (status, content type and body) against
// the document's schema for its operation. A path the document does not hold is not an
// error here: tests send unknown and internal paths on purpose, and the agreement test
// beside the document checks that every route is described. The catalog's catch-all
// (`{path}/ui_schema`, with slashes) cannot be matched by a template and is skipped too.
func checkResponse(req *http.Request, status int, header http.Header, body []byte) error {
	_, v, err := openAPISpec()
	if err != nil {
		return err
	}
	resp := &http.Response{
		StatusCode: status, Header: header.Clone(), Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	specMu.Lock()
	ok, verrs := v.ValidateHttpResponse(req, resp)
	specMu.Unlock()
	if ok {
		return nil
	}
	var msgs []string
	for _, e := range verrs {
		if e.ValidationType == helpers.PathValidation {
			continue
		}
		msg := e.Message
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
		for _, se := range e.SchemaValidationErrors {
			msg += fmt.Sprintf(" [%s: %s]", se.FieldPath, se.Reason)
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s answered %d, which openapi.json does not allow: %s (body %s)",
		req.Method, req.URL.RequestURI(), status, strings.Join(msgs, "; "), clip(string(body), 300))
}

// TestOpenAPIDocument: the document is a valid OpenAPI 3.1 document, and the router
// serves it unchanged at /api/openapi.json (open: no token needed even with tokens set).
func TestOpenAPIDocument(t *testing.T) {
	raw, v, err := openAPISpec()
	if err != nil {
		t.Fatal(err)
	}
	specMu.Lock()
	ok, errs := v.ValidateDocument()
	specMu.Unlock()
	if !ok {
		for _, e := range errs {
			t.Errorf("openapi.json is not valid: %v", e)
		}
	}
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{
		"NOETL_API_TOKEN": e2eAPIToken, "NOETL_WORKER_TOKEN": e2eWorkerToken,
	}})
	resp, body := s.Get(t, "/api/openapi.json")
	if resp.StatusCode != http.StatusOK || body != string(raw) {
		t.Fatalf("GET /api/openapi.json: %d, same as the file: %v", resp.StatusCode, body == string(raw))
	}
	// The checker itself catches a body that breaks the schema.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/executions/1/status", nil)
	h := http.Header{"Content-Type": {"application/json"}}
	if err := checkResponse(req, http.StatusOK, h, []byte(`{"execution_id":"x","status":"DONE"}`)); err == nil {
		t.Error("a status answer with a wrong shape passed the schema check")
	}
	if err := checkResponse(req, http.StatusNotFound, h, []byte(`{"error":"Execution not found: 1","status":404}`)); err != nil {
		t.Errorf("the error envelope did not pass: %v", err)
	}
}
