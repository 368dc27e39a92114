package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness dependency.
type Check struct {
	Name string
	// Fn returns nil when the dependency answers. It must respect ctx.
	Fn func(ctx context.Context) error
}

// CheckTimeout bounds each readiness check, so a dead dependency answers 503 quickly
// instead of hanging the probe.
const CheckTimeout = 2 * time.Second

// RunChecks runs checks concurrently and returns the failures by name.
func RunChecks(ctx context.Context, checks []Check) map[string]string {
	results := make(map[string]string, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			status := "ok"
			if err := ch.Fn(cctx); err != nil {
				status = err.Error()
			}
			mu.Lock()
			results[ch.Name] = status
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// RegisterHealth adds /healthz (200 once serving), /readyz (200 only when every check
// passes) and the /health alias kept for existing clients.
func RegisterHealth(e *gin.Engine, service string, checks ...Check) {
	live := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "service": service}) }
	e.GET("/healthz", live)
	e.HEAD("/healthz", live)
	e.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	ready := func(c *gin.Context) {
		res := RunChecks(c.Request.Context(), checks)
		failed := ""
		for name, s := range res {
			if s != "ok" {
				if failed != "" {
					failed += "; "
				}
				failed += name + ": " + s
			}
		}
		if failed != "" {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
				"error": "not ready: " + failed, "status": http.StatusServiceUnavailable,
				"service": service, "checks": res,
			})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "service": service, "checks": res})
	}
	e.GET("/readyz", ready)
	e.HEAD("/readyz", ready)
}

// RegisterMetrics serves g on /metrics unless disabled (NOETL_DISABLE_METRICS), in which
// case the route does not exist and answers the JSON 404.
func RegisterMetrics(e *gin.Engine, g prometheus.Gatherer, disabled bool) {
	if disabled {
		return
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	e.GET("/metrics", gin.WrapH(h))
}

// NewRegistry returns a registry with the Go runtime and process collectors, which every
// service exposes.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
	)
	return r
}

// PeerReady returns a readiness check that asks another service's /readyz: a service
// is ready only when the services it depends on are.
func PeerReady(name, baseURL string, client *http.Client) Check {
	target := strings.TrimSuffix(baseURL, "/") + "/readyz"
	return Check{Name: name, Fn: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return errors.New("unreachable")
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("not ready (HTTP %d)", resp.StatusCode)
		}
		return nil
	}}
}
