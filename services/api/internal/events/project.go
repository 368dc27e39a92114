package events

import "context"
import "errors"
import "fmt"
import "net/http"
import "strconv"
import "strings"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// Projector serves POST /api/internal/events/project: an external relay (the system
// worker pool at upstream) writes already-formed events straight into the event log:
// worker events and terminal events, not the types only the control plane writes
// (relayedTypeError).
// Rows are inserted with ON CONFLICT DO NOTHING. Events of an execution this api knows
// get the next sequence numbers of that execution (so they appear in the event log in
// commit order and the next orchestration pass folds them). A terminal event is folded
// at once, after the commit: otherwise the execution row would stay RUNNING, and its
// commands claimable, until some later pass happened to fold it. context, result, meta,
// error and stack_trace are redacted like every worker-posted event.
type Projector struct {
	store *ProjectStore
	clock clock.Clock
	ends  Ender
}

// Ender folds an execution's end stored outside a pass and closes what the end leaves
// open, under the execution's row lock (the orchestrator's CloseEnded). It does nothing
// to an execution that has not ended, or is unknown, and nothing a second time.
type Ender interface {
	CloseEnded(ctx context.Context, executionID int64) (bool, error)
}

// NewProjector wires the route; clk stamps events that carry no time (nil: the wall
// clock); ends folds the terminal events it stores.
func NewProjector(pool *pgxpool.Pool, clk clock.Clock, ends Ender) *Projector {
	return &Projector{store: NewProjectStore(pool), clock: clk, ends: ends}
}

// Register adds the route to the /api/internal group.
func (p *Projector) Register(r gin.IRoutes) {
	r.POST("/events/project", p.project)
}

// ProjectResponse answers the projector (upstream shape).
type ProjectResponse struct {
	Projected  int `json:"projected"`
	Duplicates int `json:"duplicates"`
}

