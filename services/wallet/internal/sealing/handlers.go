package sealing

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Handlers serves the two sealing routes.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds GET /{identifier}/sealed to the /api/credentials group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/:identifier/sealed", httpx.Handle(h.sealedForWorker))
}

// RegisterInternal adds POST /wallet/seal to the /internal group (token-gated).
func (h *Handlers) RegisterInternal(r gin.IRoutes) {
	r.POST("/wallet/seal", httpx.HandleWith(strictjson.Body[KeyRequest], h.sealToKey))
}

// GET /api/credentials/{identifier}/sealed?worker_id=&execution_id=&parent_execution_id=
func (h *Handlers) sealedForWorker(c *gin.Context) (sealed.Envelope, error) {
	worker, err := httpx.RequiredQuery(c, "worker_id")
	if err != nil {
		return sealed.Envelope{}, err
	}
	if err := wire.CheckWorkerID(worker); err != nil {
		return sealed.Envelope{}, httpx.Validation("query parameter worker_id %v", err)
	}
	exec, err := httpx.QueryInt64(c, "execution_id")
	if err != nil {
		return sealed.Envelope{}, err
	}
	parent, err := httpx.QueryInt64(c, "parent_execution_id")
	if err != nil {
		return sealed.Envelope{}, err
	}
	return h.svc.ForWorker(c.Request.Context(), WorkerRequest{
		Identifier: c.Param("identifier"), WorkerID: worker, ExecutionID: exec, ParentExecutionID: parent,
	})
}

// POST /internal/wallet/seal
func (h *Handlers) sealToKey(c *gin.Context, req KeyRequest) (sealed.Envelope, error) {
	if req.WorkerID != "" {
		if err := wire.CheckWorkerID(req.WorkerID); err != nil {
			return sealed.Envelope{}, httpx.Validation("field \"worker_id\" %v", err)
		}
	}
	return h.svc.ToKey(c.Request.Context(), req)
}
