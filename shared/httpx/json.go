package httpx

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/jsonx"

// JSON writes v as a JSON answer with status. Every service answers through it (errors
// too), so that the api, the wallet and the broker encode alike: compact, integers at
// full precision and no HTML escaping. Upstream's serializer does not escape '<', '>'
// or '&', and stored data (a credential, a result) must read back byte for byte.
func JSON(c *gin.Context, status int, v any) {
	b, err := jsonx.Marshal(v)
	if err != nil {
		WriteError(c, Internal("encode response", err))
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}

// abortJSON is JSON that also stops the handler chain.
func abortJSON(c *gin.Context, status int, v any) {
	c.Abort()
	JSON(c, status, v)
}
