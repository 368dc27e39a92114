package e2e

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "os"
import "sort"
import "strconv"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/shared/testkit"

// The benchmarks boot the built binaries, drive them through the router for a fixed
// duration (BENCH_DURATION, default 10s; b.N is not used) and report figures with
// b.ReportMetric. Run them with `make bench`; docs/benchmarks.md records results.

func benchDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("BENCH_DURATION")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// benchInflight is how many executions the orchestration benchmark keeps in flight
// (BENCH_INFLIGHT, default 48): high for throughput, 1 for unloaded latency.
func benchInflight() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_INFLIGHT")); err == nil && n > 0 {
		return n
	}
	return 48
}

func benchSuite(b *testing.B) *Suite {
	b.Helper()
	o := SuiteOptions{Extra: map[string]string{
		"NOETL_LOG_LEVEL":          "warn",
		"POSTGRES_MAX_CONNECTIONS": "20",
	}}
	if addr := os.Getenv("BENCH_API_PPROF"); addr != "" {
		o.APIExtra = map[string]string{"NOETL_PPROF_ADDR": addr}
	}
	if addr := os.Getenv("BENCH_ROUTER_PPROF"); addr != "" {
		o.RouterExtra = map[string]string{"NOETL_PPROF_ADDR": addr}
	}
	s := StartSuite(b, o)
	if f := os.Getenv("BENCH_API_PID_FILE"); f != "" {
		// For attaching a profiler (perf, pprof) to this run's api and its backends.
		_ = os.WriteFile(f, []byte(strconv.Itoa(s.API.cmd.Process.Pid)), 0o600)
	}
	return s
}

// benchClient is a pooled client that, like s.Client, can also reach the services
// directly (it presents the suite's client certificate).
func benchClient(s *Suite) *http.Client {
	tr := s.Client.Transport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func postJSON(c *http.Client, url string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}

const benchPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: bench_three_noop
  path: bench/three_noop
workflow:
  - step: start
    tool: {kind: noop}
    next:
      arcs:
        - step: middle
  - step: middle
    tool: {kind: noop}
    next:
      arcs:
        - step: end
  - step: end
    tool: {kind: noop}
`

func registerBenchPlaybook(b *testing.B, s *Suite, c *http.Client) {
	b.Helper()
	code, body, err := postJSON(c, s.URL+"/api/catalog/register", map[string]any{"content": benchPlaybook})
	if err != nil || code != http.StatusOK {
		b.Fatalf("register: %d %s %v", code, body, err)
	}
}

func startExecution(c *http.Client, base string) (int64, error) {
	code, body, err := postJSON(c, base+"/api/execute", map[string]any{"path": "bench/three_noop", "payload": map[string]any{}})
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("execute: %d %s", code, body)
	}
	var r struct {
		ExecutionID string `json:"execution_id"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	return strconv.ParseInt(r.ExecutionID, 10, 64)
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	return l.d[int(q*float64(len(l.d)-1))]
}

