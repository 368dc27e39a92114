package orchestrator

import "context"
import "testing"
import "time"

import "github.com/noetl/controlplane/shared/testkit"

// TestCancelCascadeOutlivesItsCaller: once the parent's cancel is committed, the
// cascade cancels every child even when the caller's context ends while it runs (a
// client that gives up); no child is left running for the sweep.
func TestCancelCascadeOutlivesItsCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	bg := context.Background()
	res, err := f.o.Start(bg, StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	parent := res.ExecutionID
	const children = 150
	for range children {
		if _, err := f.o.Start(bg, StartRequest{Entry: entry, Playbook: pb, ParentExecutionID: &parent}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	go func() { // the caller leaves as soon as the parent's cancel is committed
		for ctx.Err() == nil {
			var status string
			if err := f.s.Pool.QueryRow(bg, `SELECT status FROM execution WHERE execution_id = $1`, parent).Scan(&status); err == nil && status == "CANCELLED" {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := f.o.Cancel(ctx, parent); err != nil {
		t.Fatal(err)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM execution WHERE parent_execution_id = $1 AND status = 'RUNNING'`, parent); n != 0 {
		t.Fatalf("%d of %d children still running after the cascade", n, children)
	}
}
