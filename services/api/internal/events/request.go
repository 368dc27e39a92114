package events

import "bytes"
import "encoding/json"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// eventRequest is the body of POST /api/events (upstream EventRequest, with its aliases:
// name for event_type, context for payload).
type eventRequest struct {
	ExecutionID json.RawMessage `json:"execution_id"`
	Step        *string         `json:"step"`
	EventType   string          `json:"event_type"`
	Name        string          `json:"name"`
	Payload     json.RawMessage `json:"payload"`
	Context     json.RawMessage `json:"context"`
	Meta        json.RawMessage `json:"meta"`
	WorkerID    string          `json:"worker_id"`
	ResultKind  string          `json:"result_kind"`
	ResultURI   string          `json:"result_uri"`
	EventIDs    []wire.ID       `json:"event_ids"`
	Actionable  *bool           `json:"actionable"`
	Informative *bool           `json:"informative"`
	EventID     json.RawMessage `json:"event_id"`
	Status      string          `json:"status"`
	CreatedAt   *wire.Time      `json:"created_at"`
}

// batchRequest is the body of POST /api/events/batch.
type batchRequest struct {
	ExecutionID json.RawMessage `json:"execution_id"`
	WorkerID    string          `json:"worker_id"`
	Events      []eventRequest  `json:"events"`
	// EagerCapacity (optional, this server's extension) asks for eager dispatch: up to
	// that many of the commands the batch's pass issues are claimed for worker_id and
	// returned in the answer's "commands".
	EagerCapacity *int `json:"eager_capacity"`
}

// maxEagerCapacity bounds eager_capacity: one answer carries at most this many commands.
const maxEagerCapacity = 64

// parseID reads an id sent as a JSON number or a decimal string; given is false when
// it is absent or null. A value that is no id is refused naming the field and the value,
// so that it is not taken for a missing one.
func parseID(raw json.RawMessage, what string) (int64, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	v, err := wire.ParseIDJSON(raw)
	if err != nil {
		return 0, true, httpx.Validation("Invalid %s: %s is not an integer or a decimal string", what, truncate(string(raw), 40))
	}
	return v, true, nil
}

