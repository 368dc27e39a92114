package httpx

import "errors"
import "log/slog"
import "net/http"
import "strings"
import "testing"

import "github.com/gin-gonic/gin"

type pingRequest struct {
	Name string `json:"name"`
}

type pingAnswer struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func pathID(c *gin.Context) (int64, error) { return PathInt64(c, "id", "an id") }

func TestHandle(t *testing.T) {
	e := newTestEngine(t, Options{}, slog.LevelInfo)
	e.GET("/items", Handle(func(c *gin.Context) ([]pingAnswer, error) {
		if c.Query("fail") != "" {
			return nil, Conflict("no items today")
		}
		return ListOf([]int64{1, 2}, func(id int64) pingAnswer { return pingAnswer{ID: id} }), nil
	}))
	e.GET("/items/:id", HandleWith(pathID, func(c *gin.Context, id int64) (pingAnswer, error) {
		name, err := RequiredQuery(c, "name")
		if err != nil {
			return pingAnswer{}, err
		}
		return pingAnswer{ID: id, Name: name}, nil
	}))
	e.POST("/items", HandleWith(Body[pingRequest], func(c *gin.Context, req pingRequest) (pingAnswer, error) {
		if req.Name == "" {
			return pingAnswer{}, errors.New("the store is down")
		}
		return pingAnswer{ID: 7, Name: req.Name}, nil
	}))
	e.GET("/empty", Handle(func(c *gin.Context) ([]pingAnswer, error) {
		return ListOf([]int64(nil), func(id int64) pingAnswer { return pingAnswer{ID: id} }), nil
	}))

	jsonHdr := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		want                     string // the body, or a fragment of the error message
	}{
		{"answer", "GET", "/items", "", nil, http.StatusOK, `[{"id":1,"name":""},{"id":2,"name":""}]`},
		{"handler error", "GET", "/items?fail=1", "", nil, http.StatusConflict, "no items today"},
		{"no rows is an empty list", "GET", "/empty", "", nil, http.StatusOK, `[]`},
		{"parsed input", "GET", "/items/42?name=x", "", nil, http.StatusOK, `{"id":42,"name":"x"}`},
		{"parse error before the handler", "GET", "/items/x?name=x", "", nil, http.StatusBadRequest, `cannot parse "x" as an id`},
		{"required query", "GET", "/items/42", "", nil, http.StatusBadRequest, "query parameter name is required"},
		{"body", "POST", "/items", `{"name":"n"}`, jsonHdr, http.StatusOK, `{"id":7,"name":"n"}`},
		{"body error", "POST", "/items", `{"name":`, jsonHdr, http.StatusBadRequest, "malformed JSON"},
		{"internal error", "POST", "/items", `{}`, jsonHdr, http.StatusInternalServerError, "Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, tc.method, tc.path, strings.NewReader(tc.body), tc.hdr)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == http.StatusOK {
				if got := rec.Body.String(); got != tc.want {
					t.Fatalf("body = %s, want %s", got, tc.want)
				}
				return
			}
			if body := envelope(t, rec, tc.status); !strings.Contains(body["error"].(string), tc.want) {
				t.Fatalf("error = %q, want it to contain %q", body["error"], tc.want)
			}
		})
	}
}
