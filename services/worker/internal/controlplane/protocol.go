package controlplane

import "context"
import "errors"
import "fmt"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// Registration is the body of POST /api/worker/pool/register as the upstream worker
// sends it.
type Registration struct {
	Name      string
	PoolName  string
	PublicKey string // base64 X25519 public key for sealed credentials
	Hostname  string
	Capacity  int
	// HeartbeatInterval is how often the worker heart-beats: the control plane waits a
	// few of them before it takes back a claim the heartbeats would have renewed or
	// acknowledged (docs/engine.md, "Claim leases").
	HeartbeatInterval time.Duration
}

// Register announces the worker and its sealing key.
func (c *Client) Register(ctx context.Context, r Registration) error {
	body := map[string]any{
		"name": r.Name, "component_type": "worker_pool", "status": "ready", "hostname": r.Hostname,
		"runtime": map[string]any{"kind": "go", "worker_public_key": r.PublicKey},
		"labels":  map[string]any{"pool_name": r.PoolName},
	}
	if r.Capacity > 0 {
		body["capacity"] = int64(r.Capacity)
	}
	if r.HeartbeatInterval > 0 {
		body["heartbeat_interval_seconds"] = r.HeartbeatInterval.Seconds()
	}
	_, err := c.do(ctx, http.MethodPost, "", "/api/worker/pool/register", body)
	return err
}

// ErrNotRegistered: the heartbeat found no row (the registry was reset); register again.
var ErrNotRegistered = errors.New("worker is not registered")

// Heartbeat refreshes the worker's row and lists the commands it holds (command.issued
// event ids, as strings: snowflakes exceed 2^53), which renews their claims: a claim
// the worker stops listing lapses on the control plane. It returns the listed ids the
// control plane says the worker no longer holds (the answer's "released"; none from a
// control plane that does not send it). An id it cannot read is skipped: acting on a
// misread id could stop a command the worker still holds.
func (c *Client) Heartbeat(ctx context.Context, name string, held []int64) ([]int64, error) {
	ids := make([]string, len(held))
	for i, id := range held {
		ids[i] = strconv.FormatInt(id, 10)
	}
	v, err := c.do(ctx, http.MethodPost, "", "/api/worker/pool/heartbeat",
		map[string]any{"name": name, "component_type": "worker_pool", "commands": ids})
	if StatusOf(err) == http.StatusNotFound {
		return nil, ErrNotRegistered
	}
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	list, _ := m["released"].([]any)
	var released []int64
	for _, raw := range list {
		if id, ok := IDOf(raw); ok {
			released = append(released, id)
		}
	}
	return released, nil
}

// Deregister marks the worker offline (POST, which the control plane accepts as well as
// DELETE).
func (c *Client) Deregister(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPost, "", "/api/worker/pool/deregister", map[string]any{"name": name, "component_type": "worker_pool"})
	return err
}

// Command is a claimed command.
type Command struct {
	EventID     int64
	ExecutionID int64
	Step        string
	Action      string
	// Context is the command.issued context: tool_config, args, render_context.
	Context map[string]any
	Meta    map[string]any
	// CommandID is meta.command_id as text; CommandIDValue is it as it came (events
	// send it back unchanged).
	CommandID      string
	CommandIDValue any
	Attempt        int64
}

// ErrClaimRefused wraps the 404/409 answers that mean the command is not this worker's
// to run: another worker has it, it finished, or its execution ended or was cancelled.
var ErrClaimRefused = errors.New("claim refused")

// Claim claims a command. A 404 or 409 answer is returned wrapped in ErrClaimRefused.
// A 2xx answer that is not a command is wrapped in ErrUnreadableAnswer.
func (c *Client) Claim(ctx context.Context, server string, eventID int64, workerID string) (*Command, error) {
	v, err := c.do(ctx, http.MethodPost, server, "/api/commands/"+strconv.FormatInt(eventID, 10)+"/claim", map[string]any{"worker_id": workerID})
	if code := StatusOf(err); code == http.StatusConflict || code == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %v", ErrClaimRefused, err)
	}
	if err != nil {
		return nil, err
	}
	cmd, err := parseCommand(v, eventID)
	if err != nil {
		return nil, fmt.Errorf("POST /api/commands/{id}/claim: %w: %w", ErrUnreadableAnswer, err)
	}
	return cmd, nil
}

