package vars

import "encoding/json"
import "errors"
import "sort"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/api/internal/apierr"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/wire"

// IDSource mints result ref ids.
type IDSource interface {
	Next() (int64, error)
}

// Handlers serves /api/vars and /api/result.
type Handlers struct {
	store *Store
	ids   IDSource
}

// NewHandlers wires the routes.
func NewHandlers(store *Store, ids IDSource) *Handlers { return &Handlers{store: store, ids: ids} }

// Register adds the routes to the /api group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/vars/:execution_id", httpx.HandleWith(apierr.ExecutionID, h.list))
	r.POST("/vars/:execution_id", httpx.HandleWith(apierr.ExecutionID, h.set))
	r.DELETE("/vars/:execution_id", httpx.HandleWith(apierr.ExecutionID, h.deleteAll))
	r.GET("/vars/:execution_id/:var_name", httpx.HandleWith(apierr.ExecutionID, h.get))
	r.DELETE("/vars/:execution_id/:var_name", httpx.HandleWith(apierr.ExecutionID, h.deleteOne))
	r.PUT("/result/:execution_id", httpx.HandleWith(apierr.ExecutionID, h.putResult))
	r.GET("/result/resolve", httpx.Handle(h.resolveResult))
}

// VariableResponse is upstream's Variable (struct order; source_step null when unset).
type VariableResponse struct {
	VarName     string          `json:"var_name"`
	VarType     string          `json:"var_type"`
	VarValue    json.RawMessage `json:"var_value"`
	SourceStep  *string         `json:"source_step"`
	CreatedAt   wire.Time       `json:"created_at"`
	AccessedAt  wire.Time       `json:"accessed_at"`
	AccessCount int64           `json:"access_count"`
}

func variableResponse(v Variable) VariableResponse {
	return VariableResponse{
		VarName: v.Name, VarType: v.Type, VarValue: v.Value, SourceStep: v.SourceStep,
		CreatedAt: wire.Time(v.CreatedAt), AccessedAt: wire.Time(v.AccessedAt), AccessCount: v.AccessCount,
	}
}

// SetResponse, DeleteAllResponse and DeleteResponse keep upstream's alphabetical keys.
type SetResponse struct {
	ExecutionID  int64  `json:"execution_id"`
	Status       string `json:"status"`
	VariablesSet int    `json:"variables_set"`
}

// DeleteAllResponse answers DELETE /api/vars/{execution_id}.
type DeleteAllResponse struct {
	ExecutionID      int64  `json:"execution_id"`
	Status           string `json:"status"`
	VariablesDeleted int64  `json:"variables_deleted"`
}

// DeleteResponse answers DELETE /api/vars/{execution_id}/{var_name}.
type DeleteResponse struct {
	ExecutionID int64  `json:"execution_id"`
	VarName     string `json:"var_name"`
	Status      string `json:"status"`
}

func (h *Handlers) list(c *gin.Context, id int64) ([]VariableResponse, error) {
	vs, err := h.store.List(c.Request.Context(), id)
	if err != nil {
		return nil, apierr.NotFound(err, id)
	}
	return httpx.ListOf(vs, variableResponse), nil
}

func (h *Handlers) set(c *gin.Context, id int64) (SetResponse, error) {
	body, err := httpx.ReadJSONBody(c)
	if err != nil {
		return SetResponse{}, err
	}
	vars, err := parseSetBody(body)
	if err != nil {
		return SetResponse{}, err
	}
	n, err := h.store.Set(c.Request.Context(), id, vars)
	if err != nil {
		return SetResponse{}, apierr.NotFound(err, id)
	}
	return SetResponse{ExecutionID: id, Status: "ok", VariablesSet: n}, nil
}

// varTypes are the values the transient table accepts.
var varTypes = map[string]bool{"user_defined": true, "step_result": true, "computed": true, "iterator_state": true}

