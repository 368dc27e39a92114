package credentials

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/noetl/controlplane/services/wallet/internal/audit"
	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/wire"
)

// Handlers serves /api/credentials. Request bodies are never logged: they hold values.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Register adds the routes to the /api/credentials group.
func (h *Handlers) Register(r gin.IRoutes) {
	r.POST("", h.upsert)
	r.GET("", h.list)
	r.GET("/:identifier", h.get)
	r.DELETE("/:identifier", h.delete)
}

// POST /api/credentials
func (h *Handlers) upsert(c *gin.Context) {
	var req CreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.WriteError(c, err)
		return
	}
	for field, v := range map[string]*string{"name": req.Name, "type": req.Type} {
		if v != nil {
			if err := wire.CheckName(*v); err != nil {
				httpx.WriteError(c, httpx.Validation("field %q %v", field, err))
				return
			}
		}
	}
	resp, err := h.svc.Upsert(c.Request.Context(), req)
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, resp)
}

// GET /api/credentials?type=&q=
func (h *Handlers) list(c *gin.Context) {
	resp, err := h.svc.List(c.Request.Context(), ListFilter{Type: c.Query("type"), Q: c.Query("q")})
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, resp)
}

// GET /api/credentials/{identifier}?include_data=&execution_id=&parent_execution_id=
func (h *Handlers) get(c *gin.Context) {
	includeData := false
	switch v := c.Query("include_data"); v {
	case "", "false":
	case "true":
		includeData = true
	default:
		httpx.WriteError(c, httpx.BadRequest("query parameter include_data must be true or false"))
		return
	}
	execID, err := httpx.QueryInt64(c, "execution_id")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	parentID, err := httpx.QueryInt64(c, "parent_execution_id")
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	identifier := c.Param("identifier")
	var resp Response
	if includeData {
		resp, err = h.svc.Resolve(c.Request.Context(), ResolveRequest{
			Identifier: identifier, Operation: audit.OpGetCredential,
			ExecutionID: execID, ParentExecutionID: parentID,
		})
	} else {
		resp, err = h.svc.Get(c.Request.Context(), identifier)
	}
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, resp)
}

// DeleteResponse is upstream's {"id","message"} (alphabetical).
type DeleteResponse struct {
	ID      wire.StringID `json:"id"`
	Message string        `json:"message"`
}

// DELETE /api/credentials/{identifier}
func (h *Handlers) delete(c *gin.Context) {
	id, err := h.svc.Delete(c.Request.Context(), c.Param("identifier"))
	if err != nil {
		httpx.WriteError(c, err)
		return
	}
	httpx.JSON(c, http.StatusOK, DeleteResponse{ID: id, Message: "Credential deleted successfully"})
}