// executionID is the execution_id of an events request, which is required.
func executionID(raw json.RawMessage) (int64, error) {
	id, given, err := parseID(raw, "execution_id")
	if err == nil && !given {
		err = httpx.Validation("field \"execution_id\" is required")
	}
	return id, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// IDMinter mints server event ids for events posted without one.
type IDMinter interface {
	Next() (int64, error)
}

// build turns a request into the row to store: status derived from the type when not
// given, the result envelope of the upstream shape, meta with the request flags, and
// everything the worker sent redacted.
func build(r eventRequest, defaultActionable bool, batchWorker string, ids IDMinter, now time.Time) (eventlog.Event, error) {
	typ := r.EventType
	if typ == "" {
		typ = r.Name
	}
	if typ == "" {
		return eventlog.Event{}, httpx.Validation("field \"event_type\" (or \"name\") is required")
	}
	if err := checkWorkerType(typ); err != nil {
		return eventlog.Event{}, err
	}
	if r.Step == nil {
		return eventlog.Event{}, httpx.Validation("field \"step\" is required")
	}
	eventID, given, err := parseID(r.EventID, "event_id")
	if err != nil {
		return eventlog.Event{}, err
	}
	if !given {
		if eventID, err = ids.Next(); err != nil {
			return eventlog.Event{}, httpx.Internal("could not mint an event id", err)
		}
	}
	payloadRaw := r.Payload
	if len(payloadRaw) == 0 {
		payloadRaw = r.Context
	}
	var payload any
	if len(bytes.TrimSpace(payloadRaw)) > 0 {
		if payload, err = jsonx.Decode(payloadRaw); err != nil {
			return eventlog.Event{}, httpx.Validation("payload: %v", err)
		}
	}
	meta := map[string]any{}
	if len(bytes.TrimSpace(r.Meta)) > 0 && string(bytes.TrimSpace(r.Meta)) != "null" {
		mv, err := jsonx.Decode(r.Meta)
		if err != nil {
			return eventlog.Event{}, httpx.Validation("meta: %v", err)
		}
		m, ok := mv.(map[string]any)
		if !ok {
			return eventlog.Event{}, httpx.Validation("meta must be a JSON object")
		}
		meta = m
	}
	worker := r.WorkerID
	if worker == "" {
		worker = batchWorker
	}
	if worker != "" {
		if err := wire.CheckWorkerID(worker); err != nil {
			return eventlog.Event{}, httpx.Validation("field \"worker_id\" %v", err)
		}
	}
	actionable := defaultActionable
	if r.Actionable != nil {
		actionable = *r.Actionable
	}
	informative := true
	if r.Informative != nil {
		informative = *r.Informative
	}
	meta["actionable"] = actionable
	meta["informative"] = informative
	if worker != "" {
		meta["worker_id"] = worker
	}
	status := r.Status
	if status == "" {
		status = DeriveStatus(typ)
	}
	result := map[string]any{"status": status}
	switch {
	case r.ResultKind == "ref" && r.ResultURI != "":
		result["reference"] = map[string]any{"store_tier": storeTier(r.ResultURI), "logical_uri": r.ResultURI}
	case r.ResultKind == "refs" && len(r.EventIDs) > 0:
		ids := make([]any, len(r.EventIDs))
		for i, id := range r.EventIDs {
			ids[i] = int64(id)
		}
		result["reference"] = map[string]any{"event_ids": ids, "total_parts": int64(len(ids))}
	default:
		if m, ok := payload.(map[string]any); ok {
			result["context"] = Redact(m)
		}
	}
	created := now
	if r.CreatedAt != nil {
		created = time.Time(*r.CreatedAt)
	}
	errText := ""
	if engine.IsFailure(typ) || typ == engine.TypeCallError {
		errText = engine.ErrorText(engine.Event{Result: result})
	}
	return eventlog.Event{
		Event: engine.Event{
			EventID: eventID, Type: typ, Step: *r.Step, NodeID: *r.Step, Status: status,
			Result: result, Meta: Redact(meta).(map[string]any), WorkerID: worker, Error: errText,
		},
		CreatedAt: created,
		Minted:    !given,
	}, nil
}

// serverOnly are the event types only the control plane writes: the engine's decisions
// (step.enter, step.skipped, step.cancelled, ctx.updated, command.issued), the claim and
// the lost-worker sweep (command.claimed, command.requeued), the execute route's start
// and every spelling of the terminal events (engine.TerminalStatus). Stored, a worker's
// would pass for the control plane's own (a step.cancelled shows a running step
// cancelled in the watch views, a terminal event ends the run, a step.enter or
// command.issued changes what the engine thinks runs), so the events routes refuse them. Neither this repository's worker nor upstream's posts
// any of them (docs/worker.md, "One command"). POST /api/internal/events/project refuses
// them too (relayedTypeError), but for the terminal events. The legacy worker events
// (step.exit, step_started, action_*, step_completed, ...) stay accepted.
var serverOnly = map[string]bool{
	engine.TypePlaybookStarted: true, "playbook.started": true, "playbook.initialized": true,
	engine.TypeStepEnter: true, "step_enter": true,
	engine.TypeStepSkipped: true, engine.TypeStepCancelled: true, engine.TypeCtxUpdated: true,
	engine.TypeCommandIssued: true, engine.TypeCommandClaimed: true, "command.requeued": true,
}

// checkWorkerType refuses an event type that only the control plane writes (422).
func checkWorkerType(typ string) error {
	if _, terminal := engine.TerminalStatus(typ); !terminal && !serverOnly[typ] {
		return nil
	}
	return httpx.Validation("event_type %q is written by the control plane only and cannot be posted by a worker "+
		"(a worker posts command.started, call.done, call.error, command.completed and command.failed)", typ)
}

// relayedTypeError refuses (422) an event type the projector must not store: the
// engine's decisions, the claim and the sweeps' events, which this control plane writes
// for its own executions and which no relay has reason to forward. Stored, a relayed
// command.issued or step.enter would be folded by the next pass as this engine's own
// (a step it never entered, a command with no command row, which nothing would ever
// run). The terminal events stay accepted: an execution's end recorded elsewhere (a
// cancel, a failure) is what a relay forwards, and the projector folds it.
// It returns the message, "" for a type the projector takes.
func relayedTypeError(typ string) string {
	if !serverOnly[typ] {
		return ""
	}
	return "event_type " + strconv.Quote(typ) + " is written by the control plane only and is not relayed " +
		"(the projector takes worker events and an execution's terminal event)"
}

// DeriveStatus is upstream's status for an event posted without one.
func DeriveStatus(eventType string) string {
	t := strings.ToLower(eventType)
	switch {
	case strings.Contains(t, "done") || strings.Contains(t, "exit") || strings.Contains(t, "completed"):
		return "COMPLETED"
	case strings.Contains(t, "error") || strings.Contains(t, "failed"):
		return "FAILED"
	}
	return "RUNNING"
}

func storeTier(uri string) string {
	switch {
	case strings.HasPrefix(uri, "gs://"):
		return "gcs"
	case strings.HasPrefix(uri, "s3://"):
		return "s3"
	}
	return "artifact"
}
