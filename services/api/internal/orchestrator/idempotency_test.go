package orchestrator

import "context"
import "errors"
import "sync"
import "testing"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/testkit"

// A start with an idempotency key a sibling already holds answers that sibling and
// starts nothing; the key is scoped to the parent, and a key reused for another
// playbook is a conflict.
func TestStartWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	other, otherPB := f.register(readCase(t, "02_workload_override.yaml"))
	parentRes, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
	if err != nil {
		t.Fatal(err)
	}
	parent, otherParent := parentRes.ExecutionID, parentRes.ExecutionID+1
	start := func(parent *int64, key string) (StartResult, error) {
		return f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb, ParentExecutionID: parent, IdempotencyKey: key})
	}

	// Concurrent starts with one key: exactly one execution, every answer names it.
	const n = 6
	results := make([]StartResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = start(&parent, "cmd-1/#1") })
	}
	wg.Wait()
	started := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if results[i].ExecutionID != results[0].ExecutionID {
			t.Fatalf("answers name %d and %d", results[0].ExecutionID, results[i].ExecutionID)
		}
		if !results[i].Existing {
			started++
			if results[i].CommandsGenerated != 1 {
				t.Fatalf("the start that ran generated %d commands", results[i].CommandsGenerated)
			}
		} else if results[i].CommandsGenerated != 0 {
			t.Fatalf("a repeat generated %d commands", results[i].CommandsGenerated)
		}
	}
	child := results[0].ExecutionID
	if started != 1 {
		t.Fatalf("%d starts ran, want 1", started)
	}
	if got := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM execution WHERE parent_execution_id = $1`, parent); got != 1 {
		t.Fatalf("%d children, want 1", got)
	}

	// An ended child is still the key's: a repeat does not start another.
	if err := f.o.Cancel(ctx, child); err != nil {
		t.Fatal(err)
	}
	if r, err := start(&parent, "cmd-1/#1"); err != nil || r.ExecutionID != child || !r.Existing {
		t.Fatalf("repeat after the child ended: %+v %v", r, err)
	}

	for _, tc := range []struct {
		name   string
		parent *int64
		key    string
	}{
		{"another key of the same parent", &parent, "cmd-1/#2"},
		{"the same key under another parent", &otherParent, "cmd-1/#1"},
		{"the same key without a parent", nil, "cmd-1/#1"},
		{"no key", &parent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := start(tc.parent, tc.key)
			if err != nil || r.Existing || r.ExecutionID == child {
				t.Fatalf("got %+v %v, want a new execution", r, err)
			}
		})
	}

	t.Run("the key reused for another playbook", func(t *testing.T) {
		_, err := f.o.Start(ctx, StartRequest{Entry: other, Playbook: otherPB, ParentExecutionID: &parent, IdempotencyKey: "cmd-1/#1"})
		var he *httpx.Error
		if !errors.As(err, &he) || he.Status != 409 {
			t.Fatalf("err = %v, want a 409", err)
		}
	})
}