// parseSetBody accepts upstream's {"variables": [{var_name, var_value, var_type?,
// source_step?}]} and the worker's {"<name>": <value>, ...}. A body is the upstream form
// when its "variables" key holds an array; otherwise every top-level key is a
// user_defined variable (so a worker can still set a variable named "variables" to
// anything but an array). Every item is validated before anything is written.
func parseSetBody(body []byte) ([]VarInput, error) {
	obj, err := httpx.DecodeObject(body)
	if err != nil {
		return nil, err
	}
	list, upstream := obj["variables"].([]any)
	if !upstream {
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names) // a stable write order, so concurrent writers lock rows alike
		out := make([]VarInput, 0, len(names))
		for _, k := range names {
			if k == "" {
				return nil, httpx.Validation("variable names must not be empty")
			}
			// As in the upstream form: a longer name would only fail in the index, a 500.
			if err := wire.CheckName(k); err != nil {
				return nil, httpx.Validation("variable name %v", err)
			}
			b, err := jsonx.Marshal(obj[k])
			if err != nil {
				return nil, httpx.Validation("variable %q: %v", k, err)
			}
			out = append(out, VarInput{Name: k, Type: "user_defined", Value: b})
		}
		return out, nil
	}
	out := make([]VarInput, 0, len(list))
	seen := map[string]int{}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, httpx.Validation("variables[%d]: expected an object, got %s", i, jsonx.TypeName(item))
		}
		name, ok := m["var_name"].(string)
		if !ok || name == "" {
			return nil, httpx.Validation("variables[%d]: field \"var_name\" is required and must be a non-empty string", i)
		}
		if err := wire.CheckName(name); err != nil {
			return nil, httpx.Validation("variables[%d]: field \"var_name\" %v", i, err)
		}
		value, ok := m["var_value"]
		if !ok {
			return nil, httpx.Validation("variables[%d]: field \"var_value\" is required", i)
		}
		typ := "user_defined"
		if t, present := m["var_type"]; present && t != nil {
			s, ok := t.(string)
			if !ok {
				return nil, httpx.Validation("variables[%d]: field \"var_type\" must be a string", i)
			}
			typ = s
		}
		if !varTypes[typ] {
			return nil, httpx.Validation("Invalid var_type: %s", typ)
		}
		var step *string
		if s, present := m["source_step"]; present && s != nil {
			str, ok := s.(string)
			if !ok {
				return nil, httpx.Validation("variables[%d]: field \"source_step\" must be a string", i)
			}
			step = &str
		}
		b, err := jsonx.Marshal(value)
		if err != nil {
			return nil, httpx.Validation("variables[%d]: %v", i, err)
		}
		v := VarInput{Name: name, Type: typ, Value: b, SourceStep: step}
		if j, dup := seen[name]; dup {
			out[j] = v // the last one wins, as sequential upserts would leave it
			continue
		}
		seen[name] = len(out)
		out = append(out, v)
	}
	return out, nil
}

// variableErr is the 404 that names a variable the store did not find; other errors pass.
func variableErr(err error, name string, id int64) error {
	if errors.Is(err, ErrNotFound) {
		return httpx.NotFound("Variable not found: %s for execution %d", name, id)
	}
	return err
}

func (h *Handlers) get(c *gin.Context, id int64) (VariableResponse, error) {
	name := c.Param("var_name")
	v, err := h.store.Get(c.Request.Context(), id, name)
	if err != nil {
		return VariableResponse{}, variableErr(err, name, id)
	}
	return variableResponse(*v), nil
}

func (h *Handlers) deleteAll(c *gin.Context, id int64) (DeleteAllResponse, error) {
	n, err := h.store.DeleteAll(c.Request.Context(), id)
	if err != nil {
		return DeleteAllResponse{}, err
	}
	return DeleteAllResponse{ExecutionID: id, Status: "ok", VariablesDeleted: n}, nil
}

func (h *Handlers) deleteOne(c *gin.Context, id int64) (DeleteResponse, error) {
	name := c.Param("var_name")
	if err := h.store.Delete(c.Request.Context(), id, name); err != nil {
		return DeleteResponse{}, variableErr(err, name, id)
	}
	return DeleteResponse{ExecutionID: id, VarName: name, Status: "deleted"}, nil
}
