package audit

import "context"
import "errors"
import "fmt"
import "strconv"
import "strings"
import "time"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Page limits of GET /api/internal/secret-audit (upstream's default and clamp).
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Querier reads audit rows.
type Querier interface {
	Query(ctx context.Context, f Filter) ([]Event, error)
}

// Handlers serves GET /api/internal/secret-audit.
type Handlers struct{ store Querier }

// NewHandlers returns the handlers.
func NewHandlers(store Querier) *Handlers { return &Handlers{store: store} }

// Register adds the route to the engine root (the path is token-gated by the engine).
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/api/internal/secret-audit", httpx.HandleWith(parseFilter, h.query))
}

// Page is the answer: upstream's {"rows": [...]} plus the cursor of the next page, present
// when this page is full.
type Page struct {
	Rows       []Event `json:"rows"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

func (h *Handlers) query(c *gin.Context, f Filter) (Page, error) {
	rows, err := h.store.Query(c.Request.Context(), f)
	if err != nil {
		return Page{}, httpx.Internal("query the secret audit", err)
	}
	page := Page{Rows: rows}
	if page.Rows == nil {
		page.Rows = []Event{}
	}
	if len(rows) == f.Limit && len(rows) > 0 {
		last := rows[len(rows)-1]
		page.NextCursor = encodeCursor(Cursor{OccurredAt: last.Time(), AuditID: last.AuditID})
	}
	return page, nil
}

func parseFilter(c *gin.Context) (Filter, error) {
	f := Filter{
		Credential: c.Query("credential"),
		Operation:  c.Query("operation"),
		Outcome:    c.Query("outcome"),
		WorkerID:   c.Query("worker_id"),
		Limit:      DefaultLimit,
	}
	if f.WorkerID != "" {
		if err := wire.CheckWorkerID(f.WorkerID); err != nil {
			return f, httpx.Validation("query parameter worker_id %v", err)
		}
	}
	if f.Operation != "" && !validOperation(Operation(f.Operation)) {
		return f, httpx.Validation("operation %q is not one of get_sealed, cross_region_broker_serve, resolve_keychain, get_credential", f.Operation)
	}
	if f.Outcome != "" && !validOutcome(Outcome(f.Outcome)) {
		return f, httpx.Validation("outcome %q is not a known audit outcome", f.Outcome)
	}
	if s := c.Query("execution_id"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return f, httpx.BadRequest("execution_id must be a 64-bit integer")
		}
		f.ExecutionID = &v
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := c.Query(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, httpx.BadRequest("%s must be an RFC 3339 timestamp with an offset", p.name)
			}
			*p.dst = &t
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case errors.Is(err, strconv.ErrRange):
			// An integer beyond int: clamped like any other above MaxLimit, or too small.
			n = MaxLimit
			if strings.HasPrefix(s, "-") {
				n = 0
			}
		case err != nil:
			return f, httpx.BadRequest("limit must be an integer")
		}
		if n < 1 {
			// A page of no rows is never what a caller means; upstream's clamp to 1 hid
			// the mistake behind a one-row page.
			return f, httpx.Validation("limit must be at least 1")
		}
		f.Limit = min(n, MaxLimit)
	}
	if s := c.Query("cursor"); s != "" {
		cur, err := decodeCursor(s)
		if err != nil {
			return f, httpx.BadRequest("cursor is not one this endpoint returned")
		}
		f.Before = &cur
	}
	return f, nil
}

// The cursor is "<occurred_at in Unix microseconds>.<audit_id>": stable, URL-safe, and
// exact at the column's microsecond precision.
func encodeCursor(c Cursor) string {
	return fmt.Sprintf("%d.%d", c.OccurredAt.UnixMicro(), c.AuditID)
}

func decodeCursor(s string) (Cursor, error) {
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return Cursor{}, fmt.Errorf("bad cursor")
	}
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return Cursor{}, fmt.Errorf("bad cursor")
	}
	return Cursor{OccurredAt: time.UnixMicro(us).UTC(), AuditID: id}, nil
}
