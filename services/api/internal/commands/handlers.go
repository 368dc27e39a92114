// Package commands serves the worker-facing command routes: GET /api/commands/{event_id}
// and POST /api/commands/{event_id}/claim.
package commands

import "context"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Claimer is what the routes need from the orchestrator.
type Claimer interface {
	Claim(ctx context.Context, eventID int64, workerID string) (*orchestrator.Claimed, error)
	Command(ctx context.Context, eventID int64) (*eventlog.IssuedCommand, error)
}

// Handlers serves the command routes.
type Handlers struct{ c Claimer }

// NewHandlers wires the handlers.
func NewHandlers(c Claimer) *Handlers { return &Handlers{c: c} }

// Register adds the routes to the /api group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/commands/:event_id", httpx.HandleWith(eventID, h.get))
	r.POST("/commands/:event_id/claim", httpx.HandleWith(eventID, h.claim))
}

// CommandResponse is the command.issued as workers read it.
type CommandResponse struct {
	ExecutionID int64          `json:"execution_id"`
	NodeID      string         `json:"node_id"`
	NodeName    string         `json:"node_name"`
	Action      string         `json:"action"`
	Context     any            `json:"context"`
	Meta        map[string]any `json:"meta"`
}

// ClaimResponse is the answer to a successful claim: the command, after its status and
// event id (the embedded fields follow them on the wire).
type ClaimResponse struct {
	Status  string `json:"status"`
	EventID int64  `json:"event_id"`
	CommandResponse
}

func eventID(c *gin.Context) (int64, error) { return httpx.PathInt64(c, "event_id", "an event id") }

func (h *Handlers) get(c *gin.Context, id int64) (CommandResponse, error) {
	cmd, err := h.c.Command(c.Request.Context(), id)
	if err != nil {
		return CommandResponse{}, err
	}
	return commandResponse(cmd), nil
}

type claimRequest struct {
	WorkerID *string `json:"worker_id"`
}

func (h *Handlers) claim(c *gin.Context, id int64) (ClaimResponse, error) {
	var req claimRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return ClaimResponse{}, err
	}
	if req.WorkerID == nil || *req.WorkerID == "" {
		return ClaimResponse{}, httpx.Validation("field \"worker_id\" is required")
	}
	if err := wire.CheckWorkerID(*req.WorkerID); err != nil {
		return ClaimResponse{}, httpx.Validation("field \"worker_id\" %v", err)
	}
	cl, err := h.c.Claim(c.Request.Context(), id, *req.WorkerID)
	if err != nil {
		return ClaimResponse{}, err
	}
	return Claimed(cl.Issued), nil
}

// Claimed is the answer for a command claimed for a worker: by a claim, or by eager
// dispatch on the worker's event batch (events.BatchResponse carries a list of them).
func Claimed(is *eventlog.IssuedCommand) ClaimResponse {
	return ClaimResponse{Status: "ok", EventID: is.EventID, CommandResponse: commandResponse(is)}
}

func commandResponse(is *eventlog.IssuedCommand) CommandResponse {
	return CommandResponse{ExecutionID: is.ExecutionID, NodeID: is.Step, NodeName: is.Step,
		Action: is.Action, Context: is.Context, Meta: is.Meta}
}
