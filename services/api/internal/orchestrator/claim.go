package orchestrator

import "context"
import "errors"
import "fmt"
import "log/slog"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/outbox"
import "github.com/noetl/controlplane/shared/httpx"

// Claimed is the command a worker claimed.
type Claimed struct {
	Issued  *eventlog.IssuedCommand
	Attempt int
}

// Claim gives a command to a worker. It is refused (409) once the execution ended or
// was cancelled, when the command already finished, and when another worker holds it;
// the same worker claiming again gets the command again (an idempotent retry).
func (o *Orchestrator) Claim(ctx context.Context, eventID int64, workerID string) (*Claimed, error) {
	var out *Claimed
	err := o.tx(ctx, func(tx pgx.Tx) error {
		exec, cmd, err := eventlog.LockForClaim(ctx, tx, eventID)
		if err != nil {
			return err
		}
		switch exec.Status {
		case engine.StatusCancelled:
			return httpx.Conflict("Execution has been cancelled")
		case engine.StatusCompleted, engine.StatusFailed:
			return httpx.Conflict("Execution has already finished (%s)", exec.Status)
		}
		p := &pipeline{}
		switch cmd.Status {
		case eventlog.CmdCompleted, eventlog.CmdFailed, eventlog.CmdCancelled:
			return httpx.Conflict("Command already reached terminal state")
		case eventlog.CmdClaimed:
			if cmd.WorkerID != workerID {
				return httpx.Conflict("Command already claimed by %s", cmd.WorkerID)
			}
		default:
			p.exec(eventlog.ClaimCommandSQL, eventID, workerID)
			ev := eventlog.Event{Event: engine.Event{
				EventID: mustID(o.ids), Type: engine.TypeCommandClaimed, Step: cmd.Step, NodeID: cmd.Step,
				NodeType: cmd.ToolKind, Status: "RUNNING", WorkerID: workerID, ParentEventID: eventID,
				Result: map[string]any{"status": "RUNNING", "context": map[string]any{"command_id": cmd.Key, "worker_id": workerID}},
				Meta: map[string]any{"command_id": cmd.Key, "worker_id": workerID, "attempt": int64(cmd.Attempt),
					"actionable": false, "informative": true},
			}}
			if ev.EventID == 0 {
				return errors.New("could not mint an event id")
			}
			if err := queueLoose(p, exec, []eventlog.Event{ev}, o.clock.Now()); err != nil {
				return err
			}
		}
		var issued *eventlog.IssuedCommand
		p.b.Queue(eventlog.GetIssuedSQL, eventID)
		p.queued(func(br pgx.BatchResults) error {
			var err error
			issued, err = eventlog.ScanIssued(br.QueryRow())
			return err
		})
		if err := p.send(ctx, tx); err != nil {
			return err
		}
		issued.Meta["attempt"] = int64(cmd.Attempt)
		issued.Meta["max_attempts"] = int64(cmd.MaxAttempts)
		out = &Claimed{Issued: issued, Attempt: cmd.Attempt}
		return nil
	})
	if errors.Is(err, eventlog.ErrNoCommand) {
		return nil, apierr.NotFound(err, eventID)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Command returns a command.issued with the command's current attempt in its meta.
func (o *Orchestrator) Command(ctx context.Context, eventID int64) (*eventlog.IssuedCommand, error) {
	issued, err := eventlog.GetIssued(ctx, o.pool, eventID)
	if errors.Is(err, eventlog.ErrNoCommand) {
		return nil, apierr.NotFound(err, eventID)
	}
	if err != nil {
		return nil, err
	}
	if attempt, maxAttempts, err := eventlog.CommandAttempts(ctx, o.pool, eventID); err == nil {
		issued.Meta["attempt"] = attempt
		issued.Meta["max_attempts"] = maxAttempts
	}
	return issued, nil
}

func mustID(ids IDSource) int64 {
	id, err := ids.Next()
	if err != nil {
		return 0
	}
	return id
}

// RecoverLostCommands makes the commands of workers that stopped heart-beating
// claimable again (republishing them), up to each command's max_attempts; a command
// that ran out of attempts fails, which fails its step. A command of an execution that
// has ended is cancelled with the rest of what the execution left open. It runs after
// every runtime sweep; a silence longer than watched, how long the api has been able to
// receive heartbeats (runtimes.Lifecycle.Watched), is not judged yet.
func (o *Orchestrator) RecoverLostCommands(ctx context.Context, offlineAfter, watched time.Duration) error {
	lost, err := eventlog.LostCommands(ctx, o.pool, offlineAfter, watched, 200)
	if err != nil {
		return err
	}
	for _, lc := range lost {
		if _, err := o.recoverOne(ctx, lc, fmt.Sprintf("worker %s stopped heart-beating", lc.WorkerID), time.Time{}); err != nil {
			o.log.Warn("lost-command recovery failed", slog.Int64("execution_id", lc.ExecutionID),
				slog.String("command_id", lc.Key), slog.Any("error", err))
		}
	}
	return nil
}

// RecoverLapsedClaims hands back the claims of live workers that ran out (see
// Leases): each such command is made claimable again, or failed once out of attempts,
// exactly as a lost worker's. It runs after every runtime sweep; the bounds are
// compared with the database's clock, which stamps every claim and renewal, and one
// longer than watched (as RecoverLostCommands) is not judged yet.
func (o *Orchestrator) RecoverLapsedClaims(ctx context.Context, _, watched time.Duration) error {
	if o.leases.Lease <= 0 && o.leases.EagerAck <= 0 {
		return nil
	}
	lapsed, err := eventlog.LapsedClaims(ctx, o.pool, o.leases.Lease, o.leases.EagerAck, watched, 200)
	if err != nil {
		return err
	}
	for _, lc := range lapsed {
		why := fmt.Sprintf("worker %s neither listed the claimed command in a heartbeat nor posted an event for it within the %s lease",
			lc.WorkerID, lc.Bound)
		if lc.Reason == eventlog.LapseAck {
			why = fmt.Sprintf("worker %s never acknowledged the eagerly dispatched command within %s", lc.WorkerID, lc.Bound)
		}
		done, err := o.recoverOne(ctx, lc.LostCommand, why, lc.UpdatedAt)
		if err != nil {
			o.log.Warn("lapsed-claim recovery failed", slog.Int64("execution_id", lc.ExecutionID),
				slog.String("command_id", lc.Key), slog.Any("error", err))
			continue
		}
		if done {
			o.m.lapsed.WithLabelValues(lc.Reason).Inc()
		}
	}
	return nil
}

// recoverOne takes a command back from the worker lc names, for the reason why (the
// start of the requeued event's reason). A non-zero seen is the sign of life the scan
// saw: a command touched since (a renewal racing the sweep) is left alone. It reports
// whether it took the command back.
func (o *Orchestrator) recoverOne(ctx context.Context, lc eventlog.LostCommand, why string, seen time.Time) (bool, error) {
	var msgs []outbox.Message
	var issuedN int
	var done bool
	err := o.tx(ctx, func(tx pgx.Tx) error {
		done = false
		l, err := o.load(ctx, tx, lc.ExecutionID)
		if err != nil {
			return err
		}
		cmd, err := eventlog.LockCommand(ctx, tx, lc.EventID)
		if err != nil {
			return err
		}
		if cmd.Status != eventlog.CmdClaimed || cmd.WorkerID != lc.WorkerID || (!seen.IsZero() && !cmd.UpdatedAt.Equal(seen)) {
			return nil // it moved on since the scan
		}
		done = true
		if l.st.Terminal() {
			// The execution ended while the worker held the command: nothing will run
			// it, so it is closed as the end closes what is outstanding (CANCELLED, with
			// the steps still shown running), not failed.
			_, err := o.closeEnded(ctx, tx, l, "closed by lost-command recovery")
			return err
		}
		if cmd.Attempt < cmd.MaxAttempts {
			attempt, err := eventlog.RequeueCommand(ctx, tx, lc.EventID)
			if err != nil {
				return err
			}
			reason := fmt.Sprintf("%s; command made claimable again (attempt %d of %d)", why, attempt, cmd.MaxAttempts)
			ev := eventlog.Event{Event: engine.Event{
				EventID: mustID(o.ids), Type: "command.requeued", Step: cmd.Step, NodeID: cmd.Step, Status: "PENDING",
				ParentEventID: lc.EventID,
				Result:        map[string]any{"status": "PENDING", "context": map[string]any{"command_id": cmd.Key, "attempt": int64(attempt)}},
				Meta: map[string]any{"command_id": cmd.Key, "attempt": int64(attempt), "previous_worker": lc.WorkerID,
					"emitted_by": "orchestrator", "reason": reason},
			}}
			p := &pipeline{}
			if err := queueLoose(p, l.exec, []eventlog.Event{ev}, o.clock.Now()); err != nil {
				return err
			}
			if err := p.send(ctx, tx); err != nil {
				return err
			}
			m, err := outbox.BuildMessage(o.commands, l.pb.Metadata.Path, outbox.Notification{
				CommandID: cmd.Key, EventID: lc.EventID, ExecutionID: lc.ExecutionID, ServerURL: o.serverURL, Step: cmd.Step,
			})
			if err != nil {
				return err
			}
			msgs, err = outbox.Insert(ctx, tx, []outbox.Message{m}, o.publisher != nil)
			if err != nil {
				return err
			}
			o.log.Warn("requeued a command taken back from its worker", slog.Int64("execution_id", lc.ExecutionID),
				slog.String("command_id", cmd.Key), slog.String("worker_id", lc.WorkerID), slog.Int("attempt", attempt),
				slog.String("reason", why))
			return nil
		}
		reason := fmt.Sprintf("%s and the command ran out of attempts (%d)", why, cmd.MaxAttempts)
		emitted, err := o.eng.FailCommand(l.st, l.pb, cmd.Key, reason, iterations(ctx, tx, lc.ExecutionID))
		if err != nil {
			return err
		}
		msgs, issuedN, err = o.persist(ctx, tx, l, emitted, nil)
		return err
	})
	if err != nil {
		return false, err
	}
	o.afterCommit(msgs, issuedN)
	return done, nil
}

// RepublishWaiting writes the outbox row of every command still waiting for a worker
// that was issued before the command stream came to be (created is the stream's creation
// time), so the poller publishes it again. JetStream that restarted without its
// storage, or a stream deleted and created again, no longer holds those notifications:
// no worker would ever hear of the commands, and their executions would wait for ever.
// A command the stream does hold is then announced twice (the clocks of NATS and
// PostgreSQL may disagree a little), which a claim absorbs: the second claim is refused
// or repeats the first.
func (o *Orchestrator) RepublishWaiting(ctx context.Context, created time.Time) (int, error) {
	const batch = 500
	before := created
	var after int64
	total := 0
	for {
		waiting, err := eventlog.WaitingCommands(ctx, o.pool, before, after, batch)
		if err != nil {
			return total, err
		}
		if len(waiting) == 0 {
			return total, nil
		}
		msgs := make([]outbox.Message, 0, len(waiting))
		for _, w := range waiting {
			m, err := outbox.BuildMessage(o.commands, w.Path, outbox.Notification{
				CommandID: w.Key, EventID: w.EventID, ExecutionID: w.ExecutionID, ServerURL: o.serverURL, Step: w.Step,
			})
			if err != nil {
				return total, err
			}
			msgs = append(msgs, m)
			after = w.EventID
		}
		if _, err := outbox.Insert(ctx, o.pool, msgs, false); err != nil {
			return total, err
		}
		total += len(msgs)
		if len(waiting) < batch {
			return total, nil
		}
	}
}
