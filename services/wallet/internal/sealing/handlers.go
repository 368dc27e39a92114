package sealing

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/wire"
)

// Handlers serves the two sealing routes.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds GET /{identifier}/sealed to the /api/credentials group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/:identifier/sealed", h.sealedForWorker)
}

// RegisterInternal adds POST /wallet/seal to the /internal group (token-gated).
func (h *Handlers) RegisterInternal(r gin.IRoutes) {
	r.POST("/wallet/seal", h.sealToKey)
}

// GET /api/credentials/{identifier}/sealed?worker_id=&execution_id=&parent_execution_id=
func (h *Handlers) sealedForWorker(c *gin.Context) {
	worker := c.Query("worker_id")
	if worker == "" {
		httpx.WriteError(c, httpx.BadRequest("query parameter worker_id is required"))
		return
	}
	if err := wire.CheckWorkerID(worker); err != nil {
		httpx.WriteError(c, httpx.Validation("query parameter worker_id %v", err))
		return
	}
	exec, err := httpx.QueryInt64(c, "execution_id")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	parent, err := httpx.QueryInt64(c, "parent_execution_id")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	env, err := h.svc.ForWorker(c.Request.Context(), WorkerRequest{
		Identifier: c.Param("identifier"), WorkerID: worker, ExecutionID: exec, ParentExecutionID: parent,
	})
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, env)
}

// POST /internal/wallet/seal
func (h *Handlers) sealToKey(c *gin.Context) {
	var req KeyRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	if req.WorkerID != "" {
		if err := wire.CheckWorkerID(req.WorkerID); err != nil {
			httpx.WriteError(c, httpx.Validation("field \"worker_id\" %v", err))
			return
		}
	}
	env, err := h.svc.ToKey(c.Request.Context(), req)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, env)
}
