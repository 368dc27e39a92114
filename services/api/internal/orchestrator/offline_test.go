package orchestrator

import "context"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/runtimes"

// A worker that registered a 60 s heartbeat interval and was last seen 90 s ago is
// between two beats: lost-worker recovery, with the default 60 s offline threshold,
// leaves its claimed command alone, as the threshold stretches to three of its
// intervals. A worker that reported no interval, silent as long, is lost and its
// command is handed back. Rows are aged in SQL; the check reads the database's now().
func TestLostWorkerRecoveryWaitsForASlowHeartbeat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	held := f.claimedBySilentWorkers(t, 90*time.Second)

	if err := f.o.RecoverLostCommands(ctx, time.Minute, runtimes.WatchedForever); err != nil {
		t.Fatal(err)
	}
	for worker, want := range map[string]string{"slow": "CLAIMED/slow/1", "plain": "PENDING/-/2"} {
		if got := f.commandState(held[worker]); got != want {
			t.Errorf("command held by %s: %s, want %s", worker, got, want)
		}
	}
}

// After a control-plane outage every worker looks silent and every claim stale: the
// sweeps of an api that has not yet watched for a worker's offline threshold (its
// start, or the database coming back) leave that worker's commands alone, so a
// command is not run twice for want of a heartbeat that could not arrive. Once the
// watch covers a worker's threshold (stretched to its reported interval), its commands
// are recovered as before.
func TestLostWorkerRecoveryWaitsForTheWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	held := f.claimedBySilentWorkers(t, 10*time.Minute)
	for _, step := range []struct {
		watched    time.Duration
		slow, plan string
	}{
		{0, "CLAIMED/slow/1", "CLAIMED/plain/1"},
		{time.Minute, "CLAIMED/slow/1", "CLAIMED/plain/1"},
		{61 * time.Second, "CLAIMED/slow/1", "PENDING/-/2"},
		{3 * time.Minute, "CLAIMED/slow/1", "PENDING/-/2"},
		{181 * time.Second, "PENDING/-/2", "PENDING/-/2"},
	} {
		if err := f.o.RecoverLostCommands(ctx, time.Minute, step.watched); err != nil {
			t.Fatal(err)
		}
		for worker, want := range map[string]string{"slow": step.slow, "plain": step.plan} {
			if got := f.commandState(held[worker]); got != want {
				t.Errorf("watched %v: command held by %s: %s, want %s", step.watched, worker, got, want)
			}
		}
	}
}

// claimedBySilentWorkers registers the workers "slow" (a 60 s heartbeat interval) and
// "plain" (none), has each claim the first command of an execution of its own, and ages
// the commands and the workers' heartbeats by silent. It returns the command each holds.
func (f *fixture) claimedBySilentWorkers(t *testing.T, silent time.Duration) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	f.liveWorkerEvery("slow", false, time.Minute)
	f.liveWorker("plain", false)
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	held := map[string]int64{}
	for _, worker := range []string{"slow", "plain"} {
		res, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
		if err != nil {
			t.Fatal(err)
		}
		ev := f.pending(res.ExecutionID)[0]
		if _, err := f.o.Claim(ctx, ev, worker); err != nil {
			t.Fatal(err)
		}
		held[worker] = ev
	}
	f.age(silent)
	if _, err := f.s.Pool.Exec(ctx, `UPDATE runtime SET heartbeat = now() - make_interval(secs => $1)
		WHERE kind = 'worker_pool'`, silent.Seconds()); err != nil {
		t.Fatal(err)
	}
	return held
}
