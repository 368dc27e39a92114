package httpx

import "context"
import "crypto/tls"
import "crypto/x509"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "strings"
import "sync"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/collectors"
import "github.com/prometheus/client_golang/prometheus/promhttp"

// Check is one readiness dependency.
type Check struct {
	Name string
	// Fn returns nil when the dependency answers. It must respect ctx. Its error is shown
	// to operators in /readyz: it says what is wrong and, where it can, what to do.
	Fn func(ctx context.Context) error
	// Informational checks are listed in /readyz but never make the service unready: the
	// router reports the wallet and the broker, yet only the api decides whether the
	// public surface stays in a load balancer (a wallet outage must not take out routes
	// that do not need it).
	Informational bool
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
	live := func(c *gin.Context) { JSON(c, http.StatusOK, gin.H{"status": "ok", "service": service}) }
	e.GET("/healthz", live)
	e.HEAD("/healthz", live)
	e.GET("/health", func(c *gin.Context) { JSON(c, http.StatusOK, gin.H{"status": "ok"}) })
	informational := map[string]bool{}
	for _, ch := range checks {
		informational[ch.Name] = ch.Informational
	}
	ready := func(c *gin.Context) {
		res := RunChecks(c.Request.Context(), checks)
		var failed, degraded []string
		for _, ch := range checks {
			if s := res[ch.Name]; s != "ok" {
				if informational[ch.Name] {
					degraded = append(degraded, ch.Name)
				} else {
					failed = append(failed, ch.Name+": "+s)
				}
			}
		}
		if len(failed) > 0 {
			abortJSON(c, http.StatusServiceUnavailable, gin.H{
				"error": "not ready: " + strings.Join(failed, "; "), "status": http.StatusServiceUnavailable,
				"service": service, "checks": res,
			})
			return
		}
		body := gin.H{"status": "ready", "service": service, "checks": res}
		if len(degraded) > 0 {
			body["degraded"] = degraded
		}
		JSON(c, http.StatusOK, body)
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
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return r
}

// PeerReady returns a readiness check that asks another service's /readyz: a service
// is ready only when the services it depends on are. variable names the setting that
// holds baseURL, so a failure tells the operator what to check.
func PeerReady(name, baseURL, variable string, client *http.Client) Check {
	target := strings.TrimSuffix(baseURL, "/") + "/readyz"
	return Check{Name: name, Fn: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return peerError(name, baseURL, variable, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		var env struct {
			Error string `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		switch {
		case json.Unmarshal(body, &env) == nil && env.Error != "":
			return errors.New(env.Error) // the peer's own "not ready: ..." names its fix
		case resp.StatusCode == http.StatusBadRequest && strings.HasPrefix(baseURL, "http://"):
			return fmt.Errorf("%s answered HTTP 400 to plain HTTP: it serves TLS, so %s must start with https://", baseURL, variable)
		default:
			return fmt.Errorf("not ready (HTTP %d from %s)", resp.StatusCode, target)
		}
	}}
}

// peerError turns a failed call into a message that says what to check.
func peerError(name, baseURL, variable string, err error) error {
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS: the certificate of %s does not name %s: issue it for that host, or point %s at a name it carries", baseURL, hostErr.Host, variable)
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &alert),
		strings.Contains(err.Error(), "tls:"), strings.Contains(err.Error(), "x509:"):
		return fmt.Errorf("TLS handshake with %s failed (%s): both ends need certificates from the same CA (NOETL_INTERNAL_TLS_CERT, NOETL_INTERNAL_TLS_KEY, NOETL_INTERNAL_TLS_CA)", baseURL, tlsReason(err))
	case strings.Contains(err.Error(), "malformed HTTP response"):
		return fmt.Errorf("%s speaks TLS: %s must start with https://", baseURL, variable)
	default:
		return fmt.Errorf("unreachable at %s: check %s and that noetl-%s is running", baseURL, variable, name)
	}
}

// tlsReason is the last part of a TLS error, without the URL and the call chain.
func tlsReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}
