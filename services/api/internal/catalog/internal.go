package catalog

import "errors"
import "net/http"
import "strconv"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/wire"

// RegisterInternal adds the service-to-service routes to the /internal group (token-gated
// by the engine). The wallet asks whether a catalog entry exists before it stores a
// keychain entry for it: the catalog is the api's table, so the wallet cannot check it
// in SQL.
func (h *Handlers) RegisterInternal(r gin.IRoutes) {
	r.GET("/catalog/:catalog_id", h.internalEntry)
}

// internalEntryResponse names the entry without its content.
type internalEntryResponse struct {
	CatalogID wire.StringID `json:"catalog_id"`
	Path      string        `json:"path"`
	Version   int64         `json:"version"`
	Kind      string        `json:"kind"`
}

func (h *Handlers) internalEntry(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("catalog_id"), 10, 64)
	if err != nil {
		httpx.WriteError(c, httpx.BadRequest("path parameter catalog_id must be a 64-bit integer"))
		return
	}
	e, err := ByID(c.Request.Context(), h.pool, id)
	switch {
	case errors.Is(err, ErrNotFound):
		httpx.WriteError(c, httpx.NotFound("catalog entry %d not found", id))
	case err != nil:
		httpx.WriteError(c, err)
	default:
		c.JSON(http.StatusOK, internalEntryResponse{CatalogID: wire.StringID(e.CatalogID), Path: e.Path, Version: e.Version, Kind: e.Kind})
	}
}
