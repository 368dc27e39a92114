package outbox

import "encoding/json"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Handlers serves the upstream outbox routes for an external publisher (run the api
// with NOETL_OUTBOX_PUBLISH=false then). The internal-token gate is global middleware
// on /api/internal/; these handlers only do the work.
type Handlers struct{ pool *pgxpool.Pool }

// NewHandlers wires the routes.
func NewHandlers(pool *pgxpool.Pool) *Handlers { return &Handlers{pool: pool} }

// Register adds the routes to the /api/internal group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/outbox/claim", httpx.HandleWith(httpx.Body[claimRequest], h.claim))
	r.POST("/outbox/mark-published", httpx.HandleWith(httpx.Body[markPublishedRequest], h.markPublished))
	r.POST("/outbox/mark-failed", httpx.HandleWith(httpx.Body[markFailedRequest], h.markFailed))
	r.GET("/outbox/pending-count", httpx.Handle(h.pendingCount))
}

// Claim limits (upstream: default 100, clamped to 1..1000).
const (
	claimDefault = 100
	claimMax     = 1000
)

type claimRequest struct {
	Limit *int64 `json:"limit"`
}

// OutboxRow is a claimed row (upstream field order; execution_id and subject are
// omitted when NULL).
type OutboxRow struct {
	OutboxID     int64           `json:"outbox_id"`
	EventID      int64           `json:"event_id"`
	ExecutionID  *int64          `json:"execution_id,omitempty"`
	Subject      *string         `json:"subject,omitempty"`
	Payload      json.RawMessage `json:"payload"`
	PayloadCodec string          `json:"payload_codec"`
	Attempts     int             `json:"attempts"`
}

// ClaimResponse answers /outbox/claim.
type ClaimResponse struct {
	Rows    []OutboxRow `json:"rows"`
	Claimed int         `json:"claimed"`
}

func (h *Handlers) claim(c *gin.Context, req claimRequest) (ClaimResponse, error) {
	limit := int64(claimDefault)
	if req.Limit != nil {
		limit = min(max(*req.Limit, 1), claimMax)
	}
	rows, err := ClaimForExternal(c.Request.Context(), h.pool, int(limit))
	if err != nil {
		return ClaimResponse{}, err
	}
	out := ClaimResponse{Rows: make([]OutboxRow, len(rows)), Claimed: len(rows)}
	for i, r := range rows {
		out.Rows[i] = OutboxRow{OutboxID: r.OutboxID, EventID: r.EventID, ExecutionID: r.ExecutionID, Subject: r.Subject,
			Payload: r.Payload, PayloadCodec: r.PayloadCodec, Attempts: r.Attempts}
	}
	return out, nil
}

type markPublishedRequest struct {
	OutboxIDs []wire.ID `json:"outbox_ids"`
}

// MarkPublishedResponse answers /outbox/mark-published.
type MarkPublishedResponse struct {
	Marked int64 `json:"marked"`
}

func (h *Handlers) markPublished(c *gin.Context, req markPublishedRequest) (MarkPublishedResponse, error) {
	if len(req.OutboxIDs) == 0 {
		return MarkPublishedResponse{}, httpx.BadRequest("outbox_ids must not be empty")
	}
	ids := make([]int64, len(req.OutboxIDs))
	for i, id := range req.OutboxIDs {
		ids[i] = int64(id)
	}
	n, err := MarkPublished(c.Request.Context(), h.pool, ids)
	if err != nil {
		return MarkPublishedResponse{}, err
	}
	return MarkPublishedResponse{Marked: n}, nil
}

type markFailedRequest struct {
	OutboxID        *wire.ID `json:"outbox_id"`
	Error           *string  `json:"error"`
	Attempts        *int32   `json:"attempts"`
	MaxDelaySeconds *int32   `json:"max_delay_seconds"`
}

// MarkFailedResponse answers /outbox/mark-failed. marked is true even for an unknown
// outbox_id, as upstream.
type MarkFailedResponse struct {
	Marked        bool `json:"marked"`
	AvailableAtIn int  `json:"available_at_in"`
}

func (h *Handlers) markFailed(c *gin.Context, req markFailedRequest) (MarkFailedResponse, error) {
	if req.OutboxID == nil {
		return MarkFailedResponse{}, httpx.Validation("field \"outbox_id\" is required")
	}
	if req.Error == nil {
		return MarkFailedResponse{}, httpx.Validation("field \"error\" is required")
	}
	if *req.Error == "" {
		return MarkFailedResponse{}, httpx.BadRequest("error must not be empty")
	}
	attempts, maxDelay := 1, 300
	if req.Attempts != nil {
		attempts = int(*req.Attempts)
	}
	if req.MaxDelaySeconds != nil {
		maxDelay = int(*req.MaxDelaySeconds)
	}
	if maxDelay < 0 {
		return MarkFailedResponse{}, httpx.Validation("max_delay_seconds must not be negative")
	}
	delay, err := MarkFailed(c.Request.Context(), h.pool, []int64{int64(*req.OutboxID)}, *req.Error, attempts, maxDelay)
	if err != nil {
		return MarkFailedResponse{}, err
	}
	return MarkFailedResponse{Marked: true, AvailableAtIn: delay}, nil
}

// PendingCountResponse answers /outbox/pending-count (the KEDA scaler source).
type PendingCountResponse struct {
	Pending int64 `json:"pending"`
}

func (h *Handlers) pendingCount(c *gin.Context) (PendingCountResponse, error) {
	n, err := PendingCount(c.Request.Context(), h.pool)
	if err != nil {
		return PendingCountResponse{}, err
	}
	return PendingCountResponse{Pending: n}, nil
}
