package credentials

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/strictjson"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// Handlers serves /api/credentials. Request bodies are never logged: they hold values.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds the routes to the /api/credentials group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("", httpx.HandleWith(strictjson.Body[CreateRequest], h.upsert))
	r.GET("", httpx.Handle(h.list))
	r.GET("/:identifier", httpx.Handle(h.get))
	r.DELETE("/:identifier", httpx.Handle(h.delete))
}

// POST /api/credentials
func (h *Handlers) upsert(c *gin.Context, req CreateRequest) (Response, error) {
	for field, v := range map[string]*string{"name": req.Name, "type": req.Type} {
		if v != nil {
			if err := wire.CheckName(*v); err != nil {
				return Response{}, httpx.Validation("field %q %v", field, err)
			}
		}
	}
	for i, tag := range req.Tags {
		// A null item decodes to "" too: a tag nobody can filter on or tell apart.
		if tag == "" {
			return Response{}, httpx.Validation("field \"tags\": item %d is empty or null", i)
		}
		if err := wire.CheckName(tag); err != nil {
			return Response{}, httpx.Validation("field \"tags\": item %d %v", i, err)
		}
	}
	return h.svc.Upsert(c.Request.Context(), req)
}

// GET /api/credentials?type=&q=
func (h *Handlers) list(c *gin.Context) (ListResponse, error) {
	return h.svc.List(c.Request.Context(), ListFilter{Type: c.Query("type"), Q: c.Query("q")})
}

// GET /api/credentials/{identifier}?include_data=&execution_id=&parent_execution_id=
func (h *Handlers) get(c *gin.Context) (Response, error) {
	includeData := false
	switch v := c.Query("include_data"); v {
	case "", "false":
	case "true":
		includeData = true
	default:
		return Response{}, httpx.BadRequest("query parameter include_data must be true or false")
	}
	execID, err := httpx.QueryInt64(c, "execution_id")
	if err != nil {
		return Response{}, err
	}
	parentID, err := httpx.QueryInt64(c, "parent_execution_id")
	if err != nil {
		return Response{}, err
	}
	identifier := c.Param("identifier")
	if includeData {
		return h.svc.Resolve(c.Request.Context(), ResolveRequest{
			Identifier: identifier, Operation: audit.OpGetCredential,
			ExecutionID: execID, ParentExecutionID: parentID,
		})
	}
	return h.svc.Get(c.Request.Context(), identifier)
}

// DeleteResponse is upstream's {"id","message"} (alphabetical).
type DeleteResponse struct {
	ID      wire.StringID `json:"id"`
	Message string        `json:"message"`
}

// DELETE /api/credentials/{identifier}
func (h *Handlers) delete(c *gin.Context) (DeleteResponse, error) {
	id, err := h.svc.Delete(c.Request.Context(), c.Param("identifier"))
	if err != nil {
		return DeleteResponse{}, err
	}
	return DeleteResponse{ID: id, Message: "Credential deleted successfully"}, nil
}
