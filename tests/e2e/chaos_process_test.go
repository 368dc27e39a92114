package e2e

import "context"
import "encoding/json"
import "fmt"
import "net"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"
import "time"

import "github.com/nats-io/nats.go"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/tests/e2e/scripted"

// The chaos tests in this file kill or cut off real processes (the api, PostgreSQL's
// connections) while real workers run a playbook, and check that nothing is lost: the
// execution ends, every command ends exactly once, the outbox drains and no command is
// left held.

const chaosSleepLoopPath = "e2e/chaos/sleep_loop"

// chaosSleepLoopPlaybook: start → a parallel loop of n shell iterations of secs seconds
// each (at most four at a time) → end, whose result counts the iterations.
func chaosSleepLoopPlaybook(n int, secs string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	return `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_chaos_sleep_loop
  path: ` + chaosSleepLoopPath + `
workload:
  items: [` + strings.Join(items, ", ") + `]
workflow:
  - step: start
    tool:
      kind: noop
    next:
      spec: {mode: exclusive}
      arcs:
        - step: fan
  - step: fan
    loop:
      in: "{{ workload.items }}"
      iterator: item
      spec:
        mode: parallel
        max_in_flight: 4
    tool:
      kind: shell
      command: "sleep ` + secs + ` && echo {{ iter.item }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        n: "{{ fan.results | length }}"
`
}

// chaosRunning counts commands claimed and not yet ended in a log.
func chaosRunning(log []scripted.Event) int {
	ix := indexLog(log)
	n := 0
	for _, ev := range log {
		if ev.EventType == scripted.TypeCommandClaimed {
			id, _ := scripted.Path(ev.Meta, "command_id")
			if len(ix.terminals[scripted.IDString(id)]) == 0 {
				n++
			}
		}
	}
	return n
}

// chaosCheckSettled checks what a finished execution leaves behind: every command
// issued ended exactly once, no command row is still open, and the outbox has no row
// waiting (it is given until the deadline of ctx to drain).
func chaosCheckSettled(ctx context.Context, t *testing.T, s *Suite, log []scripted.Event, id int64) {
	t.Helper()
	ix := indexLog(log)
	for step, issued := range ix.issued {
		for _, is := range issued {
			if n := len(ix.terminals[is.CommandID()]); n != 1 {
				t.Errorf("command %s of %s has %d terminal events, want exactly 1", is.CommandID(), step, n)
			}
		}
	}
	if n := len(ix.runTerminals); n != 1 {
		t.Errorf("%d terminal events of the execution, want 1", n)
	}
	pool := testkit.OpenURL(t, testkit.DatabaseURL())
	schema := pg.QuoteIdent(s.Schema)
	var open []string
	rows, err := pool.Query(ctx, `SELECT step_name || ':' || status FROM `+schema+`.command
		WHERE execution_id = $1 AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
	}
	rows.Close()
	if len(open) > 0 {
		t.Errorf("commands left open after the end: %v", open)
	}
	var waiting int64
	if !eventually(30*time.Second, func() bool {
		err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.outbox WHERE execution_id = $1 AND status <> 'PUBLISHED'`, id).Scan(&waiting)
		return err == nil && waiting == 0
	}) {
		t.Errorf("%d outbox rows of the execution never published", waiting)
	}
}