// BenchmarkEventIngest posts informative events (no orchestration) at concurrency 50
// through the router. Target (docs/benchmarks.md): >= 10,000 req/s, p99 <= 20 ms, no errors.
func BenchmarkEventIngest(b *testing.B) {
	s := benchSuite(b)
	c := benchClient(s)
	registerBenchPlaybook(b, s, c)
	execs := make([]int64, 200)
	for i := range execs {
		id, err := startExecution(c, s.URL)
		if err != nil {
			b.Fatal(err)
		}
		execs[i] = id
	}
	const concurrency = 50
	var lat latencies
	var ok, failed atomic.Int64
	cpu := startCPUMeter(s)
	deadline := time.Now().Add(benchDuration())
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				body := map[string]any{
					"execution_id": execs[i%len(execs)], "step": "middle", "event_type": "command.started",
					"status": "STARTED", "worker_id": "bench-worker",
					"payload": map[string]any{"command_id": fmt.Sprintf("bench:%d:%d", w, i)},
				}
				t0 := time.Now()
				code, _, err := postJSON(c, s.URL+"/api/events", body)
				lat.add(time.Since(t0))
				if err != nil || code != http.StatusOK {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	split := cpu.stop()
	b.StopTimer()
	b.ReportMetric(float64(ok.Load())/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat.quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.quantile(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(failed.Load()), "errors")
	fmt.Printf("events: %d ok, %d errors in %s: %.0f req/s, p50 %s, p99 %s\n", ok.Load(), failed.Load(),
		elapsed.Round(time.Millisecond), float64(ok.Load())/elapsed.Seconds(), lat.quantile(0.5), lat.quantile(0.99))
	figure("events_per_s", float64(ok.Load())/elapsed.Seconds())
	figure("events_p99_ms", float64(lat.quantile(0.99).Microseconds())/1000)
	figure("events_errors", float64(failed.Load()))
	split.print("events", ok.Load(), "event")
}

// BenchmarkOrchestration runs a 3-step noop playbook with an in-process worker that
// completes each command at once, taking every command from its NATS notification and
// a claim. It reports executions/s, commands/s and the latency from posting a
// command.completed to receiving the next command's NATS notification. Target
// (docs/benchmarks.md): >= 300 executions/s, p50 <= 5 ms.
func BenchmarkOrchestration(b *testing.B) { benchOrchestration(b, false) }

// BenchmarkOrchestrationEager is BenchmarkOrchestration with a worker that asks for
// eager dispatch: it posts each outcome with eager_capacity 1 and runs the command the
// answer hands it, so only an execution's first command comes through NATS and a claim.
// The latency is from posting the outcome to holding the next command.
func BenchmarkOrchestrationEager(b *testing.B) { benchOrchestration(b, true) }

// benchCommand is a command in the bench worker's hands.
type benchCommand struct {
	CommandID   string
	EventID     int64
	ExecutionID int64
	Step        string
}

func benchOrchestration(b *testing.B, eager bool) {
	name := "orchestration"
	if eager {
		name = "orchestration_eager"
	}
	s := benchSuite(b)
	c := benchClient(s)
	registerBenchPlaybook(b, s, c)

	nc, err := nats.Connect(testkit.NATSURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		completedAt sync.Map  // execution id → time the previous command.completed was sent
		lat         latencies // completed posted → next command notified (NATS) or answered (eager)
		inHand      latencies // completed posted → next command claimed, ready to run
		done        atomic.Int64
		commands    atomic.Int64
		failures    atomic.Int64
		inflight    = make(chan struct{}, benchInflight())
	)
	// complete posts a command's outcome and returns the next command when the answer
	// carries one (eager dispatch).
	complete := func(cmd benchCommand) (*benchCommand, bool) {
		events := map[string]any{
			"execution_id": cmd.ExecutionID, "worker_id": "bench-worker",
			"events": []map[string]any{
				{"step": cmd.Step, "event_type": "call.done", "payload": map[string]any{"command_id": cmd.CommandID, "call_index": 0,
					"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": map[string]any{}}}}},
				{"step": cmd.Step, "event_type": "command.completed", "payload": map[string]any{"command_id": cmd.CommandID, "status": "success"}},
			},
		}
		if eager {
			events["eager_capacity"] = 1
		}
		t0 := time.Now()
		if cmd.Step != "end" && !eager {
			completedAt.Store(cmd.ExecutionID, t0)
		}
		code, body, err := postJSON(c, s.URL+"/api/events/batch", events)
		if err != nil || code != http.StatusOK {
			failures.Add(1)
			return nil, false
		}
		commands.Add(1)
		if cmd.Step == "end" {
			done.Add(1)
			<-inflight
			return nil, true
		}
		if !eager {
			return nil, true
		}
		var r struct {
			Commands []struct {
				EventID     int64          `json:"event_id"`
				ExecutionID int64          `json:"execution_id"`
				NodeName    string         `json:"node_name"`
				Meta        map[string]any `json:"meta"`
			} `json:"commands"`
		}
		if json.Unmarshal(body, &r) != nil || len(r.Commands) != 1 {
			failures.Add(1)
			return nil, false
		}
		lat.add(time.Since(t0))
		inHand.add(time.Since(t0))
		n := r.Commands[0]
		key, _ := n.Meta["command_id"].(string)
		return &benchCommand{CommandID: key, EventID: n.EventID, ExecutionID: n.ExecutionID, Step: n.NodeName}, true
	}
	handle := func(m jetstream.Msg) {
		_ = m.Ack()
		var n struct {
			CommandID   string `json:"command_id"`
			EventID     int64  `json:"event_id"`
			ExecutionID int64  `json:"execution_id"`
			Step        string `json:"step"`
		}
		if json.Unmarshal(m.Data(), &n) != nil {
			return
		}
		t0, sent := completedAt.LoadAndDelete(n.ExecutionID)
		if sent {
			lat.add(time.Since(t0.(time.Time)))
		}
		code, _, err := postJSON(c, fmt.Sprintf("%s/api/commands/%d/claim", s.URL, n.EventID), map[string]any{"worker_id": "bench-worker"})
		if err != nil || code != http.StatusOK {
			failures.Add(1)
			return
		}
		if sent {
			inHand.add(time.Since(t0.(time.Time)))
		}
		cmd := &benchCommand{CommandID: n.CommandID, EventID: n.EventID, ExecutionID: n.ExecutionID, Step: n.Step}
		for cmd != nil {
			cmd, _ = complete(*cmd)
		}
	}
	cons, err := js.OrderedConsumer(ctx, s.Commands.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.Commands.Prefix + ".commands.shared.>"}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		b.Fatalf("consumer: %v", err)
	}
	work := make(chan jetstream.Msg, 1024)
	cc, err := cons.Consume(func(m jetstream.Msg) { work <- m })
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	for i := 0; i < 64; i++ {
		go func() {
			for m := range work {
				handle(m)
			}
		}()
	}

	cpu := startCPUMeter(s)
	deadline := time.Now().Add(benchDuration())
	b.ResetTimer()
	start := time.Now()
	var started atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < min(8, benchInflight()); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				inflight <- struct{}{}
				if _, err := startExecution(c, s.URL); err != nil {
					failures.Add(1)
					<-inflight
					continue
				}
				started.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	split := cpu.stop()
	doneAtDeadline, commandsAtDeadline := done.Load(), commands.Load()
	// Let the executions in flight finish (not counted in the rate).
	for i := 0; i < 100 && done.Load() < started.Load(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	rate := float64(doneAtDeadline) / elapsed.Seconds()
	cmdRate := float64(commandsAtDeadline) / elapsed.Seconds()
	b.ReportMetric(rate, "executions/s")
	b.ReportMetric(cmdRate, "commands/s")
	b.ReportMetric(float64(lat.quantile(0.5).Microseconds())/1000, "next-cmd-p50-ms")
	b.ReportMetric(float64(lat.quantile(0.99).Microseconds())/1000, "next-cmd-p99-ms")
	b.ReportMetric(float64(failures.Load()), "errors")
	fmt.Printf("%s: %d started, %d completed in %s: %.1f executions/s, %.0f commands/s; completed→next command p50 %s, p99 %s; completed→next command claimed p50 %s, p99 %s; %d errors\n",
		name, started.Load(), done.Load(), elapsed.Round(time.Millisecond), rate, cmdRate, lat.quantile(0.5), lat.quantile(0.99),
		inHand.quantile(0.5), inHand.quantile(0.99), failures.Load())
	split.print(name, doneAtDeadline, "execution")
	figure(name+"_executions_per_s", rate)
	figure(name+"_commands_per_s", cmdRate)
	figure(name+"_next_p50_ms", float64(lat.quantile(0.5).Microseconds())/1000)
	figure(name+"_claimed_p50_ms", float64(inHand.quantile(0.5).Microseconds())/1000)
	figure(name+"_errors", float64(failures.Load()))
	printServerMeans(c, s.APIURL+"/metrics", "noetl_orchestrator_pass_duration_seconds", "noetl_outbox_publish_lag_seconds",
		"noetl_event_ingest_duration_seconds")
}

