package rotation

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Handlers serves the rotation routes.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds the routes to the /api/internal/wallet group (token-gated by the engine).
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/rotate-kek", httpx.HandleWith(strictjson.Body[Request], h.rotate))
	r.GET("/key-status", httpx.Handle(h.keyStatus))
}

// Request is upstream's {batch_size, max_batches} plus where to resume: cursor (from a
// previous response), or after_id (credential) / after_cache_key (keychain).
type Request struct {
	BatchSize     *int64   `json:"batch_size"`
	MaxBatches    *int64   `json:"max_batches"`
	Cursor        *string  `json:"cursor"`
	AfterID       *wire.ID `json:"after_id"`
	AfterCacheKey *string  `json:"after_cache_key"`
}

// POST /api/internal/wallet/rotate-kek
func (h *Handlers) rotate(c *gin.Context, req Request) (Response, error) {
	// Out of range is refused rather than clamped: a pass of another size than the one
	// asked for would report progress the operator did not plan for.
	batch, err := bounded("batch_size", req.BatchSize, DefaultBatchSize, MaxBatchSize)
	if err != nil {
		return Response{}, err
	}
	maxBatches, err := bounded("max_batches", req.MaxBatches, DefaultMaxBatches, MaxMaxBatches)
	if err != nil {
		return Response{}, err
	}
	given := 0
	for _, set := range []bool{req.Cursor != nil, req.AfterID != nil, req.AfterCacheKey != nil} {
		if set {
			given++
		}
	}
	if given > 1 {
		// Each names where to resume; with two, one would be ignored without a word.
		return Response{}, httpx.Validation(`give at most one of "cursor", "after_id" and "after_cache_key"`)
	}
	start := Position{Table: TableCredential}
	switch {
	case req.Cursor != nil:
		p, err := ParseCursor(*req.Cursor)
		if err != nil {
			return Response{}, err
		}
		start = p
	case req.AfterCacheKey != nil:
		start = Position{Table: TableKeychain, AfterKey: req.AfterCacheKey}
	case req.AfterID != nil:
		id := int64(*req.AfterID)
		start = Position{Table: TableCredential, AfterID: &id}
	}
	return h.svc.Rotate(c.Request.Context(), start, int(batch), int(maxBatches))
}

// bounded is the optional field v, def when absent, and a 422 naming the field when it
// is outside 1..hi.
func bounded(field string, v *int64, def, hi int64) (int64, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 || *v > hi {
		return 0, httpx.Validation("field %q must be between 1 and %d", field, hi)
	}
	return *v, nil
}

// GET /api/internal/wallet/key-status
func (h *Handlers) keyStatus(c *gin.Context) (map[string]any, error) {
	return h.svc.KeyStatus(c.Request.Context())
}
