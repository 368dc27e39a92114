// Package pools answers GET /api/pool/status: the api's PostgreSQL connection pool as
// an operator sizes it (POSTGRES_MIN_CONNECTIONS, POSTGRES_MAX_CONNECTIONS).
package pools

import "net/http"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/pg"

// Status is the answer (upstream's keys, plus acquire_wait_ms).
type Status struct {
	Min       int32 `json:"pool_min"`
	Max       int32 `json:"pool_max"`
	Size      int32 `json:"pool_size"`
	Available int32 `json:"pool_available"`
	// Waiting is the requests waiting for a connection now.
	Waiting int64 `json:"requests_waiting"`
	// AcquireWaitMS is the time requests have waited for a connection since the start,
	// in total, in milliseconds: when it grows, the pool is too small for the load.
	AcquireWaitMS  float64 `json:"acquire_wait_ms"`
	Utilization    float64 `json:"utilization"`
	SlotsAvailable int32   `json:"slots_available"`
	State          string  `json:"status"`
}

// Read takes the pool's figures.
func Read(pool *pgxpool.Pool) Status {
	st := pool.Stat()
	size, idle, max := st.TotalConns(), st.IdleConns(), st.MaxConns()
	util := 0.0
	if max > 0 {
		util = float64(size-idle) / float64(max)
	}
	return Status{
		Min: pool.Config().MinConns, Max: max, Size: size, Available: idle,
		Waiting:       pg.Waiting(pool),
		AcquireWaitMS: float64(st.EmptyAcquireWaitTime().Microseconds()) / 1000,
		Utilization:   util, SlotsAvailable: max - (size - idle), State: "ok",
	}
}

// Handler answers GET /api/pool/status.
func Handler(pool *pgxpool.Pool) gin.HandlerFunc {
	return func(c *gin.Context) { httpx.JSON(c, http.StatusOK, Read(pool)) }
}
