package events

import "context"
import "errors"
import "fmt"
import "os"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// A terminal event relayed through the projector ends the execution at once: the end is
// folded through the orchestrator after the events are stored, so the execution's status
// is the end's, its open commands are cancelled and a claim is refused, instead of the
// row staying RUNNING (and its commands claimable) until some later pass happens to
// fold it (docs/engine.md, "Failure and the end of a run").
func TestAProjectedEndEndsTheExecution(t *testing.T) {
	t.Parallel()
	cases := []struct{ eventType, status string }{
		{"playbook.cancelled", engine.StatusCancelled},
		{"playbook_failed", engine.StatusFailed},
		{"execution.completed", engine.StatusCompleted},
	}
	for _, c := range cases {
		t.Run(c.eventType, func(t *testing.T) {
			t.Parallel()
			a := apitest.NewEnv(t, projectToken)
			orch := newOrchestrator(a)
			NewProjector(a.Pool, nil, orch).Register(a.Engine.Group("/api/internal"))
			src, err := os.ReadFile("../../../../testdata/conformance/engine/01_linear.yaml")
			if err != nil {
				t.Fatal(err)
			}
			res := startPlaybook(t, a, orch, string(src))
			pending := apitest.PendingCommands(t, a.Schema, res.ExecutionID)
			if len(pending) != 1 {
				t.Fatalf("pending commands after start: %v", pending)
			}

			eventID, _ := a.Gen.Next()
			body := fmt.Sprintf(`{"events":[{"event_id":%d,"execution_id":%d,"event_type":%q,"node_name":"playbook","status":%q}]}`,
				eventID, res.ExecutionID, c.eventType, c.status)
			httpkit.WantJSON(t, a.Do("POST", "/api/internal/events/project", body, projectToken), 200)

			if got := testkit.QueryOne[string](t, a.Schema, `SELECT status FROM execution WHERE execution_id = $1`, res.ExecutionID); got != c.status {
				t.Errorf("execution status = %s, want %s", got, c.status)
			}
			if got := testkit.QueryOne[string](t, a.Schema, `SELECT status FROM command WHERE event_id = $1`, pending[0]); got != "CANCELLED" {
				t.Errorf("command status = %s, want CANCELLED", got)
			}
			_, err = orch.Claim(context.Background(), pending[0], "w1")
			var conflict *httpx.Error
			if !errors.As(err, &conflict) || conflict.Status != 409 {
				t.Errorf("claim after the relayed end: %v, want a 409", err)
			}
		})
	}
}
