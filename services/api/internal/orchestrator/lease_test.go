package orchestrator

import "context"
import "fmt"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus/testutil"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/shared/testkit"

// leaseFixture is an orchestrator with the default bounds and a live worker w1 (reports:
// its heartbeats list what it holds).
func leaseFixture(t *testing.T, reports bool) *fixture {
	t.Helper()
	f := newFixture(t)
	f.o.leases = Leases{Lease: testLease, EagerAck: testAck}
	f.liveWorker("w1", reports)
	return f
}

// age moves every command's times back by d. The lease checks compare the database's
// times with its now(), so a test ages the rows instead of waiting; the workers'
// heartbeats are not aged, so they stay live.
func (f *fixture) age(d time.Duration) {
	f.t.Helper()
	if _, err := f.s.Pool.Exec(context.Background(), `UPDATE command SET created_at = created_at - make_interval(secs => $1),
		claimed_at = claimed_at - make_interval(secs => $1), started_at = started_at - make_interval(secs => $1),
		updated_at = updated_at - make_interval(secs => $1)`, d.Seconds()); err != nil {
		f.t.Fatal(err)
	}
}

const (
	testLease = time.Minute
	testAck   = 30 * time.Second
)

// liveWorker registers a worker pool row that heart-beats now; reports says whether its
// heartbeat lists the commands it holds.
func (f *fixture) liveWorker(name string, reports bool) {
	f.t.Helper()
	f.liveWorkerEvery(name, reports, 0)
}

// liveWorkerEvery is liveWorker for a worker that registered with a heartbeat interval
// (0: none reported).
func (f *fixture) liveWorkerEvery(name string, reports bool, every time.Duration) {
	f.t.Helper()
	st := runtimes.NewStore(f.s.Pool)
	id, _ := f.gen.Next()
	ctx := context.Background()
	reg := runtimes.Registration{Name: name, Kind: "worker_pool", Status: "ready"}
	if every > 0 {
		secs := every.Seconds()
		reg.HeartbeatInterval = &secs
	}
	if _, err := st.Register(ctx, id, reg); err != nil {
		f.t.Fatal(err)
	}
	if err := st.HeartbeatReporting(ctx, "worker_pool", name, reports); err != nil {
		f.t.Fatal(err)
	}
}

// eagerCommand runs the first command of 01_linear as worker and returns the command
// eager dispatch handed it with the outcome.
func (f *fixture) eagerCommand(t *testing.T, worker string) (execID int64, cmd *eventlog.IssuedCommand) {
	t.Helper()
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	res, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := f.o.Claim(ctx, f.pending(res.ExecutionID)[0], worker)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.o.IngestEager(ctx, res.ExecutionID, f.outcome(cl.Issued, worker), Eager{WorkerID: worker, Capacity: 1})
	if err != nil || len(out.Claimed) != 1 {
		t.Fatalf("eager dispatch: %+v %v", out, err)
	}
	return res.ExecutionID, out.Claimed[0]
}

func (f *fixture) commandState(eventID int64) string {
	f.t.Helper()
	return testkit.QueryOne[string](f.t, f.s, `SELECT status || '/' || coalesce(worker_id, '-') || '/' || attempt
		FROM command WHERE event_id = $1`, eventID)
}

// sweep runs both recoveries the runtime sweep runs, with the api's default offline
// threshold: every worker in these tests heart-beats, so lost-worker recovery must
// leave their commands alone.
func (f *fixture) sweep() {
	f.t.Helper()
	ctx := context.Background()
	if err := f.o.RecoverLostCommands(ctx, time.Minute, runtimes.WatchedForever); err != nil {
		f.t.Fatal(err)
	}
	if err := f.o.RecoverLapsedClaims(ctx, time.Minute, runtimes.WatchedForever); err != nil {
		f.t.Fatal(err)
	}
}

// requeuedReason is the reason of the last command.requeued of a command.
func (f *fixture) requeuedReason(eventID int64) string {
	f.t.Helper()
	return testkit.QueryOne[string](f.t, f.s, `SELECT coalesce(max(meta->>'reason'), '') FROM event
		WHERE parent_event_id = $1 AND event_type = 'command.requeued'`, eventID)
}

