package orchestrator

import "context"
import "strconv"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"

// A failed http step's response the worker offloaded (a large error page) is resolved
// like a call.done's, so that under spec.on_error: continue {{ fetch.status_code }}
// reads the response, not the reference.
func TestOffloadedFailureDataIsResolved(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	entry, pb := f.register([]byte(`apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: offloaded_failure
  path: tests/offloaded_failure
workflow:
  - step: start
    spec: {on_error: continue}
    tool: {kind: http, url: "http://example.invalid/"}
    next: [report]
  - step: report
    tool:
      kind: noop
      result:
        code: "{{ start.status_code }}"
`))
	res, err := f.o.Start(context.Background(), StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	execID := res.ExecutionID
	cl, err := f.o.Claim(context.Background(), f.pending(execID)[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	key := cl.Issued.Meta["command_id"].(string)
	ref := f.storeResult(execID, "start", `{"status_code": 502, "body": "<html>...</html>"}`)
	id1, _ := f.gen.Next()
	id2, _ := f.gen.Next()
	msg := "HTTP 502 response"
	if _, err := f.o.Ingest(context.Background(), execID, []eventlog.Event{
		{Event: engine.Event{EventID: id1, Type: "call.error", Step: "start", Status: "FAILED", WorkerID: "w1",
			Result: map[string]any{"status": "FAILED", "context": map[string]any{"command_id": key, "call_index": int64(0), "error": msg,
				"result": map[string]any{"status": "error", "context": map[string]any{"status": "error", "error": msg, "data": map[string]any{"_ref": ref}},
					"reference": map[string]any{"kind": "result_ref", "ref": ref, "store": "postgres"}}}}}},
		{Event: engine.Event{EventID: id2, Type: "command.failed", Step: "start", Status: "FAILED", WorkerID: "w1",
			Result: map[string]any{"status": "FAILED", "context": map[string]any{"command_id": key, "error": msg}}}},
	}); err != nil {
		t.Fatal(err)
	}
	// The next command is report's, rendered from the resolved data.
	pending := f.pending(execID)
	if len(pending) != 1 {
		t.Fatalf("pending commands %v, want report's", pending)
	}
	next, err := f.o.Claim(context.Background(), pending[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := next.Issued.Context.(map[string]any)["tool_config"].(map[string]any)
	result, _ := cfg["result"].(map[string]any)
	if next.Issued.Step != "report" || result["code"] != int64(502) {
		t.Fatalf("%s rendered %v from the offloaded failure, want report with code 502", next.Issued.Step, cfg)
	}
}

// storeResult puts data (JSON) in the result store as a worker's offload would, and
// returns its reference.
func (f *fixture) storeResult(execID int64, name, data string) string {
	f.t.Helper()
	refID, _ := f.gen.Next()
	if _, err := f.s.Pool.Exec(context.Background(), `INSERT INTO result_store (ref_id, execution_id, name, data, bytes, sha256)
		VALUES ($1, $2, $3, $4, $5, 'x')`, refID, execID, name, data, len(data)); err != nil {
		f.t.Fatal(err)
	}
	return "noetl://execution/" + strconv.FormatInt(execID, 10) + "/result/" + strconv.FormatInt(refID, 10)
}
