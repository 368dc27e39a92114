package outbox

import "context"
import "fmt"
import "strings"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/apitest"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

const testToken = "outbox-test-token"

type api struct{ *apitest.Env }

// newAPI wires the routes as app does: the global gate, then the /api/internal group.
func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{apitest.NewEnv(t, testToken)}
	NewHandlers(a.Pool).Register(a.Engine.Group("/api/internal"))
	return a
}

// row inserts an outbox row and returns its id.
func (a *api) row(execID any, eventID int64, subject any, status, availableIn string) int64 {
	a.T.Helper()
	var id int64
	err := a.Pool.QueryRow(context.Background(), `INSERT INTO outbox (execution_id, event_id, subject, payload, payload_codec, status, available_at)
		VALUES ($1, $2, $3, $4::jsonb, 'json', $5, now() + $6::interval) RETURNING outbox_id`,
		execID, eventID, subject, fmt.Sprintf(`{"event_id":%d,"big":1234567890123456789}`, eventID), status, availableIn).Scan(&id)
	if err != nil {
		a.T.Fatal(err)
	}
	return id
}

func TestOutboxRoutesNeedTheToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/internal/outbox/claim", `{}`},
		{"POST", "/api/internal/outbox/mark-published", `{"outbox_ids":[1]}`},
		{"POST", "/api/internal/outbox/mark-failed", `{"outbox_id":1,"error":"x"}`},
		{"GET", "/api/internal/outbox/pending-count", ""},
	} {
		if rec := a.Do(r.method, r.path, r.body, ""); rec.Code != 401 {
			t.Errorf("%s %s without token: %d", r.method, r.path, rec.Code)
		}
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r1 := a.row(int64(11), 101, "noetl.commands.shared.11", "PENDING", "-1 second")
	r2 := a.row(nil, 102, nil, "FAILED", "-1 second")
	a.row(int64(11), 103, "s", "FAILED", "1 hour")     // not due
	a.row(int64(11), 104, "s", "PUBLISHED", "-1 hour") // done
	r5 := a.row(int64(12), 105, "s", "PENDING", "-1 second")

	m := httpkit.WantJSON(t, a.Do("GET", "/api/internal/outbox/pending-count", "", testToken), 200)
	if m["pending"] != int64(3) {
		t.Fatalf("pending = %v", m)
	}

	rec := a.Do("POST", "/api/internal/outbox/claim", `{"limit":2}`, testToken)
	m = httpkit.WantJSON(t, rec, 200)
	rows := m["rows"].([]any)
	if m["claimed"] != int64(2) || len(rows) != 2 {
		t.Fatalf("claim = %v", m)
	}
	first, second := rows[0].(map[string]any), rows[1].(map[string]any)
	if first["outbox_id"] != r1 || first["event_id"] != int64(101) || first["execution_id"] != int64(11) ||
		first["subject"] != "noetl.commands.shared.11" || first["payload_codec"] != "json" || first["attempts"] != int64(1) {
		t.Fatalf("first row = %v", first)
	}
	if first["payload"].(map[string]any)["big"] != int64(1234567890123456789) {
		t.Fatalf("payload = %v", first["payload"])
	}
	// NULL execution_id and subject are omitted.
	if _, ok := second["execution_id"]; ok || second["outbox_id"] != r2 {
		t.Fatalf("second row = %v", second)
	}
	if _, ok := second["subject"]; ok {
		t.Fatalf("second row = %v", second)
	}
	if !strings.Contains(rec.Body.String(), `"rows":[{"outbox_id":`) {
		t.Fatalf("key order: %s", rec.Body)
	}

	// limit 0 is clamped to 1; the next due row is r5.
	m = httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/claim", `{"limit":0}`, testToken), 200)
	if m["claimed"] != int64(1) || m["rows"].([]any)[0].(map[string]any)["outbox_id"] != r5 {
		t.Fatalf("claim = %v", m)
	}
	// Nothing due: an empty array, not null.
	rec = a.Do("POST", "/api/internal/outbox/claim", `{}`, testToken)
	if rec.Code != 200 || rec.Body.String() != `{"rows":[],"claimed":0}` {
		t.Fatalf("claim = %d %s", rec.Code, rec.Body)
	}
	m = httpkit.WantJSON(t, a.Do("GET", "/api/internal/outbox/pending-count", "", testToken), 200)
	if m["pending"] != int64(0) {
		t.Fatalf("pending = %v", m)
	}

	bad := []struct {
		body   string
		status int
	}{
		{"", 415},
		{`{"limit":"x"}`, 422},
		{`{"limit":`, 400},
	}
	for _, tc := range bad {
		if rec := a.Do("POST", "/api/internal/outbox/claim", tc.body, testToken); rec.Code != tc.status {
			t.Errorf("claim %q: %d, want %d", tc.body, rec.Code, tc.status)
		}
	}
}