// A command eagerly dispatched to a live worker that never shows it received it (no
// event, no heartbeat listing it) is handed back after the ack deadline, even though
// the worker keeps heart-beating: made claimable again, published, attempt 2.
func TestLeaseEagerClaimNeverAcknowledged(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, false)
	_, cmd := f.eagerCommand(t, "w1")

	f.sweep()
	if got := f.commandState(cmd.EventID); got != "CLAIMED/w1/1" {
		t.Fatalf("within the ack deadline: %s", got)
	}
	f.age(testAck + time.Second)
	f.sweep()
	if got := f.commandState(cmd.EventID); got != "PENDING/-/2" {
		t.Fatalf("past the ack deadline: %s", got)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM outbox WHERE event_id = $1`, cmd.EventID); n != 1 {
		t.Fatalf("the handed-back command has %d outbox rows", n)
	}
	if r := f.requeuedReason(cmd.EventID); !strings.Contains(r, "worker w1 never acknowledged the eagerly dispatched command within 30s") ||
		!strings.Contains(r, "attempt 2 of 3") {
		t.Fatalf("requeued reason = %q", r)
	}
	if n := testutil.ToFloat64(f.o.m.lapsed.WithLabelValues("ack")); n != 1 {
		t.Fatalf("noetl_command_claims_lapsed_total{reason=ack} = %v", n)
	}
	again, err := f.o.Claim(context.Background(), cmd.EventID, "w2")
	if err != nil || again.Attempt != 2 {
		t.Fatalf("claim after hand-back: %+v %v", again, err)
	}
}

// What a worker that heart-beats without listing its commands (an upstream worker)
// holds is never taken back while it heart-beats, once it showed a sign of life on the
// command: its claims are not leases. A heartbeat listing the command counts as that
// sign for an eager claim.
func TestLeaseNotReportingWorkerKeepsItsClaims(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, false)
	_, cmd := f.eagerCommand(t, "w1")
	if _, err := eventlog.RenewLeases(context.Background(), f.s.Pool, "w1", []int64{cmd.EventID}); err != nil {
		t.Fatal(err)
	}
	f.age(10 * testLease)
	f.sweep()
	if got := f.commandState(cmd.EventID); got != "CLAIMED/w1/1" {
		t.Fatalf("a non-reporting worker's acknowledged claim: %s", got)
	}
}

// A worker that lists what it holds renews its claims with every heartbeat; a claimed
// command it stops listing (a bug, a hung hand-off) lapses after the lease and is
// handed back, while the command it keeps listing stays its own.
func TestLeaseLapsesWhenTheWorkerStopsListingTheCommand(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, true)
	ctx := context.Background()
	// Two executions, one command each, claimed the ordinary way.
	kept, _ := f.claimFirst(t, "01_linear.yaml")
	dropped, _ := f.claimFirst(t, "01_linear.yaml")
	keptID := testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, kept)
	droppedID := testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, dropped)

	for i := 0; i < 3; i++ {
		f.age(testLease / 2)
		// A heartbeat listing only the first command.
		if _, err := eventlog.NewLeases(f.s.Pool).RenewLeases(ctx, "w1", []int64{keptID}); err != nil {
			t.Fatal(err)
		}
		f.sweep()
		if got := f.commandState(keptID); got != "CLAIMED/w1/1" {
			t.Fatalf("round %d: the listed command: %s", i, got)
		}
		if i == 0 {
			if got := f.commandState(droppedID); got != "CLAIMED/w1/1" {
				t.Fatalf("within the lease: the unlisted command: %s", got)
			}
		}
	}
	if got := f.commandState(droppedID); got != "PENDING/-/2" {
		t.Fatalf("past the lease: the unlisted command: %s", got)
	}
	if r := f.requeuedReason(droppedID); !strings.Contains(r, "worker w1 neither listed the claimed command in a heartbeat nor posted an event for it within the 1m0s lease") {
		t.Fatalf("requeued reason = %q", r)
	}
	if n := testutil.ToFloat64(f.o.m.lapsed.WithLabelValues("lease")); n != 1 {
		t.Fatalf("noetl_command_claims_lapsed_total{reason=lease} = %v", n)
	}
}

// A claim that lapses on every attempt fails its command at the last one, which fails
// the step and the execution, as for a lost worker.
func TestLeaseLapsedOutOfAttemptsFailsTheStep(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, true)
	execID, _ := f.claimFirst(t, "01_linear.yaml")
	eventID := testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, execID)
	for attempt := 1; attempt <= 3; attempt++ {
		if attempt > 1 {
			if _, err := f.o.Claim(context.Background(), eventID, "w1"); err != nil {
				t.Fatalf("claim attempt %d: %v", attempt, err)
			}
		}
		f.age(testLease + time.Second)
		f.sweep()
	}
	if got := testkit.QueryOne[string](t, f.s, `SELECT status FROM command WHERE event_id = $1`, eventID); got != "FAILED" {
		t.Fatalf("command after its last lapse: %s", got)
	}
	if got := f.status(execID); got != "FAILED" {
		t.Fatalf("execution after its command's last lapse: %s", got)
	}
}

// A renewal that lands between the sweep's scan and its row lock keeps the claim.
func TestLeaseRenewedAfterTheScanIsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.liveWorker("w1", true)
	_, cmd := f.eagerCommand(t, "w1")
	seen := testkit.QueryOne[time.Time](t, f.s, `SELECT updated_at FROM command WHERE event_id = $1`, cmd.EventID)
	if _, err := f.s.Pool.Exec(context.Background(), `UPDATE command SET updated_at = updated_at + interval '1 second'
		WHERE event_id = $1`, cmd.EventID); err != nil {
		t.Fatal(err)
	}
	lc := eventlog.LostCommand{ExecutionID: cmd.ExecutionID, EventID: cmd.EventID, Key: cmd.Meta["command_id"].(string), WorkerID: "w1"}
	done, err := f.o.recoverOne(context.Background(), lc, "worker w1 lapsed", seen)
	if err != nil || done {
		t.Fatalf("recovery of a claim renewed since the scan: done %v, %v", done, err)
	}
	if got := f.commandState(cmd.EventID); got != "CLAIMED/w1/1" {
		t.Fatalf("a claim renewed since the scan: %s", got)
	}
}

// The lease bounds are compared with the database's clock, which stamped the claim: an
// api replica whose clock runs an hour ahead (or behind) of the database's neither
// hands back a fresh claim nor keeps a lapsed one.
func TestLeaseCheckReadsTheDatabaseClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixtureAt(t, func() time.Time { return time.Now().Add(skew) })
			f.o.leases = Leases{Lease: testLease, EagerAck: testAck}
			f.liveWorker("w1", true)
			_, eager := f.eagerCommand(t, "w1")

			f.sweep()
			if got := f.commandState(eager.EventID); got != "CLAIMED/w1/1" {
				t.Fatalf("a fresh eager claim on an api clock %s off: %s", skew, got)
			}
			f.age(testAck + time.Second)
			f.sweep()
			if got := f.commandState(eager.EventID); got != "PENDING/-/2" {
				t.Fatalf("an eager claim past the ack deadline on an api clock %s off: %s", skew, got)
			}
		})
	}
}

// A renewal stamps the claim with the database's now(), the clock the claim and the
// lapse check read, not the api's.
func TestLeaseRenewalIsStampedByTheDatabase(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, true)
	_, cmd := f.eagerCommand(t, "w1")
	f.age(testLease - time.Second)
	before := testkit.QueryOne[time.Time](t, f.s, `SELECT now()`)
	if _, err := eventlog.NewLeases(f.s.Pool).RenewLeases(context.Background(), "w1", []int64{cmd.EventID}); err != nil {
		t.Fatal(err)
	}
	after := testkit.QueryOne[time.Time](t, f.s, `SELECT now()`)
	for _, col := range []string{"updated_at", "started_at"} {
		got := testkit.QueryOne[time.Time](t, f.s, `SELECT `+col+` FROM command WHERE event_id = $1`, cmd.EventID)
		if got.Before(before) || got.After(after) {
			t.Errorf("%s = %v, want the database's time of the renewal (between %v and %v)", col, got, before, after)
		}
	}
	f.age(testLease - time.Second)
	f.sweep()
	if got := f.commandState(cmd.EventID); got != "CLAIMED/w1/1" {
		t.Fatalf("a claim renewed within the lease: %s", got)
	}
}

// A worker's heartbeats acknowledge its eager claims and renew its leases, so a worker
// that registered with a heartbeat interval gets the longer of each configured bound and
// a number of its intervals: two for the ack deadline of an eager claim it has not
// acknowledged (a worker that does not list what it holds), three for the lease of a
// claim it stopped listing (one that does). A worker that reported none, or a short
// one, keeps the configured bounds.
func TestLeaseBoundsWaitForTheWorkersHeartbeat(t *testing.T) {
	t.Parallel()
	const ack, lease = "never acknowledged the eagerly dispatched command within %s", "within the %s lease"
	for _, tc := range []struct {
		name    string
		reports bool
		every   time.Duration
		bound   time.Duration
		reason  string
	}{
		{"ack/no interval reported", false, 0, testAck, ack},
		{"ack/an interval shorter than half the deadline", false, 10 * time.Second, testAck, ack},
		{"ack/a 60s interval", false, time.Minute, 2 * time.Minute, ack},
		{"lease/no interval reported", true, 0, testLease, lease},
		{"lease/a 15s interval", true, 15 * time.Second, testLease, lease},
		{"lease/a 60s interval", true, time.Minute, 3 * time.Minute, lease},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.o.leases = Leases{Lease: testLease, EagerAck: testAck}
			f.liveWorkerEvery("w1", tc.reports, tc.every)
			var eventID int64
			if tc.reports {
				execID, _ := f.claimFirst(t, "01_linear.yaml")
				eventID = testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, execID)
			} else {
				_, cmd := f.eagerCommand(t, "w1")
				eventID = cmd.EventID
			}

			f.age(tc.bound - time.Second)
			f.sweep()
			if got := f.commandState(eventID); got != "CLAIMED/w1/1" {
				t.Fatalf("a claim just within %s: %s", tc.bound, got)
			}
			f.age(2 * time.Second)
			f.sweep()
			if got := f.commandState(eventID); got != "PENDING/-/2" {
				t.Fatalf("a claim past %s: %s", tc.bound, got)
			}
			if r, want := f.requeuedReason(eventID), fmt.Sprintf(tc.reason, tc.bound); !strings.Contains(r, want) {
				t.Fatalf("requeued reason = %q, want it to contain %q", r, want)
			}
		})
	}
}

// The lease and the ack deadline are judged only once the api has watched for longer
// than them: after an outage, the heartbeats that renew a claim and acknowledge an
// eager one could not arrive, so a sweep right after the api (or its database) came
// back must not take the claims back.
func TestLeaseBoundsWaitForTheWatch(t *testing.T) {
	t.Parallel()
	f := leaseFixture(t, true)
	ctx := context.Background()
	_, eager := f.eagerCommand(t, "w1")
	leased, _ := f.claimFirst(t, "01_linear.yaml")
	leasedID := testkit.QueryOne[int64](t, f.s, `SELECT event_id FROM command WHERE execution_id = $1`, leased)
	f.age(10 * testLease)
	recover := func(watched time.Duration) {
		t.Helper()
		if err := f.o.RecoverLapsedClaims(ctx, time.Minute, watched); err != nil {
			t.Fatal(err)
		}
	}
	recover(testAck)
	if a, l := f.commandState(eager.EventID), f.commandState(leasedID); a != "CLAIMED/w1/1" || l != "CLAIMED/w1/1" {
		t.Fatalf("watched for the ack deadline only: eager %s, leased %s", a, l)
	}
	recover(testAck + time.Second)
	if a, l := f.commandState(eager.EventID), f.commandState(leasedID); a != "PENDING/-/2" || l != "CLAIMED/w1/1" {
		t.Fatalf("watched past the ack deadline: eager %s, leased %s", a, l)
	}
	recover(testLease + time.Second)
	if got := f.commandState(leasedID); got != "PENDING/-/2" {
		t.Fatalf("watched past the lease: leased %s", got)
	}
}
