package httpkit

import "fmt"
import "net/http"
import "net/http/httptest"
import "testing"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/jsonx"

// echo answers with what the helpers are meant to send.
func echo(c *gin.Context) {
	b, _ := c.GetRawData()
	c.JSON(http.StatusOK, gin.H{"content_type": c.GetHeader("Content-Type"), "auth": c.GetHeader("Authorization"),
		"body": string(b), "big": int64(1234567890123456789)})
}

func TestRequestAndGate(t *testing.T) {
	t.Parallel()
	e := Engine(t, "tok")
	e.POST("/api/echo", echo)
	e.POST("/api/internal/echo", echo)

	m := WantJSON(t, Request(t, e, "POST", "/api/echo", `{"a":1}`, ""), 200)
	if m["content_type"] != "application/json" || m["auth"] != "" || m["body"] != `{"a":1}` || m["big"] != int64(1234567890123456789) {
		t.Errorf("with a body, no token: %v", m)
	}
	m = WantJSON(t, Request(t, e, "POST", "/api/echo", "", "tok"), 200)
	if m["content_type"] != "" || m["auth"] != "Bearer tok" || m["body"] != "" {
		t.Errorf("no body, a token: %v", m)
	}
	WantError(t, Request(t, e, "POST", "/api/internal/echo", "", ""), 401, "")
	WantStatus(t, Request(t, e, "POST", "/api/internal/echo", "", "tok"), 200)
	if rec := Request(t, Engine(t, ""), "POST", "/api/internal/echo", "", ""); rec.Code != 404 {
		t.Errorf("an engine without a token gates nothing and has no route: %d", rec.Code)
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	e := Engine(t, "")
	e.POST("/echo", echo)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		body       any
		want, ctyp string
	}{
		{nil, "", ""},
		{"not json", "not json", "application/json"},
		{map[string]any{"n": 5}, `{"n":5}`, "application/json"},
	} {
		r := Send(t, "POST", srv.URL+"/echo", "k", tc.body)
		m, err := jsonx.DecodeObject(r.Body)
		if err != nil || r.Status != 200 || m["body"] != tc.want || m["content_type"] != tc.ctyp || m["auth"] != "Bearer k" {
			t.Errorf("Send(%v) = %d %v", tc.body, r.Status, m)
		}
	}
}

func TestKeysInOrder(t *testing.T) {
	t.Parallel()
	got := KeysInOrder(t, []byte(`{"b":1,"a":{"z":2,"y":3},"c":[1,2]}`))
	if fmt.Sprint(got) != "[b a c]" {
		t.Errorf("keys = %v", got)
	}
}