// TestChaosAPIKilledWhileWorkersHoldClaims: the api is killed with SIGKILL while real
// workers hold claimed commands of a parallel loop (their shell steps still running), and
// started again. The workers' reports wait out the outage, the loop completes, every
// iteration ends exactly once, and nothing is left open or unpublished.
func TestChaosAPIKilledWhileWorkersHoldClaims(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_RUNTIME_OFFLINE_SECONDS": "10",
	}})
	env := map[string]string{"WORKER_MAX_CONCURRENT": "4", "WORKER_HEARTBEAT_INTERVAL": "1s"}
	s.StartWorker(t, env)
	s.StartWorker(t, env)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 12
	id := startRun(ctx, t, c, chaosSleepLoopPlaybook(n, "2"), chaosSleepLoopPath, nil)
	waitLog(ctx, t, c, id, "iterations claimed and running", func(log []scripted.Event) bool {
		return chaosRunning(log) >= 2 && len(indexLog(log).issued["fan"]) >= 4
	})
	killed := s.API
	chaosKill(t, killed)
	// The shell steps (2 s) end while the api is down: their reports must wait it out.
	s.API = chaosRestart(t, killed)
	s.WaitReady(t, 30*time.Second)
	log := waitCompleted(ctx, t, c, id, chaosSleepLoopPath)
	if got := len(indexLog(log).issued["fan"]); got != n {
		t.Errorf("fan has %d commands, want %d", got, n)
	}
	if got := jsonText(mapGet(stepData(log, "end"), "n")); got != fmt.Sprint(n) {
		t.Errorf("end counted %s results, want %d", got, n)
	}
	chaosCheckSettled(ctx, t, s, log, id)
	if t.Failed() {
		t.Logf("event log:\n%s", describeLog(log))
	}
	chaosReportLogIssues(t, chaosScanLogs(s, append(chaosAllProcs(s), killed), func(proc string, status int, _ map[string]any) bool {
		return proc == "router" && (status == http.StatusServiceUnavailable || status == http.StatusBadGateway)
	}))
}

// TestChaosDatabaseConnectionsDropped: PostgreSQL ends every connection of the control
// plane's services (pg_terminate_backend, as a failover or an administrator does) again
// and again while real workers report the iterations of a parallel loop. The services
// reconnect, the workers' reports are retried until stored, and the execution completes
// with every iteration ended exactly once.
func TestChaosDatabaseConnectionsDropped(t *testing.T) {
	// Only this suite's connections carry this name: other tests' connections to the
	// same server are never touched.
	app := testkit.UniqueName("chaos_pgdrop_")
	dbURL := testkit.DatabaseURL()
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	s := StartSuite(t, SuiteOptions{DatabaseURL: dbURL + sep + "application_name=" + app})
	env := map[string]string{"WORKER_MAX_CONCURRENT": "4", "WORKER_HEARTBEAT_INTERVAL": "1s"}
	s.StartWorker(t, env)
	s.StartWorker(t, env)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := testkit.OpenURL(t, testkit.DatabaseURL())
	terminate := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()) t`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 16
	id := startRun(ctx, t, c, chaosSleepLoopPlaybook(n, "0.3"), chaosSleepLoopPath, nil)
	// Cut the connections each time another iteration has ended, until half have.
	total, cuts := 0, 0
	for ended := 0; ended < n/2; {
		log := waitLog(ctx, t, c, id, fmt.Sprintf("more than %d iterations ended", ended), func(log []scripted.Event) bool {
			return chaosEnded(log, "fan") > ended || len(indexLog(log).runTerminals) > 0
		})
		ended = chaosEnded(log, "fan")
		if len(indexLog(log).runTerminals) > 0 {
			break
		}
		total += terminate()
		cuts++
	}
	if total == 0 {
		t.Fatalf("no connection of the suite was found to terminate (application_name %s)", app)
	}
	t.Logf("terminated %d connections in %d cuts", total, cuts)
	log := waitCompleted(ctx, t, c, id, chaosSleepLoopPath)
	if got := len(indexLog(log).issued["fan"]); got != n {
		t.Errorf("fan has %d commands, want %d", got, n)
	}
	if got := jsonText(mapGet(stepData(log, "end"), "n")); got != fmt.Sprint(n) {
		t.Errorf("end counted %s results, want %d", got, n)
	}
	chaosCheckSettled(ctx, t, s, log, id)
	if t.Failed() {
		t.Logf("event log:\n%s", describeLog(log))
	}
}

// chaosEnded counts a step's commands that ended.
func chaosEnded(log []scripted.Event, step string) int {
	ix := indexLog(log)
	n := 0
	for _, is := range ix.issued[step] {
		if len(ix.terminals[is.CommandID()]) > 0 {
			n++
		}
	}
	return n
}

const chaosCredentialPath = "e2e/chaos/credential"

// chaosCredentialPlaybook calls base_url with a bearer token from the credential
// chaos_token.
const chaosCredentialPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: e2e_chaos_credential
  path: ` + chaosCredentialPath + `
workload:
  base_url: ""
workflow:
  - step: start
    tool:
      kind: http
      method: GET
      url: "{{ workload.base_url }}/whoami"
      auth: {type: bearer, credential: chaos_token}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: end
  - step: end
    tool:
      kind: noop
      result:
        who: "{{ start.data.who }}"
`

