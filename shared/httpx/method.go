package httpx

import "context"
import "net/http"
import "slices"
import "strconv"
import "strings"

import "github.com/gin-gonic/gin"

// HEAD and wrong methods (docs/security.md, "Methods"). gin maps no HEAD to GET: a HEAD
// on a GET route found no route and answered 405, so `curl -I` and load-balancer HEAD
// probes failed. The engine serves such a HEAD as the GET, through the GET route's whole
// chain (the access gate and the route's group middleware included), and drops the body.
// OPTIONS is served by no route: it answers like any method a path does not take.

// headKey marks, in the request context, a HEAD served as GET.
type headKey struct{}

// Method is the method the client sent: HEAD while a HEAD is served by a GET route,
// where c.Request.Method is GET. Logs, metric labels and error messages use it.
func Method(c *gin.Context) string {
	if isHeadAsGet(c.Request) {
		return http.MethodHead
	}
	return c.Request.Method
}

// IsHead reports whether c is a HEAD served by a GET route (c.Request.Method is GET then).
func IsHead(c *gin.Context) bool { return isHeadAsGet(c.Request) }

func isHeadAsGet(r *http.Request) bool {
	return r.Context().Value(headKey{}) != nil
}

// serveHeadAsGet serves c again as a GET when it is a HEAD that matched no route but a
// GET route exists for its path (gin lists the GET in Allow before it runs the
// no-method chain), and reports whether it did. The GET is a new pass through the
// engine, so nothing of this pass (request id, access log) is doubled.
func serveHeadAsGet(e *gin.Engine, c *gin.Context) bool {
	if c.Request.Method != http.MethodHead || c.FullPath() != "" ||
		!slices.Contains(allowList(c.Writer.Header()), http.MethodGet) {
		return false
	}
	c.Abort()
	c.Writer.Header().Del("Allow")
	// A copy, not the request itself: net/http keeps the original and must still see
	// HEAD (it sends no body for it).
	get := c.Request.WithContext(context.WithValue(c.Request.Context(), headKey{}, true))
	get.Method = http.MethodGet
	w := &headWriter{header: c.Writer.Header()}
	e.ServeHTTP(w, get)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	// The length the GET would have sent, as RFC 9110 allows for HEAD, unless the
	// handler set its own.
	if w.header.Get("Content-Length") == "" && w.size > 0 {
		w.header.Set("Content-Length", strconv.Itoa(w.size))
	}
	c.Writer.WriteHeader(w.status)
	c.Writer.WriteHeaderNow()
	return true
}

// headWriter takes a GET's answer for a HEAD: its headers go to the real response (they
// share the header map), its status is kept until the GET is done, its body is counted
// and dropped.
type headWriter struct {
	header http.Header
	status int
	size   int
}

func (w *headWriter) Header() http.Header { return w.header }

func (w *headWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

func (w *headWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.size += len(b)
	return len(b), nil
}

// Flush has nothing to send: the body is dropped and the status goes out at the end.
func (w *headWriter) Flush() {}

// allowList is the Allow header as methods.
func allowList(h http.Header) []string {
	var out []string
	for _, m := range strings.Split(h.Get("Allow"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// AllowedMethods are the methods gin found routes for when a request matched its path
// under other methods only (it sets Allow before the no-method chain runs); none when
// no route has the path, or once a route matched.
func AllowedMethods(c *gin.Context) []string {
	return allowList(c.Writer.Header())
}

func withHead(methods []string) []string {
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
		methods = append(methods, http.MethodHead)
	}
	return methods
}

// MethodNotAllowed is the 405 for c: it sets Allow to the methods given (HEAD added where
// GET is), which RFC 9110 requires on a 405. WriteError keeps Allow only on a 405, so a
// 401 written after gin set it says nothing about the path.
func MethodNotAllowed(c *gin.Context, allowed ...string) *Error {
	var methods []string
	for _, m := range allowed {
		if m != "" {
			methods = append(methods, m)
		}
	}
	c.Header("Allow", strings.Join(withHead(methods), ", "))
	return newErr(http.StatusMethodNotAllowed, "method %s is not allowed on %s", Method(c), c.Request.URL.Path)
}
