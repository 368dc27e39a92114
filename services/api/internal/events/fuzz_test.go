package events

import "fmt"
import "io"
import "log/slog"
import "net/http"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"
import "github.com/noetl/controlplane/shared/tmpl"

// maxAllocPerEvent bounds what one request may allocate: a body is at most the engine's
// 1 MiB limit, and nothing a worker sends may expand beyond a small multiple of it.
const maxAllocPerEvent = 64 << 20

// FuzzPostEvents sends arbitrary bodies to POST /api/events and /api/events/batch: none
// may answer 5xx (every bad input is a 4xx with the envelope), and none may allocate
// without bound.
func FuzzPostEvents(f *testing.F) {
	s := testkit.NewSchema(f, migrations.Set)
	gen, err := ids.NewGenerator(9)
	if err != nil {
		f.Fatal(err)
	}
	orch := orchestrator.New(orchestrator.Config{Pool: s.Pool, Engine: engine.New(tmpl.New(0), gen), IDs: gen,
		Playbooks: catalog.NewCache(8), ServerURL: "http://localhost:8082", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := NewWriter(s.Pool, 2, 0)
	f.Cleanup(w.Close)
	e := httpkit.EngineWith(f, httpx.Options{}, "")
	NewHandlers(orch, w, gen, nil, nil).Register(e.Group("/api"))
	execID, _ := apitest.Execution(f, s, gen, 0)

	for _, body := range []string{
		`{"execution_id":%d,"step":"s","event_type":"command.started","payload":{"a":1},"meta":{"attempt":1}}`,
		`{"execution_id":"%d","worker_id":"w1","events":[{"step":"s","event_type":"call.done","actionable":false,"payload":{"password":"x"}}]}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","payload":{"a":"x\u0000"}}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","payload":{"n":1e400}}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","payload":{"a":"\ud800"}}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","worker_id":"w\u0001"}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","created_at":"9999-12-31T23:59:59Z"}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","event_id":-1}`,
		`{"execution_id":%d,"step":"s","event_type":"call.done","result_kind":"ref","result_uri":"s3://b/k"}`,
		`{"execution_id":%d,"step":"s","event_type":"command.started","payload":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`,
		`{"execution_id":%d}`,
		`[]`,
		`{"execution_id":9223372036854775807,"step":"s","event_type":"x"}`,
	} {
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, execID)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/events", "/api/events/batch"} {
			httpkit.RequestBounded(t, e, http.MethodPost, path, body, maxAllocPerEvent)
		}
	})
}