// chaosRequests counts the requests a process logged for paths under prefix that it
// answered with a status of at least min.
func chaosRequests(p *Proc, prefix string, min int) int {
	n := 0
	for _, line := range strings.Split(p.Output(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "http request" {
			continue
		}
		path, _ := m["path"].(string)
		st, _ := m["status"].(float64)
		if strings.HasPrefix(path, prefix) && int(st) >= min {
			n++
		}
	}
	return n
}

// TestChaosWalletDownWhileWorkerFetchesCredential: the wallet is killed (SIGKILL) and
// stays down while a real worker fetches the sealed credential of a step; it comes back
// only after the worker's fetch has failed several times (a wallet restart takes that
// long). The worker waits it out: the step runs with the credential and the execution
// completes, instead of failing on a restart of the wallet.
func TestChaosWalletDownWhileWorkerFetchesCredential(t *testing.T) {
	const token = "chaos-wallet-token-1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"who":"chaos"}`))
	}))
	defer srv.Close()
	s := StartSuite(t, SuiteOptions{})
	s.StartWorker(t, map[string]string{"NOETL_SEALED_CREDENTIALS": "true"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.createCredential(ctx, map[string]any{"name": "chaos_token", "type": "bearer",
		"data": map[string]any{"token": token}}); err != nil {
		t.Fatal(err)
	}
	if err := c.register(ctx, chaosCredentialPlaybook); err != nil {
		t.Fatal(err)
	}
	killed := s.Wallet
	chaosKill(t, killed)
	id, err := c.execute(ctx, chaosCredentialPath, map[string]any{"base_url": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// The wallet stays down until the worker has been refused four times, or the
	// execution has ended without it.
	const refusals = 4
	var ended bool
	if !eventually(90*time.Second, func() bool {
		if chaosRequests(s.Router, "/api/credentials/", 500) >= refusals {
			return true
		}
		st, err := chaosStatus(ctx, c, id)
		ended = err == nil && (st == "COMPLETED" || st == "FAILED" || st == "CANCELLED")
		return ended
	}) {
		t.Fatalf("the worker did not ask for the credential %d times within 90s while the wallet was down\n%s", refusals, tail(s.Router.Output(), 20))
	}
	s.Wallet = chaosRestart(t, killed)
	s.WaitAllReady(t, 30*time.Second)
	log := waitTerminal(ctx, t, c, id)
	if st, err := chaosStatus(ctx, c, id); err != nil || st != "COMPLETED" {
		t.Fatalf("status %q (%v) after a wallet restart during the credential fetch (ended before the restart: %v), want COMPLETED\n%s",
			st, err, ended, describeLog(log))
	}
	if got := jsonText(mapGet(stepData(log, "end"), "who")); got != `"chaos"` {
		t.Errorf("end saw who=%s, want \"chaos\"", got)
	}
	chaosCheckSettled(ctx, t, s, log, id)
	chaosReportLogIssues(t, chaosScanLogs(s, []*Proc{s.API, s.Wallet, s.Broker}, nil))
}

// TestChaosRouterRestartedUnderAWatch: the router is killed (SIGKILL) while `noetl
// status --watch` follows an execution and a real worker runs its loop through it; it
// stays down until the worker's reports have failed for seconds, then starts again on
// its port. The watch rides out the outage and exits 0 when the execution completes,
// and the worker's reports reach the api once the router is back.
func TestChaosRouterRestartedUnderAWatch(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	w := s.StartWorker(t, map[string]string{"WORKER_MAX_CONCURRENT": "4"})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 4
	id := startRun(ctx, t, c, chaosSleepLoopPlaybook(n, "3"), chaosSleepLoopPath, nil)
	watched := make(chan cliResult, 1)
	go func() {
		watched <- s.noetl(t, nil, "", "status", fmt.Sprint(id), "--watch", "--poll-interval", "100ms")
	}()
	waitLog(ctx, t, c, id, "iterations running", func(log []scripted.Event) bool { return chaosRunning(log) >= 2 })
	killed := s.Router
	chaosKill(t, killed)
	// Down until the worker has been failing to report for a while (its first warning
	// comes after four failed posts, about 4 s).
	if !eventually(60*time.Second, func() bool { return strings.Contains(w.Output(), "posting an event keeps failing") }) {
		t.Fatalf("the worker never failed to report while the router was down\n%s", tail(w.Output(), 20))
	}
	s.Router = chaosRestart(t, killed)
	s.WaitReady(t, 30*time.Second)
	var r cliResult
	select {
	case r = <-watched:
	case <-ctx.Done():
		t.Fatal("the watch did not end")
	}
	if r.Code != 0 || !strings.Contains(r.Out+r.Stderr, "COMPLETED") {
		t.Errorf("noetl status --watch across a router restart: exit %d, want 0 and COMPLETED\nstdout:\n%s\nstderr:\n%s", r.Code, clip(r.Out, 3000), r.Stderr)
	}
	log := waitCompleted(ctx, t, c, id, chaosSleepLoopPath)
	chaosCheckSettled(ctx, t, s, log, id)
	chaosReportLogIssues(t, chaosScanLogs(s, []*Proc{s.API, s.Wallet, s.Broker}, nil))
}

// TestChaosWorkerRestartedUnderItsName: a worker is killed (SIGKILL) in the middle of a
// 10-second python step and comes back at once under the same WORKER_ID (a restarted
// pod of a StatefulSet, a compose restart), so the pool never looks offline. The claim
// it held lapses with its lease, the command is claimed again, the step runs again to
// its end and the execution completes with the step ended exactly once.
func TestChaosWorkerRestartedUnderItsName(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{
		"NOETL_RUNTIME_SWEEP_INTERVAL": "1", "NOETL_COMMAND_LEASE_SECONDS": "5",
	}})
	env := map[string]string{"WORKER_ID": "chaos-restarted-worker", "WORKER_HEARTBEAT_INTERVAL": "1s"}
	w := s.StartWorker(t, env)
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := startRun(ctx, t, c, longPythonPlaybook, "e2e/worker/long_python", nil)
	waitLog(ctx, t, c, id, "the python step running", func(log []scripted.Event) bool { return runningBy(log, w.ID) == 1 })
	chaosKill(t, w.Proc)
	s.StartWorker(t, env)
	log := waitCompleted(ctx, t, c, id, "e2e/worker/long_python")
	if got := jsonText(mapGet(stepData(log, "after"), "slept")); got != "10" {
		t.Errorf("after saw slept=%s, want 10", got)
	}
	chaosCheckSettled(ctx, t, s, log, id)
	if t.Failed() {
		t.Logf("event log:\n%s", describeLog(log))
	}
}

// chaosGate is a TCP proxy that can stop passing bytes: a process behind it keeps its
// connection but nothing it sends arrives (a publish is never acknowledged).
type chaosGate struct {
	ln     net.Listener
	mu     sync.Mutex
	open   chan struct{} // closed while bytes pass
	target string
}

func startChaosGate(t *testing.T, target string) *chaosGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &chaosGate{ln: ln, open: make(chan struct{}), target: target}
	close(g.open)
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go g.pipe(out, in)
			go g.pipe(in, out)
		}
	}()
	t.Cleanup(func() { g.pass(); ln.Close() })
	return g
}