func TestMarkPublished(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r1 := a.row(int64(1), 1, "s", "IN_FLIGHT", "0 seconds")
	r2 := a.row(int64(1), 2, "s", "IN_FLIGHT", "0 seconds")
	cases := []struct {
		name, body string
		status     int
		marked     int64
	}{
		{"numbers and strings", fmt.Sprintf(`{"outbox_ids":[%d,"%d",999999]}`, r1, r2), 200, 2},
		{"again is idempotent", fmt.Sprintf(`{"outbox_ids":[%d]}`, r1), 200, 1},
		{"empty", `{"outbox_ids":[]}`, 400, 0},
		{"missing", `{}`, 400, 0},
		{"not ids", `{"outbox_ids":[1.5]}`, 422, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/mark-published", tc.body, testToken), tc.status)
			if tc.status == 200 && m["marked"] != tc.marked {
				t.Fatalf("marked = %v", m)
			}
			if tc.status == 400 && m["error"] != "outbox_ids must not be empty" {
				t.Fatalf("error = %v", m)
			}
		})
	}
	var n int
	_ = a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE status = 'PUBLISHED' AND published_at IS NOT NULL AND last_error IS NULL`).Scan(&n)
	if n != 2 {
		t.Fatalf("published rows = %d", n)
	}
}

func TestMarkFailed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// The upstream vectors: (attempts, max_delay) -> delay.
	vectors := []struct {
		body  string
		delay int64
	}{
		{`"attempts":1,"max_delay_seconds":300`, 1},
		{`"attempts":2,"max_delay_seconds":300`, 2},
		{`"attempts":5,"max_delay_seconds":300`, 16},
		{`"attempts":9,"max_delay_seconds":300`, 256},
		{`"attempts":20,"max_delay_seconds":300`, 256},
		{`"attempts":5,"max_delay_seconds":10`, 10},
		{`"attempts":0,"max_delay_seconds":300`, 1},
		{`"attempts":4`, 8}, // max_delay defaults to 300
		{``, 1},             // attempts defaults to 1
	}
	for i, v := range vectors {
		t.Run(fmt.Sprintf("vector %d", i), func(t *testing.T) {
			id := a.row(int64(1), int64(100+i), "s", "IN_FLIGHT", "0 seconds")
			extra := ""
			if v.body != "" {
				extra = "," + v.body
			}
			m := httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/mark-failed", fmt.Sprintf(`{"outbox_id":%d,"error":"nats down"%s}`, id, extra), testToken), 200)
			if m["marked"] != true || m["available_at_in"] != v.delay {
				t.Fatalf("answer = %v, want delay %d", m, v.delay)
			}
			var status, lastErr string
			var in float64
			_ = a.Pool.QueryRow(context.Background(), `SELECT status, last_error, extract(epoch FROM available_at - updated_at)
				FROM outbox WHERE outbox_id = $1`, id).Scan(&status, &lastErr, &in)
			if status != "FAILED" || lastErr != "nats down" || int64(in+0.5) != v.delay {
				t.Fatalf("row: %s %q available in %.2fs", status, lastErr, in)
			}
		})
	}

	t.Run("error text is cut at 2000 characters, not bytes", func(t *testing.T) {
		id := a.row(int64(2), 1, "s", "IN_FLIGHT", "0 seconds")
		long := strings.Repeat("é", 2500)
		httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/mark-failed", fmt.Sprintf(`{"outbox_id":%d,"error":%q}`, id, long), testToken), 200)
		var got string
		_ = a.Pool.QueryRow(context.Background(), `SELECT last_error FROM outbox WHERE outbox_id = $1`, id).Scan(&got)
		if got != strings.Repeat("é", 2000) {
			t.Fatalf("last_error has %d characters", len([]rune(got)))
		}
	})

	bad := []struct {
		name, body, msg string
		status          int
	}{
		{"empty error", `{"outbox_id":1,"error":""}`, "error must not be empty", 400},
		{"missing error", `{"outbox_id":1}`, `field "error" is required`, 422},
		{"missing id", `{"error":"x"}`, `field "outbox_id" is required`, 422},
		{"negative max delay", `{"outbox_id":1,"error":"x","max_delay_seconds":-1}`, "max_delay_seconds must not be negative", 422},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			m := httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/mark-failed", tc.body, testToken), tc.status)
			if m["error"] != tc.msg {
				t.Fatalf("error = %v", m["error"])
			}
		})
	}
	t.Run("unknown id is still marked", func(t *testing.T) {
		m := httpkit.WantJSON(t, a.Do("POST", "/api/internal/outbox/mark-failed", `{"outbox_id":"987654","error":"x"}`, testToken), 200)
		if m["marked"] != true || m["available_at_in"] != int64(1) {
			t.Fatalf("answer = %v", m)
		}
	})
}
