package runtimes

import "encoding/json"
import "errors"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"

// WorkerKey is the service-to-service answer of GET /internal/runtime/worker-key: the
// sealing public key a worker pool registered (runtime.worker_public_key), if any.
type WorkerKey struct {
	Name            string  `json:"name"`
	WorkerPublicKey *string `json:"worker_public_key"`
}

// RegisterInternal adds the service-to-service routes (token-gated by the engine).
func (h *Handlers) RegisterInternal(r gin.IRoutes) {
	r.GET("/runtime/worker-key", httpx.Handle(h.workerKey))
}

// workerKey answers 404 when no worker_pool row has that name, and a null key when the
// row exists without one; the wallet turns each into its own error message.
func (h *Handlers) workerKey(c *gin.Context) (WorkerKey, error) {
	name, err := httpx.RequiredQuery(c, "name")
	if err != nil {
		return WorkerKey{}, err
	}
	if err := checkName(name); err != nil {
		return WorkerKey{}, err
	}
	rt, err := h.store.Get(c.Request.Context(), "worker_pool", name)
	if errors.Is(err, ErrNotFound) {
		return WorkerKey{}, httpx.NotFound("worker '%s' has no worker_pool runtime row", name)
	}
	if err != nil {
		return WorkerKey{}, err
	}
	out := WorkerKey{Name: name}
	var body struct {
		Key *string `json:"worker_public_key"`
	}
	if len(rt.Runtime) > 0 && json.Unmarshal(rt.Runtime, &body) == nil && body.Key != nil {
		out.WorkerPublicKey = body.Key
	}
	return out, nil
}
