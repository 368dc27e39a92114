package orchestrator

import "context"
import "strconv"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"

const threeStep = `apiVersion: noetl.io/v2
kind: Playbook
metadata: {name: bench, path: bench/three}
workflow:
  - step: start
    tool: {kind: noop}
    next: [middle]
  - step: middle
    tool: {kind: noop}
    next: [end]
  - step: end
    tool: {kind: noop}
`

// BenchmarkThreeStepInProcess drives 3-step noop executions through the orchestrator
// directly (start, claim, completion pass), without HTTP, the router or NATS: the
// database-side cost of an execution. The end-to-end figure is BenchmarkOrchestration
// in tests/e2e.
func BenchmarkThreeStepInProcess(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run("workers="+itoa(workers), func(b *testing.B) {
			benchThreeStep(b, newFixture(b), workers)
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func benchThreeStep(b *testing.B, f *fixture, workers int) {
	entry, pb := f.register([]byte(threeStep))
	ctx := context.Background()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	per := b.N/workers + 1
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				res, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
				if err != nil {
					b.Error(err)
					return
				}
				for step := 0; step < 3; step++ {
					pend := f.pending(res.ExecutionID)
					if len(pend) != 1 {
						b.Errorf("pending = %v", pend)
						return
					}
					cl, err := f.o.Claim(ctx, pend[0], "w")
					if err != nil {
						b.Error(err)
						return
					}
					key := cl.Issued.Meta["command_id"].(string)
					id1, _ := f.gen.Next()
					id2, _ := f.gen.Next()
					_, err = f.o.Ingest(ctx, res.ExecutionID, []eventlog.Event{
						{Event: engine.Event{EventID: id1, Type: "call.done", Step: cl.Issued.Step, Status: "COMPLETED", WorkerID: "w",
							Result: map[string]any{"status": "COMPLETED", "context": map[string]any{"command_id": key,
								"result": map[string]any{"status": "success", "context": map[string]any{"data": map[string]any{}}}}}}, Minted: true},
						{Event: engine.Event{EventID: id2, Type: "command.completed", Step: cl.Issued.Step, Status: "success", WorkerID: "w",
							Result: map[string]any{"status": "success", "context": map[string]any{"command_id": key}}}, Minted: true},
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "executions/s")
}
