package executions

import "context"
import "encoding/json"
import "errors"
import "math"
import "strconv"
import "strings"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/publicapi"
import "github.com/noetl/controlplane/shared/wire"

// Limits of the read routes.
const (
	listDefaultLimit   = 50
	listMaxLimit       = 100
	detailEventLimit   = 2000
	eventsDefaultLimit = 500
	eventsMaxLimit     = 5000
)

// executionReader is what the read routes ask of the execution tables (eventlog owns them).
type executionReader interface {
	List(ctx context.Context, f eventlog.ListFilter) ([]eventlog.Summary, error)
	Get(ctx context.Context, executionID int64, limit int) (*eventlog.Detail, error)
	Status(ctx context.Context, executionID int64) (*eventlog.StatusView, error)
	IsCancelled(ctx context.Context, executionID int64) (bool, error)
	Events(ctx context.Context, executionID, afterSeq int64, limit int) (evs []eventlog.LogEvent, more, ok bool, err error)
}

// Reads serves the read routes: list, detail, status, cancellation-check and the event
// log. Every status they report is the execution row's status column (the one status
// function); none recomputes it from events.
type Reads struct{ store executionReader }

// NewReads wires the read routes.
func NewReads(pool *pgxpool.Pool) *Reads { return &Reads{store: eventlog.NewExecutionReads(pool)} }

// Register adds the routes to the /api group.
func (h *Reads) Register(r gin.IRoutes) {
	r.GET("/executions", httpx.HandleWith(listFilter, h.list))
	r.GET("/executions/:execution_id", httpx.HandleWith(apierr.ExecutionID, h.get))
	r.GET("/executions/:execution_id/status", httpx.HandleWith(apierr.ExecutionID, h.status))
	r.GET("/executions/:execution_id/cancellation-check", httpx.HandleWith(apierr.ExecutionID, h.cancellationCheck))
	r.GET("/executions/:execution_id/events", httpx.HandleWith(apierr.ExecutionID, h.events))
}

// ExecutionHead are the fields an execution's list entry and its detail open with
// (upstream field order; ids are JSON numbers, nullable fields are null).
type ExecutionHead = publicapi.ExecutionHead[int64, wire.Time]

func headOf(s eventlog.Summary) ExecutionHead {
	return ExecutionHead{
		ExecutionID: s.ExecutionID, CatalogID: s.CatalogID, Path: s.Path, Status: s.Status,
		StartedAt: wire.Time(s.StartedAt), CompletedAt: wire.TimePtr(s.CompletedAt),
	}
}

// ExecutionSummary is one element of GET /api/executions.
type ExecutionSummary struct {
	ExecutionHead
	EventCount int64 `json:"event_count"`
}

func summaryOf(s eventlog.Summary) ExecutionSummary {
	return ExecutionSummary{ExecutionHead: headOf(s), EventCount: s.EventCount}
}

func (h *Reads) list(c *gin.Context, f eventlog.ListFilter) ([]ExecutionSummary, error) {
	rows, err := h.store.List(c.Request.Context(), f)
	if errors.Is(err, eventlog.ErrNoExecution) && f.Before != nil {
		// Deleted since the client read it (retention): start again from the newest.
		return nil, httpx.NotFound("Execution not found: %d (the before cursor)", *f.Before)
	}
	if err != nil {
		return nil, err
	}
	return httpx.ListOf(rows, summaryOf), nil
}

// listStatuses are the values of the list's status filter.
var listStatuses = []string{publicapi.StatusRunning, publicapi.StatusCompleted, publicapi.StatusFailed, publicapi.StatusCancelled}

// listFilter parses the list query. before is a cursor (the last execution id of the
// page read before). limit defaults to 50 and is capped at 100 as upstream does; a negative limit or offset is a 400 (upstream let it reach SQL: 500).
// status is matched case-insensitively against the four status values; any other value
// is a 400 naming them (it used to match nothing: 200 []).
func listFilter(c *gin.Context) (eventlog.ListFilter, error) {
	f := eventlog.ListFilter{Limit: listDefaultLimit, Path: c.Query("path")}
	var err error
	if f.Status, err = httpx.QueryOneOf(c, "status", listStatuses...); err != nil {
		return f, err
	}
	if f.CatalogID, err = idQuery(c, "catalog_id"); err != nil {
		return f, err
	}
	if f.Before, err = idQuery(c, "before"); err != nil {
		return f, err
	}
	if f.Limit, err = intQuery(c, "limit", listDefaultLimit); err != nil {
		return f, err
	}
	if f.Limit > listMaxLimit {
		f.Limit = listMaxLimit
	}
	if f.Offset, err = intQuery(c, "offset", 0); err != nil {
		return f, err
	}
	return f, nil
}

// idQuery reads an optional id query parameter: nil when absent or empty.
func idQuery(c *gin.Context, name string) (*int64, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil {
		return nil, httpx.BadRequest("Invalid query parameter %s: %q is not a 64-bit integer", name, raw)
	}
	return &id, nil
}

// intQuery reads a non-negative integer query parameter. A value beyond 32 bits is
// taken as the largest 32-bit one (the callers cap limits far below it; an offset that
// large is past every row), not refused as "not an integer".
func intQuery(c *gin.Context, name string, def int) (int, error) {
	raw, ok := c.GetQuery(name)
	if !ok || strings.TrimSpace(raw) == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, httpx.BadRequest("Invalid query parameter %s: %q is not an integer", name, raw)
	}
	if v < 0 {
		return 0, httpx.BadRequest("Invalid query parameter %s: must not be negative", name)
	}
	return int(min(v, math.MaxInt32)), nil
}