// BenchmarkIdleFootprint reports each service's resident memory after it has been idle
// and how long it took from process start until its /readyz answered 200. Targets
// (docs/benchmarks.md): at most 40 MiB RSS idle, ready within 2 s.
func BenchmarkIdleFootprint(b *testing.B) {
	begin := time.Now()
	s := benchSuite(b)
	ready := time.Since(begin)
	time.Sleep(3 * time.Second) // let start-up allocations settle
	for _, p := range []*Proc{s.Router, s.API, s.Wallet, s.Broker} {
		rss := procRSS(p.cmd.Process.Pid)
		b.ReportMetric(float64(rss)/(1<<20), p.Name+"-rss-MiB")
		fmt.Printf("idle: %-6s RSS %.1f MiB\n", p.Name, float64(rss)/(1<<20))
	}
	// The suite is started process by process and waited for together; the time to a
	// ready suite bounds each service's own time to ready.
	b.ReportMetric(ready.Seconds(), "suite-ready-s")
	fmt.Printf("idle: all four services ready %s after the first was started\n", ready.Round(time.Millisecond))
}

// procRSS reads VmRSS of a process in bytes (Linux).
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			var kb int64
			_, _ = fmt.Sscanf(string(line), "VmRSS: %d kB", &kb)
			return kb * 1024
		}
	}
	return 0
}

// printServerMeans prints the mean of server-side histograms, to tell where time goes.
func printServerMeans(c *http.Client, url string, names ...string) {
	resp, err := c.Get(url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sums, counts := map[string]float64{}, map[string]float64{}
	for _, line := range bytes.Split(body, []byte("\n")) {
		for _, n := range names {
			var v float64
			switch {
			case bytes.HasPrefix(line, []byte(n+"_sum")):
				_, _ = fmt.Sscanf(string(line[bytes.LastIndexByte(line, ' ')+1:]), "%g", &v)
				sums[n] += v
			case bytes.HasPrefix(line, []byte(n+"_count")):
				_, _ = fmt.Sscanf(string(line[bytes.LastIndexByte(line, ' ')+1:]), "%g", &v)
				counts[n] += v
			}
		}
	}
	for _, n := range names {
		if counts[n] > 0 {
			fmt.Printf("server: %s mean %.2f ms over %.0f\n", n, 1000*sums[n]/counts[n], counts[n])
		}
	}
}
