package publicapi

import "encoding/json"
import "testing"

// TestExecutionHeadJSON: the api's encoding (int64 ids) decodes into a client's text
// types, field for field, and null stays nil.
func TestExecutionHeadJSON(t *testing.T) {
	t.Parallel()
	path, started := "demo/hello", "2026-01-02T03:04:05.000000Z"
	b, err := json.Marshal(ExecutionHead[int64, string]{ExecutionID: 1 << 60, CatalogID: 7, Path: &path, Status: StatusRunning, StartedAt: started})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"execution_id":1152921504606846976,"catalog_id":7,"path":"demo/hello","status":"RUNNING","started_at":"2026-01-02T03:04:05.000000Z","completed_at":null}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var h ExecutionHead[json.Number, string]
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.ExecutionID != "1152921504606846976" || h.CatalogID != "7" || *h.Path != path || h.StartedAt != started || h.CompletedAt != nil {
		t.Fatalf("decoded %+v", h)
	}
}
