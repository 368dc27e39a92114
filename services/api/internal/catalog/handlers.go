package catalog

import "bytes"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "math"
import "net/http"
import "strconv"
import "strings"
import "time"
import "unicode/utf8"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// IDSource mints catalog ids (application snowflakes; the DB default is not used).
type IDSource interface {
	Next() (int64, error)
}

// Handlers serves the catalog routes (the README's route table).
type Handlers struct {
	pool  *pgxpool.Pool
	ids   IDSource
	cache *Cache
	// OnWrite, when set, is told about every registration (the
	// noetl_write_requests_total{endpoint="catalog_register"} metric).
	OnWrite func(endpoint string, err error)
	// now is the clock of ui_schema's generated_at.
	now func() time.Time
}

// NewHandlers wires the handlers. cache may be nil; otherwise every registered playbook
// is put in it, parsed, under its catalog_id.
func NewHandlers(pool *pgxpool.Pool, ids IDSource, cache *Cache) *Handlers {
	return &Handlers{pool: pool, ids: ids, cache: cache, now: time.Now}
}

// Register adds the routes to r (the /api group).
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/catalog/register", httpx.Handle(h.register))
	r.POST("/catalog/list", httpx.HandleWith(httpx.Body[listRequest], h.list))
	r.POST("/catalog/resource", httpx.HandleWith(httpx.Body[resourceRequest], h.resource))
	// Upstream serves GET /api/catalog/{*tail} and answers only <path>/ui_schema; the
	// path may contain slashes, so it has to be a catch-all.
	r.GET("/catalog/*tail", httpx.Handle(h.uiSchema))
}

// ---- register ----

type registerRequest struct {
	Content      *string `json:"content"`
	ResourceType string  `json:"resource_type"`
}

type registerResponse struct {
	Status    string        `json:"status"`
	Message   string        `json:"message"`
	Path      string        `json:"path"`
	Version   int64         `json:"version"`
	CatalogID wire.StringID `json:"catalog_id"`
	Kind      string        `json:"kind"`
}

// register counts every registration, a body that cannot be read included.
func (h *Handlers) register(c *gin.Context) (registerResponse, error) {
	resp, err := h.doRegister(c)
	if h.OnWrite != nil {
		h.OnWrite("catalog_register", err)
	}
	return resp, err
}

func (h *Handlers) doRegister(c *gin.Context) (registerResponse, error) {
	var req registerRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		return registerResponse{}, err
	}
	if req.Content == nil {
		return registerResponse{}, httpx.Validation("field \"content\" is required")
	}
	text := decodeContent(*req.Content)
	if strings.TrimSpace(text) == "" {
		return registerResponse{}, httpx.Validation("field \"content\" is empty")
	}
	res, err := readResource(text, req.ResourceType)
	if err != nil {
		return registerResponse{}, err
	}
	id, err := h.ids.Next()
	if err != nil {
		return registerResponse{}, httpx.Internal("could not mint a catalog id", err)
	}
	reg, err := Register(c.Request.Context(), h.pool, id, res.Registration)
	switch {
	case errors.Is(err, ErrUnknownKind):
		return registerResponse{}, httpx.Validation("Unknown resource kind '%s' (known: playbook, credential, mcp, agent, memory)", res.Kind)
	case errors.Is(err, ErrVersionsExhausted):
		return registerResponse{}, httpx.Conflict("Resource '%s' has reached the highest version (%d); register it under a new path", res.Path, math.MaxInt16)
	case err != nil:
		return registerResponse{}, httpx.Internal("could not register the resource", err)
	}
	if res.playbook != nil && h.cache != nil {
		h.cache.Put(reg.CatalogID, res.playbook)
	}
	msg := fmt.Sprintf("Resource '%s' version '%d' registered.", res.Path, reg.Version)
	if reg.Existing {
		msg = fmt.Sprintf("Resource '%s' version '%d' is already registered with identical content.", res.Path, reg.Version)
	}
	return registerResponse{
		Status: "success", Message: msg, Path: res.Path, Version: reg.Version,
		CatalogID: wire.StringID(reg.CatalogID), Kind: res.Kind,
	}, nil
}

// decodeContent returns the text of content: standard base64 that decodes to UTF-8 is
// decoded (line breaks inside it, as `base64` writes them, are allowed), anything else
// is taken as the YAML itself. YAML documents always hold characters outside the base64
// alphabet (':' at least), so the two cannot be confused in practice.
func decodeContent(content string) string {
	s := strings.TrimSpace(content)
	if s == "" {
		return content
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return content
	}
	return string(b)
}

// resource is a registration read from YAML text.
type resource struct {
	Registration
	playbook *playbook.Playbook // set for kind playbook
}

