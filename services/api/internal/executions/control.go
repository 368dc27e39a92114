// Package executions serves the execution routes: start (POST /api/execute), the
// read routes, cancel, cancellation-check, finalize and the event log.
package executions

import "context"
import "encoding/json"
import "errors"
import "math"
import "reflect"
import "strings"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/catalog"
import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/orchestrator"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// Runner is what the write routes need from the orchestrator.
type Runner interface {
	Start(ctx context.Context, req orchestrator.StartRequest) (orchestrator.StartResult, error)
	Cancel(ctx context.Context, executionID int64) error
	Finalize(ctx context.Context, executionID int64, status, errText string) error
}

// Control serves execute, cancel and finalize.
type Control struct {
	pool      *pgxpool.Pool
	runner    Runner
	playbooks *catalog.Cache
}

// NewControl wires the write routes; playbooks resolves what execute starts.
func NewControl(pool *pgxpool.Pool, runner Runner, playbooks *catalog.Cache) *Control {
	return &Control{pool: pool, runner: runner, playbooks: playbooks}
}

// Register adds the routes to the /api group.
func (h *Control) Register(r gin.IRoutes) {
	r.POST("/execute", httpx.HandleWith(httpx.Body[executeRequest], h.execute))
	r.POST("/executions/:execution_id/cancel", httpx.HandleWith(apierr.ExecutionID, h.cancel))
	r.POST("/executions/:execution_id/finalize", httpx.HandleWith(apierr.ExecutionID, h.finalize))
}

type executeRequest struct {
	Path              string     `json:"path"`
	CatalogID         *wire.ID   `json:"catalog_id"`
	Version           version    `json:"version"`
	Payload           jsonObject `json:"payload"`
	Workload          jsonObject `json:"workload"`
	ParentExecutionID *wire.ID   `json:"parent_execution_id"`
	Args              jsonObject `json:"args"`
	IdempotencyKey    string     `json:"idempotency_key"`
}

