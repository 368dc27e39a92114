package e2e

import "context"
import "fmt"
import "os"
import "path/filepath"
import "strconv"
import "sync"
import "testing"
import "time"

import "github.com/nats-io/nats.go"

import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

const (
	confRunDeadline = 120 * time.Second // per run, waits included (README "Running one case")
	confConcurrency = 4                 // runs served by scripted workers may overlap
)

// TestConformanceEngine runs every case of testdata/conformance/engine against one
// suite: it registers each playbook, executes each run, serves it with a scripted
// worker, waits until the run is terminal and judges every field the case names plus
// the three invariants. NOETL_CONFORMANCE_DUMP=1 prints every run's event log;
// NOETL_CONFORMANCE_REPEAT=n executes every run n times, NOETL_CONFORMANCE_CONCURRENCY
// changes how many runs overlap (default 4).
func TestConformanceEngine(t *testing.T) { runScriptedGroup(t, "conformance", "engine") }

// TestEngineShapes runs testdata/engine-shapes the same way: playbooks that once broke
// the engine, judged with their exact decision logs as well.
func TestEngineShapes(t *testing.T) { runScriptedGroup(t, "engine-shapes") }

// runScriptedGroup runs every case of one testdata folder with scripted workers.
func runScriptedGroup(t *testing.T, dir ...string) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := loadConfCases(filepath.Join(append([]string{root, "testdata"}, dir...)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases found in testdata/%s", filepath.Join(dir...))
	}
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	nc, err := nats.Connect(testkit.NATSURL(), nats.Name("e2e-conformance"))
	if err != nil {
		t.Fatalf("nats: %v", err)
	}
	defer nc.Close()

	ctx := context.Background()
	for _, cs := range cases {
		for i, req := range cs.Required {
			if err := c.register(ctx, req); err != nil {
				t.Fatalf("%s: register requires[%d] %s: %v", cs.caseName(), i, cs.Requires[i], err)
			}
		}
		if err := c.register(ctx, cs.Content); err != nil {
			t.Fatalf("%s: register %s: %v", cs.caseName(), cs.Playbook, err)
		}
	}

	var results []*runResult
	var wg sync.WaitGroup
	concurrency := confConcurrency
	if v, err := strconv.Atoi(os.Getenv("NOETL_CONFORMANCE_CONCURRENCY")); err == nil && v > 0 {
		concurrency = v
	}
	sem := make(chan struct{}, concurrency)
	repeat := 1
	if v, err := strconv.Atoi(os.Getenv("NOETL_CONFORMANCE_REPEAT")); err == nil && v > 1 {
		repeat = v // shakes out races: every run executed this many times
	}
	for _, cs := range cases {
		for i := range cs.Runs {
			for k := 0; k < repeat; k++ {
				r := &runResult{Case: cs, Run: &cs.Runs[i], Attempt: k}
				results = append(results, r)
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					runConfCase(c, nc, s, r, t.Logf)
				}()
			}
		}
	}
	wg.Wait()

	for _, r := range results {
		t.Run(r.name(), func(t *testing.T) {
			for _, f := range judgeRun(r) {
				t.Error(f)
			}
			if t.Failed() || os.Getenv("NOETL_CONFORMANCE_DUMP") != "" {
				t.Logf("execution %d event log:\n%s", r.ExecID, describeLog(r.Log))
			}
		})
	}
	t.Run("Status of list, detail and /status agree for every execution in the conformance run", func(t *testing.T) {
		assertStatusesAgree(t, c, results)
	})
}

// runConfCase drives one run served by a scripted worker: execute, serve, cancel when
// asked, wait until terminal, then collect what the judge reads. Problems driving it go
// to r.Harness.
func runConfCase(c *rtClient, nc *nats.Conn, s *Suite, r *runResult, logf func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), confRunDeadline)
	defer cancel()
	w := scripted.New(scripted.Config{
		BaseURL: s.URL, NATS: nc, SubjectPrefix: s.Commands.Prefix, Outcomes: r.Run.outcomes,
		WorkerID: fmt.Sprintf("scripted-%s-%s-%d", r.Case.caseName(), r.Run.Name, r.Attempt),
		Logf:     logf,
	})
	// Register before executing: the run's first command must find a live worker pool.
	if err := w.Register(ctx); err != nil {
		r.harness("register the scripted worker: %v", err)
		return
	}
	served := make(chan error, 1)
	if !driveRun(ctx, c, r, r.Run.Payload, func(id int64) { go func() { served <- w.Serve(ctx, id) }() }) {
		return
	}
	if err := <-served; err != nil {
		r.harness("scripted worker: %v", err)
	}
	collectRun(c, r)
	if len(r.Run.Expect.AbsentText) > 0 && len(r.Case.Requires) > 0 {
		r.harness("absent_text over child executions is not collected by the engine harness")
	}
}

