// Package proxy forwards the public surface to the service that owns each path prefix
// (README, "The services") and turns an unreachable upstream into a 503 JSON error.
package proxy

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "log/slog"
import "net"
import "net/http"
import "net/http/httputil"
import "net/url"
import "strings"
import "sync"
import "time"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"

// Upstream is one service behind the router.
type Upstream struct {
	Name     string // "api", "wallet", "broker"
	URL      *url.URL
	Variable string // the setting URL came from (NOETL_API_URL, ...), named in readiness errors
}

// Route maps a path prefix to an upstream. A prefix ending in "/" matches everything
// below it; otherwise it matches the exact path and anything below "<prefix>/"; a
// prefix ending in "*" matches any path that starts with the rest.
type Route struct {
	Prefix   string
	Upstream string
}

// DefaultRoutes is the prefix table of the README ("The services"), most specific first.
var DefaultRoutes = []Route{
	{"/api/credentials", "wallet"},
	{"/api/keychain", "wallet"},
	{"/api/internal/wallet/", "wallet"},
	{"/api/internal/secret-audit*", "wallet"},
	{"/api/internal/cross-region/", "broker"},
	{"/api/", "api"},
}

// Match returns the upstream name for a path, or "" when no route matches.
func Match(routes []Route, path string) string {
	for _, r := range routes {
		p := r.Prefix
		switch {
		case strings.HasSuffix(p, "*"):
			if strings.HasPrefix(path, strings.TrimSuffix(p, "*")) {
				return r.Upstream
			}
		case strings.HasSuffix(p, "/"):
			if strings.HasPrefix(path, p) {
				return r.Upstream
			}
		default:
			if path == p || strings.HasPrefix(path, p+"/") {
				return r.Upstream
			}
		}
	}
	return ""
}

// Proxy forwards requests to upstreams.
type Proxy struct {
	routes  []Route
	proxies map[string]*httputil.ReverseProxy
	logger  *slog.Logger
}

// New builds a proxy over the upstreams with a shared transport.
func New(upstreams []Upstream, routes []Route, transport http.RoundTripper, logger *slog.Logger) (*Proxy, error) {
	p := &Proxy{routes: routes, proxies: map[string]*httputil.ReverseProxy{}, logger: logger}
	for _, u := range upstreams {
		u := u
		rp := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(u.URL)
				r.SetXForwarded()
				// Keep the request id the router assigned so one id follows the call.
				if rid := r.In.Header.Get(httpx.RequestIDHeader); rid != "" {
					r.Out.Header.Set(httpx.RequestIDHeader, rid)
				}
			},
			Transport: transport,
			// No periodic flush: a response with a length goes out in one write. Streaming
			// responses (text/event-stream, unknown length) are flushed as they come by
			// ReverseProxy itself.
			FlushInterval: 0,
			ErrorHandler:  p.errorHandler(u.Name),
			ModifyResponse: func(resp *http.Response) error {
				// The router's request id header is authoritative; drop the upstream copy
				// so clients never see two.
				resp.Header.Del(httpx.RequestIDHeader)
				return nil
			},
		}
		p.proxies[u.Name] = rp
	}
	for _, r := range routes {
		if _, ok := p.proxies[r.Upstream]; !ok {
			return nil, fmt.Errorf("route %s names unknown upstream %q", r.Prefix, r.Upstream)
		}
	}
	return p, nil
}

// Forwards reports whether a path goes to an upstream (whose gate authenticates it).
func (p *Proxy) Forwards(path string) bool {
	return Match(p.routes, path) != ""
}

// Handler forwards c to the upstream owning its path, or answers the JSON 404.
func (p *Proxy) Handler(c *gin.Context) {
	name := Match(p.routes, c.Request.URL.Path)
	if name == "" {
		httpx.WriteError(c, httpx.NotFound("no route for %s %s", c.Request.Method, c.Request.URL.Path))
		return
	}
	// The request id middleware already set it on the response; put it on the request too.
	c.Request.Header.Set(httpx.RequestIDHeader, httpx.RequestID(c))
	p.proxies[name].ServeHTTP(c.Writer, c.Request)
	// An answer without a body (any answer to HEAD) leaves gin's writer with a status but
	// nothing written, and gin would then replace the Content-Type of a 404 with its own
	// text/plain: send the upstream's header as it is.
	c.Writer.WriteHeaderNow()
}

func (p *Proxy) errorHandler(name string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, msg := http.StatusServiceUnavailable, fmt.Sprintf("upstream %s is unavailable", name)
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit)
		case errors.Is(err, context.Canceled):
			return // the client went away; nothing to answer
		case isTimeout(err):
			status, msg = http.StatusGatewayTimeout, fmt.Sprintf("upstream %s did not answer in time", name)
		}
		p.logger.Warn("proxy error", slog.String("upstream", name), slog.String("path", r.URL.Path), slog.Any("error", err))
		// JSON encoding, not Go quoting: %q writes escapes (\x00, \U0001F600) that are
		// not JSON.
		body, _ := json.Marshal(httpx.ErrorBody{Error: msg, Status: status})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// isTimeout reports an upstream that did not answer in time: the transport's
// response-header timeout (NOETL_UPSTREAM_TIMEOUT) or an expired context.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// ReadyCheck returns a readiness check that asks an upstream's /readyz. The router's
// /readyz is open to anyone, so a failure there names the upstream only; what is wrong
// (its URL, the variable to check, the upstream's own error) goes to logger, once each
// time it changes, so that a probe every few seconds does not repeat it.
func ReadyCheck(u Upstream, client *http.Client, logger *slog.Logger) httpx.Check {
	check := httpx.PeerReady(u.Name, u.URL.String(), u.Variable, client)
	peer := check.Fn
	var mu sync.Mutex
	last := ""
	check.Fn = func(ctx context.Context) error {
		err := peer(ctx)
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		mu.Lock()
		changed := detail != last
		last = detail
		mu.Unlock()
		switch {
		case changed && err != nil:
			logger.Warn("upstream not ready", slog.String("upstream", u.Name), slog.String("error", detail))
		case changed:
			logger.Info("upstream ready again", slog.String("upstream", u.Name))
		}
		if err != nil {
			return errors.New("not ready (the router's log says why)")
		}
		return nil
	}
	return check
}

// Transport returns base with the wait for an upstream's response headers bounded by
// timeout (NOETL_UPSTREAM_TIMEOUT): a hung upstream answers 504 instead of holding the
// client and a connection forever. Bodies that stream (event streams) are not cut off,
// only the wait for the first answer.
func Transport(base http.RoundTripper, timeout time.Duration) (http.RoundTripper, error) {
	tr, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("upstream transport is %T, want *http.Transport", base)
	}
	tr = tr.Clone()
	tr.ResponseHeaderTimeout = timeout
	return tr, nil
}