func parseCommand(v any, eventID int64) (*Command, error) {
	m := object(v)
	if m == nil {
		return nil, fmt.Errorf("claim answer is not an object")
	}
	cmd := &Command{EventID: eventID}
	cmd.ExecutionID, _ = IDOf(m["execution_id"])
	cmd.Step, _ = m["node_name"].(string)
	if cmd.Step == "" {
		cmd.Step, _ = m["node_id"].(string)
	}
	cmd.Action, _ = m["action"].(string)
	cmd.Context = object(m["context"])
	if cmd.Context == nil {
		cmd.Context = map[string]any{}
	}
	cmd.Meta = object(m["meta"])
	if cmd.Meta == nil {
		cmd.Meta = map[string]any{}
	}
	cmd.CommandIDValue = cmd.Meta["command_id"]
	cmd.CommandID = idText(cmd.CommandIDValue)
	if cmd.CommandID == "" {
		// Upstream's fallback key.
		cmd.CommandID = fmt.Sprintf("%d:%s:%d", cmd.ExecutionID, cmd.Step, eventID)
		cmd.CommandIDValue = cmd.CommandID
	}
	if a, ok := cmd.Meta["attempt"].(int64); ok {
		cmd.Attempt = a
	}
	if cmd.ExecutionID == 0 || cmd.Step == "" || cmd.Action == "" {
		return nil, fmt.Errorf("claim answer lacks execution_id, node_name or action")
	}
	return cmd, nil
}