// driveRun executes a run (started is told its id), cancels it when its
// cancel_when_running step has a command claimed, and waits until it is terminal and
// that step drained. It returns false when the run could not be driven to its end.
func driveRun(ctx context.Context, c *rtClient, r *runResult, payload map[string]any, started func(id int64)) bool {
	id, err := c.execute(ctx, r.Case.Path, payload)
	if err != nil {
		r.harness("execute: %v", err)
		return false
	}
	r.ExecID = id
	if started != nil {
		started(id)
	}
	cancelStep := r.Run.CancelWhenRunning
	cancelled := false
	var log []scripted.Event
	for {
		log, err = c.log(ctx, id)
		if err == nil {
			if cancelStep != "" && !cancelled && claimedStep(log, cancelStep) {
				if err := c.cancel(ctx, id); err != nil {
					r.harness("cancel once %s was claimed: %v", cancelStep, err)
				}
				cancelled = true
			}
			if runTerminal(log) && (cancelStep == "" || stepDrained(log, cancelStep)) {
				break
			}
		}
		select {
		case <-ctx.Done():
			r.harness("not terminal within %s (last events read: %d, last read error: %v)", confRunDeadline, len(log), err)
			r.Log = log
			r.Status = c.statuses(context.Background(), id, r.Case.Path)
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	if cancelStep != "" && !cancelled {
		r.harness("the run ended before a command of %s was claimed, so it was never cancelled", cancelStep)
	}
	return true
}

// collectRun reads the final event log and the three statuses of a terminal run.
func collectRun(c *rtClient, r *runResult) {
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	var err error
	// The judged log is read in small pages, every page to the end, and must equal a
	// one-page read: the pagination is part of what the route promises.
	if r.Log, err = c.logPaged(rctx, r.ExecID, 7); err != nil {
		r.harness("read the final event log in pages of 7: %v", err)
	}
	if whole, err := c.log(rctx, r.ExecID); err != nil {
		r.harness("read the final event log: %v", err)
	} else if a, b := seqList(r.Log), seqList(whole); a != b {
		r.harness("the event log read in pages of 7 (seq %s) differs from one read (seq %s)", a, b)
	}
	r.Status = c.statuses(rctx, r.ExecID, r.Case.Path)
}

func seqList(log []scripted.Event) string {
	b := make([]byte, 0, 4*len(log))
	for _, ev := range log {
		b = fmt.Appendf(b, "%d,", ev.Seq)
	}
	return string(b)
}

func runTerminal(log []scripted.Event) bool {
	for _, ev := range log {
		if scripted.IsRunTerminal(ev.EventType) {
			return true
		}
	}
	return false
}

// claimedStep: a command of step has its command.claimed or command.started.
func claimedStep(log []scripted.Event, step string) bool {
	for _, ev := range log {
		if ev.NodeName == step && (ev.EventType == scripted.TypeCommandClaimed || ev.EventType == scripted.TypeCommandStarted) {
			return true
		}
	}
	return false
}

// stepDrained: every command.issued of step has its terminal event.
func stepDrained(log []scripted.Event, step string) bool {
	ix := indexLog(log)
	for _, is := range ix.issued[step] {
		if len(ix.terminals[is.CommandID()]) == 0 {
			return false
		}
	}
	return true
}

// describeLog is a compact listing of an event log for failure output.
func describeLog(log []scripted.Event) string {
	var b []byte
	for _, ev := range log {
		b = fmt.Appendf(b, "  %4d %-20s %-14s %-10s", ev.Seq, ev.EventType, ev.NodeName, ev.Status)
		if ev.EventType == scripted.TypeCommandIssued {
			b = fmt.Appendf(b, " cmd=%s", ev.CommandID())
		} else if ids := ev.TerminalIDs(); len(ids) > 0 {
			b = fmt.Appendf(b, " for=%s", ids[0])
		}
		if ev.EventType == scripted.TypeCallDone {
			if d, ok := scripted.Path(ev.Result, "context", "result", "context", "data"); ok {
				b = fmt.Appendf(b, " data=%s", clip(jsonText(d), 200))
			}
		}
		if s, ok := ev.Error.(string); ok && s != "" {
			b = fmt.Appendf(b, " error=%q", clip(s, 200))
		}
		b = append(b, '\n')
	}
	return string(b)
}
