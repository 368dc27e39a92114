package e2e

import "context"
import "fmt"
import "net/http"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/nats-io/nats.go"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

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

// TestChaosLostWorker: "A worker killed after claiming: its command is claimed again by
// another worker after the offline threshold and the execution completes."
//
// Worker A registers, claims start and goes silent (no heartbeat, no event). Worker B
// heart-beats. After the offline threshold (2 s, swept every second) the api requeues
// the command: a command.requeued event with attempt 2 and a second notification on
// NATS. B claims it (meta.attempt 2), A's claim is refused, A's late completion while B
// holds the command changes nothing, B finishes the run, and a late completion from A
// after the end changes nothing either.
func TestChaosLostWorker(t *testing.T) {
	n := testkit.StartNATS(t)
	s := StartSuite(t, SuiteOptions{
		Extra:    map[string]string{"NATS_URL": n.URL()},
		APIExtra: map[string]string{"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_RUNTIME_OFFLINE_SECONDS": "2"},
	})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.register(ctx, chaosFanOutPlaybook); err != nil {
		t.Fatal(err)
	}
	a := newChaosWorker(c, "chaos-lost-worker-a")
	b := newChaosWorker(c, "chaos-lost-worker-b")
	for _, w := range []*chaosWorker{a, b} {
		if err := w.register(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bctx, stopB := context.WithCancel(ctx)
	defer stopB()
	go b.heartbeatEvery(bctx, 500*time.Millisecond)

	id, err := c.execute(ctx, chaosFanOutPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	notes := startChaosCollector(t, nc, s, "*."+idOf(id))

	start := waitIssued(t, ctx, c, id, "start", 1)[0]
	code, clA, err := a.claim(ctx, start.EventID)
	if err != nil || code != http.StatusOK {
		t.Fatalf("claim of start by A: %d %v", code, err)
	}
	claimedAt := time.Now()
	if got := clA.Attempt(); got != 1 {
		t.Errorf("A's claim carries meta.attempt %d, want 1", got)
	}
	if code, _, err := b.claim(ctx, start.EventID); err != nil || code != http.StatusConflict {
		t.Errorf("claim of start by B while A holds it answered %d (%v), want 409", code, err)
	}

	// A is now silent. Wait until the command is claimable again: requeued in the log
	// and published a second time.
	var requeued *scripted.Event
	if !eventually(30*time.Second, func() bool {
		log, err := c.log(ctx, id)
		if err != nil {
			return false
		}
		for _, ev := range log {
			if ev.EventType == "command.requeued" && ev.NodeName == "start" {
				requeued = &ev
			}
		}
		return requeued != nil && notes.deliveries(start.EventID) >= 2
	}) {
		log, _ := c.log(ctx, id)
		t.Fatalf("start was not requeued and republished within 30s of A going silent (notifications of it: %d)\n%s",
			notes.deliveries(start.EventID), describeLog(log))
	}
	after := time.Since(claimedAt)
	t.Logf("requeued and republished %s after A's claim", after.Round(time.Millisecond))
	if after < 1500*time.Millisecond {
		t.Errorf("start requeued %s after A's claim, before the 2s offline threshold", after)
	}
	if v, _ := scripted.Path(requeued.Meta, "attempt"); scripted.IDString(v) != "2" {
		t.Errorf("command.requeued meta.attempt = %v, want 2 (meta %v)", v, requeued.Meta)
	}
	if v, _ := scripted.Path(requeued.Meta, "previous_worker"); v != a.id {
		t.Errorf("command.requeued meta.previous_worker = %v, want %s", v, a.id)
	}

	code, clB, err := b.claim(ctx, start.EventID)
	if err != nil || code != http.StatusOK {
		t.Fatalf("claim of the requeued start by B: %d %v", code, err)
	}
	if got := clB.Attempt(); got != 2 {
		t.Errorf("B's claim carries meta.attempt %d, want 2 (answer %v)", got, clB.Body)
	}
	if code, _, err := a.claim(ctx, start.EventID); err != nil || code != http.StatusConflict {
		t.Errorf("claim of start by A after the requeue and B's claim answered %d (%v), want 409", code, err)
	}

	// A wakes up and reports the command it lost while B holds it: nothing may follow
	// from it (no branch issued on A's word).
	lateCode, lateBody, err := a.post(ctx, a.completed(id, clA, randomEventID()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("A's late command.completed while B holds start answered %d %s", lateCode, clip(string(lateBody), 200))
	if lateCode >= 500 {
		t.Errorf("A's late command.completed answered %d %s", lateCode, lateBody)
	}
	log, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(chaosIssued(log, "left")) + len(chaosIssued(log, "right")); n != 0 {
		t.Errorf("A's late command.completed for start, posted after the server requeued start, refused A's claim (409) and "+
			"gave it to B (attempt 2), was accepted and advanced the run: %d branch commands issued on the word of the lost worker "+
			"while B still holds the command\n%s", n, describeLog(log))
	}

	// B finishes start and drives the rest.
	for _, body := range []map[string]any{b.started(id, clB), b.done(id, clB, map[string]any{"by": "b"}), b.completed(id, clB, 0)} {
		code, out, err := b.post(ctx, body)
		if err := expect2xx(fmt.Sprintf("B's %s of start", body["event_type"]), code, out, err); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chaosDrive(ctx, b, id); err != nil {
		t.Fatal(err)
	}
	if st, err := chaosStatus(ctx, c, id); err != nil || st != "COMPLETED" {
		t.Fatalf("status %q (%v), want COMPLETED", st, err)
	}

	// A's late completion after the end changes nothing.
	if code, out, err := a.post(ctx, a.completed(id, clA, randomEventID())); err != nil || code >= 500 {
		t.Errorf("A's late command.completed after the end: %d %s %v", code, out, err)
	}
	final, err := c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := chaosStatus(ctx, c, id); err != nil || st != "COMPLETED" {
		t.Errorf("status after A's late event %q (%v), want COMPLETED", st, err)
	}
	for _, step := range []string{"start", "left", "right", "join", "end"} {
		if n := len(chaosIssued(final, step)); n != 1 {
			t.Errorf("%s has %d command.issued, want 1", step, n)
		}
	}
	if n := chaosCount(final, "step.enter", "join"); n != 1 {
		t.Errorf("join entered %d times, want 1", n)
	}
	if n := len(indexLog(final).runTerminals); n != 1 {
		t.Errorf("%d terminal events, want 1", n)
	}
	// The claims of start in the log: A with attempt 1, then B with attempt 2.
	var claims []string
	for _, ev := range final {
		if ev.EventType == scripted.TypeCommandClaimed && ev.NodeName == "start" {
			w, _ := scripted.Path(ev.Meta, "worker_id")
			at, _ := scripted.Path(ev.Meta, "attempt")
			claims = append(claims, fmt.Sprintf("%v@%s", w, scripted.IDString(at)))
		}
	}
	if want := []string{a.id + "@1", b.id + "@2"}; fmt.Sprint(claims) != fmt.Sprint(want) {
		t.Errorf("command.claimed of start: %v, want %v", claims, want)
	}
	if t.Failed() {
		t.Logf("event log:\n%s", describeLog(final))
	}
	chaosReportLogIssues(t, chaosScanLogs(s, chaosAllProcs(s), nil))
}

// TestChaosNATSOutage: "NATS stopped while executions run: no request fails because of
// it, commands pile up in the outbox, and every one is published after NATS restarts; a
// worker that then claims them finishes the executions."
//
// The suite publishes to an embedded JetStream server of its own. With it stopped, 20
// executions start and half of them have their first command finished over HTTP (which
// issues the next command into the outbox), with informative events besides: every
// request answers 2xx, the api reports NATS not ready, and the outbox holds exactly the
// commands issued (pending-count and noetl_outbox_depth). After the restart the outbox
// drains, a JetStream consumer sees every command, and workers that find their commands
// only through JetStream finish every execution.
func TestChaosNATSOutage(t *testing.T) {
	n := testkit.StartNATS(t)
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{"NATS_URL": n.URL()}})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.register(ctx, chaosLinearPlaybook); err != nil {
		t.Fatal(err)
	}

	n.Stop()
	if !eventually(20*time.Second, func() bool {
		code, checks := chaosReadyz(s.Client, s.APIURL)
		return code == http.StatusServiceUnavailable && checks["nats"] != "" && checks["nats"] != "ok" && checks["postgres"] == "ok"
	}) {
		code, checks := chaosReadyz(s.Client, s.APIURL)
		t.Fatalf("api /readyz with NATS stopped: %d %v, want 503 with nats not ok and postgres ok", code, checks)
	}
	if code, _ := chaosReadyz(s.Client, s.URL); code != http.StatusServiceUnavailable {
		t.Errorf("router /readyz with NATS stopped: %d, want 503", code)
	}

	// The outage: every request must still succeed.
	const execs = 20
	var requests, failed atomic.Int64
	var failMu sync.Mutex
	var failures []string
	note := func(err error) {
		requests.Add(1)
		if err != nil {
			failed.Add(1)
			failMu.Lock()
			failures = append(failures, err.Error())
			failMu.Unlock()
		}
	}
	ids := make([]int64, execs)
	driver := newChaosWorker(c, "chaos-outage-driver")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			id, err := c.execute(ctx, chaosLinearPath, map[string]any{"i": int64(i)})
			note(err)
			if err != nil {
				return
			}
			ids[i] = id
			for k := 0; k < 3; k++ {
				code, out, err := driver.post(ctx, driver.event(id, "start", "worker.progress", "", map[string]any{"k": int64(k)}, randomEventID()))
				note(expect2xx("informative event", code, out, err))
			}
			if i%2 == 1 {
				return
			}
			log, err := c.log(ctx, id)
			note(err)
			if err != nil {
				return
			}
			starts := chaosIssued(log, "start")
			if len(starts) != 1 {
				note(fmt.Errorf("execution %d: %d command.issued of start", id, len(starts)))
				return
			}
			ok, err := driver.finish(ctx, id, starts[0].EventID)
			if err == nil && !ok {
				err = fmt.Errorf("execution %d: start not claimable during the outage", id)
			}
			note(err)
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed while NATS was down:\n%s", failed.Load(), requests.Load(), clip(fmt.Sprint(failures), 2000))
	}
	var issued []string // every command issued so far
	for _, id := range ids {
		if id == 0 {
			t.Fatal("an execution did not start during the outage")
		}
		log, err := c.log(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range log {
			if ev.EventType == scripted.TypeCommandIssued {
				issued = append(issued, ev.EventID)
			}
		}
	}
	if len(issued) != execs+execs/2 {
		t.Errorf("%d commands issued during the outage, want %d (a start per execution, work for half)", len(issued), execs+execs/2)
	}
	// Failed publishes back off for a second; after that every row is due and waits.
	want := int64(len(issued))
	if !eventually(20*time.Second, func() bool {
		return chaosPendingCount(s) == want && chaosMetric(s.Client, s.APIURL, "noetl_outbox_depth") == float64(want)
	}) {
		t.Errorf("during the outage: outbox pending-count %d, noetl_outbox_depth %v; want both %d",
			chaosPendingCount(s), chaosMetric(s.Client, s.APIURL, "noetl_outbox_depth"), want)
	}
	t.Logf("outage: %d requests answered 2xx, %d commands waiting in the outbox", requests.Load(), want)

	restarted := time.Now()
	n.Restart()
	if !eventually(30*time.Second, func() bool {
		return chaosPendingCount(s) == 0 && chaosMetric(s.Client, s.APIURL, "noetl_outbox_depth") == 0
	}) {
		t.Fatalf("outbox not drained 30s after NATS came back: pending-count %d, noetl_outbox_depth %v",
			chaosPendingCount(s), chaosMetric(s.Client, s.APIURL, "noetl_outbox_depth"))
	}
	t.Logf("outbox drained %s after NATS restarted", time.Since(restarted).Round(time.Millisecond))
	if code, checks := chaosReadyz(s.Client, s.APIURL); code != http.StatusOK {
		t.Errorf("api /readyz after NATS came back: %d %v", code, checks)
	}
	// The operator can see the outage in the api's log: the drop and the return.
	// (nats.go runs its connection callbacks on their own goroutine: wait for the line.)
	for _, line := range []string{`"msg":"nats disconnected"`, `"msg":"nats reconnected"`} {
		if !eventually(10*time.Second, func() bool { return strings.Contains(s.API.Output(), line) }) {
			t.Errorf("api log lacks %s", line)
		}
	}

	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	seen := startChaosCollector(t, nc, s, ">")
	if !eventually(20*time.Second, func() bool { return len(seen.missing(issued)) == 0 }) {
		t.Fatalf("%d of the %d commands issued during the outage never reached JetStream: %v",
			len(seen.missing(issued)), len(issued), seen.missing(issued))
	}

	// Workers that see commands only through JetStream finish every execution.
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	workers := make([]*scripted.Worker, execs)
	errs := make([]error, execs)
	for i, id := range ids {
		workers[i] = scripted.New(scripted.Config{BaseURL: s.URL, NATS: nc, SubjectPrefix: s.Commands.Prefix, Discovery: scripted.DiscoverNATS,
			PollInterval: 250 * time.Millisecond, HeartbeatInterval: time.Second, Logf: t.Logf})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = workers[i].Serve(wctx, id)
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			t.Errorf("worker of execution %d: %v", id, errs[i])
		}
		st, err := chaosStatus(ctx, c, id)
		if err != nil || st != "COMPLETED" {
			t.Errorf("execution %d: status %q (%v), want COMPLETED", id, st, err)
		}
		log, err := c.log(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, ev := range log {
			if ev.EventType == scripted.TypeCommandIssued {
				all = append(all, ev.EventID)
			}
		}
		if len(all) != 3 {
			t.Errorf("execution %d: %d commands issued, want 3\n%s", id, len(all), describeLog(log))
		}
		if m := seen.missing(all); len(m) > 0 {
			t.Errorf("execution %d: commands %v were never published to JetStream", id, m)
		}
		claimed := 0
		for _, h := range workers[i].Handled() {
			if h.Claimed {
				claimed++
			}
			if h.Via != "nats" {
				t.Errorf("execution %d: command %s found via %q, want nats", id, h.EventID, h.Via)
			}
		}
		if want := 3 - (1 - i%2); claimed != want {
			t.Errorf("execution %d: the JetStream worker claimed %d commands, want %d", id, claimed, want)
		}
	}
	chaosReportLogIssues(t, chaosScanLogs(s, chaosAllProcs(s), nil))
}

// TestChaosAPIKilled: "The api process killed with SIGKILL under a stream of events:
// every event that got a 2xx is in the database afterwards."
//
// Sixteen goroutines post events with explicit event ids, each for an execution of its
// own: mostly informative ones, and every fourth request a step of finishing that
// execution's next command (claim, command.started, call.done, command.completed; a
// failed step is retried with the same event id). The api is killed with SIGKILL
// mid-stream and started again with the same environment. Afterwards every
// acknowledged event is in PostgreSQL exactly once, the restarted api serves the
// stream again, and every execution can be driven to completion.
func TestChaosAPIKilled(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const steps = 10
	if err := c.register(ctx, chaosChainPlaybook(steps)); err != nil {
		t.Fatal(err)
	}
	const streams = 16
	ids := make([]int64, streams)
	for i := range ids {
		id, err := c.execute(ctx, chaosChainPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}

	// phase: 0 before the kill, 1 from the kill until the restarted api is ready, 2 after.
	var phase atomic.Int32
	var mu sync.Mutex
	acked := map[int64]string{} // event id -> event type, for every 2xx
	var ackedIn [3]int
	var failedIn [3]int
	record := func(eventID int64, typ string, ok bool, p int32) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			acked[eventID] = typ
			ackedIn[p]++
		} else {
			failedIn[p]++
		}
	}
	counts := func() ([3]int, [3]int) {
		mu.Lock()
		defer mu.Unlock()
		return ackedIn, failedIn
	}
	stop := make(chan struct{})
	workers := make([]*chaosWorker, streams)
	streamErrs := make([]error, streams)
	var wg sync.WaitGroup
	for g := range ids {
		workers[g] = newChaosWorker(c, fmt.Sprintf("chaos-kill-worker-%d", g))
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamErrs[g] = chaosEventStream(ctx, workers[g], ids[g], stop, &phase, record)
		}()
	}

	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		if !eventually(timeout, cond) {
			a, f := counts()
			close(stop)
			wg.Wait()
			t.Fatalf("%s within %s (acknowledged per phase %v, failed per phase %v)", what, timeout, a, f)
		}
	}
	waitFor("200 events acknowledged before the kill", 60*time.Second, func() bool { a, _ := counts(); return a[0] >= 200 })
	phase.Store(1)
	killed := s.API
	chaosKill(t, killed)
	killedAt := time.Now()
	waitFor("requests failing while the api is down", 30*time.Second, func() bool { _, f := counts(); return f[1] >= streams })
	s.API = chaosRestart(t, killed)
	s.WaitReady(t, 30*time.Second)
	outage := time.Since(killedAt)
	phase.Store(2)
	waitFor("200 events acknowledged by the restarted api", 60*time.Second, func() bool { a, _ := counts(); return a[2] >= 200 })
	close(stop)
	wg.Wait()
	for g, err := range streamErrs {
		if err != nil {
			t.Errorf("stream %d (execution %d): %v", g, ids[g], err)
		}
	}
	a, f := counts()
	byType := map[string]int{}
	for _, typ := range acked {
		byType[typ]++
	}
	t.Logf("acknowledged %v and failed %v requests before the kill / during the %s outage / after the restart; acknowledged by type %v",
		a, f, outage.Round(time.Millisecond), byType)
	if byType[scripted.TypeCommandCompleted] == 0 {
		t.Errorf("no command.completed was acknowledged: the stream never exercised an orchestration pass")
	}

	// Every acknowledged event is stored, once, with its type.
	pool := testkit.OpenURL(t, testkit.DatabaseURL())
	rows, err := pool.Query(ctx, `SELECT event_id, event_type, count(*) OVER (PARTITION BY event_id) FROM `+
		pg.QuoteIdent(s.Schema)+`.event WHERE execution_id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]string{}
	dups := 0
	for rows.Next() {
		var id, n int64
		var typ string
		if err := rows.Scan(&id, &typ, &n); err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			dups++
		}
		stored[id] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var missing []string
	for id, typ := range acked {
		got, ok := stored[id]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%d (%s)", id, typ))
		case got != typ:
			t.Errorf("event %d acknowledged as %s is stored as %s", id, typ, got)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged events are not in the database: %s", len(missing), len(acked), clip(fmt.Sprint(missing), 1500))
	}
	if dups > 0 {
		t.Errorf("%d event rows share their event_id with another row", dups)
	}

	// The restarted api resumes: every execution, pending where the stream left it,
	// runs to completion. Each is driven by the worker that may hold its claims.
	var drive sync.WaitGroup
	driveErrs := make([]error, streams)
	for g, id := range ids {
		drive.Add(1)
		go func() {
			defer drive.Done()
			dctx, dcancel := context.WithTimeout(ctx, 90*time.Second)
			defer dcancel()
			_, driveErrs[g] = chaosDrive(dctx, workers[g], id)
		}()
	}
	drive.Wait()
	for g, id := range ids {
		if driveErrs[g] != nil {
			t.Errorf("execution %d: %v", id, driveErrs[g])
			continue
		}
		log, err := c.log(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := chaosStatus(ctx, c, id); err != nil || st != "COMPLETED" {
			t.Errorf("execution %d: status %q (%v), want COMPLETED", id, st, err)
		}
		ix := indexLog(log)
		for step, issued := range ix.issued {
			if len(issued) != 1 {
				t.Errorf("execution %d: %s issued %d times\n%s", id, step, len(issued), describeLog(log))
			}
		}
		if len(ix.issued) != steps+2 || len(ix.runTerminals) != 1 {
			t.Errorf("execution %d: %d steps issued and %d terminal events, want %d and 1\n%s", id, len(ix.issued), len(ix.runTerminals), steps+2, describeLog(log))
		}
	}

	// The router answered 503 while the api was down; nothing else may answer 5xx.
	chaosReportLogIssues(t, chaosScanLogs(s, append(chaosAllProcs(s), killed), func(proc string, status int, _ map[string]any) bool {
		return proc == "router" && (status == http.StatusServiceUnavailable || status == http.StatusBadGateway)
	}))
}

const chaosChainPath = "e2e/chaos/chain"

// chaosChainPlaybook: start → s1 → … → sN → end, all noop.
func chaosChainPlaybook(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: e2e_chaos_chain\n  path: " + chaosChainPath + "\nworkflow:\n")
	names := []string{"start"}
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("s%d", i))
	}
	names = append(names, "end")
	for i, name := range names {
		fmt.Fprintf(&b, "  - step: %s\n    tool:\n      kind: noop\n", name)
		if i+1 < len(names) {
			fmt.Fprintf(&b, "    next:\n      spec: {mode: exclusive}\n      arcs:\n        - step: %s\n", names[i+1])
		}
	}
	return b.String()
}

// chaosEventStream posts events for one execution until stop: informative events with
// fresh ids, and every fourth request the next step of finishing a command (at most four
// commands, so the execution is still pending at the end). A step that failed is
// retried with the same body (same event id) until it is acknowledged; after stop the
// command in progress is finished before returning.
func chaosEventStream(ctx context.Context, w *chaosWorker, id int64, stop <-chan struct{}, phase *atomic.Int32,
	record func(eventID int64, typ string, ok bool, phase int32)) error {
	var queue []map[string]any // remaining events of the command in progress
	finished := 0
	post := func(body map[string]any) bool {
		p := phase.Load()
		code, _, err := w.post(ctx, body)
		ok := err == nil && code/100 == 2
		eid, _ := body["event_id"].(int64)
		record(eid, body["event_type"].(string), ok, p)
		return ok
	}
	advance := func() {
		if len(queue) == 0 {
			if finished >= 4 {
				return
			}
			log, err := w.c.log(ctx, id)
			if err != nil {
				return
			}
			next := chaosUnfinished(log)
			if len(next) == 0 {
				return
			}
			// A claim is idempotent for the same worker, so a claim whose answer was
			// lost in the outage is simply repeated.
			code, cl, err := w.claim(ctx, next[0].EventID)
			if err != nil || code != http.StatusOK {
				return
			}
			started, done := w.started(id, cl), w.done(id, cl, map[string]any{"step": cl.Step})
			started["event_id"], done["event_id"] = randomEventID(), randomEventID()
			queue = []map[string]any{started, done, w.completed(id, cl, randomEventID())}
		}
		if post(queue[0]) {
			queue = queue[1:]
			if len(queue) == 0 {
				finished++
			}
		}
	}
	for i := 1; ; i++ {
		select {
		case <-stop:
			deadline := time.Now().Add(60 * time.Second)
			for len(queue) > 0 {
				if time.Now().After(deadline) {
					return fmt.Errorf("could not finish the command in progress after the stream stopped")
				}
				advance()
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if i%4 == 0 {
			advance()
		} else {
			post(w.event(id, "start", "worker.progress", "RUNNING", map[string]any{"i": int64(i)}, randomEventID()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
