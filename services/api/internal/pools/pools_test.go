package pools

import "context"
import "encoding/json"
import "net/http"
import "net/http/httptest"
import "testing"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"

// get answers GET /api/pool/status through the handler.
func get(t *testing.T, pool *pgxpool.Pool) map[string]any {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/api/pool/status", Handler(pool))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/pool/status", nil))
	var m map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		t.Fatalf("pool status = %d %s", rec.Code, rec.Body)
	}
	return m
}

// waitFor polls cond (the pool's own figures) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The status reports the configured minimum (it said 0 whatever the setting), the
// requests waiting for a connection now (it gave the total wait in milliseconds under
// that name) and that total wait as acquire_wait_ms.
func TestPoolStatus(t *testing.T) {
	t.Parallel()
	cfg := testkit.DBConfig(testkit.UniqueName("t_pools_")) // no table is read: the schema need not exist
	cfg.MinConns, cfg.MaxConns = 1, 2
	ctx := testkit.Context(t, 60*time.Second)
	pool, err := pg.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	first := get(t, pool)
	for k, want := range map[string]float64{"pool_min": 1, "pool_max": 2, "requests_waiting": 0, "acquire_wait_ms": 0} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v (%v)", k, first[k], want, first)
		}
	}

	// Both connections held, a third request waits.
	var held []*pgxpool.Conn
	for range 2 {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	got := make(chan error, 1)
	go func() {
		c, err := pool.Acquire(context.WithoutCancel(ctx))
		if err == nil {
			c.Release()
		}
		got <- err
	}()
	waitFor(t, "one request waiting", func() bool { return Read(pool).Waiting == 1 })
	if m := get(t, pool); m["requests_waiting"] != 1.0 || m["pool_available"] != 0.0 || m["slots_available"] != 0.0 {
		t.Errorf("while one waits: %v", m)
	}
	held[0].Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	held[1].Release()
	m := get(t, pool)
	if m["requests_waiting"] != 0.0 {
		t.Errorf("requests_waiting = %v after the wait ended", m["requests_waiting"])
	}
	if w, _ := m["acquire_wait_ms"].(float64); w <= 0 {
		t.Errorf("acquire_wait_ms = %v after a request waited", m["acquire_wait_ms"])
	}
}