// ExecutionDetail is GET /api/executions/{id}.
type ExecutionDetail struct {
	ExecutionHead
	ParentExecutionID *int64           `json:"parent_execution_id"`
	Workload          json.RawMessage  `json:"workload"`
	Events            []ExecutionEvent `json:"events"`
}

// ExecutionEvent is an event of the detail route (upstream fields; status NULL is
// reported as "UNKNOWN", as upstream does).
type ExecutionEvent struct {
	EventID   int64           `json:"event_id"`
	EventType *string         `json:"event_type"`
	NodeName  *string         `json:"node_name"`
	Status    string          `json:"status"`
	CreatedAt wire.Time       `json:"created_at"`
	Result    json.RawMessage `json:"result"`
	Error     *string         `json:"error"`
}

func (h *Reads) get(c *gin.Context, id int64) (ExecutionDetail, error) {
	d, err := h.store.Get(c.Request.Context(), id, detailEventLimit)
	if err != nil {
		return ExecutionDetail{}, apierr.NotFound(err, id)
	}
	out := ExecutionDetail{
		ExecutionHead: headOf(d.Summary), ParentExecutionID: d.ParentExecutionID,
		Workload: d.Workload, Events: make([]ExecutionEvent, len(d.Events)),
	}
	for i, ev := range d.Events {
		status := "UNKNOWN"
		if ev.Status != nil {
			status = *ev.Status
		}
		out.Events[i] = ExecutionEvent{
			EventID: ev.EventID, EventType: ev.EventType, NodeName: ev.NodeName, Status: status,
			CreatedAt: wire.Time(ev.CreatedAt), Result: ev.Result, Error: ev.Error,
		}
	}
	return out, nil
}

// status answers GET /api/executions/{id}/status, the id as a JSON number.
func (h *Reads) status(c *gin.Context, id int64) (publicapi.ExecutionStatus[int64], error) {
	v, err := h.store.Status(c.Request.Context(), id)
	if err != nil {
		return publicapi.ExecutionStatus[int64]{}, apierr.NotFound(err, id)
	}
	// Progress counts the steps of the snapshot by phase (engine.State.Progress).
	return publicapi.NewExecutionStatus(id, v.Status, v.CurrentStep, publicapi.Progress{
		TotalSteps: v.Progress.Total, CompletedSteps: v.Progress.Completed,
		RunningSteps: v.Progress.Running, FailedSteps: v.Progress.Failed, CancelledSteps: v.Progress.Cancelled,
	}), nil
}

// CancellationCheck is GET /api/executions/{id}/cancellation-check.
type CancellationCheck struct {
	ExecutionID int64 `json:"execution_id"`
	IsCancelled bool  `json:"is_cancelled"`
}

func (h *Reads) cancellationCheck(c *gin.Context, id int64) (CancellationCheck, error) {
	cancelled, err := h.store.IsCancelled(c.Request.Context(), id)
	if err != nil {
		return CancellationCheck{}, err
	}
	return CancellationCheck{ExecutionID: id, IsCancelled: cancelled}, nil
}

// EventLogPage is GET /api/executions/{id}/events: events in seq order, every column.
// next_after_seq is where to read on: the seq of the last event of the page, or the
// after_seq asked for when the page is empty, so a client polling a running execution
// passes it back as after_seq every time and never starts over. has_more says whether
// events after this page exist already.
type EventLogPage struct {
	ExecutionID  int64               `json:"execution_id"`
	Events       []eventlog.LogEvent `json:"events"`
	NextAfterSeq int64               `json:"next_after_seq"`
	HasMore      bool                `json:"has_more"`
}

func (h *Reads) events(c *gin.Context, id int64) (EventLogPage, error) {
	after, limit, err := pageQuery(c)
	if err != nil {
		return EventLogPage{}, err
	}
	evs, more, ok, err := h.store.Events(c.Request.Context(), id, after, limit)
	if err != nil {
		return EventLogPage{}, err
	}
	if !ok {
		return EventLogPage{}, apierr.ExecutionNotFound(id)
	}
	page := EventLogPage{ExecutionID: id, Events: evs, HasMore: more, NextAfterSeq: after}
	if n := len(evs); n > 0 {
		page.NextAfterSeq = evs[n-1].Seq
	}
	return page, nil
}

// pageQuery reads after_seq (default 0) and limit (default 500, capped at 5000, at
// least 1) of the event log.
func pageQuery(c *gin.Context) (after int64, limit int, err error) {
	if raw, ok := c.GetQuery("after_seq"); ok && strings.TrimSpace(raw) != "" {
		after, err = strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return 0, 0, httpx.BadRequest("Invalid query parameter after_seq: %q is not an integer", raw)
		}
		if after < 0 {
			return 0, 0, httpx.BadRequest("Invalid query parameter after_seq: must not be negative")
		}
	}
	if limit, err = intQuery(c, "limit", eventsDefaultLimit); err != nil {
		return 0, 0, err
	}
	if limit < 1 {
		return 0, 0, httpx.BadRequest("Invalid query parameter limit: must be at least 1")
	}
	if limit > eventsMaxLimit {
		limit = eventsMaxLimit
	}
	return after, limit, nil
}