// IDOf reads an id sent as a JSON number or a decimal string.
func IDOf(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// idText is an id sent as a JSON string or number, as text; "" for anything else.
func idText(v any) string {
	if n, ok := v.(int64); ok {
		return strconv.FormatInt(n, 10)
	}
	s, _ := v.(string)
	return s
}

// Event is a worker event on the wire (upstream's ExecutorEvent envelope).
type Event struct {
	ExecutionID int64          `json:"execution_id"`
	EventType   string         `json:"event_type"`
	Step        string         `json:"step"`
	Status      string         `json:"status"`
	CreatedAt   string         `json:"created_at"`
	Context     map[string]any `json:"context"`
	EventID     int64          `json:"event_id,omitempty"` // 0: the control plane mints one
	WorkerID    string         `json:"worker_id"`
	Meta        map[string]any `json:"meta,omitempty"`
}

// NewEvent stamps an event with its id and time.
func NewEvent(id int64, executionID int64, step, eventType, status, workerID string, context map[string]any) Event {
	return Event{ExecutionID: executionID, EventType: eventType, Step: step, Status: status,
		CreatedAt: wire.FormatTime(time.Now()), Context: context, EventID: id, WorkerID: workerID}
}

// PostEvent posts one event. Posting the same event (same event_id) again is harmless.
func (c *Client) PostEvent(ctx context.Context, server string, ev Event) error {
	_, err := c.do(ctx, http.MethodPost, server, "/api/events", ev)
	return err
}

// PostEvents posts events of one execution in one request (one transaction on the
// control plane), in order.
func (c *Client) PostEvents(ctx context.Context, server string, executionID int64, workerID string, evs []Event) error {
	_, err := c.do(ctx, http.MethodPost, server, "/api/events/batch", map[string]any{
		"execution_id": executionID, "worker_id": workerID, "events": evs,
	})
	return err
}

// PostOutcome posts a command's closing events like PostEvents and asks for eager
// dispatch: up to capacity of the commands the control plane issues in answer are
// claimed for workerID in the same transaction and returned here, ready to run (a
// control plane without eager dispatch returns none, and they come through NATS as
// usual). Posting the same events again returns the same commands.
func (c *Client) PostOutcome(ctx context.Context, server string, executionID int64, workerID string, evs []Event, capacity int) ([]*Command, error) {
	v, err := c.do(ctx, http.MethodPost, server, "/api/events/batch", map[string]any{
		"execution_id": executionID, "worker_id": workerID, "events": evs, "eager_capacity": capacity,
	})
	if err != nil {
		return nil, err
	}
	list, _ := object(v)["commands"].([]any)
	out := make([]*Command, 0, len(list))
	// The events are stored (the answer is a 2xx): a command that cannot be read is
	// skipped and reported as ErrUnreadableAnswer beside the ones that can, so the
	// caller neither posts the outcome again (and gets the same answer) nor loses the
	// rest. The control plane hands the skipped one back at its eager ack deadline.
	var bad error
	for _, item := range list {
		m := object(item)
		id, ok := IDOf(m["event_id"])
		if !ok {
			bad = errors.Join(bad, errors.New("eager command without an event_id"))
			continue
		}
		cmd, err := parseCommand(m, id)
		if err != nil {
			bad = errors.Join(bad, fmt.Errorf("eager command %d: %w", id, err))
			continue
		}
		out = append(out, cmd)
	}
	if bad != nil {
		return out, fmt.Errorf("POST /api/events/batch: %w: %w", ErrUnreadableAnswer, bad)
	}
	return out, nil
}

// Cancelled asks whether an execution was cancelled.
func (c *Client) Cancelled(ctx context.Context, server string, executionID int64) (bool, error) {
	v, err := c.do(ctx, http.MethodGet, server, fmt.Sprintf("/api/executions/%d/cancellation-check", executionID), nil)
	if err != nil {
		return false, err
	}
	m := object(v)
	if b, ok := m["cancelled"].(bool); ok {
		return b, nil
	}
	if b, ok := m["is_cancelled"].(bool); ok {
		return b, nil
	}
	s, _ := m["status"].(string)
	return strings.EqualFold(s, "cancelled"), nil
}

// PutResult stores a result too large for an event and returns the reference object
// (`{kind: "result_ref", ref, store, scope, meta}`) that the call.done then carries.
func (c *Client) PutResult(ctx context.Context, server string, executionID int64, step string, data any) (map[string]any, error) {
	v, err := c.do(ctx, http.MethodPut, server, fmt.Sprintf("/api/result/%d", executionID), map[string]any{
		"name": step, "data": data, "scope": "execution", "source_step": step,
	})
	if err != nil {
		return nil, err
	}
	ref := object(v)
	if s, _ := ref["ref"].(string); s == "" {
		return nil, fmt.Errorf("PUT /api/result/{id}: answer without a ref")
	}
	return ref, nil
}

// ResolveResult reads back stored result data.
func (c *Client) ResolveResult(ctx context.Context, server, ref string) (any, error) {
	v, err := c.do(ctx, http.MethodGet, server, "/api/result/resolve?ref="+url.QueryEscape(ref), nil)
	if err != nil {
		return nil, err
	}
	return object(v)["data"], nil
}

// Credential is a credential as the credential routes return it.
type Credential struct {
	ID   string
	Name string
	Type string
	Data map[string]any // the data when it is an object, else empty
	// Value is the data as the wallet sent it: Data, or the JSON string a keychain entry
	// without a map resolves to (docs/secret-providers.md, "A keychain entry").
	Value any
}

// Content is the credential's data as sent: Value, or Data when Value is unset.
func (c Credential) Content() any {
	if c.Value != nil {
		return c.Value
	}
	return c.Data
}

// ParseCredential decodes a credential response (also the plaintext of a sealed one).
func ParseCredential(raw []byte) (Credential, error) {
	m, err := jsonx.DecodeObject(raw)
	if err != nil {
		return Credential{}, fmt.Errorf("credential: %w", err)
	}
	return credentialOf(m)
}

func credentialOf(m map[string]any) (Credential, error) {
	cr := Credential{ID: idText(m["id"])}
	cr.Name, _ = m["name"].(string)
	cr.Type, _ = m["type"].(string)
	switch d := m["data"].(type) {
	case map[string]any:
		cr.Data, cr.Value = d, d
	case nil:
		cr.Data = map[string]any{}
		cr.Value = cr.Data
	default:
		// A keychain entry without a map resolves to one string; templates read it as
		// {{ keychain.<alias> }}. A stored credential's data is always an object.
		if !strings.EqualFold(cr.Type, "keychain") {
			return Credential{}, fmt.Errorf("credential %q: data is not an object", cr.Name)
		}
		cr.Data, cr.Value = map[string]any{}, d
	}
	if cr.Type == "" {
		return Credential{}, fmt.Errorf("credential %q has no type", cr.Name)
	}
	return cr, nil
}

// ErrCredentialNotFound: no credential (or keychain entry) has that alias, or the
// secret a keychain entry names is not in its provider.
var ErrCredentialNotFound = errors.New("credential not found")

// NotFoundError is a 404 from a credential route. Detail is the wallet's message, which
// for a keychain entry says what was missing (the provider's secret, a stored credential
// named by credential:), so that the step's error does not claim the alias is unknown.
type NotFoundError struct {
	Alias  string
	Detail string
}

func (e *NotFoundError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%v: %q", ErrCredentialNotFound, e.Alias)
	}
	return fmt.Sprintf("%v: %q: %s", ErrCredentialNotFound, e.Alias, e.Detail)
}

