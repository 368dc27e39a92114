package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noetl/controlplane/shared/testkit/scripted"
)

// TestChaosFanOutRace: "Two workers completing both branches of a fan-out at the same
// instant, repeated 200 times: the join step is entered exactly once every time."
//
// Each execution runs start → (left ∥ right) → join → end. Two workers claim left and
// right and post command.started and call.done; then both command.completed are
// released at once from a closed channel. Exactly one of the two answers generates a
// command (join), the log holds one step.enter and one command.issued of join, and the
// run completes. NOETL_CHAOS_RACE_RUNS and NOETL_CHAOS_RACE_PARALLEL tune the load.
func TestChaosFanOutRace(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := c.register(ctx, chaosFanOutPlaybook); err != nil {
		t.Fatal(err)
	}
	runs := chaosEnvInt("NOETL_CHAOS_RACE_RUNS", 200)
	parallel := chaosEnvInt("NOETL_CHAOS_RACE_PARALLEL", 8)

	type result struct {
		id          int64
		err         error
		log         []scripted.Event
		generated   [2]int64 // commands_generated of the two racing completions
		overlapped  bool     // the two completion requests were in flight together
		finalStatus string
	}
	results := make([]result, runs)
	began := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var done atomic.Int64
	for g := 0; g < parallel; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := &results[i]
				r.id, r.generated, r.overlapped, r.err = chaosRaceOnce(ctx, c, i)
				if r.id != 0 {
					var err error
					if r.log, err = c.log(ctx, r.id); err != nil && r.err == nil {
						r.err = err
					}
					if r.finalStatus, err = chaosStatus(ctx, c, r.id); err != nil && r.err == nil {
						r.err = err
					}
				}
				done.Add(1)
			}
		}()
	}
	for i := 0; i < runs; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(began)

	failures, overlapped := 0, 0
	for i, r := range results {
		var problems []string
		if r.err != nil {
			problems = append(problems, r.err.Error())
		}
		if r.overlapped {
			overlapped++
		}
		if r.id != 0 {
			if n := len(chaosIssued(r.log, "join")); n != 1 {
				problems = append(problems, fmt.Sprintf("join has %d command.issued, want exactly 1", n))
			}
			if n := chaosCount(r.log, "step.enter", "join"); n != 1 {
				problems = append(problems, fmt.Sprintf("join has %d step.enter, want exactly 1", n))
			}
			for _, step := range []string{"start", "left", "right", "end"} {
				if n := len(chaosIssued(r.log, step)); n != 1 {
					problems = append(problems, fmt.Sprintf("%s has %d command.issued, want 1", step, n))
				}
			}
			if n := len(indexLog(r.log).runTerminals); n != 1 {
				problems = append(problems, fmt.Sprintf("%d terminal events, want 1", n))
			}
			if r.finalStatus != "COMPLETED" {
				problems = append(problems, fmt.Sprintf("status %q, want COMPLETED", r.finalStatus))
			}
			// Whichever pass came second saw both branches done and issued join; the
			// other issued nothing.
			if r.err == nil && r.generated[0]+r.generated[1] != 1 {
				problems = append(problems, fmt.Sprintf("the racing completions answered commands_generated %d and %d, want 1 in total", r.generated[0], r.generated[1]))
			}
		}
		if len(problems) > 0 {
			failures++
			if failures <= 5 {
				t.Errorf("run %d (execution %d): %v\n%s", i, r.id, problems, describeLog(r.log))
			}
		}
	}
	if failures > 5 {
		t.Errorf("%d of %d runs failed (first 5 shown)", failures, runs)
	}
	t.Logf("%d runs, %d in parallel, in %s (%.1f runs/s); the two completions overlapped in flight in %d runs",
		runs, parallel, elapsed.Round(time.Millisecond), float64(runs)/elapsed.Seconds(), overlapped)
	// The race must actually be run: if the requests never overlapped the test proves
	// nothing about concurrent passes.
	if overlapped < runs/2 {
		t.Errorf("the two completions were in flight together in only %d of %d runs", overlapped, runs)
	}
	chaosReportLogIssues(t, chaosScanLogs(s, chaosAllProcs(s), nil))
}

// chaosRaceOnce runs one execution of the fan-out playbook with the two branch
// completions released at the same instant, then drives it to its end.
func chaosRaceOnce(ctx context.Context, c *rtClient, n int) (id int64, generated [2]int64, overlapped bool, err error) {
	id, err = c.execute(ctx, chaosFanOutPath, map[string]any{"run": int64(n)})
	if err != nil {
		return 0, generated, false, err
	}
	driver := newChaosWorker(c, fmt.Sprintf("chaos-race-driver-%d", n))
	log, err := c.log(ctx, id)
	if err != nil {
		return id, generated, false, err
	}
	starts := chaosIssued(log, "start")
	if len(starts) != 1 {
		return id, generated, false, fmt.Errorf("start has %d command.issued after execute, want 1", len(starts))
	}
	if ok, err := driver.finish(ctx, id, starts[0].EventID); err != nil || !ok {
		return id, generated, false, fmt.Errorf("finish start: claimed=%v %v", ok, err)
	}
	// The completion's pass committed before it answered: left and right are issued.
	if log, err = c.log(ctx, id); err != nil {
		return id, generated, false, err
	}
	branches := [2][]scripted.Event{chaosIssued(log, "left"), chaosIssued(log, "right")}
	if len(branches[0]) != 1 || len(branches[1]) != 1 {
		return id, generated, false, fmt.Errorf("left/right have %d/%d command.issued after start, want 1/1", len(branches[0]), len(branches[1]))
	}
	workers := [2]*chaosWorker{newChaosWorker(c, fmt.Sprintf("chaos-race-left-%d", n)), newChaosWorker(c, fmt.Sprintf("chaos-race-right-%d", n))}
	var bodies [2]map[string]any
	for i, w := range workers {
		code, cl, err := w.claim(ctx, branches[i][0].EventID)
		if err != nil || code != http.StatusOK {
			return id, generated, false, fmt.Errorf("claim %s by %s: %d %v", branches[i][0].NodeName, w.id, code, err)
		}
		for _, b := range []map[string]any{w.started(id, cl), w.done(id, cl, map[string]any{"v": int64(i + 1)})} {
			code, out, err := w.post(ctx, b)
			if err := expect2xx(fmt.Sprintf("%s of %s", b["event_type"], cl.Step), code, out, err); err != nil {
				return id, generated, false, err
			}
		}
		bodies[i] = w.completed(id, cl, 0)
	}

	// Release both completions at once.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	var errs [2]error
	var spans [2][2]time.Time
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			spans[i][0] = time.Now()
			code, out, err := w.post(ctx, bodies[i])
			spans[i][1] = time.Now()
			if errs[i] = expect2xx("racing command.completed of "+w.id, code, out, err); errs[i] != nil {
				return
			}
			v, err := scripted.DecodeJSON(out)
			if err != nil {
				errs[i] = err
				return
			}
			generated[i], _ = scripted.AsInt(mapGet(v, "commands_generated"))
		}()
	}
	close(gate)
	wg.Wait()
	overlapped = spans[0][0].Before(spans[1][1]) && spans[1][0].Before(spans[0][1])
	for _, e := range errs {
		if e != nil {
			return id, generated, overlapped, e
		}
	}
	// Drive the rest (join, end — and any duplicate, should one appear) to the end.
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chaosDrive(dctx, driver, id); err != nil {
		return id, generated, overlapped, err
	}
	return id, generated, overlapped, nil
}
