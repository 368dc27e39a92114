package events

import "context"
import "fmt"
import "io"
import "log/slog"
import "net/http"
import "sync/atomic"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"
import "github.com/noetl/controlplane/shared/tmpl"

const benchPB = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: bench, path: bench/events}
workflow:
  - step: start
    tool: {kind: noop}
`

// BenchmarkPostInformativeEvent measures POST /api/events for an informative event
// in-process (handler chain, redaction, group commit into PostgreSQL), without the
// network and router. The end-to-end figure is BenchmarkEventIngest in tests/e2e.
func BenchmarkPostInformativeEvent(b *testing.B) {
	s := testkit.NewSchema(b, migrations.Set)
	gen, _ := ids.NewGenerator(3)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache := catalog.NewCache(8)
	orch := orchestrator.New(orchestrator.Config{Pool: s.Pool, Engine: engine.New(tmpl.New(0), gen), IDs: gen,
		Playbooks: cache, ServerURL: "http://localhost:8082", Logger: log})
	pb, err := playbook.Parse([]byte(benchPB))
	if err != nil {
		b.Fatal(err)
	}
	catID, _ := gen.Next()
	testkit.InsertCatalog(b, s, catID, "bench/events", benchPB)
	entry, _ := catalog.ByID(context.Background(), s.Pool, catID)
	// Events spread over many executions, as under real load.
	var bodies []string
	for i := 0; i < 64; i++ {
		res, err := orch.Start(context.Background(), orchestrator.StartRequest{Entry: entry, Playbook: pb})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, fmt.Sprintf(`{"execution_id":%d,"step":"start","event_type":"command.started","status":"STARTED","worker_id":"w","payload":{"command_id":"x"}}`, res.ExecutionID))
	}
	writer := NewWriter(s.Pool, 4, 0)
	defer writer.Close()
	e := httpkit.Engine(b, "")
	NewHandlers(orch, writer, gen, nil, nil).Register(e.Group("/api"))
	b.ReportAllocs()
	b.SetParallelism(25)
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)%int64(len(bodies))]
			rec := httpkit.Request(b, e, http.MethodPost, "/api/events", body, "")
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		}
	})
}