// readResource reads and checks the YAML of a registration. YAML that cannot be read is
// a 400 naming the line; a document that breaks a rule (no metadata, no path, an invalid
// playbook) is a 422 with the message.
func readResource(text, resourceType string) (*resource, error) {
	v, err := playbook.DecodeValue([]byte(text))
	if err != nil {
		var pe *playbook.ParseError
		if errors.As(err, &pe) && pe.Line > 0 {
			return nil, httpx.BadRequest("Invalid YAML at line %d: %s", pe.Line, pe.Msg)
		}
		if pe != nil {
			return nil, httpx.BadRequest("Invalid YAML: %s", pe.Msg)
		}
		return nil, yamlError(err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, httpx.Validation("the resource must be a YAML mapping with a 'metadata' section, got %s", jsonx.TypeName(v))
	}
	kind := resourceType
	if k, ok := doc["kind"].(string); ok && strings.TrimSpace(k) != "" {
		kind = k
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	if kind == "" {
		kind = "playbook"
	}
	md, ok := doc["metadata"].(map[string]any)
	if !ok {
		return nil, httpx.Validation("Missing 'metadata' section")
	}
	path := scalarText(md["path"])
	if path == "" {
		path = scalarText(md["name"])
	}
	if path == "" {
		return nil, httpx.Validation("Missing 'path' or 'name' in metadata")
	}
	if err := wire.CheckName(path); err != nil {
		return nil, httpx.Validation("metadata path %v", err)
	}
	res := &resource{Registration: Registration{Path: path, Kind: kind, Content: text}}
	if kind == "playbook" {
		pb, err := playbook.Parse([]byte(text))
		if err != nil {
			return nil, yamlError(err)
		}
		res.playbook = pb
	}
	for _, col := range []struct {
		dst *[]byte
		v   any
		ok  bool
		key string
	}{
		{&res.Layout, doc["workflow"], hasKey(doc, "workflow"), "workflow"},
		{&res.Payload, doc["workload"], hasKey(doc, "workload"), "workload"},
		{&res.Meta, md["labels"], hasKey(md, "labels"), "metadata.labels"},
	} {
		if !col.ok || col.v == nil {
			continue
		}
		b, err := jsonx.Marshal(col.v)
		if err != nil {
			return nil, httpx.Validation("'%s' holds a value JSON cannot represent (NaN or infinity)", col.key)
		}
		*col.dst = b
	}
	return res, nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// scalarText is a metadata value as text: strings as written, numbers and booleans as
// YAML wrote them (jsonx.KeyString's formatting); anything else is absent.
func scalarText(v any) string {
	switch v.(type) {
	case string, int64, float64, bool:
		return strings.TrimSpace(jsonx.KeyString(v))
	}
	return ""
}

// yamlError maps the playbook package's errors (apierr.Playbook); anything else while
// reading a resource is a 500.
func yamlError(err error) error {
	if apierr.IsPlaybook(err) {
		return apierr.Playbook(err)
	}
	return httpx.Internal("could not read the resource", err)
}

// ---- list and resource ----

// entryResponse is upstream's CatalogEntryResponse: the JSON columns are emitted as
// null when absent, never omitted.
type entryResponse struct {
	CatalogID wire.StringID   `json:"catalog_id"`
	Path      string          `json:"path"`
	Kind      string          `json:"kind"`
	Version   int64           `json:"version"`
	Content   string          `json:"content"`
	Layout    json.RawMessage `json:"layout"`
	Payload   json.RawMessage `json:"payload"`
	Meta      json.RawMessage `json:"meta"`
	CreatedAt wire.Time       `json:"created_at"`
}

func toResponse(e *Entry) entryResponse {
	return entryResponse{
		CatalogID: wire.StringID(e.CatalogID), Path: e.Path, Kind: e.Kind, Version: e.Version,
		Content: e.Content, Layout: rawJSON(e.Layout), Payload: rawJSON(e.Payload), Meta: rawJSON(e.Meta),
		CreatedAt: wire.Time(e.CreatedAt),
	}
}

func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil // encodes as null
	}
	return b
}

type listRequest struct {
	ResourceType *string `json:"resource_type"`
}

type listResponse struct {
	Entries []entryResponse `json:"entries"`
}

// list answers POST /api/catalog/list. resource_type matches a kind in any case (kinds
// are stored lower-case, so "Playbook" and "playbook" list the same rows); a kind that
// does not exist is a 400 naming the kinds (it used to list nothing), empty or null
// lists every kind.
func (h *Handlers) list(c *gin.Context, req listRequest) (listResponse, error) {
	ctx := c.Request.Context()
	kind := ""
	if req.ResourceType != nil && strings.TrimSpace(*req.ResourceType) != "" {
		kinds, err := ResourceKinds(ctx, h.pool)
		if err != nil {
			return listResponse{}, httpx.Internal("could not list the catalog", err)
		}
		if kind, err = httpx.OneOf(`field "resource_type"`, *req.ResourceType, kinds...); err != nil {
			return listResponse{}, err
		}
	}
	entries, err := List(ctx, h.pool, kind)
	if err != nil {
		return listResponse{}, httpx.Internal("could not list the catalog", err)
	}
	out := listResponse{Entries: make([]entryResponse, 0, len(entries))}
	for i := range entries {
		out.Entries = append(out.Entries, toResponse(&entries[i]))
	}
	return out, nil
}

type resourceRequest struct {
	// catalog_id is a string upstream; a number is accepted too (inputs are lenient).
	CatalogID json.RawMessage `json:"catalog_id"`
	Path      *string         `json:"path"`
	// version is a string upstream ("3", "latest"); a number is accepted too.
	Version json.RawMessage `json:"version"`
}

func (h *Handlers) resource(c *gin.Context, req resourceRequest) (entryResponse, error) {
	e, err := h.lookup(c, req)
	if err != nil {
		return entryResponse{}, err
	}
	return toResponse(e), nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func (h *Handlers) lookup(c *gin.Context, req resourceRequest) (*Entry, error) {
	ctx := c.Request.Context()
	if !isNull(req.CatalogID) {
		id, err := wire.ParseIDJSON(req.CatalogID)
		if err != nil {
			return nil, httpx.Validation("Invalid catalog_id")
		}
		e, err := ByID(ctx, h.pool, id)
		if errors.Is(err, ErrNotFound) {
			return nil, httpx.NotFound("Catalog entry '%d' not found", id)
		}
		if err != nil {
			return nil, httpx.Internal("could not read the catalog", err)
		}
		return e, nil
	}
	if req.Path == nil || *req.Path == "" {
		return nil, httpx.Validation("Either 'catalog_id' or 'path' must be provided")
	}
	version, err := versionFromJSON(req.Version)
	if err != nil {
		return nil, err
	}
	return h.byPath(c, *req.Path, version)
}

// latest is the version selector for the highest version.
const latest = -1

// versionFromJSON reads the version selector: absent, null, "", "latest" → latest; a
// decimal string or integer → that version.
func versionFromJSON(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return latest, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, invalidVersion(string(raw))
		}
	} else {
		s = string(bytes.TrimSpace(raw))
	}
	return parseVersion(s)
}

