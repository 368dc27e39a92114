// Package controlplane is the worker's HTTP client of the control plane, speaking the
// upstream worker protocol: pool registration and heartbeats, claims, events, the
// result store, credentials (plain and sealed), and the execution routes the playbook
// tool uses. Every call carries the worker's bearer token when one is configured.
// Errors say which call failed and with what status; Transient tells the caller
// whether retrying can help.
package controlplane

import "bytes"
import "context"
import "errors"
import "fmt"
import "io"
import "net"
import "net/http"
import "net/url"
import "strings"
import "unicode/utf8"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpcall"
import "github.com/noetl/controlplane/shared/jsonx"

// maxResponse bounds a response body read into memory.
const maxResponse = 64 << 20

// Client calls the control plane.
type Client struct {
	base  string
	http  *http.Client
	token config.Secret
}

// New returns a client. base is NOETL_SERVER_URL (used for the registry and whenever a
// command's notification names no server); token is sent as a bearer token when set.
func New(base string, httpClient *http.Client, token config.Secret) *Client {
	return &Client{base: strings.TrimRight(base, "/"), http: httpClient, token: token}
}

// Base is the configured server URL.
func (c *Client) Base() string { return c.base }

// StatusError is a non-2xx answer.
type StatusError struct {
	Op   string // "POST /api/commands/{id}/claim"
	Code int
	Body string // the error message of the envelope, else a prefix of the body
	// Permanent: the envelope said "retryable": false, a failure asking again cannot
	// fix whatever its status (a secret manager refusing the wallet's identity is a 502).
	Permanent bool
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Code, e.Body)
}

// StatusOf is the HTTP status of an error from this package, 0 for transport errors.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Transient reports whether a failed call may succeed when repeated: transport
// errors, timeouts, 408, 429 and 5xx, unless the answer said "retryable": false. A
// cancelled context is not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Permanent {
			return false
		}
		return se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// server picks the URL a command's calls go to: its notification's server_url when it
// is on the configured server's origin (scheme, host and port), else the configured one.
// Every call carries the worker's token (the internal token for a pool without a worker
// token), and the notification is only as trustworthy as whoever can publish on the
// command subjects: followed to any origin, a forged notification would hand the token
// to its author, and with it credential values and worker-key registration. The
// configured server is where this worker registered, so it reaches the control plane.
func (c *Client) server(serverURL string) string {
	s := strings.TrimRight(serverURL, "/")
	if s == "" || !sameOrigin(s, c.base) {
		return c.base
	}
	return s
}

// sameOrigin reports whether two absolute URLs have one scheme, host and port (the
// scheme's default port when none is given); host names compare without case.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Host == "" || ua.User != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Hostname(), ub.Hostname()) &&
		portOf(ua) == portOf(ub)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// do sends a request and decodes a 2xx JSON answer into the value model (nil for an
// empty body).
func (c *Client) do(ctx context.Context, method, server, path string, body any) (any, error) {
	op := method + " " + opPath(path)
	var rd io.Reader
	if body != nil {
		b, err := jsonx.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server(server)+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token.IsSet() {
		req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	}
	resp, raw, err := httpcall.Do(c.http, req, maxResponse)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &StatusError{Op: op, Code: resp.StatusCode, Body: errorText(raw), Permanent: notRetryable(raw)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	v, err := jsonx.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", op, ErrUnreadableAnswer, err)
	}
	return v, nil
}

// ErrUnreadableAnswer wraps a 2xx answer the worker cannot read: not JSON, or not the
// shape its route promises. It is not transient: asking again mostly gets the same
// answer, so a caller that retries bounds it.
var ErrUnreadableAnswer = errors.New("unreadable answer")

// opPath names a route without the ids in it, for error messages and logs.
func opPath(path string) string {
	p, _, _ := strings.Cut(path, "?")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if s != "" && (strings.Trim(s, "0123456789-") == "" || i == 3 && parts[2] == "credentials") {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// notRetryable reports whether an error envelope says "retryable": false.
func notRetryable(raw []byte) bool {
	m, err := jsonx.DecodeObject(raw)
	if err != nil {
		return false
	}
	r, ok := m["retryable"].(bool)
	return ok && !r
}

// errorText is the message of an error envelope, else the start of the body.
func errorText(raw []byte) string {
	if m, err := jsonx.DecodeObject(raw); err == nil {
		if s, ok := m["error"].(string); ok {
			return s
		}
		if s, ok := m["detail"].(string); ok {
			return s
		}
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 300 {
		// Back to the start of a character: half of one would end the error in bytes
		// that are not UTF-8 (and reach JSON logs and events as U+FFFD).
		n := 300
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "..."
	}
	return s
}

func object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
