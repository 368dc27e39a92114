package database

import "encoding/base64"
import "strings"
import "unicode/utf8"

import "github.com/gin-gonic/gin"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/httpx"

// RequiredTables are the tables /api/db/validate looks for (upstream's list).
var RequiredTables = []string{"resource", "catalog", "transient", "event", "credential", "runtime", "schedule", "keychain"}

// Handlers serves the database routes.
type Handlers struct {
	store  *Store
	runner *Runner
	schema string
}

// NewHandlers wires the routes: pool is the api's, sqlPool the SQL route's own
// (OpenSQLPool), schema NOETL_SCHEMA. POST /api/postgres/execute is internal-class in the
// access table: only the internal token reaches it.
func NewHandlers(pool, sqlPool *pgxpool.Pool, schema string, sql SQLConfig) *Handlers {
	return &Handlers{store: NewStore(pool), runner: NewRunner(sqlPool, sql), schema: schema}
}

// Register adds the routes to the /api group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("/db/init", httpx.Handle(h.init))
	r.GET("/db/validate", httpx.Handle(h.validate))
	r.POST("/postgres/execute", httpx.HandleWith(httpx.Body[executeRequest], h.execute))
}

// InitResponse answers POST /api/db/init. Like upstream it creates nothing: the schema
// is created and upgraded by `noetl-api migrate` (or NOETL_AUTO_MIGRATE), not through
// an HTTP route; this only reports whether NOETL_SCHEMA exists.
type InitResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Valid   bool   `json:"valid"`
}

func (h *Handlers) init(c *gin.Context) (InitResponse, error) {
	ok, err := h.store.SchemaExists(c.Request.Context(), h.schema)
	if err != nil {
		return InitResponse{}, err
	}
	msg := "Schema '" + h.schema + "' already exists."
	if !ok {
		msg = "Schema '" + h.schema + "' does not exist. Run noetl-api migrate to create it."
	}
	return InitResponse{Status: "ok", Message: msg, Valid: ok}, nil
}

// ValidateResponse answers GET /api/db/validate.
type ValidateResponse struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Valid   bool     `json:"valid"`
	Tables  []string `json:"tables"`
	Missing []string `json:"missing"`
}

func (h *Handlers) validate(c *gin.Context) (ValidateResponse, error) {
	tables, err := h.store.Tables(c.Request.Context(), h.schema)
	if err != nil {
		return ValidateResponse{}, err
	}
	have := make(map[string]bool, len(tables))
	for _, t := range tables {
		have[t] = true
	}
	missing := []string{}
	for _, t := range RequiredTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	msg := "Database schema is valid"
	if len(missing) > 0 {
		msg = "Missing tables: " + strings.Join(missing, ", ")
	}
	return ValidateResponse{Status: "ok", Message: msg, Valid: len(missing) == 0, Tables: tables, Missing: missing}, nil
}

// executeRequest is upstream's body. parameters, database, credential and
// connection_string are accepted and ignored, as upstream does: the SQL always runs on
// the api's own database.
type executeRequest struct {
	Query       *string `json:"query"`
	QueryBase64 *string `json:"query_base64"`
	Procedure   *string `json:"procedure"`
	Schema      *string `json:"schema"`
	DBSchema    *string `json:"db_schema"`
}

// ExecuteResponse answers POST /api/postgres/execute.
type ExecuteResponse struct {
	Status string           `json:"status"`
	Result []map[string]any `json:"result"`
}

func (h *Handlers) execute(c *gin.Context, req executeRequest) (ExecuteResponse, error) {
	sql, err := req.sql()
	if err != nil {
		return ExecuteResponse{}, err
	}
	schema := ""
	if req.Schema != nil {
		schema = *req.Schema
	} else if req.DBSchema != nil {
		schema = *req.DBSchema
	}
	rows, err := h.runner.Execute(c.Request.Context(), sql, schema)
	if err != nil {
		return ExecuteResponse{}, err
	}
	return ExecuteResponse{Status: "ok", Result: rows}, nil
}

// sql picks the statement text: query_base64, else query, else procedure (upstream's
// order; blank values count as absent).
func (r executeRequest) sql() (string, error) {
	if r.QueryBase64 != nil && strings.TrimSpace(*r.QueryBase64) != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*r.QueryBase64))
		if err != nil {
			return "", httpx.Validation("Invalid base64: %v", err)
		}
		if !utf8.Valid(b) {
			return "", httpx.Validation("Invalid UTF-8 in query")
		}
		return string(b), nil
	}
	for _, s := range []*string{r.Query, r.Procedure} {
		if s != nil && strings.TrimSpace(*s) != "" {
			return *s, nil
		}
	}
	return "", httpx.Validation("Either 'query' or 'procedure' must be provided")
}
