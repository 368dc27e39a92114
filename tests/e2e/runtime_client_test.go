package e2e

import "bytes"
import "context"
import "encoding/json"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "strconv"
import "time"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// rtClient drives the execution runtime through the router, returning errors instead of
// failing the test, so that it can be used from the goroutines that run executions.
type rtClient struct {
	base   string
	http   *http.Client
	events scripted.EventSource
}

func newRTClient(s *Suite) *rtClient { return newRTClientWithToken(s, "") }

// newRTClientWithToken is an rtClient that sends token as its bearer token on every
// request (none when empty), for suites that run with the public tokens set.
func newRTClientWithToken(s *Suite, token string) *rtClient {
	c := &http.Client{Timeout: 15 * time.Second}
	if token != "" {
		c.Transport = bearerTransport{token: token, next: http.DefaultTransport}
	}
	return &rtClient{base: s.URL, http: c, events: scripted.HTTPEvents{BaseURL: s.URL, Client: c}}
}

// bearerTransport adds an Authorization header to every request.
type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// do sends a request and returns the status and body; a transport error is an error.
func (c *rtClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	// Every answer must match the OpenAPI document: a mismatch fails the call.
	if err := checkResponse(req, resp.StatusCode, resp.Header, out); err != nil {
		return resp.StatusCode, out, err
	}
	return resp.StatusCode, out, nil
}

// doJSON expects 200 and decodes the body with numbers kept exact.
func (c *rtClient) doJSON(ctx context.Context, method, path string, body any) (any, error) {
	code, out, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, code, clip(string(out), 400))
	}
	v, err := scripted.DecodeJSON(out)
	if err != nil {
		return nil, fmt.Errorf("%s %s: decode: %w (body %s)", method, path, err, clip(string(out), 200))
	}
	return v, nil
}

// register stores a playbook (POST /api/catalog/register with the file's bytes).
func (c *rtClient) register(ctx context.Context, content string) error {
	_, err := c.doJSON(ctx, http.MethodPost, "/api/catalog/register", map[string]any{"content": content})
	return err
}

// execute starts an execution and returns its id.
func (c *rtClient) execute(ctx context.Context, path string, payload map[string]any) (int64, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	v, err := c.doJSON(ctx, http.MethodPost, "/api/execute", map[string]any{"path": path, "payload": payload})
	if err != nil {
		return 0, err
	}
	id, ok := scripted.AsInt(mapGet(v, "execution_id"))
	if !ok {
		return 0, fmt.Errorf("POST /api/execute: no execution_id in %v", v)
	}
	return id, nil
}

func (c *rtClient) cancel(ctx context.Context, id int64) error {
	_, err := c.doJSON(ctx, http.MethodPost, fmt.Sprintf("/api/executions/%d/cancel", id), nil)
	return err
}

// claim answers the HTTP status of a claim.
func (c *rtClient) claim(ctx context.Context, eventID, workerID string) (int, []byte, error) {
	return c.do(ctx, http.MethodPost, "/api/commands/"+eventID+"/claim", map[string]any{"worker_id": workerID})
}

// log reads an execution's whole event log through the events route.
func (c *rtClient) log(ctx context.Context, id int64) ([]scripted.Event, error) {
	return scripted.ReadLog(ctx, c.events, id, 0)
}

// logPaged reads the event log in pages of limit events.
func (c *rtClient) logPaged(ctx context.Context, id int64, limit int) ([]scripted.Event, error) {
	return scripted.ReadLogPaged(ctx, c.events, id, 0, limit)
}

// statuses are the three status reads of one execution.
type statuses struct {
	Detail, Status, List string
	Errs                 []string // reads that failed or lacked a status
}

func (c *rtClient) statuses(ctx context.Context, id int64, path string) statuses {
	var st statuses
	if v, err := c.doJSON(ctx, http.MethodGet, fmt.Sprintf("/api/executions/%d", id), nil); err != nil {
		st.Errs = append(st.Errs, "detail: "+err.Error())
	} else if s, ok := mapGet(v, "status").(string); ok {
		st.Detail = s
	} else {
		st.Errs = append(st.Errs, fmt.Sprintf("detail: no status string in %s", clip(fmt.Sprint(v), 200)))
	}
	if v, err := c.doJSON(ctx, http.MethodGet, fmt.Sprintf("/api/executions/%d/status", id), nil); err != nil {
		st.Errs = append(st.Errs, "/status: "+err.Error())
	} else if s, ok := mapGet(v, "status").(string); ok {
		st.Status = s
	} else {
		st.Errs = append(st.Errs, fmt.Sprintf("/status: no status string in %s", clip(fmt.Sprint(v), 200)))
	}
	q := url.Values{"path": {path}, "limit": {"100"}}
	v, err := c.doJSON(ctx, http.MethodGet, "/api/executions?"+q.Encode(), nil)
	if err != nil {
		st.Errs = append(st.Errs, "list: "+err.Error())
		return st
	}
	found := false
	for _, e := range listEntries(v) {
		if scripted.IDString(mapGet(e, "execution_id")) == strconv.FormatInt(id, 10) {
			found = true
			st.List, _ = mapGet(e, "status").(string)
			if st.List == "" {
				st.Errs = append(st.Errs, fmt.Sprintf("list: entry without a status: %v", e))
			}
		}
	}
	if !found {
		st.Errs = append(st.Errs, fmt.Sprintf("list: GET /api/executions?%s does not list execution %d", q.Encode(), id))
	}
	return st
}

// listEntries accepts upstream's bare array and the wrapped shapes.
func listEntries(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	for _, k := range []string{"executions", "items", "data", "results"} {
		if a, ok := mapGet(v, k).([]any); ok {
			return a
		}
	}
	return nil
}

func mapGet(v any, k string) any {
	m, _ := v.(map[string]any)
	return m[k]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// idOf is the execution id in decimal, as ids compare.
func idOf(id int64) string { return strconv.FormatInt(id, 10) }