func parseVersion(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "latest") {
		return latest, nil
	}
	// Versions count from 1. Below that nothing is stored, and -1, the latest
	// selector's value, answered the latest version instead of saying so.
	v, err := strconv.ParseInt(s, 10, 16)
	if err != nil || v < 1 {
		return 0, invalidVersion(s)
	}
	return v, nil
}

// invalidVersion is the 422 of a version selector that names no version: upstream's
// message, then what was sent and what is accepted.
func invalidVersion(sent string) error {
	if len(sent) > 40 {
		sent = sent[:40] + "..."
	}
	return httpx.Validation("Invalid version number %q: a version is an integer from 1 to 32767, or \"latest\"", sent)
}

func (h *Handlers) byPath(c *gin.Context, path string, version int64) (*Entry, error) {
	ctx := c.Request.Context()
	var e *Entry
	var err error
	if version == latest {
		e, err = Latest(ctx, h.pool, path)
		if errors.Is(err, ErrNotFound) {
			return nil, httpx.NotFound("Catalog entry '%s' not found", path)
		}
	} else {
		e, err = ByPathVersion(ctx, h.pool, path, version)
		if errors.Is(err, ErrNotFound) {
			return nil, httpx.NotFound("Catalog entry '%s' version %d not found", path, version)
		}
	}
	if err != nil {
		return nil, httpx.Internal("could not read the catalog", err)
	}
	return e, nil
}

// ---- ui_schema ----

type uiSchemaResponse struct {
	Path                string    `json:"path"`
	Version             int64     `json:"version"`
	Kind                string    `json:"kind"`
	Title               *string   `json:"title"`
	DescriptionMarkdown *string   `json:"description_markdown"`
	ExposedInUI         bool      `json:"exposed_in_ui"`
	Fields              []UIField `json:"fields"`
	GeneratedAt         wire.Time `json:"generated_at"`
}

// catalogRoutes are the POST-only siblings of the catch-all: GET on them is a wrong
// method, as upstream answers, not a missing ui_schema.
var catalogRoutes = map[string]bool{"register": true, "list": true, "resource": true}

func (h *Handlers) uiSchema(c *gin.Context) (uiSchemaResponse, error) {
	tail := strings.TrimPrefix(c.Param("tail"), "/")
	if catalogRoutes[tail] {
		return uiSchemaResponse{}, httpx.MethodNotAllowed(c, http.MethodPost)
	}
	path, ok := strings.CutSuffix(tail, "ui_schema")
	if !ok || (path != "" && !strings.HasSuffix(path, "/")) {
		return uiSchemaResponse{}, httpx.NotFound("no route matched GET /api/catalog/%s", tail)
	}
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return uiSchemaResponse{}, httpx.Validation("ui_schema path must not be empty")
	}
	version, err := parseVersion(c.Query("version"))
	if err != nil {
		return uiSchemaResponse{}, err
	}
	e, err := h.byPath(c, path, version)
	if err != nil {
		return uiSchemaResponse{}, err
	}
	s := BuildUISchema(e.Content)
	return uiSchemaResponse{
		Path: e.Path, Version: e.Version, Kind: strings.ToLower(e.Kind),
		Title: s.Title, DescriptionMarkdown: s.Description, ExposedInUI: s.ExposedInUI,
		Fields: s.Fields, GeneratedAt: wire.Time(h.now().UTC()),
	}, nil
}
