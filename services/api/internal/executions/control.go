// Package executions serves the execution routes: start (POST /api/execute), the
// read routes, cancel, cancellation-check, finalize and the event log.
package executions

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/noetl/controlplane/services/api/internal/apierr"
	"github.com/noetl/controlplane/services/api/internal/catalog"
	"github.com/noetl/controlplane/services/api/internal/engine"
	"github.com/noetl/controlplane/services/api/internal/eventlog"
	"github.com/noetl/controlplane/services/api/internal/orchestrator"
	"github.com/noetl/controlplane/services/api/internal/playbook"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/jsonx"
	"github.com/noetl/controlplane/shared/wire"
)

// Runner is what the write routes need from the orchestrator.
type Runner interface {
	Start(ctx context.Context, req orchestrator.StartRequest) (orchestrator.StartResult, error)
	Cancel(ctx context.Context, executionID int64) error
	Finalize(ctx context.Context, executionID int64, status, errText string) error
}

// Control serves execute, cancel and finalize.
type Control struct {
	pool      *pgxpool.Pool
	runner    Runner
	playbooks *catalog.Cache
}

// NewControl wires the write routes; playbooks resolves what execute starts.
func NewControl(pool *pgxpool.Pool, runner Runner, playbooks *catalog.Cache) *Control {
	return &Control{pool: pool, runner: runner, playbooks: playbooks}
}

// Register adds the routes to the /api group.
func (h *Control) Register(r gin.IRoutes) {
	r.POST("/execute", h.execute)
	r.POST("/executions/:execution_id/cancel", h.cancel)
	r.POST("/executions/:execution_id/finalize", h.finalize)
}

type executeRequest struct {
	Path              string     `json:"path"`
	CatalogID         *wire.ID   `json:"catalog_id"`
	Version           *wire.ID   `json:"version"`
	Payload           jsonObject `json:"payload"`
	Workload          jsonObject `json:"workload"`
	ParentExecutionID *wire.ID   `json:"parent_execution_id"`
	Args              jsonObject `json:"args"`
}

// ExecuteResponse is upstream's answer (execution_id as a string).
type ExecuteResponse struct {
	ExecutionID       wire.StringID `json:"execution_id"`
	Status            string        `json:"status"`
	CommandsGenerated int           `json:"commands_generated"`
}

func (h *Control) execute(c *gin.Context) {
	var req executeRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	if req.Path == "" && req.CatalogID == nil {
		httpx.WriteError(c, httpx.Validation("Either 'path' or 'catalog_id' must be provided"))
		return
	}
	ctx := c.Request.Context()
	entry, pb, err := h.resolve(ctx, req)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	payload := req.Payload.m
	if payload == nil {
		payload = req.Workload.m
	}
	if payload == nil {
		payload = map[string]any{}
	}
	var parent *int64
	if req.ParentExecutionID != nil && *req.ParentExecutionID > 0 {
		v := int64(*req.ParentExecutionID)
		parent = &v
	}
	res, err := h.runner.Start(ctx, orchestrator.StartRequest{Entry: entry, Playbook: pb, Payload: payload, ParentExecutionID: parent})
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, ExecuteResponse{ExecutionID: wire.StringID(res.ExecutionID), Status: "started", CommandsGenerated: res.CommandsGenerated})
}

// resolve finds the catalog entry the request names and its parsed playbook (one read
// of the row), answering a miss with upstream's message for the way it was named.
func (h *Control) resolve(ctx context.Context, req executeRequest) (*catalog.Entry, *playbook.Playbook, error) {
	var ref catalog.Ref
	if req.CatalogID != nil {
		id := int64(*req.CatalogID)
		ref.CatalogID = &id
	} else {
		ref.Path = req.Path
		if req.Version != nil {
			v := int64(*req.Version)
			ref.Version = &v
		}
	}
	e, pb, err := h.playbooks.Resolve(ctx, h.pool, ref)
	switch {
	case errors.Is(err, catalog.ErrNoContent):
		return nil, nil, httpx.NotFound("No playbook content found for catalog_id: %d", e.CatalogID)
	case !errors.Is(err, catalog.ErrNotFound):
		if err != nil {
			return nil, nil, apierr.Playbook(err)
		}
		return e, pb, nil
	case ref.CatalogID != nil:
		return nil, nil, httpx.NotFound("Catalog entry not found: %d", *ref.CatalogID)
	case ref.Version != nil:
		return nil, nil, httpx.NotFound("Playbook not found: %s (version %d)", ref.Path, *ref.Version)
	default:
		return nil, nil, httpx.NotFound("Playbook not found: %s", ref.Path)
	}
}

// pathID is the execution id of the route's path.
func pathID(c *gin.Context) (int64, error) { return apierr.ExecutionID(c) }

func (h *Control) cancel(c *gin.Context) {
	id, err := pathID(c)
	if err == nil {
		err = h.runner.Cancel(c.Request.Context(), id)
	}
	var term *orchestrator.ErrTerminal
	switch {
	case errors.Is(err, eventlog.ErrNoExecution):
		httpx.WriteError(c, apierr.NotFound(err, id))
	case errors.As(err, &term):
		httpx.WriteError(c, httpx.Validation("Cannot cancel execution in %s state", term.Status))
	case err != nil:
		httpx.WriteError(c, err)
	default:
		httpx.JSON(c, http.StatusOK, gin.H{"execution_id": id, "message": "Execution cancellation requested", "status": "cancelled"})
	}
}

type finalizeRequest struct {
	Status *string `json:"status"`
	Error  string  `json:"error"`
}

func (h *Control) finalize(c *gin.Context) {
	id, err := pathID(c)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	var req finalizeRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	if req.Status == nil {
		httpx.WriteError(c, httpx.Validation("field \"status\" is required"))
		return
	}
	status := *req.Status
	if status != engine.StatusCompleted && status != engine.StatusFailed {
		httpx.WriteError(c, httpx.Validation("Invalid finalization status: %s", status))
		return
	}
	err = h.runner.Finalize(c.Request.Context(), id, status, req.Error)
	var term *orchestrator.ErrTerminal
	switch {
	case errors.Is(err, eventlog.ErrNoExecution):
		httpx.WriteError(c, apierr.NotFound(err, id))
	case errors.As(err, &term):
		httpx.WriteError(c, httpx.Conflict("Execution already finished with status %s", term.Status))
	case err != nil:
		httpx.WriteError(c, err)
	default:
		httpx.JSON(c, http.StatusOK, gin.H{"execution_id": id, "status": status, "message": "Execution finalized with status: " + status})
	}
}

// jsonObject decodes a JSON object into the value model (int64 numbers); null and
// absence leave it nil, anything else is an error.
type jsonObject struct{ m map[string]any }

func (o *jsonObject) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := jsonx.Decode(b)
	if err != nil {
		return err // a number out of range, say; the syntax was checked already
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("must be a JSON object")
	}
	o.m = m
	return nil
}
