package client

import "context"
import "encoding/json"
import "net/http"
import "net/url"
import "strconv"

import "github.com/noetl/controlplane/shared/publicapi"

// Registered is the answer of POST /api/catalog/register.
type Registered struct {
	Status    string `json:"status"`
	Message   string `json:"message"`
	Path      string `json:"path"`
	Version   int64  `json:"version"`
	CatalogID ID     `json:"catalog_id"`
	Kind      string `json:"kind"`
}

// Register stores a resource (a playbook's YAML).
func (c *Client) Register(ctx context.Context, content []byte) (Registered, error) {
	return call[Registered](ctx, c, http.MethodPost, "/api/catalog/register", nil, map[string]string{"content": string(content)})
}

// Resource names one version of a catalog resource.
type Resource struct {
	CatalogID ID     `json:"catalog_id"`
	Path      string `json:"path"`
	Kind      string `json:"kind"`
	Version   int64  `json:"version"`
}

// CatalogEntry is one catalog row: the resource, and what it holds.
type CatalogEntry struct {
	Resource
	Content   string          `json:"content,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	CreatedAt string          `json:"created_at"`
}

// CatalogList lists the catalog, of one kind when kind is not empty.
func (c *Client) CatalogList(ctx context.Context, kind string) ([]CatalogEntry, error) {
	body := map[string]any{}
	if kind != "" {
		body["resource_type"] = kind
	}
	var out struct {
		Entries []CatalogEntry `json:"entries"`
	}
	err := c.do(ctx, http.MethodPost, "/api/catalog/list", nil, body, &out)
	return out.Entries, err
}

// CatalogShow reads one entry by path, at version (0: the latest).
func (c *Client) CatalogShow(ctx context.Context, path string, version int) (CatalogEntry, error) {
	body := map[string]any{"path": path}
	if version > 0 {
		body["version"] = strconv.Itoa(version)
	}
	return call[CatalogEntry](ctx, c, http.MethodPost, "/api/catalog/resource", nil, body)
}

// Started is the answer of POST /api/execute.
type Started struct {
	ExecutionID       ID     `json:"execution_id"`
	Status            string `json:"status"`
	CommandsGenerated int    `json:"commands_generated"`
}

// Execute starts the playbook at path (version 0: the latest) with payload.
func (c *Client) Execute(ctx context.Context, path string, version int, payload map[string]any) (Started, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	body := map[string]any{"path": path, "payload": payload}
	if version > 0 {
		body["version"] = version
	}
	return call[Started](ctx, c, http.MethodPost, "/api/execute", nil, body)
}

// Status is GET /api/executions/{id}/status, the id kept as text like every id here.
type Status = publicapi.ExecutionStatus[ID]

// Status reads an execution's status.
func (c *Client) Status(ctx context.Context, id ID) (Status, error) {
	return call[Status](ctx, c, http.MethodGet, executionPath(id, "/status"), nil, nil)
}

// ExecutionHead are the fields an execution's detail and its list entry share, in the
// api's order; the ids decode into ID, the timestamps stay the server's text.
type ExecutionHead = publicapi.ExecutionHead[ID, string]

// Execution is GET /api/executions/{id} without its events.
type Execution struct {
	ExecutionHead
	ParentExecutionID *ID             `json:"parent_execution_id"`
	Workload          json.RawMessage `json:"workload"`
}

// Execution reads an execution's detail.
func (c *Client) Execution(ctx context.Context, id ID) (Execution, error) {
	return call[Execution](ctx, c, http.MethodGet, executionPath(id, ""), nil, nil)
}

// Event is one entry of an execution's event log. The log's nullable string columns
// arrive as null, which encoding/json leaves as "".
type Event struct {
	Seq       int64  `json:"seq"`
	EventID   ID     `json:"event_id"`
	EventType string `json:"event_type"`
	NodeName  string `json:"node_name"`
	NodeType  string `json:"node_type,omitempty"`
	Status    string `json:"status,omitempty"`
	EventData
	Error     string `json:"error,omitempty"`
	WorkerID  string `json:"worker_id,omitempty"`
	CreatedAt string `json:"created_at"`
}

// EventData are the JSON documents an event carries, as the server stored them: its
// context (the payload it was written with), its result and its meta (the command's id,
// attempt, ...). The client passes them on untouched; the watch decodes what it reads.
type EventData struct {
	Context json.RawMessage `json:"context,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

// EventPage is one page of GET /api/executions/{id}/events.
type EventPage struct {
	ExecutionID  ID      `json:"execution_id"`
	Events       []Event `json:"events"`
	NextAfterSeq *int64  `json:"next_after_seq"`
	HasMore      bool    `json:"has_more"`
}

// Events reads the events after seq afterSeq (limit 0: the server's default).
func (c *Client) Events(ctx context.Context, id ID, afterSeq int64, limit int) (EventPage, error) {
	q := url.Values{"after_seq": {strconv.FormatInt(afterSeq, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return call[EventPage](ctx, c, http.MethodGet, executionPath(id, "/events"), q, nil)
}

// AllEvents reads the whole log after afterSeq, page by page.
func (c *Client) AllEvents(ctx context.Context, id ID, afterSeq int64) ([]Event, error) {
	var all []Event
	for {
		page, err := c.Events(ctx, id, afterSeq, 0)
		if err != nil {
			return all, err
		}
		all = append(all, page.Events...)
		if !page.HasMore || page.NextAfterSeq == nil {
			return all, nil
		}
		afterSeq = *page.NextAfterSeq
	}
}

// Cancelled is the answer of POST /api/executions/{id}/cancel.
type Cancelled struct {
	ExecutionID ID     `json:"execution_id"`
	Status      string `json:"status"`
	Message     string `json:"message"`
}

// Cancel asks the server to cancel an execution.
func (c *Client) Cancel(ctx context.Context, id ID) (Cancelled, error) {
	return call[Cancelled](ctx, c, http.MethodPost, executionPath(id, "/cancel"), nil, map[string]any{})
}

// Summary is one element of GET /api/executions.
type Summary struct {
	ExecutionHead
	EventCount int64 `json:"event_count"`
}

// filters is the query of a list route: the filters that are set (an empty one is not
// sent).
func filters(byName map[string]string) url.Values {
	q := url.Values{}
	for name, v := range byName {
		if v != "" {
			q.Set(name, v)
		}
	}
	return q
}

// ListFilter narrows GET /api/executions.
type ListFilter struct {
	Path, Status string
	Limit        int // 0: the server's default (50, at most 100)
}

// Executions lists executions, newest first.
func (c *Client) Executions(ctx context.Context, f ListFilter) ([]Summary, error) {
	q := filters(map[string]string{"path": f.Path, "status": f.Status})
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return call[[]Summary](ctx, c, http.MethodGet, "/api/executions", q, nil)
}

// Credential is a wallet credential; Data is present only when it was asked for.
type Credential struct {
	ID          ID              `json:"id"`
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Description *string         `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	CreatedAt   string          `json:"created_at"`
	UpdatedAt   string          `json:"updated_at"`
}

// CredentialInput is the body of POST /api/credentials.
type CredentialInput struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
	Description *string         `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
}

// SetCredential creates the credential, or replaces the one of the same name.
func (c *Client) SetCredential(ctx context.Context, in CredentialInput) (Credential, error) {
	return call[Credential](ctx, c, http.MethodPost, "/api/credentials", nil, in)
}

// GetCredential reads a credential by id or name; reveal asks for its data (a route
// that takes the worker or internal token once tokens are configured).
func (c *Client) GetCredential(ctx context.Context, identifier string, reveal bool) (Credential, error) {
	var q url.Values
	if reveal {
		q = url.Values{"include_data": {"true"}}
	}
	return call[Credential](ctx, c, http.MethodGet, "/api/credentials/"+url.PathEscape(identifier), q, nil)
}

// ListCredentials lists credentials (without data), filtered by type and a name
// substring when not empty.
func (c *Client) ListCredentials(ctx context.Context, typ, q string) ([]Credential, error) {
	var out struct {
		Items []Credential `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, "/api/credentials", filters(map[string]string{"type": typ, "q": q}), nil, &out)
	return out.Items, err
}

// DeleteCredential deletes a credential by id or name.
func (c *Client) DeleteCredential(ctx context.Context, identifier string) (Deleted, error) {
	return call[Deleted](ctx, c, http.MethodDelete, "/api/credentials/"+url.PathEscape(identifier), nil, nil)
}

// Deleted is the answer of DELETE /api/credentials/{identifier}.
type Deleted struct {
	ID      ID     `json:"id"`
	Message string `json:"message"`
}

// WorkerPool is one row of GET /api/worker/pools.
type WorkerPool struct {
	RuntimeID ID      `json:"runtime_id"`
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	URI       *string `json:"uri"`
	Status    string  `json:"status"`
	PoolProfile
	Heartbeat string `json:"heartbeat"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// HeartbeatInterval is the interval the pool registered with, in seconds (nil: none).
	HeartbeatInterval *float64 `json:"heartbeat_interval_seconds"`
}

// PoolProfile is what a pool says of itself when it registers: its labels and
// capabilities, how many commands it runs at once (nil: not said), and its runtime. The
// JSON documents are passed on as the server sent them.
type PoolProfile struct {
	Labels       json.RawMessage `json:"labels"`
	Capabilities json.RawMessage `json:"capabilities"`
	Capacity     *int64          `json:"capacity"`
	Runtime      json.RawMessage `json:"runtime"`
}

// WorkerPools lists the registered worker pools, by name, filtered by an exact status
// and a name substring when not empty.
func (c *Client) WorkerPools(ctx context.Context, status, name string) ([]WorkerPool, error) {
	return call[[]WorkerPool](ctx, c, http.MethodGet, "/api/worker/pools", filters(map[string]string{"status": status, "name": name}), nil)
}

// Health is GET /api/health (open): the server's version among others.
type Health struct {
	Status   string `json:"status"`
	Version  string `json:"version"`
	Database string `json:"database,omitempty"`
	NATS     string `json:"nats,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// Health reads the server's health and version.
func (c *Client) Health(ctx context.Context) (Health, error) {
	return call[Health](ctx, c, http.MethodGet, "/api/health", nil, nil)
}