// Is makes errors.Is(err, ErrCredentialNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == ErrCredentialNotFound }

func notFound(alias string, err error) error {
	nf := &NotFoundError{Alias: alias}
	var se *StatusError
	if errors.As(err, &se) {
		nf.Detail = se.Body
	}
	return nf
}

// Credential fetches a credential with its data (plaintext over the transport).
func (c *Client) Credential(ctx context.Context, server, alias string, executionID int64) (Credential, error) {
	q := url.Values{"include_data": {"true"}, "execution_id": {strconv.FormatInt(executionID, 10)}}
	v, err := c.do(ctx, http.MethodGet, server, "/api/credentials/"+url.PathEscape(alias)+"?"+q.Encode(), nil)
	if StatusOf(err) == http.StatusNotFound {
		return Credential{}, notFound(alias, err)
	}
	if err != nil {
		return Credential{}, err
	}
	return credentialOf(object(v))
}

// SealedCredential fetches a credential sealed to the worker's registered key and
// returns the envelope's JSON text.
func (c *Client) SealedCredential(ctx context.Context, server, alias, workerID string, executionID int64) ([]byte, error) {
	q := url.Values{"worker_id": {workerID}, "execution_id": {strconv.FormatInt(executionID, 10)}}
	v, err := c.do(ctx, http.MethodGet, server, "/api/credentials/"+url.PathEscape(alias)+"/sealed?"+q.Encode(), nil)
	if StatusOf(err) == http.StatusNotFound {
		return nil, notFound(alias, err)
	}
	if err != nil {
		return nil, err
	}
	return jsonx.Marshal(v)
}

// ExecuteRequest starts a playbook.
type ExecuteRequest struct {
	Path              string
	CatalogID         string
	Version           any
	Payload           map[string]any
	ParentExecutionID int64
	// IdempotencyKey, when set, makes a repeat of the start answer the execution the
	// first one created (scoped to the parent).
	IdempotencyKey string
}

// Execute starts an execution and returns its id.
func (c *Client) Execute(ctx context.Context, server string, r ExecuteRequest) (int64, error) {
	body := map[string]any{"payload": r.Payload}
	if r.Path != "" {
		body["path"] = r.Path
	}
	if r.CatalogID != "" {
		body["catalog_id"] = r.CatalogID
	}
	if r.Version != nil {
		body["version"] = r.Version
	}
	if r.ParentExecutionID != 0 {
		body["parent_execution_id"] = r.ParentExecutionID
	}
	if r.IdempotencyKey != "" {
		body["idempotency_key"] = r.IdempotencyKey
	}
	v, err := c.do(ctx, http.MethodPost, server, "/api/execute", body)
	if err != nil {
		return 0, err
	}
	id, ok := IDOf(object(v)["execution_id"])
	if !ok {
		return 0, fmt.Errorf("POST /api/execute: answer without an execution_id")
	}
	return id, nil
}

// ExecutionStatus is GET /api/executions/{id}/status.
func (c *Client) ExecutionStatus(ctx context.Context, server string, id int64) (map[string]any, error) {
	v, err := c.do(ctx, http.MethodGet, server, fmt.Sprintf("/api/executions/%d/status", id), nil)
	if err != nil {
		return nil, err
	}
	return object(v), nil
}

// CancelExecution cancels an execution.
func (c *Client) CancelExecution(ctx context.Context, server string, id int64) error {
	_, err := c.do(ctx, http.MethodPost, server, fmt.Sprintf("/api/executions/%d/cancel", id), nil)
	return err
}

// ExecutionEvents reads an execution's whole event log, page by page, in order.
func (c *Client) ExecutionEvents(ctx context.Context, server string, id int64) ([]map[string]any, error) {
	var out []map[string]any
	after := int64(0)
	for {
		v, err := c.do(ctx, http.MethodGet, server, fmt.Sprintf("/api/executions/%d/events?after_seq=%d&limit=500", id, after), nil)
		if err != nil {
			return nil, err
		}
		var page []any
		more := false
		switch t := v.(type) {
		case []any:
			page, more = t, len(t) == 500
		case map[string]any:
			page, _ = t["events"].([]any)
			more, _ = t["has_more"].(bool)
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, e := range page {
			ev := object(e)
			if ev == nil {
				continue
			}
			out = append(out, ev)
			if s, ok := ev["seq"].(int64); ok && s > after {
				after = s
			}
		}
		if !more {
			return out, nil
		}
	}
}
