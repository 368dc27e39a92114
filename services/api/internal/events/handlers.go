// Package events serves POST /api/events and POST /api/events/batch: it validates and
// redacts what workers post, group-commits informative events, and hands events that
// finish a command to the orchestrator, which stores them and runs the pass in one
// transaction.
package events

import "context"
import "errors"
import "maps"
import "net/http"
import "slices"
import "strconv"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/clock"
import "github.com/noetl/controlplane/services/api/internal/commands"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/promx"

// Ingester runs the pass for actionable events (with eager dispatch when asked).
type Ingester interface {
	IngestEager(ctx context.Context, executionID int64, events []eventlog.Event, eager orchestrator.Eager) (orchestrator.IngestResult, error)
}

// Handlers serves the event routes.
type Handlers struct {
	ingest Ingester
	writer *Writer
	ids    IDMinter
	clock  clock.Clock
	m      *metrics
}

// NewHandlers wires the handlers; clk stamps the events they build (nil: the wall clock).
func NewHandlers(ingest Ingester, writer *Writer, ids IDMinter, clk clock.Clock, reg prometheus.Registerer) *Handlers {
	return &Handlers{ingest: ingest, writer: writer, ids: ids, clock: clk, m: newMetrics(reg)}
}

// Register adds the routes to the /api group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/events", h.post)
	r.POST("/events/batch", h.batch)
}

// EventResponse is the answer to POST /api/events.
type EventResponse struct {
	Status            string `json:"status"`
	EventID           int64  `json:"event_id"`
	CommandsGenerated int    `json:"commands_generated"`
}

// BatchResponse is the answer to POST /api/events/batch.
type BatchResponse struct {
	Status            string  `json:"status"`
	EventIDs          []int64 `json:"event_ids"`
	CommandsGenerated int     `json:"commands_generated"`
	// Commands are the commands claimed for the worker by eager dispatch, in the shape
	// of a claim's answer; absent when none was asked for or none was issued.
	Commands []commands.ClaimResponse `json:"commands,omitempty"`
}

func (h *Handlers) post(c *gin.Context) {
	start := h.clock.Now()
	var req eventRequest
	typ := ""
	err := func() error {
		if err := httpx.BindJSON(c, &req); err != nil {
			return err
		}
		typ = req.EventType
		if typ == "" {
			typ = req.Name
		}
		execID, err := executionID(req.ExecutionID)
		if err != nil {
			return err
		}
		ev, err := build(req, true, "", h.ids, start)
		if err != nil {
			return err
		}
		generated, _, err := h.store(c.Request.Context(), execID, []eventlog.Event{ev}, orchestrator.Eager{})
		if err != nil {
			return err
		}
		httpx.JSON(c, http.StatusOK, EventResponse{Status: "ok", EventID: ev.EventID, CommandsGenerated: generated})
		return nil
	}()
	h.m.observe(typ, h.clock.Since(start), err)
	if err != nil {
		httpx.WriteError(c, err)
	}
}

func (h *Handlers) batch(c *gin.Context) {
	start := h.clock.Now()
	var req batchRequest
	err := func() error {
		if err := httpx.BindJSON(c, &req); err != nil {
			return err
		}
		if len(req.Events) == 0 {
			httpx.JSON(c, http.StatusOK, BatchResponse{Status: "ok", EventIDs: []int64{}})
			return nil
		}
		execID, err := executionID(req.ExecutionID)
		if err != nil {
			return err
		}
		var eager orchestrator.Eager
		if req.EagerCapacity != nil {
			if *req.EagerCapacity < 0 || *req.EagerCapacity > maxEagerCapacity {
				return httpx.Validation("eager_capacity must be between 0 and %d", maxEagerCapacity)
			}
			if *req.EagerCapacity > 0 && req.WorkerID == "" {
				return httpx.Validation("eager_capacity needs the batch's worker_id (the commands are claimed for it)")
			}
			eager = orchestrator.Eager{WorkerID: req.WorkerID, Capacity: *req.EagerCapacity}
		}
		evs := make([]eventlog.Event, len(req.Events))
		ids := make([]int64, len(req.Events))
		for i, r := range req.Events {
			ev, err := build(r, false, req.WorkerID, h.ids, start)
			if err != nil {
				var he *httpx.Error
				if errors.As(err, &he) {
					he.Msg = "events[" + strconv.Itoa(i) + "]: " + he.Msg
				}
				return err
			}
			evs[i], ids[i] = ev, ev.EventID
		}
		generated, claimed, err := h.store(c.Request.Context(), execID, evs, eager)
		if err != nil {
			return err
		}
		resp := BatchResponse{Status: "ok", EventIDs: ids, CommandsGenerated: generated}
		for _, is := range claimed {
			resp.Commands = append(resp.Commands, commands.Claimed(is))
		}
		httpx.JSON(c, http.StatusOK, resp)
		return nil
	}()
	took := h.clock.Since(start)
	for _, r := range req.Events {
		t := r.EventType
		if t == "" {
			t = r.Name
		}
		h.m.observe(t, took, err)
	}
	if err != nil {
		httpx.WriteError(c, err)
	}
}

// store routes events: anything that finishes a command goes through an orchestration
// pass with the rest of its batch; purely informative events are group-committed.
func (h *Handlers) store(ctx context.Context, execID int64, evs []eventlog.Event, eager orchestrator.Eager) (int, []*eventlog.IssuedCommand, error) {
	actionable := false
	for _, ev := range evs {
		if engine.Actionable(ev.Type) {
			actionable = true
		}
	}
	if actionable {
		res, err := h.ingest.IngestEager(ctx, execID, evs, eager)
		if err != nil {
			return 0, nil, apierr.NotFound(err, execID)
		}
		return res.CommandsGenerated, res.Claimed, nil
	}
	_, err := h.writer.Write(ctx, execID, evs)
	return 0, nil, apierr.NotFound(err, execID)
}

// knownTypes bounds the event_type label (promx.Known); anything else is "other".
var knownTypes = map[string]bool{
	"playbook_started": true, "playbook.completed": true, "playbook.failed": true, "playbook.cancelled": true,
	"step.enter": true, "step.skipped": true, "step.exit": true, "ctx.updated": true,
	"command.issued": true, "command.claimed": true, "command.started": true, "call.done": true,
	"call.error": true, "command.completed": true, "command.failed": true, "command.requeued": true,
	"action_started": true, "action_completed": true, "action_failed": true, "step_completed": true, "step_failed": true,
}

type metrics struct {
	ingested *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ingested: promx.CounterVec(reg, "noetl_events_ingested_total",
			"Events posted by workers, by event type (known types, else other) and outcome.", "event_type", "status"),
		duration: promx.HistogramVec(reg, "noetl_event_ingest_duration_seconds",
			"Time to store an event (and run its orchestration pass), by event type.",
			[]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, "event_type"),
	}
	promx.Zero(m.ingested, slices.Collect(maps.Keys(knownTypes)), []string{"ok", "error"})
	return m
}

func (m *metrics) observe(eventType string, took time.Duration, err error) {
	t := promx.Known(knownTypes, eventType)
	status := "ok"
	if err != nil {
		status = "error"
	}
	m.ingested.WithLabelValues(t, status).Inc()
	m.duration.WithLabelValues(t).Observe(took.Seconds())
}
