package httpx

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
