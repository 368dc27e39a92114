// Package respond writes the wallet's JSON answers without HTML escaping, so that a
// credential's data reads back byte for byte as it would from upstream (serde_json does
// not escape '<', '>' or '&'), and the sealed plaintext is the exact GET body.
package respond

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/noetl/controlplane/shared/httpx"
	"github.com/noetl/controlplane/shared/jsonx"
)

// JSON writes v with status 200.
func JSON(c *gin.Context, v any) {
	b, err := jsonx.Marshal(v)
	if err != nil {
		httpx.WriteError(c, httpx.Internal("encode response", err))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// QueryInt64 parses an optional integer query parameter (execution ids and the like);
// absent or empty is nil, anything but a 64-bit decimal integer is a 400.
func QueryInt64(c *gin.Context, name string) (*int64, error) {
	s := c.Query(name)
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, httpx.BadRequest("query parameter %s must be a 64-bit integer", name)
	}
	return &v, nil
}
