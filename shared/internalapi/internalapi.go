// Package internalapi is the typed client services use to call the api service's
// service-to-service routes (/internal/*). Calls carry the internal token and, with
// internal certificates configured, run over mTLS (decisions §1, §5).
package internalapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/noetl/controlplane/shared/config"
	"github.com/noetl/controlplane/shared/tlsx"
)

// DefaultTimeout bounds one call to the api.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what is read from an answer; the api's answers are small.
const maxBody = 1 << 20

// Config says where the api is and how to authenticate to it.
type Config struct {
	// BaseURL is the api's base URL (NOETL_API_URL), e.g. http://127.0.0.1:8083.
	BaseURL string
	// Token is NOETL_INTERNAL_API_TOKEN, sent as a Bearer token.
	Token config.Secret
	// TLS is the client side of NOETL_INTERNAL_TLS_*.
	TLS config.ClientTLS
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// API is the client of the api service's internal routes.
type API struct {
	base  string
	token config.Secret
	http  *http.Client
}

// New validates the configuration and builds the client.
func New(c Config) (*API, error) {
	u, err := url.Parse(strings.TrimSpace(c.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("NOETL_API_URL: %q is not an http(s) URL", c.BaseURL)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hc, err := tlsx.HTTPClient(c.TLS, timeout)
	if err != nil {
		return nil, err
	}
	return &API{base: strings.TrimRight(u.String(), "/"), token: c.Token, http: hc}, nil
}

// StatusError is a non-2xx answer from the api.
type StatusError struct {
	Status int
	// Message is the api's error text (its {"error": ...} field), bounded.
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("api answered HTTP %d", e.Status)
	}
	return fmt.Sprintf("api answered HTTP %d: %s", e.Status, e.Message)
}

// WorkerPublicKey returns the sealing public key (standard base64, as registered) of the
// worker pool named worker. found is false when the worker_pool row does not exist or
// carries no (or an empty) worker_public_key, which callers answer with one "did not
// register a sealing pubkey" message, as upstream does. err is a transport failure or an
// unexpected answer.
func (a *API) WorkerPublicKey(ctx context.Context, worker string) (key string, found bool, err error) {
	var out struct {
		Name            string  `json:"name"`
		WorkerPublicKey *string `json:"worker_public_key"`
	}
	status, err := a.get(ctx, "/internal/runtime/worker-key?name="+url.QueryEscape(worker), &out)
	if status == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up worker %q sealing key: %w", worker, err)
	}
	if out.WorkerPublicKey == nil || *out.WorkerPublicKey == "" {
		return "", false, nil
	}
	return *out.WorkerPublicKey, true, nil
}

// get performs one GET and decodes a 2xx JSON answer into out. It returns the HTTP status
// whenever an answer arrived.
func (a *API) get(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read api answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &StatusError{Status: resp.StatusCode, Message: errorText(body)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode api answer: %w", err)
	}
	return resp.StatusCode, nil
}

// errorText extracts the api's {"error": ...} message, bounded to 200 characters.
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
// holds only the base URL and the worker name, neither of which is secret, so it stays.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, ue.URL, ue.Err)
	}
	return err
}
