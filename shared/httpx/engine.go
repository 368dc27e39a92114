package httpx

import "crypto/rand"
import "encoding/hex"
import "fmt"
import "log/slog"
import "net/http"
import "regexp"
import "strconv"
import "strings"
import "time"

import "github.com/gin-gonic/gin"
import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/promx"

// RequestIDHeader carries the request id on every request and response; the router
// forwards it so one id follows a call through the services.
const RequestIDHeader = "X-Request-Id"

const (
	ctxRequestID = "noetl.request_id"
	ctxLogger    = "noetl.logger"
	ctxDebug     = "noetl.debug"
)

// Options configures an engine.
type Options struct {
	Service      string // e.g. "api"; used in log lines
	Logger       *slog.Logger
	Debug        bool  // NOETL_DEBUG: 5xx bodies carry the detail
	MaxBodyBytes int64 // request body limit
	// BodyLimits raises the limit for paths under a prefix (the result store accepts
	// results too large to inline in an event).
	BodyLimits map[string]int64
	// Registerer receives the HTTP request metrics; nil disables them.
	Registerer prometheus.Registerer
}

// probePaths are kept out of info logs: probes and scrapes arrive every few seconds
// from every kubelet and Prometheus and would drown everything else.
var probePaths = map[string]bool{
	"/healthz": true, "/readyz": true, "/health": true, "/api/health": true, "/metrics": true,
}

// IsProbePath reports whether the path is a probe or scrape path.
func IsProbePath(p string) bool { return probePaths[p] }

// NewEngine returns a gin engine with the shared middleware installed and JSON answers
// for unknown routes and wrong methods.
func NewEngine(o Options) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	// A path parameter may hold "/" (a variable or credential name, a keychain alias: a
	// map-less vault entry's alias is its path). Clients send it as %2F; matching the
	// escaped path and unescaping the parameters afterwards finds it, as upstream's router
	// does. Matching the decoded path instead would split it into two segments, and such a
	// row could be written (its name is in a body) but never read or deleted.
	e.UseRawPath = true
	e.UnescapePathValues = true
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var m *httpMetrics
	if o.Registerer != nil {
		m = newHTTPMetrics(o.Registerer)
	}
	e.Use(func(c *gin.Context) {
		if serveHeadAsGet(e, c) {
			return
		}
		rid := c.GetHeader(RequestIDHeader)
		if !validRequestID.MatchString(rid) {
			rid = newRequestID()
		}
		c.Set(ctxRequestID, rid)
		c.Set(ctxDebug, o.Debug)
		c.Set(ctxLogger, logger.With(slog.String("request_id", rid)))
		c.Header(RequestIDHeader, rid)
		if err := CheckURL(c.Request.URL); err != nil {
			WriteError(c, err)
			return
		}
		if limit := bodyLimit(o, c.Request.URL.Path); limit > 0 && c.Request.Body != nil {
			if c.Request.ContentLength > limit {
				WriteError(c, WithStatus(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("request body exceeds the limit of %d bytes", limit), nil))
				return
			}
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	})
	e.Use(accessLog(logger, m))
	e.Use(recovery())
	e.NoRoute(func(c *gin.Context) {
		WriteError(c, NotFound("no route for %s %s", Method(c), c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		// gin has set Allow to the methods with a route here; a GET route serves HEAD too.
		WriteError(c, MethodNotAllowed(c, AllowedMethods(c)...))
	})
	return e
}

func bodyLimit(o Options, path string) int64 {
	for prefix, limit := range o.BodyLimits {
		if limit > 0 && strings.HasPrefix(path, prefix) {
			return limit
		}
	}
	return o.MaxBodyBytes
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestID returns the request id of c.
func RequestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// Logger returns the request-scoped logger (it carries request_id).
func Logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

func debugMode(c *gin.Context) bool { return c.GetBool(ctxDebug) }

func accessLog(logger *slog.Logger, m *httpMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		status := c.Writer.Status()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		if m != nil {
			method := promx.Known(knownMethods, Method(c))
			m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		}
		level := slog.LevelInfo
		if IsProbePath(c.Request.URL.Path) {
			level = slog.LevelDebug
		}
		ctx := c.Request.Context()
		if !logger.Enabled(ctx, level) {
			return
		}
		logger.LogAttrs(ctx, level, "http request",
			slog.String("request_id", RequestID(c)),
			slog.String("method", Method(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int("bytes", sentBytes(c)),
		)
	}
}

// sentBytes is the size of the body sent: none for a HEAD, whose GET body was dropped.
func sentBytes(c *gin.Context) int {
	if isHeadAsGet(c.Request) {
		return 0
	}
	return c.Writer.Size()
}

func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				WriteError(c, Internal("internal error", fmt.Errorf("panic: %v", r)))
			}
		}()
		c.Next()
	}
}

// knownMethods are the methods that keep their own metric label (promx.Known). The
// method is the one part of the request line a caller chooses freely that reaches a
// label (the route is the template, "unmatched" otherwise): any token is a valid method,
// so without this bound every unauthenticated request with a new method would add a
// series to every service's registry, without limit, and to the router's merged
// /metrics.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(r prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		requests: promx.CounterVec(r, "noetl_http_requests_total", "HTTP requests served, by method, route template and status code.",
			"method", "route", "code"),
		duration: promx.HistogramVec(r, "noetl_http_request_duration_seconds", "HTTP request latency by method and route template.",
			[]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, "method", "route"),
	}
}
