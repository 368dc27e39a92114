package e2e

import "encoding/base64"
import "encoding/json"
import "testing"

// TestExecuteInputAndVersion starts executions through the router the ways clients do
// and reads the workload each one ran with: args (the older name of payload) reaches
// the workload instead of being dropped, two names of the input are a 422 instead of a
// silent pick, version "latest" picks the highest version as the catalog routes do, and
// a parent_execution_id of no execution is a 404 (it used to start an orphan).
func TestExecuteInputAndVersion(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	h := map[string]string{"Authorization": "Bearer " + s.Token}
	for _, greeting := range []string{"one", "two"} {
		pb := "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: input\n  path: hunt/input\nworkload:\n  base: " + greeting +
			"\nworkflow:\n  - step: start\n    tool: {kind: noop}\n"
		body, _ := json.Marshal(map[string]string{"content": base64.StdEncoding.EncodeToString([]byte(pb))})
		if resp, out := s.Do(t, "POST", "/api/catalog/register", "application/json", string(body), h); resp.StatusCode != 200 {
			t.Fatalf("register: %d %s", resp.StatusCode, out)
		}
	}
	cases := []struct {
		name, body string
		status     int
		workload   map[string]any // the started execution's workload
	}{
		{"payload", `{"path":"hunt/input","payload":{"x":1}}`, 200, map[string]any{"base": "two", "x": 1.0}},
		{"workload", `{"path":"hunt/input","workload":{"x":2}}`, 200, map[string]any{"base": "two", "x": 2.0}},
		{"args", `{"path":"hunt/input","args":{"x":3}}`, 200, map[string]any{"base": "two", "x": 3.0}},
		{"version latest", `{"path":"hunt/input","version":"latest"}`, 200, map[string]any{"base": "two"}},
		{"version 1", `{"path":"hunt/input","version":1}`, 200, map[string]any{"base": "one"}},
		{"version \"1\"", `{"path":"hunt/input","version":"1"}`, 200, map[string]any{"base": "one"}},
		{"payload and workload", `{"path":"hunt/input","payload":{"x":1},"workload":{"y":2}}`, 422, nil},
		{"payload and args", `{"path":"hunt/input","payload":{"x":1},"args":{"y":2}}`, 422, nil},
		{"version word", `{"path":"hunt/input","version":"newest"}`, 422, nil},
		{"version missing", `{"path":"hunt/input","version":9}`, 404, nil},
		{"parent unknown", `{"path":"hunt/input","parent_execution_id":123}`, 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := s.Do(t, "POST", "/api/execute", "application/json", tc.body, h)
			if tc.status != 200 {
				mustEnvelope(t, resp, out, tc.status)
				return
			}
			var started struct {
				ExecutionID string `json:"execution_id"`
			}
			if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &started) != nil || started.ExecutionID == "" {
				t.Fatalf("execute: %d %s", resp.StatusCode, out)
			}
			resp, out = s.Get(t, "/api/executions/"+started.ExecutionID)
			var detail struct {
				Workload map[string]any `json:"workload"`
			}
			if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &detail) != nil {
				t.Fatalf("detail: %d %s", resp.StatusCode, out)
			}
			got, _ := json.Marshal(detail.Workload)
			want, _ := json.Marshal(tc.workload)
			if string(got) != string(want) {
				t.Fatalf("workload %s, want %s", got, want)
			}
		})
	}

	t.Run("parent known", func(t *testing.T) {
		_, out := s.Do(t, "POST", "/api/execute", "application/json", `{"path":"hunt/input"}`, h)
		var parent struct {
			ExecutionID string `json:"execution_id"`
		}
		if json.Unmarshal([]byte(out), &parent) != nil || parent.ExecutionID == "" {
			t.Fatalf("parent: %s", out)
		}
		resp, out := s.Do(t, "POST", "/api/execute", "application/json", `{"path":"hunt/input","parent_execution_id":"`+parent.ExecutionID+`"}`, h)
		var child struct {
			ExecutionID string `json:"execution_id"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &child) != nil {
			t.Fatalf("child: %d %s", resp.StatusCode, out)
		}
		_, out = s.Get(t, "/api/executions/"+child.ExecutionID)
		var detail struct {
			ParentExecutionID json.Number `json:"parent_execution_id"`
		}
		if json.Unmarshal([]byte(out), &detail) != nil || detail.ParentExecutionID.String() != parent.ExecutionID {
			t.Fatalf("child detail names parent %q, want %s", detail.ParentExecutionID, parent.ExecutionID)
		}
	})
}
