package dashboard

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/httpx"

// Widget sizes.
const (
	trendDays   = 7
	recentLimit = 10
)

// Handlers serves the dashboard routes.
type Handlers struct{ store *Store }

// NewHandlers wires the routes.
func NewHandlers(pool *pgxpool.Pool) *Handlers { return &Handlers{store: NewStore(pool)} }

// Register adds the routes to the /api group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/dashboard/stats", httpx.Handle(h.stats))
	r.GET("/dashboard/widgets", httpx.Handle(h.widgets))
}

// StatsResponse answers /stats. Unlike upstream, a failed query is an error, not zeros
// that look like an idle system.
type StatsResponse struct {
	Status string `json:"status"`
	Stats  Stats  `json:"stats"`
}

func (h *Handlers) stats(c *gin.Context) (StatsResponse, error) {
	st, err := h.store.Stats(c.Request.Context())
	if err != nil {
		return StatsResponse{}, err
	}
	return StatsResponse{Status: "ok", Stats: st}, nil
}

// Widget is one dashboard widget (upstream shape).
type Widget struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Config map[string]any `json:"config"`
	Data   any            `json:"data"`
}

// WidgetsResponse answers /widgets.
type WidgetsResponse struct {
	Widgets []Widget `json:"widgets"`
}

func (h *Handlers) widgets(c *gin.Context) (WidgetsResponse, error) {
	trend, recent, err := h.store.Widgets(c.Request.Context(), trendDays, recentLimit)
	if err != nil {
		return WidgetsResponse{}, err
	}
	return WidgetsResponse{Widgets: []Widget{
		{ID: "execution-trend", Type: "chart", Title: "Execution Trend (7 days)",
			Config: map[string]any{"chart_type": "line", "time_range": "7d"}, Data: trend},
		{ID: "recent-executions", Type: "table", Title: "Recent Executions",
			Config: map[string]any{"columns": []string{"execution_id", "path", "status"}}, Data: recent},
	}}, nil
}