// input is the execution's input: payload, or its aliases workload (upstream) and args
// (upstream's predecessor), whichever the request names. Naming more than one is a 422
// rather than a silent pick: the keys of the others would be dropped unseen (upstream
// refuses payload with workload the same way).
func (r executeRequest) input() (map[string]any, error) {
	var named []string
	var m map[string]any
	for _, f := range []struct {
		name string
		o    jsonObject
	}{{"payload", r.Payload}, {"workload", r.Workload}, {"args", r.Args}} {
		if f.o.m != nil {
			named, m = append(named, f.name), f.o.m
		}
	}
	if len(named) > 1 {
		return nil, httpx.Validation("%s are aliases of the execution's input: send one of them", strings.Join(named, " and "))
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// MaxIdempotencyKey bounds an idempotency key's length in bytes.
const MaxIdempotencyKey = 256

// ExecuteResponse is upstream's answer (execution_id as a string). Existing is set
// when the idempotency key named an execution started before: nothing was started.
type ExecuteResponse struct {
	ExecutionID       wire.StringID `json:"execution_id"`
	Status            string        `json:"status"`
	CommandsGenerated int           `json:"commands_generated"`
	Existing          bool          `json:"existing,omitempty"`
}

func (h *Control) execute(c *gin.Context, req executeRequest) (ExecuteResponse, error) {
	if req.Path == "" && req.CatalogID == nil {
		return ExecuteResponse{}, httpx.Validation("Either 'path' or 'catalog_id' must be provided")
	}
	// As POST /api/catalog/resource: versions count from 1 and the column is a SMALLINT.
	if v := req.Version.n; v != nil && (*v < 1 || *v > math.MaxInt16) {
		return ExecuteResponse{}, httpx.Validation("Invalid version number \"%d\": a version is an integer from 1 to %d, or \"latest\"", *v, math.MaxInt16)
	}
	if len(req.IdempotencyKey) > MaxIdempotencyKey {
		return ExecuteResponse{}, httpx.Validation("idempotency_key is longer than %d bytes", MaxIdempotencyKey)
	}
	payload, err := req.input()
	if err != nil {
		return ExecuteResponse{}, err
	}
	ctx := c.Request.Context()
	entry, pb, err := h.resolve(ctx, req)
	if err != nil {
		return ExecuteResponse{}, err
	}
	var parent *int64
	// 0 is "no parent" (what a client without one may send); any other id must name an
	// execution, a negative one included.
	if req.ParentExecutionID != nil && *req.ParentExecutionID != 0 {
		v := int64(*req.ParentExecutionID)
		// A child of no execution would never be cancelled with a parent nor read by
		// one; a mistyped id is a 404 rather than an orphan (upstream starts it).
		switch ok, err := eventlog.ExecutionExists(ctx, h.pool, v); {
		case err != nil:
			return ExecuteResponse{}, httpx.Internal("could not read the parent execution", err)
		case !ok:
			return ExecuteResponse{}, httpx.NotFound("Parent execution not found: %d", v)
		}
		parent = &v
	}
	res, err := h.runner.Start(ctx, orchestrator.StartRequest{Entry: entry, Playbook: pb, Payload: payload,
		ParentExecutionID: parent, IdempotencyKey: req.IdempotencyKey, AnyVersion: req.CatalogID == nil && req.Version.n == nil})
	if err != nil {
		return ExecuteResponse{}, err
	}
	return ExecuteResponse{ExecutionID: wire.StringID(res.ExecutionID), Status: "started", CommandsGenerated: res.CommandsGenerated,
		Existing: res.Existing}, nil
}

// resolve finds the catalog entry the request names and its parsed playbook (one read
// of the row), answering a miss with upstream's message for the way it was named.
func (h *Control) resolve(ctx context.Context, req executeRequest) (*catalog.Entry, *playbook.Playbook, error) {
	var ref catalog.Ref
	if req.CatalogID != nil {
		id := int64(*req.CatalogID)
		ref.CatalogID = &id
	} else {
		ref.Path = req.Path
		ref.Version = req.Version.n
	}
	e, pb, err := h.playbooks.Resolve(ctx, h.pool, ref)
	switch {
	case errors.Is(err, catalog.ErrNotPlaybook):
		return nil, nil, httpx.Validation("Catalog entry %d (%s version %d) is a %s, not a playbook: there is nothing to execute",
			e.CatalogID, e.Path, e.Version, strings.ToLower(e.Kind))
	case errors.Is(err, catalog.ErrNoContent):
		return nil, nil, httpx.NotFound("No playbook content found for catalog_id: %d", e.CatalogID)
	case !errors.Is(err, catalog.ErrNotFound):
		if err != nil {
			return nil, nil, apierr.Playbook(err)
		}
		if err := sameEntry(req, e); err != nil {
			return nil, nil, err
		}
		return e, pb, nil
	case ref.CatalogID != nil:
		return nil, nil, httpx.NotFound("Catalog entry not found: %d", *ref.CatalogID)
	case ref.Version != nil:
		return nil, nil, httpx.NotFound("Playbook not found: %s (version %d)", ref.Path, *ref.Version)
	default:
		return nil, nil, httpx.NotFound("Playbook not found: %s", ref.Path)
	}
}

// sameEntry refuses a request whose catalog_id names another entry than its path or
// version do: which of the two it meant to run cannot be told, and running the
// catalog_id's (as upstream does) drops the other unseen.
func sameEntry(req executeRequest, e *catalog.Entry) error {
	if req.CatalogID == nil {
		return nil
	}
	if req.Path != "" && req.Path != e.Path {
		return httpx.Validation("catalog_id %d is %s, not %s: send path or catalog_id, or both naming one entry", e.CatalogID, e.Path, req.Path)
	}
	if v := req.Version.n; v != nil && *v != e.Version {
		return httpx.Validation("catalog_id %d is version %d of %s, not version %d: send version or catalog_id, or both naming one entry",
			e.CatalogID, e.Version, e.Path, *v)
	}
	return nil
}

// terminateErr answers an error of Cancel or Finalize: an execution that does not exist
// is a 404, one that already ended is refused as ended answers for the route.
func terminateErr(err error, id int64, ended func(status string) error) error {
	var term *orchestrator.ErrTerminal
	switch {
	case errors.Is(err, eventlog.ErrNoExecution):
		return apierr.NotFound(err, id)
	case errors.As(err, &term):
		return ended(term.Status)
	}
	return err
}

func (h *Control) cancel(c *gin.Context, id int64) (gin.H, error) {
	if err := h.runner.Cancel(c.Request.Context(), id); err != nil {
		// An execution that already ended is a state conflict, as for finalize: the
		// request was well formed, the execution is just past the point of cancelling.
		return nil, terminateErr(err, id, func(status string) error {
			return httpx.Conflict("Cannot cancel execution in %s state", status)
		})
	}
	return gin.H{"execution_id": id, "message": "Execution cancellation requested", "status": "cancelled"}, nil
}

type finalizeRequest struct {
	Status *string `json:"status"`
	Error  string  `json:"error"`
}

func (h *Control) finalize(c *gin.Context, id int64) (gin.H, error) {
	var req finalizeRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return nil, err
	}
	if req.Status == nil {
		return nil, httpx.Validation("field \"status\" is required")
	}
	// In any case, as the list route's status filter: the canonical spelling is recorded.
	// The matcher's own 400 is not used: a well-formed body with another value is
	// invalid content (422, upstream's message).
	status, err := httpx.OneOf("status", *req.Status, engine.StatusCompleted, engine.StatusFailed)
	if err != nil || status == "" {
		return nil, httpx.Validation("Invalid finalization status: %s", *req.Status)
	}
	if err := h.runner.Finalize(c.Request.Context(), id, status, req.Error); err != nil {
		return nil, terminateErr(err, id, func(status string) error {
			return httpx.Conflict("Execution already finished with status %s", status)
		})
	}
	return gin.H{"execution_id": id, "status": status, "message": "Execution finalized with status: " + status}, nil
}

// version is execute's version selector: an integer or a decimal string names that
// version; absent, null, "" and "latest" name the highest (n nil), as in POST
// /api/catalog/resource and the ui_schema route, whose answers a client feeds back here.
type version struct{ n *int64 }

func (v *version) UnmarshalJSON(b []byte) error {
	var s string
	if string(b) == "null" || json.Unmarshal(b, &s) == nil && (strings.TrimSpace(s) == "" || strings.EqualFold(strings.TrimSpace(s), "latest")) {
		return nil
	}
	var id wire.ID
	if err := id.UnmarshalJSON(b); err != nil {
		return err // a type error: the decoder names the field
	}
	n := int64(id)
	v.n = &n
	return nil
}

// jsonObject decodes a JSON object into the value model (int64 numbers); null and
// absence leave it nil, anything else is an error.
type jsonObject struct{ m map[string]any }

func (o *jsonObject) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := jsonx.Decode(b)
	if err != nil {
		return err // a number out of range, say; the syntax was checked already
	}
	m, ok := v.(map[string]any)
	if !ok {
		// A type error, so that the decoder adds the field's name and the answer says
		// which of payload, workload and args is wrong.
		return &json.UnmarshalTypeError{Value: jsonKindOf(v), Type: reflect.TypeFor[map[string]any]()}
	}
	o.m = m
	return nil
}

// jsonKindOf names a decoded value's JSON kind as encoding/json's type errors do.
func jsonKindOf(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	default:
		return "number"
	}
}
