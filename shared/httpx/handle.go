package httpx

import "net/http"

import "github.com/gin-gonic/gin"

// Route handlers of the services return their answer instead of writing it: Handle
// writes the value as a 200 JSON answer, or the error through WriteError. A handler then
// fails with a plain return, and the input a route reads before its work (a path id, a
// query filter, a body) is parsed by a function the route names through HandleWith, so
// that the 400 for it is written in one place.

// Respond writes the outcome of a handler: err through WriteError when it is not nil,
// else v as a 200 JSON answer.
func Respond(c *gin.Context, v any, err error) {
	if err != nil {
		WriteError(c, err)
		return
	}
	JSON(c, http.StatusOK, v)
}

// Handle adapts a handler that returns its 200 answer or an error.
func Handle[Out any](h func(c *gin.Context) (Out, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := h(c)
		Respond(c, v, err)
	}
}

// HandleWith adapts a handler whose input parse reads from the request first: an error
// from parse is answered before h runs.
func HandleWith[In, Out any](parse func(c *gin.Context) (In, error), h func(c *gin.Context, in In) (Out, error)) gin.HandlerFunc {
	return Handle(func(c *gin.Context) (Out, error) {
		in, err := parse(c)
		if err != nil {
			var none Out
			return none, err
		}
		return h(c, in)
	})
}

// Body is the parse function of a route whose input is its JSON body (BindJSON's
// error mapping).
func Body[T any](c *gin.Context) (T, error) {
	var v T
	err := BindJSON(c, &v)
	return v, err
}

// ListOf is the answer form of each row, through conv. It is never nil, so that no rows
// is [] on the wire rather than null.
func ListOf[Row, Out any](rows []Row, conv func(Row) Out) []Out {
	out := make([]Out, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}
