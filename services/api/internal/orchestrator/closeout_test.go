package orchestrator

import "context"
import "errors"
import "fmt"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/shared/testkit"

// closed checks that an ended execution shows nothing in flight: its row and snapshot
// carry status, its step `start` is cancelled, and its one command row is CANCELLED
// with the terminal event as its latest event.
func (f *fixture) closed(t *testing.T, execID int64, status string, terminal int64) {
	t.Helper()
	var rowStatus, snapStatus, phase, cmdStatus string
	var latest int64
	if err := f.s.Pool.QueryRow(context.Background(), `SELECT e.status, e.state->>'status',
			e.state->'steps'->'start'->>'phase', c.status, coalesce(c.latest_event_id, 0)
		FROM execution e JOIN command c ON c.execution_id = e.execution_id WHERE e.execution_id = $1`, execID).
		Scan(&rowStatus, &snapStatus, &phase, &cmdStatus, &latest); err != nil {
		t.Fatal(err)
	}
	if rowStatus != status || snapStatus != status {
		t.Errorf("status: row %s, snapshot %s; want %s", rowStatus, snapStatus, status)
	}
	if phase != engine.PhaseCancelled {
		t.Errorf("step start is %s, want %s", phase, engine.PhaseCancelled)
	}
	if cmdStatus != eventlog.CmdCancelled || latest != terminal {
		t.Errorf("command row %s (latest event %d), want %s (latest event %d, the terminal one)",
			cmdStatus, latest, eventlog.CmdCancelled, terminal)
	}
}

// backdate makes a claimed command look abandoned to lost-command recovery (its worker
// never registered, and it saw no activity for an hour), without waiting.
func (f *fixture) backdate(execID int64) {
	f.t.Helper()
	if _, err := f.s.Pool.Exec(context.Background(), `UPDATE command SET updated_at = now() - interval '1 hour'
		WHERE execution_id = $1`, execID); err != nil {
		f.t.Fatal(err)
	}
}

// A terminal event another writer stored (the projector), folded by whatever
// transaction comes next, closes the command rows in that same transaction, as an end
// the engine writes does: no row is left PENDING or CLAIMED for the sweep.
func TestAnEndFromElsewhereClosesTheCommandRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	entry, pb := f.register(readCase(t, "01_linear.yaml"))
	refused := func(err error) error {
		var term *ErrTerminal
		if !errors.As(err, &term) || term.Status != engine.StatusFailed {
			return fmt.Errorf("want ErrTerminal FAILED, got %v", err)
		}
		return nil
	}
	cases := []struct {
		name    string
		claimed bool // the command is claimed by w1 before the end
		spell   string
		next    func(execID int64, cmd *eventlog.IssuedCommand) error
	}{
		{"an informative event posted after it", true, "playbook.failed", func(execID int64, cmd *eventlog.IssuedCommand) error {
			id, _ := f.gen.Next()
			_, err := f.o.Ingest(ctx, execID, []eventlog.Event{{Event: engine.Event{EventID: id,
				Type: engine.TypeCommandStarted, Step: cmd.Step, Status: "STARTED", WorkerID: "w1",
				Result: map[string]any{"status": "STARTED", "context": map[string]any{"command_id": cmd.Meta["command_id"]}}}}})
			return err
		}},
		// The outcome comes after the end in the log: the end cancelled the command
		// first, as the cancel route would have.
		{"a command outcome posted after it", true, "playbook.failed", func(execID int64, cmd *eventlog.IssuedCommand) error {
			_, err := f.o.Ingest(ctx, execID, f.outcome(cmd, "w1"))
			return err
		}},
		{"the cancel route", false, "playbook_failed", func(execID int64, _ *eventlog.IssuedCommand) error {
			return refused(f.o.Cancel(ctx, execID))
		}},
		{"the finalize route", true, "execution.failed", func(execID int64, _ *eventlog.IssuedCommand) error {
			return refused(f.o.Finalize(ctx, execID, engine.StatusCompleted, ""))
		}},
		{"lost-command recovery", true, "playbook.failed", func(execID int64, _ *eventlog.IssuedCommand) error {
			f.backdate(execID)
			return f.o.RecoverLostCommands(ctx, time.Minute, runtimes.WatchedForever)
		}},
	}
	// Not parallel: lost-command recovery looks at every execution of the schema.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := f.o.Start(ctx, StartRequest{Entry: entry, Playbook: pb})
			if err != nil {
				t.Fatal(err)
			}
			ev := f.pending(res.ExecutionID)[0]
			cmd, err := f.o.Command(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if c.claimed {
				if _, err := f.o.Claim(ctx, ev, "w1"); err != nil {
					t.Fatal(err)
				}
			}
			terminal := apitest.EndFromElsewhere(t, f.s, f.gen, res.ExecutionID, c.spell, engine.StatusFailed)
			if err := c.next(res.ExecutionID, cmd); err != nil {
				t.Fatal(err)
			}
			f.closed(t, res.ExecutionID, engine.StatusFailed, terminal)
		})
	}
}

// Lost-command recovery of an execution that had already ended (an older version left
// its command CLAIMED) cancels the command, as the end does, instead of failing it, and
// closes the step the snapshot still shows running.
func TestLostCommandOfAnEndedExecutionIsCancelled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	execID, _ := f.claimFirst(t, "01_linear.yaml")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	terminal := apitest.EndAsOlderVersion(t, f.s, f.gen, execID, engine.StatusCancelled, "playbook.cancelled", at)
	f.backdate(execID)

	if err := f.o.RecoverLostCommands(ctx, time.Minute, runtimes.WatchedForever); err != nil {
		t.Fatal(err)
	}
	f.closed(t, execID, engine.StatusCancelled, terminal)
	var reason string
	var parent int64
	if err := f.s.Pool.QueryRow(ctx, `SELECT meta->>'reason', parent_event_id FROM event
		WHERE execution_id = $1 AND event_type = 'step.cancelled'`, execID).Scan(&reason, &parent); err != nil {
		t.Fatal(err)
	}
	if parent != terminal || !strings.Contains(reason, "lost-command recovery") {
		t.Errorf("step.cancelled: parent %d, reason %q; want parent %d and a reason naming the recovery", parent, reason, terminal)
	}
	if n := testkit.QueryOne[int64](t, f.s, `SELECT count(*) FROM event WHERE execution_id = $1
		AND event_type IN ('command.failed', 'command.requeued')`, execID); n != 0 {
		t.Errorf("recovery wrote %d command.failed/requeued events for an ended execution", n)
	}
}
