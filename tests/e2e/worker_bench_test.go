package e2e

import "context"
import "encoding/json"
import "fmt"
import "net/http"
import "os"
import "strconv"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// The worker benchmarks run the real noetl-worker against the built binaries: commands
// travel through the outbox, NATS, the claim, the tool and the event batch. Run them with
// `make bench`; docs/benchmarks.md records results.

// benchLoop is a playbook start → each (a loop over workload.n) → end whose iterations
// run tool; spec is the loop's mode.
func benchLoop(path, spec, tool string) string {
	return fmt.Sprintf(`apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: %[1]s
  path: bench/%[1]s
workload:
  n: 100
workflow:
  - step: start
    tool: {kind: noop}
    next:
      arcs:
        - step: each
  - step: each
    loop:
      in: "{{ workload.n }}"
      iterator: i
      spec: %[2]s
    tool:
%[3]s
    next:
      arcs:
        - step: end
  - step: end
    tool: {kind: noop}
`, path, spec, tool)
}

const (
	noopTool   = "      kind: noop\n      result: \"{{ iter.i }}\""
	pythonTool = "      kind: python\n      input:\n        i: \"{{ iter.i }}\"\n      code: \"result = i\""
)

func registerAll(b *testing.B, s *Suite, c *http.Client, playbooks ...string) {
	b.Helper()
	for _, pb := range playbooks {
		if code, body, err := postJSON(c, s.URL+"/api/catalog/register", map[string]any{"content": pb}); err != nil || code != http.StatusOK {
			b.Fatalf("register: %d %s %v", code, body, err)
		}
	}
}

// benchWorkerConcurrency is the worker's WORKER_MAX_CONCURRENT (BENCH_WORKER_CONCURRENCY,
// default 32).
func benchWorkerConcurrency() string {
	if n, err := strconv.Atoi(os.Getenv("BENCH_WORKER_CONCURRENCY")); err == nil && n > 0 {
		return strconv.Itoa(n)
	}
	return "32"
}

// runToEnd executes path with payload and waits until it is terminal; it returns the
// status.
func runToEnd(ctx context.Context, c *http.Client, base, path string, payload map[string]any) (string, error) {
	code, body, err := postJSON(c, base+"/api/execute", map[string]any{"path": path, "payload": payload})
	if err != nil || code != http.StatusOK {
		return "", fmt.Errorf("execute: %d %s %v", code, body, err)
	}
	v, err := scripted.DecodeJSON(body)
	if err != nil {
		return "", err
	}
	id := scripted.IDString(mapGet(v, "execution_id"))
	for {
		resp, err := c.Get(base + "/api/executions/" + id + "/status")
		if err == nil {
			var st struct {
				Status string `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			switch st.Status {
			case "COMPLETED", "FAILED", "CANCELLED":
				return st.Status, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// BenchmarkWorkerNoopLoop keeps four executions of a 100-iteration parallel noop loop
// (32 in flight each) running through one worker for BENCH_DURATION and reports the
// commands it completed per second.
func BenchmarkWorkerNoopLoop(b *testing.B) {
	s := benchSuite(b)
	w := s.StartWorker(b, map[string]string{"WORKER_MAX_CONCURRENT": benchWorkerConcurrency(), "NOETL_LOG_LEVEL": "warn"})
	c := benchClient(s)
	registerAll(b, s, c, benchLoop("worker_loop", "{mode: parallel, max_in_flight: 32}", noopTool))
	procs := []*Proc{w.Proc, s.API, s.Router}
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		cpu0[i] = procCPU(p.cmd.Process.Pid)
	}
	const perExecution = 102 // start, 100 iterations, end
	ctx, cancel := context.WithTimeout(context.Background(), benchDuration()+5*time.Minute)
	defer cancel()
	deadline := time.Now().Add(benchDuration())
	var done, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				st, err := runToEnd(ctx, c, s.URL, "bench/worker_loop", map[string]any{})
				if err != nil || st != "COMPLETED" {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(done.Load()*perExecution) / elapsed.Seconds()
	b.ReportMetric(rate, "commands/s")
	b.ReportMetric(float64(failed.Load()), "errors")
	fmt.Printf("worker noop loop: %d executions of %d commands in %s: %.0f commands/s through one worker (concurrency %s); %d errors\n",
		done.Load(), perExecution, elapsed.Round(time.Millisecond), rate, benchWorkerConcurrency(), failed.Load())
	for i, p := range procs {
		used := procCPU(p.cmd.Process.Pid) - cpu0[i]
		fmt.Printf("worker noop loop: %-6s used %.0f%% of one core (%.2f ms CPU per command)\n", p.Name,
			100*used.Seconds()/elapsed.Seconds(), 1000*used.Seconds()/float64(done.Load()*perExecution))
	}
	printServerMeans(c, s.APIURL+"/metrics", "noetl_orchestrator_pass_duration_seconds", "noetl_event_ingest_duration_seconds")
}

// procCPU is the CPU time a process used so far (Linux, /proc/<pid>/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at the last ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// BenchmarkWorkerPythonOverhead runs the same sequential 20-iteration loop with a noop
// tool and with a python tool that only sets its result, one execution at a time, and
// reports the time per command of each and their difference: what the python tool adds
// to a command (a fresh interpreter and the wrapper).
func BenchmarkWorkerPythonOverhead(b *testing.B) {
	s := benchSuite(b)
	s.StartWorker(b, map[string]string{"NOETL_LOG_LEVEL": "warn"})
	c := benchClient(s)
	registerAll(b, s, c, benchLoop("worker_seq_noop", "{mode: sequential}", noopTool),
		benchLoop("worker_seq_python", "{mode: sequential}", pythonTool))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const n, rounds = 20, 5
	measure := func(path string, payload map[string]any) time.Duration {
		var total time.Duration
		for r := 0; r < rounds; r++ {
			t0 := time.Now()
			st, err := runToEnd(ctx, c, s.URL, path, payload)
			if err != nil || st != "COMPLETED" {
				b.Fatalf("%s: %s %v", path, st, err)
			}
			total += time.Since(t0)
		}
		return total / time.Duration(rounds*(n+2))
	}
	b.ResetTimer()
	noopPer := measure("bench/worker_seq_noop", map[string]any{"n": n})
	pyPer := measure("bench/worker_seq_python", map[string]any{"n": n})
	b.StopTimer()
	b.ReportMetric(float64(noopPer.Microseconds())/1000, "noop-ms/cmd")
	b.ReportMetric(float64(pyPer.Microseconds())/1000, "python-ms/cmd")
	b.ReportMetric(float64((pyPer-noopPer).Microseconds())/1000, "python-overhead-ms")
	fmt.Printf("worker python overhead: sequential commands take %s with noop, %s with python: the python tool adds %s per command\n",
		noopPer.Round(10*time.Microsecond), pyPer.Round(10*time.Microsecond), (pyPer - noopPer).Round(10*time.Microsecond))
}
