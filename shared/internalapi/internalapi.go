// Package internalapi is the transport services use to call each other's
// service-to-service routes (/internal/*, /api/internal/*): the wallet calls the api and
// the cross-region broker of another region, and the broker asks its wallet to seal.
// Calls carry the internal token and, with internal certificates configured, run over
// mTLS. The request and answer types of routes that two services share (the api's
// keychain answer, the broker's resolve request and outcomes) live here too, so that both
// sides of a call share one definition. A client of routes only one service calls lives
// with that service (the wallet's client of the api is services/wallet/internal/apiclient).
package internalapi

import "bytes"
import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/tlsx"

// DefaultTimeout bounds one call to the api.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read from an answer; the api's answers are small.
const maxBody = 1 << 20

// Config says where the service is and how to authenticate to it.
type Config struct {
	// BaseURL is the service's base URL, e.g. http://127.0.0.1:8083 (NOETL_API_URL).
	BaseURL string
	// Service names the called service in error messages; "" means "api".
	Service string
	// Var names the variable BaseURL came from, for the configuration error; "" means
	// NOETL_API_URL.
	Var string
	// Token is NOETL_INTERNAL_API_TOKEN, sent as a Bearer token.
	Token config.Secret
	// TLS is the client side of NOETL_INTERNAL_TLS_*.
	TLS config.ClientTLS
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// API is the client of one service's internal routes.
type API struct {
	base    string
	service string
	token   config.Secret
	http    *http.Client
}

// New validates the configuration and builds the client.
func New(c Config) (*API, error) {
	if c.Var == "" {
		c.Var = "NOETL_API_URL"
	}
	if c.Service == "" {
		c.Service = "api"
	}
	u, err := config.HTTPURL(c.Var, strings.TrimSpace(c.BaseURL))
	if err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hc, err := tlsx.HTTPClient(c.TLS, timeout)
	if err != nil {
		return nil, err
	}
	return &API{base: strings.TrimRight(u.String(), "/"), service: c.Service, token: c.Token, http: hc}, nil
}

// BaseURL is the service's base URL, without a trailing slash.
func (a *API) BaseURL() string { return a.base }

// StatusError is a non-2xx answer from the service.
type StatusError struct {
	Service string
	Status  int
	// Message is the service's error text (its {"error": ...} field), bounded.
	Message string
	// Permanent: the answer said "retryable": false (a failure asking again cannot fix).
	Permanent bool
	// Header holds the answer's headers (the broker states its outcome in one).
	Header http.Header
}

func (e *StatusError) Error() string {
	svc := e.Service
	if svc == "" {
		svc = "api"
	}
	if e.Message == "" {
		return fmt.Sprintf("%s answered HTTP %d", svc, e.Status)
	}
	return fmt.Sprintf("%s answered HTTP %d: %s", svc, e.Status, e.Message)
}

// GetJSON performs one GET and decodes a 2xx JSON answer into out. It returns the HTTP
// status whenever an answer arrived, so that a caller can read 404 as "not found"; a
// non-2xx answer is also a *StatusError.
func (a *API) GetJSON(ctx context.Context, path string, out any) (int, error) {
	return a.do(ctx, http.MethodGet, path, nil, out)
}

// PostJSON sends in as a JSON body and decodes a 2xx JSON answer into out. A non-2xx
// answer is a *StatusError.
func (a *API) PostJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", a.service, err)
	}
	_, err = a.do(ctx, http.MethodPost, path, body, out)
	return err
}

// do performs one call and decodes a 2xx JSON answer into out. It returns the HTTP status
// whenever an answer arrived.
func (a *API) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token.IsSet() {
		// Trimmed like the gate trims it: a token read from a file ends with a newline,
		// which is not a valid header value.
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(a.token.Reveal()))
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, scrubURLError(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read %s answer: %w", a.service, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &StatusError{Service: a.service, Status: resp.StatusCode, Message: errorText(answer), Permanent: notRetryable(answer), Header: resp.Header}
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode %s answer: %w", a.service, err)
	}
	return resp.StatusCode, nil
}

// notRetryable reports whether an error envelope says "retryable": false.
func notRetryable(body []byte) bool {
	var e struct {
		Retryable *bool `json:"retryable"`
	}
	return json.Unmarshal(body, &e) == nil && e.Retryable != nil && !*e.Retryable
}

// errorText extracts the service's {"error": ...} message, bounded to 200 characters.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

// scrubURLError keeps the operation and cause of a transport error; the URL it quotes
// holds only the base URL and names (a worker, an alias), none of which is secret, so it
// stays.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, ue.URL, ue.Err)
	}
	return err
}
