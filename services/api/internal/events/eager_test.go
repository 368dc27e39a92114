package events

import "context"
import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

const eagerPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: eager_two, path: test/eager_two}
workflow:
  - step: start
    tool: {kind: noop}
    next: {arcs: [{step: end}]}
  - step: end
    tool: {kind: noop}
`

// eager_capacity on POST /api/events/batch: the answer carries the next command,
// claimed for the batch's worker, in the shape of a claim's answer.
func TestBatchEagerDispatch(t *testing.T) {
	t.Parallel()
	a := apitest.NewEnv(t, "")
	orch := newOrchestrator(a)
	w := NewWriter(a.Pool, 2, 0)
	t.Cleanup(w.Close)
	NewHandlers(orch, w, a.Gen, nil, nil).Register(a.Engine.Group("/api"))

	ctx := context.Background()
	res := startPlaybook(t, a, orch, eagerPlaybook)
	first := apitest.PendingCommands(t, a.Schema, res.ExecutionID)[0]
	cl, err := orch.Claim(ctx, first, "w1")
	if err != nil {
		t.Fatal(err)
	}
	key := cl.Issued.Meta["command_id"].(string)
	batch := func(capacity string, worker string) string {
		return fmt.Sprintf(`{"execution_id": %d, "worker_id": %q, %s "events": [
			{"step": "start", "event_type": "call.done", "payload": {"command_id": %q, "call_index": 0, "result": {"status": "success", "context": {"data": {}}}}},
			{"step": "start", "event_type": "command.completed", "payload": {"command_id": %q, "status": "success"}}]}`,
			res.ExecutionID, worker, capacity, key, key)
	}
	for _, tc := range []struct{ name, capacity, worker, want string }{
		{"negative", `"eager_capacity": -1,`, "w1", "eager_capacity must be between 0 and 64"},
		{"too large", `"eager_capacity": 65,`, "w1", "eager_capacity must be between 0 and 64"},
		{"not a number", `"eager_capacity": "2",`, "w1", "eager_capacity"},
		{"no worker", `"eager_capacity": 1,`, "", "needs the batch's worker_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := a.Do("POST", "/api/events/batch", batch(tc.capacity, tc.worker), "")
			if rec.Code != 422 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		})
	}
	body := httpkit.WantJSON(t, a.Do("POST", "/api/events/batch", batch(`"eager_capacity": 1,`, "w1"), ""), 200)
	cmds, _ := body["commands"].([]any)
	if len(cmds) != 1 {
		t.Fatalf("answer %v", body)
	}
	c := cmds[0].(map[string]any)
	if c["node_name"] != "end" || c["action"] != "noop" || c["status"] != "ok" {
		t.Fatalf("eager command %v", c)
	}
	meta := c["meta"].(map[string]any)
	if meta["command_id"] == nil || fmt.Sprint(meta["attempt"]) != "1" {
		t.Fatalf("eager command meta %v", meta)
	}
	// Without eager_capacity the answer has no commands key (upstream's shape).
	start2 := startPlaybook(t, a, orch, eagerPlaybook)
	cl2, err := orch.Claim(ctx, apitest.PendingCommands(t, a.Schema, start2.ExecutionID)[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	key2 := cl2.Issued.Meta["command_id"].(string)
	plain := httpkit.WantJSON(t, a.Do("POST", "/api/events/batch", fmt.Sprintf(`{"execution_id": %d, "worker_id": "w1", "events": [
		{"step": "start", "event_type": "command.completed", "payload": {"command_id": %q, "status": "success"}}]}`, start2.ExecutionID, key2), ""), 200)
	if _, ok := plain["commands"]; ok || plain["commands_generated"] != int64(1) && fmt.Sprint(plain["commands_generated"]) != "1" {
		t.Fatalf("plain answer %v", plain)
	}
}
