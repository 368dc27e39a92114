// Package openapi holds the OpenAPI 3.1 document of the public surface (openapi.json,
// kept by hand next to this file) and serves it at GET /api/openapi.json. The test beside
// it fails when the document and shared/access.Table, the list of every route the
// binaries serve, disagree.
package openapi

import _ "embed"
import "net/http"

import "github.com/gin-gonic/gin"

// Document is openapi.json as built into the binary.
//
//go:embed openapi.json
var Document []byte

// Path is where the router serves the document.
const Path = "/api/openapi.json"

// Handler answers the document.
func Handler(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json", Document)
}