func (p *Projector) project(c *gin.Context) {
	body, err := httpx.ReadJSONBody(c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	evs, err := parseProjectBody(body, p.clock.Now())
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	n, err := p.store.Project(c.Request.Context(), evs)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	if err := p.foldEnds(c.Request.Context(), evs); err != nil {
		// The events are stored; the relay's retry stores nothing twice and folds again,
		// and the reconciliation sweep folds what no retry comes for.
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, ProjectResponse{Projected: n, Duplicates: len(evs) - n})
}

// foldEnds folds the end of every execution the batch brought a terminal event for
// (duplicates included: a retry after a failed fold folds it then).
func (p *Projector) foldEnds(ctx context.Context, evs []ProjectedEvent) error {
	done := map[int64]bool{}
	for _, ev := range evs {
		if ev.EventType == nil || done[ev.ExecutionID] {
			continue
		}
		if _, end := engine.TerminalStatus(*ev.EventType); !end {
			continue
		}
		done[ev.ExecutionID] = true
		if _, err := p.ends.CloseEnded(ctx, ev.ExecutionID); err != nil {
			return fmt.Errorf("fold the end of execution %d: %w", ev.ExecutionID, err)
		}
	}
	return nil
}

// ProjectedEvent is one envelope of the projector, validated.
type ProjectedEvent struct {
	Index             int // position in the request, for error messages
	EventID           int64
	ExecutionID       int64
	CatalogID         *int64
	ParentEventID     *int64
	ParentExecutionID *int64
	EventType         *string
	NodeID            *string
	NodeName          *string
	NodeType          *string
	Status            *string
	Duration          *float64
	CreatedAt         time.Time
	Context           any
	Result            any
	Meta              any
	Error             *string
	StackTrace        *string
	WorkerID          *string
	TenantID          string
	OrganizationID    string
}

// parseProjectBody reads {events: [EventEnvelope]}. Upstream's envelope keeps unknown
// keys; of them catalog_id, tenant_id, organization_id and created_at are read (and
// here parent_execution_id and worker_id too, which have columns of their own).
func parseProjectBody(body []byte, now time.Time) ([]ProjectedEvent, error) {
	obj, err := httpx.DecodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, present := obj["events"]
	list, ok := raw.([]any)
	if present && raw != nil && !ok {
		return nil, httpx.Validation("field \"events\" must be an array")
	}
	if len(list) == 0 {
		return nil, httpx.BadRequest("events must not be empty")
	}
	out := make([]ProjectedEvent, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, httpx.Validation("events[%d]: expected an object, got %s", i, jsonx.TypeName(item))
		}
		ev, err := parseEnvelope(i, m, now)
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

func parseEnvelope(i int, m map[string]any, now time.Time) (ProjectedEvent, error) {
	ev := ProjectedEvent{Index: i, TenantID: "default", OrganizationID: "default"}
	var errs []string
	id := func(key string) *int64 {
		v, err := idValue(m[key])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %v", key, err))
		}
		return v
	}
	str := func(key string) *string {
		switch v := m[key].(type) {
		case nil:
			return nil
		case string:
			return &v
		default:
			errs = append(errs, fmt.Sprintf("%s must be a string", key))
			return nil
		}
	}
	eventID := id("event_id")
	if eventID == nil && len(errs) == 0 {
		errs = append(errs, "event_id is required")
	}
	if eventID != nil {
		ev.EventID = *eventID
	}
	if v := id("execution_id"); v != nil {
		ev.ExecutionID = *v // upstream's default for a missing one is 0
	}
	ev.CatalogID = id("catalog_id")
	ev.ParentEventID = id("parent_event_id")
	ev.ParentExecutionID = id("parent_execution_id")
	ev.EventType, ev.NodeID, ev.NodeName, ev.NodeType = str("event_type"), str("node_id"), str("node_name"), str("node_type")
	if ev.EventType != nil {
		if msg := relayedTypeError(*ev.EventType); msg != "" {
			errs = append(errs, msg)
		}
	}
	ev.Status, ev.Error, ev.StackTrace, ev.WorkerID = str("status"), str("error"), str("stack_trace"), str("worker_id")
	if ev.WorkerID != nil && *ev.WorkerID != "" {
		if err := wire.CheckWorkerID(*ev.WorkerID); err != nil {
			errs = append(errs, fmt.Sprintf("worker_id %v", err))
		}
	}
	if s := str("tenant_id"); s != nil && *s != "" {
		ev.TenantID = *s
	}
	if s := str("organization_id"); s != nil && *s != "" {
		ev.OrganizationID = *s
	}
	switch d := m["duration"].(type) {
	case nil:
	case int64:
		f := float64(d)
		ev.Duration = &f
	case float64:
		ev.Duration = &d
	default:
		errs = append(errs, "duration must be a number")
	}
	ev.CreatedAt = now.UTC()
	for _, key := range []string{"timestamp", "created_at"} {
		if s := str(key); s != nil {
			t, err := time.Parse(time.RFC3339Nano, *s)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s must be RFC 3339 with an offset", key))
				break
			}
			ev.CreatedAt = t.UTC()
			break
		}
	}
	// Everything a relay supplies is worker content: context, result, meta, error and
	// stack_trace are redacted alike (a stack trace quotes the arguments that failed).
	if cv := m["context"]; cv != nil {
		ev.Context = Redact(cv)
	}
	ev.Error, ev.StackTrace = RedactText(ev.Error), RedactText(ev.StackTrace)
	if r := m["result"]; r != nil {
		if msg := resultShapeError(r); msg != "" {
			errs = append(errs, msg)
		}
		ev.Result = Redact(r)
	}
	if mv := m["meta"]; mv != nil {
		ev.Meta = Redact(mv)
	}
	if len(errs) > 0 {
		return ev, httpx.Validation("events[%d]: %s", i, strings.Join(errs, "; "))
	}
	return ev, nil
}

// idValue reads an id sent as a JSON integer or a decimal string; nil stays nil.
func idValue(v any) (*int64, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return &t, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		if err != nil {
			return nil, errors.New("must be a 64-bit integer or a decimal string")
		}
		return &n, nil
	}
	return nil, errors.New("must be a 64-bit integer or a decimal string")
}

// resultShapeError checks the result's shape before insert (eventlog checks it again
// on every insert path), so a bad envelope is a 422 that names it.
func resultShapeError(r any) string { return eventlog.ResultShapeError(r) }
