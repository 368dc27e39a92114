package pg

import "context"
import "sync/atomic"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

// acquireCounter counts a pool's acquires in progress: the requests waiting for a
// connection (an idle one is handed over at once, so only those that wait stay
// counted). pgxpool offers no such count; it calls a tracer set as the connection
// config's Tracer around every Acquire, including those of pool.Query and pool.Exec.
type acquireCounter struct{ inFlight atomic.Int64 }

func (a *acquireCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (a *acquireCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (a *acquireCounter) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	a.inFlight.Add(1)
	return ctx
}

func (a *acquireCounter) TraceAcquireEnd(context.Context, *pgxpool.Pool, pgxpool.TraceAcquireEndData) {
	a.inFlight.Add(-1)
}

// Waiting is how many requests wait for a connection of pool, a pool Open made (0 for
// any other pool, which counts nothing).
func Waiting(pool *pgxpool.Pool) int64 {
	if a, ok := pool.Config().ConnConfig.Tracer.(*acquireCounter); ok {
		return a.inFlight.Load()
	}
	return 0
}
