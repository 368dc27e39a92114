// Package client is a typed HTTP client of the control plane's public surface (the
// router). It knows the routes, the request and response shapes, the bearer token and
// the TLS options; it never prints anything.
package client

import "bytes"
import "context"
import "crypto/tls"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "syscall"
import "time"

import "github.com/noetl/controlplane/shared/httpcall"
import "github.com/noetl/controlplane/shared/tlsx"

// DefaultServer is the router of `make run`.
const DefaultServer = "http://localhost:8082"

// Options configure a Client.
type Options struct {
	Server string // base URL of the router; DefaultServer when empty
	Token  string // bearer token (NOETL_API_TOKEN); none when empty
	// CACert is a PEM file of CAs to trust instead of the system roots.
	CACert string
	// ClientCert and ClientKey are a PEM certificate and key presented for mTLS.
	ClientCert, ClientKey string
	InsecureSkipVerify    bool
	Timeout               time.Duration // per request; 30 s when zero
}

// Client calls the router.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New checks the options and builds a client.
func New(o Options) (*Client, error) {
	server := strings.TrimSpace(o.Server)
	if server == "" {
		server = DefaultServer
	}
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("server %q is not an http(s) URL (set --server or NOETL_URL)", server)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		// Route paths are joined onto the URL's path: a query there swallowed them, and
		// every command got the router's 404 for GET /.
		return nil, fmt.Errorf("server %q holds a query or a fragment: give the router's base URL (scheme, host, port and an optional path prefix)", server)
	}
	// Every route path the client sends starts with /api; a server given as the API's base
	// (http://host:8082/api, as the OpenAPI document's server reads) would otherwise call
	// /api/api/... and get a bare 404. A path prefix of a reverse proxy (/noetl) is kept.
	u.Path = strings.TrimSuffix(u.Path, "/api")
	if (o.ClientCert == "") != (o.ClientKey == "") {
		return nil, errors.New("--client-cert and --client-key go together")
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // only on request
	if o.CACert != "" {
		pool, err := tlsx.LoadCAPool(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	if o.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("load --client-cert/--client-key: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{base: u, token: strings.TrimSpace(o.Token), http: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

// Server is the base URL the client calls.
func (c *Client) Server() string { return c.base.String() }

// APIError is an answer other than 2xx: the server's message and status.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
	// NoToken: the request carried no token. A 401 then says where the client takes one:
	// the server's message names headers and variables a CLI user never set by hand.
	NoToken bool
}

// noTokenHint ends a 401 to a request sent without a token.
const noTokenHint = " (noetl sent no token: give --token or set NOETL_API_TOKEN; a terminal of `make run` gets it with `source .run/client.env`)"

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
	if e.Status == http.StatusUnauthorized && e.NoToken {
		msg += noTokenHint
	}
	return msg
}

// ConnError is a request that got no answer: the server is down, the name does not
// resolve, TLS failed or the time ran out. Its message is one line naming the server and
// the cause, not the chain of wrapped errors (method, URL, dial, syscall) the HTTP
// client returns.
type ConnError struct {
	Server string
	Err    error
}

func (e *ConnError) Error() string {
	cause := connCause(e.Err)
	hint := "is it up? --server or NOETL_URL chooses another"
	if strings.Contains(cause, "server gave HTTP response to HTTPS client") {
		// The server is up and answered: asking whether it is up sent users looking
		// at the wrong thing.
		hint = "it serves plain HTTP: give its http:// URL"
	}
	return fmt.Sprintf("cannot reach the server %s: %s (%s)", e.Server, cause, hint)
}

func (e *ConnError) Unwrap() error { return e.Err }

// connCause is the innermost useful part of a transport error: "connection refused",
// "no such host H", "no answer in time (--timeout)", an answer cut off, or the TLS failure.
func connCause(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return "no such host " + dnsErr.Name
		}
		return "cannot resolve " + dnsErr.Name + ": " + dnsErr.Err
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Timeout() {
		return "no answer in time (--timeout)"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the connection closed in the middle of the answer"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "no answer in time (--timeout)" // while reading the body: no url.Error
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	if errors.As(err, &uerr) {
		err = uerr.Err // drop the method and URL the message already names
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}

// do sends a JSON request and decodes a 2xx JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, raw, err := httpcall.Do(c.http, req, 64<<20)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		// No answer, or a connection that broke mid-answer (reset, closed before the
		// announced length, out of time): both are transient, so watch and events
		// --follow retry them alike.
		return &ConnError{Server: c.base.String(), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: errorMessage(raw), NoToken: c.token == ""}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// call sends a JSON request and decodes the 2xx JSON answer as a T.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (T, error) {
	var out T
	err := c.do(ctx, method, path, query, body, &out)
	return out, err
}

// executionPath is the route of execution id, followed by sub ("" or "/events", ...).
func executionPath(id ID, sub string) string {
	return "/api/executions/" + url.PathEscape(string(id)) + sub
}

// errorMessage is the envelope's "error", or the body itself when it is not one.
func errorMessage(raw []byte) string {
	var env struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != "" {
		return env.Error
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// ID is a snowflake id: the server writes some as JSON strings and some as numbers.
type ID string

// UnmarshalJSON accepts a string or a number.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s is neither a string nor a number", b)
	}
	*id = ID(n.String())
	return nil
}

// ParseID checks a user-given execution id.
func ParseID(s string) (ID, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return "", fmt.Errorf("%q is not an execution id (a decimal number)", s)
	}
	return ID(s), nil
}
