package keychain

import "strconv"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/access"
import "github.com/noetl/controlplane/shared/httpx"

// Handlers serves /api/keychain. Request bodies are never logged: they hold values.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds the routes to the /api/keychain group. The static catalog/ segment wins
// over {catalog_id} in gin's router, as in upstream's.
func (h *Handlers) Register(r gin.IRoutes) {
	r.GET("/catalog/:catalog_id", httpx.HandleWith(catalogID, h.list))
	r.GET("/:catalog_id/:keychain_name", httpx.HandleWith(keyFromQuery, h.get))
	r.POST("/:catalog_id/:keychain_name", httpx.HandleWith(catalogID, h.set))
	r.DELETE("/:catalog_id/:keychain_name", httpx.HandleWith(keyFromQuery, h.delete))
}

func catalogID(c *gin.Context) (int64, error) {
	v, err := strconv.ParseInt(c.Param("catalog_id"), 10, 64)
	if err != nil {
		return 0, httpx.BadRequest("path parameter catalog_id must be a 64-bit integer")
	}
	return v, nil
}

// keyFromQuery reads the address of GET and DELETE: path plus execution_id and
// scope_type from the query.
func keyFromQuery(c *gin.Context) (Key, error) {
	cat, err := catalogID(c)
	if err != nil {
		return Key{}, err
	}
	exec, err := httpx.QueryInt64(c, "execution_id")
	if err != nil {
		return Key{}, err
	}
	// A query value outside its set is a 400 naming the allowed ones, as every query
	// parameter of the suite (httpx.OneOf); a body's scope_type is a 422 (ParseScope).
	raw, err := httpx.QueryOneOf(c, "scope_type", ScopeLocal, ScopeGlobal, ScopeShared)
	if err != nil {
		return Key{}, err
	}
	scope, err := ParseScope(raw)
	if err != nil {
		return Key{}, err
	}
	return Key{CatalogID: cat, Name: c.Param("keychain_name"), Scope: scope, ExecutionID: exec}, nil
}

// GET /api/keychain/{catalog_id}/{keychain_name}?execution_id=&scope_type=
func (h *Handlers) get(c *gin.Context, k Key) (GetResponse, error) {
	return h.svc.Get(c.Request.Context(), k)
}

// POST /api/keychain/{catalog_id}/{keychain_name}
//
// The route takes either token; a write into an execution's own entry takes the worker
// token, checked before anything is written: with the client token a caller could
// otherwise plant the value a running execution reads, or the provider secret the
// resolver serves from its cache slot, under the execution's key.
func (h *Handlers) set(c *gin.Context, cat int64) (SetResponse, error) {
	var req SetRequest
	if err := strictjson.Bind(c, &req); err != nil {
		return SetResponse{}, err
	}
	name := c.Param("keychain_name")
	k, err := req.Target(cat, name)
	if err != nil {
		return SetResponse{}, err
	}
	if k.ExecutionScoped() {
		if err := access.Require(c, access.Worker, "writing an execution's keychain entry (scope_type local or shared with an execution_id)"); err != nil {
			return SetResponse{}, err
		}
	}
	return h.svc.Set(c.Request.Context(), cat, name, req)
}

// DELETE /api/keychain/{catalog_id}/{keychain_name}?execution_id=&scope_type=
func (h *Handlers) delete(c *gin.Context, k Key) (DeleteResponse, error) {
	return h.svc.Delete(c.Request.Context(), k)
}

// GET /api/keychain/catalog/{catalog_id}
func (h *Handlers) list(c *gin.Context, cat int64) (ListResponse, error) {
	return h.svc.List(c.Request.Context(), cat)
}
