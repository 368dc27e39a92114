// Package httpx is the HTTP layer every service shares: a gin engine with request ids,
// the JSON error envelope, body limits, an access log that keeps probes out of info
// logs, recovery, the internal-token gate, health and metrics routes, and a server that
// serves plain HTTP, HTTPS or mTLS and shuts down gracefully.
package httpx

import "context"
import "errors"
import "fmt"
import "log/slog"
import "net/http"

import "github.com/gin-gonic/gin"

// Error is an error with an HTTP status. Handlers return these (usually wrapped); the
// status mapping happens in one place, WriteError.
type Error struct {
	Status int
	Msg    string // safe to show a client
	Err    error  // detail for the log (and for the body when NOETL_DEBUG is on)
	// Permanent marks a failure that asking again cannot fix (a secret manager that
	// refuses the wallet's identity): the body then says "retryable": false, so that a
	// client does not repeat a 5xx that is not an outage.
	Permanent bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// newErr builds an error of one status whose client-safe message is format and args as
// fmt.Sprintf formats them. The constructors below, one a status, pass f and a on.
func newErr(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// BadRequest is unparseable input (400).
func BadRequest(f string, a ...any) *Error { return newErr(http.StatusBadRequest, f, a...) }

// Validation is well-formed input that breaks a rule (422).
func Validation(f string, a ...any) *Error { return newErr(http.StatusUnprocessableEntity, f, a...) }

// NotFound is a missing resource (404).
func NotFound(f string, a ...any) *Error { return newErr(http.StatusNotFound, f, a...) }

// Conflict is a state conflict (409).
func Conflict(f string, a ...any) *Error { return newErr(http.StatusConflict, f, a...) }

// Unauthorized is a missing or wrong credential (401).
func Unauthorized(f string, a ...any) *Error { return newErr(http.StatusUnauthorized, f, a...) }

// Forbidden is an authenticated caller that may not do this (403).
func Forbidden(f string, a ...any) *Error { return newErr(http.StatusForbidden, f, a...) }

// Unavailable is a dependency that is down (503).
func Unavailable(f string, a ...any) *Error { return newErr(http.StatusServiceUnavailable, f, a...) }

// BadGateway is an upstream that answered wrongly (502).
func BadGateway(f string, a ...any) *Error { return newErr(http.StatusBadGateway, f, a...) }

// Internal is a server-side failure (500). msg is shown to clients only in debug mode;
// err goes to the log.
func Internal(msg string, err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Msg: msg, Err: err}
}

// WithStatus wraps err with a status and a client-safe message.
func WithStatus(status int, msg string, err error) *Error {
	return &Error{Status: status, Msg: msg, Err: err}
}

// StatusOf maps an error to its HTTP status: the outermost *Error wins, a cancelled
// client request is 499 (nginx's convention, only ever logged), anything else is 500.
func StatusOf(err error) int {
	var he *Error
	switch {
	case errors.As(err, &he):
		return he.Status
	case errors.Is(err, context.Canceled):
		return 499
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON error envelope of every error response (docs/decisions.md, "HTTP
// conventions").
type ErrorBody struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id,omitempty"`
	// Retryable is false on a failure asking again cannot fix (Error.Permanent), absent
	// otherwise: then the status alone tells (5xx, 408 and 429 may pass).
	Retryable *bool `json:"retryable,omitempty"`
}

// WriteError writes err as the JSON envelope and aborts the chain. 4xx bodies carry the
// client-safe message. 5xx bodies carry a short message and the request id unless the
// engine runs in debug mode; the detail always goes to the log.
func WriteError(c *gin.Context, err error) {
	status := StatusOf(err)
	body := ErrorBody{Status: status}
	var he *Error
	hasHE := errors.As(err, &he)
	switch {
	case status < 500 && hasHE:
		body.Error = he.Msg
	case status < 500:
		body.Error = http.StatusText(status)
	default:
		rid := RequestID(c)
		body.RequestID = rid
		msg := http.StatusText(status)
		if hasHE && he.Msg != "" {
			msg = he.Msg
		}
		if debugMode(c) {
			body.Error = err.Error()
		} else {
			body.Error = msg
		}
		Logger(c).LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.Int("status", status), slog.String("error", err.Error()))
	}
	if hasHE && he.Permanent {
		body.Retryable = new(bool)
	}
	if status == 499 {
		status = http.StatusBadRequest // never actually seen by the gone client
		body.Status = status
	}
	if status == http.StatusUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		// Every 401 carries its challenge (RFC 9110 requires one), whichever gate wrote it:
		// the public token gate, an internal-token route, or a handler.
		c.Header("WWW-Authenticate", `Bearer realm="noetl"`)
	}
	if status != http.StatusMethodNotAllowed {
		// gin sets Allow before the chain of a path that has routes under other methods
		// only; on a 401 from a gate it would tell an unauthenticated caller the path
		// exists and what it takes.
		c.Writer.Header().Del("Allow")
	}
	abortJSON(c, status, body)
}

// Abort writes err and stops the handler chain; convenience for middleware.
func Abort(c *gin.Context, err error) { WriteError(c, err) }