func (g *chaosGate) addr() string { return g.ln.Addr().String() }

// hold stops passing bytes; pass lets them through again.
func (g *chaosGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *chaosGate) pass() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *chaosGate) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.mu.Lock()
			open := g.open
			g.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestChaosReplicaKilledWhilePublishing: two api replicas share the database. The second
// one's pass issues a command and commits its outbox row, then the replica is killed
// (SIGKILL) while the publish of that row is still unacknowledged (its NATS connection
// passes nothing any more). The surviving replica takes the row over once its lock is
// stale, publishes it, and the execution runs to completion on the survivor.
func TestChaosReplicaKilledWhilePublishing(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gate := startChaosGate(t, strings.TrimPrefix(s.NATS, "nats://"))
	env := map[string]string{}
	for k, v := range s.apiEnv {
		env[k] = v
	}
	port := freePort(t)
	env["NOETL_PORT"], env["NOETL_SERVER_MACHINE_ID"], env["NATS_URL"] = fmt.Sprint(port), "21", "nats://"+gate.addr()
	api2 := start(t, "api", env)
	api2URL := strings.Replace(s.APIURL, fmt.Sprint(s.APIPort), fmt.Sprint(port), 1)
	if !eventually(30*time.Second, func() bool { code, _ := chaosReadyz(s.Client, api2URL); return code == http.StatusOK }) {
		t.Fatalf("second api not ready\n%s", tail(api2.Output(), 30))
	}
	if err := c.register(ctx, chaosLinearPlaybook); err != nil {
		t.Fatal(err)
	}
	id, err := c.execute(ctx, chaosLinearPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	notes := startChaosCollector(t, nc, s, "*."+idOf(id))

	// A worker reaches the second replica directly; start's completion is its pass.
	via2 := &rtClient{base: api2URL, http: s.Client, events: scripted.HTTPEvents{BaseURL: api2URL, Client: s.Client}}
	w := newChaosWorker(via2, "chaos-replica-worker")
	start := waitIssued(t, ctx, c, id, "start", 1)[0]
	code, cl, err := w.claim(ctx, start.EventID)
	if err != nil || code != http.StatusOK {
		t.Fatalf("claim of start on the second api: %d %v", code, err)
	}
	for _, body := range []map[string]any{w.started(id, cl), w.done(id, cl, map[string]any{"step": "start"})} {
		code, out, err := w.post(ctx, body)
		if err := expect2xx(fmt.Sprint(body["event_type"]), code, out, err); err != nil {
			t.Fatal(err)
		}
	}
	gate.hold()
	code, out, err := w.post(ctx, w.completed(id, cl, 0))
	if err := expect2xx("command.completed of start on the second api", code, out, err); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	chaosKill(t, api2)
	work := waitIssued(t, ctx, c, id, "work", 1)[0]
	pool := testkit.OpenURL(t, testkit.DatabaseURL())
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM `+pg.QuoteIdent(s.Schema)+`.outbox WHERE event_id = $1`, work.EventID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	t.Logf("the outbox row of work is %s when the second api is gone", status)
	if !eventually(60*time.Second, func() bool { return notes.deliveries(work.EventID) > 0 }) {
		t.Fatalf("the command the killed replica issued was never published by the survivor (outbox row %s at the kill)", status)
	}
	t.Logf("published by the survivor %s after the kill", time.Since(killed).Round(time.Millisecond))
	log, err := chaosDrive(ctx, newChaosWorker(c, "chaos-survivor-worker"), id)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := chaosStatus(ctx, c, id); err != nil || st != "COMPLETED" {
		t.Fatalf("status %q (%v), want COMPLETED\n%s", st, err, describeLog(log))
	}
	log, err = c.log(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	chaosCheckSettled(ctx, t, s, log, id)
}

// TestChaosNATSLosesItsStorage: NATS restarts without its storage (no persistent
// volume) while commands wait in the stream for a worker. The api republishes the
// commands issued before the stream that exists now, so a worker that starts afterwards
// hears of every one and each execution completes, instead of waiting for ever on a
// notification NATS no longer has.
func TestChaosNATSLosesItsStorage(t *testing.T) {
	n := testkit.StartNATS(t)
	s := StartSuite(t, SuiteOptions{Extra: map[string]string{"NATS_URL": n.URL()}})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Every start command is in the stream before NATS loses it.
	ids := startPublishedLinear(ctx, t, s, c, 5)
	n.RestartEmpty()
	completeWithAWorker(ctx, t, s, c, ids)
}

// TestChaosCommandStreamDeleted: the command stream is deleted while the api stays
// connected to NATS (an operator's mistake, a NATS that lost it) and commands wait in it
// for a worker; a worker that starts afterwards creates the stream again. The api
// notices the new stream without a reconnect and republishes the waiting commands, so
// every execution completes.
func TestChaosCommandStreamDeleted(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ids := startPublishedLinear(ctx, t, s, c, 3)
	nc, js := testkit.JetStream(t)
	defer nc.Close()
	if err := js.DeleteStream(ctx, s.Commands.Stream); err != nil {
		t.Fatal(err)
	}
	completeWithAWorker(ctx, t, s, c, ids)
}

// TestChaosCommandOutlivesStreamRetention: commands wait with no worker for longer than
// the command stream keeps messages (NOETL_NATS_STREAM_MAX_AGE, here 9 s; a day by
// default). JetStream drops their first notifications; the api announces each waiting
// command again every third of the retention, so a worker that starts afterwards still
// hears of them and every execution completes. Before, they waited for ever.
func TestChaosCommandOutlivesStreamRetention(t *testing.T) {
	s := StartSuite(t, SuiteOptions{APIExtra: map[string]string{"NOETL_NATS_STREAM_MAX_AGE": "9s"}})
	c := newRTClient(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ids := startPublishedLinear(ctx, t, s, c, 2)
	nc, js := testkit.JetStream(t)
	defer nc.Close()
	stream, err := js.Stream(ctx, s.Commands.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := stream.CachedInfo().Config.MaxAge; got != 9*time.Second {
		t.Fatalf("the stream keeps messages for %s, want the configured 9s", got)
	}
	firstAnnounced := stream.CachedInfo().State.LastSeq
	// Wait until JetStream has dropped the first notifications for their age.
	if !eventually(60*time.Second, func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.FirstSeq > firstAnnounced
	}) {
		t.Fatal("the stream never dropped the first notifications")
	}
	completeWithAWorker(ctx, t, s, c, ids)
}

// startPublishedLinear registers the linear chaos playbook, starts n executions of it and
// waits until every start command is published: the commands then wait in the stream
// for a worker none of these tests has started yet.
func startPublishedLinear(ctx context.Context, t *testing.T, s *Suite, c *rtClient, n int) []int64 {
	t.Helper()
	if err := c.register(ctx, chaosLinearPlaybook); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		id, err := c.execute(ctx, chaosLinearPath, map[string]any{"i": int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	pool := testkit.OpenURL(t, testkit.DatabaseURL())
	var published int
	if !eventually(30*time.Second, func() bool {
		err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pg.QuoteIdent(s.Schema)+`.outbox WHERE status = 'PUBLISHED'`).Scan(&published)
		return err == nil && published >= n
	}) {
		t.Fatalf("%d of %d start commands published", published, n)
	}
	return ids
}

// completeWithAWorker starts a worker and waits until each execution completed and
// settled: every command ended once, none is left open, the outbox drained.
func completeWithAWorker(ctx context.Context, t *testing.T, s *Suite, c *rtClient, ids []int64) {
	t.Helper()
	s.StartWorker(t, nil)
	for _, id := range ids {
		log := waitCompleted(ctx, t, c, id, chaosLinearPath)
		chaosCheckSettled(ctx, t, s, log, id)
	}
}
