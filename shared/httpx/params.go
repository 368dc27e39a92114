package httpx

import "strings"

import "github.com/gin-gonic/gin"

// RequiredQuery is the query parameter name, which must be present and not empty;
// otherwise it is a 400.
func RequiredQuery(c *gin.Context, name string) (string, error) {
	v := c.Query(name)
	if v == "" {
		return "", BadRequest("query parameter %s is required", name)
	}
	return v, nil
}

// OneOf matches raw, trimmed and compared case-insensitively, against the allowed
// values and returns the allowed spelling; an empty raw is "" (no filter). Anything
// else is a 400 that names what was given and every allowed value, so a misspelt
// filter is never an empty answer. what names the input ("query parameter status").
func OneOf(what, raw string, allowed ...string) (string, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", BadRequest("Invalid %s: %q is not one of %s", what, raw, strings.Join(allowed, ", "))
}

// QueryOneOf is OneOf for the query parameter name.
func QueryOneOf(c *gin.Context, name string, allowed ...string) (string, error) {
	return OneOf("query parameter "+name, c.Query(name), allowed...)
}
