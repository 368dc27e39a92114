package orchestrator

import "errors"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"

// Eager asks an orchestration pass to hand the commands it issues to the worker whose
// events triggered it (eager dispatch, as Temporal's eager activity execution): up to
// Capacity of them are claimed for WorkerID inside the pass's transaction and returned
// with the answer. Such a command gets no outbox row and no NATS notification; any
// other claimer is refused (409) because the row is already CLAIMED, and if the worker
// goes silent lost-worker recovery requeues it and publishes it then, as for any
// claimed command. The zero value asks for nothing: upstream workers are unaffected.
type Eager struct {
	WorkerID string
	Capacity int
}

func (e Eager) wanted() bool { return e.Capacity > 0 && e.WorkerID != "" }

// claimEagerly claims up to e.Capacity of the commands a pass issued for e.WorkerID: a
// command.claimed event each (marked eager), folded into the state as a claim is, and
// the command's row is inserted CLAIMED by persist (l.eager).
func (o *Orchestrator) claimEagerly(l *loaded, emitted []engine.Event, e Eager) ([]engine.Event, []*eventlog.IssuedCommand, error) {
	if !e.wanted() || l.st.Terminal() {
		return emitted, nil, nil
	}
	var claimed []*eventlog.IssuedCommand
	n := len(emitted)
	for i := 0; i < n && len(claimed) < e.Capacity; i++ {
		is := emitted[i]
		if is.Type != engine.TypeCommandIssued {
			continue
		}
		key, _ := is.Meta["command_id"].(string)
		id, err := o.ids.Next()
		if err != nil {
			return nil, nil, errors.New("could not mint an event id")
		}
		ev := engine.Event{
			EventID: id, ExecutionID: l.exec.ExecutionID, Seq: l.st.Seq + 1, Type: engine.TypeCommandClaimed,
			Step: is.Step, NodeID: is.Step, NodeType: is.NodeType, Status: "RUNNING", WorkerID: e.WorkerID,
			ParentEventID: is.EventID,
			Result:        map[string]any{"status": "RUNNING", "context": map[string]any{"command_id": key, "worker_id": e.WorkerID}},
			Meta: map[string]any{"command_id": key, "worker_id": e.WorkerID, "attempt": int64(1),
				"actionable": false, "informative": true, "eager": true},
		}
		l.st.Apply(ev, l.pb)
		emitted = append(emitted, ev)
		if l.eager == nil {
			l.eager = map[int64]string{}
		}
		l.eager[is.EventID] = e.WorkerID
		meta := make(map[string]any, len(is.Meta)+2)
		for k, v := range is.Meta {
			meta[k] = v
		}
		maxAttempts := int64(3)
		if v, ok := is.Meta["max_attempts"].(int64); ok && v > 0 {
			maxAttempts = v
		}
		meta["attempt"], meta["max_attempts"] = int64(1), maxAttempts
		claimed = append(claimed, &eventlog.IssuedCommand{ExecutionID: l.exec.ExecutionID, EventID: is.EventID,
			Step: is.Step, Action: is.NodeType, Context: is.Context, Meta: meta})
	}
	return emitted, claimed, nil
}
