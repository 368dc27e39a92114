package httpx

import "crypto/sha256"
import "crypto/subtle"
import "strings"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/config"

// RequireInternalToken gates /api/internal/* (docs/decisions.md, "Security"): 401 when the server has no
// token configured, the header is missing or malformed, or the token is wrong. Both sides
// are hashed before the constant-time compare, so neither the content nor the length of
// the configured token leaks through timing.
func RequireInternalToken(token config.Secret) gin.HandlerFunc {
	configured := token.IsSet()
	// The presented token arrives trimmed (HTTP strips header whitespace), so the
	// configured one is trimmed too: a file-backed secret often ends in a newline.
	want := sha256.Sum256([]byte(strings.TrimSpace(token.Reveal())))
	return func(c *gin.Context) {
		if !configured {
			Abort(c, Unauthorized("internal API is disabled: NOETL_INTERNAL_API_TOKEN is not set on the server"))
			return
		}
		presented, ok := Bearer(c)
		if !ok {
			Abort(c, Unauthorized("this route requires an 'Authorization: Bearer <token>' header (NOETL_INTERNAL_API_TOKEN)"))
			return
		}
		got := sha256.Sum256([]byte(presented))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			// "this route", not "/api/internal/*": an internal route may live elsewhere
			// (POST /api/postgres/execute), and the message is the one the other
			// classes' 401 gives.
			Abort(c, Unauthorized("invalid token for this route (it takes NOETL_INTERNAL_API_TOKEN)"))
			return
		}
		c.Next()
	}
}

// Bearer is the token of the request's `Authorization: Bearer <token>` header (the scheme
// in any case), and false when there is no such header, another scheme, an empty token,
// or more than one Authorization header. Authorization takes one value (RFC 9110), and
// a request carrying two is read differently along the way: the gates took the first,
// while a proxy or an auth filter in front of the router may check the last or both
// joined. Refusing it keeps every reader deciding on the same token.
func Bearer(c *gin.Context) (string, bool) {
	hs := c.Request.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(hs[0], " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "bearer") && tok != ""
}

// InternalPrefix is the path prefix of token-gated public routes.
const InternalPrefix = "/api/internal/"

// ServicePrefix is the prefix of service-to-service routes. The router never forwards
// them; they are token-gated as well, because some (the wallet's seal-to-key endpoint)
// release sealed credentials.
const ServicePrefix = "/internal/"

// IsGatedPath reports whether a path needs the internal token.
func IsGatedPath(p string) bool {
	return strings.HasPrefix(p, InternalPrefix) || p == "/api/internal" ||
		strings.HasPrefix(p, ServicePrefix) || p == "/internal"
}

// GateInternalPrefix applies RequireInternalToken to every request under /api/internal/
// and /internal/, matched or not, so that probing an unknown internal path answers 401
// rather than revealing which internal routes exist.
func GateInternalPrefix(token config.Secret) gin.HandlerFunc {
	gate := RequireInternalToken(token)
	return func(c *gin.Context) {
		if IsGatedPath(c.Request.URL.Path) {
			gate(c)
			return
		}
		c.Next()
	}
}
