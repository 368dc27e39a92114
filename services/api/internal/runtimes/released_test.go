package runtimes_test

import "context"
import "fmt"
import "testing"

import "github.com/noetl/controlplane/services/api/internal/eventlog"
import "github.com/noetl/controlplane/services/api/internal/runtimes"
import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/shard"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/testkit/httpkit"

// A heartbeat's answer names the listed commands the worker no longer holds, whatever
// became of them (claimed by another worker, requeued, completed, unknown), so the
// worker stops running them; its own claims are renewed and not named, and neither is
// its own command that a cancel closed (the worker reports that cancel itself). In
// another package than the handlers: the renewal that answers is eventlog's, which
// imports runtimes.
func TestHeartbeatAnswersReleasedCommands(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	ctx := context.Background()
	gen, err := ids.NewGenerator(5)
	if err != nil {
		t.Fatal(err)
	}
	h := runtimes.NewHandlers(runtimes.NewStore(s.Pool), gen, shard.Config{Count: 1})
	h.Leases = eventlog.NewLeases(s.Pool)
	e := httpkit.Engine(t, "")
	h.Register(e.Group("/api"))
	do := func(body string) string {
		t.Helper()
		rec := httpkit.Request(t, e, "POST", "/api/worker/pool/heartbeat", body, "")
		if rec.Code != 200 {
			t.Fatalf("heartbeat %s = %d %s", body, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	if rec := httpkit.Request(t, e, "POST", "/api/worker/pool/register", `{"name":"w1"}`, ""); rec.Code != 200 {
		t.Fatalf("register = %d %s", rec.Code, rec.Body)
	}
	// event id -> (status, worker). 9007199254740993 does not fit a float64.
	for _, c := range []struct {
		eventID        int64
		status, worker string
	}{
		{9007199254740993, "CLAIMED", "w1"}, // its own
		{11, "CLAIMED", "w2"},               // claimed by another worker
		{12, "PENDING", ""},                 // requeued
		{13, "CANCELLED", "w1"},             // its own, cancelled: not named
		{17, "CANCELLED", "w2"},             // another's, cancelled
		{14, "COMPLETED", "w1"},
		{15, "CLAIMED", "w1"}, // its own
	} {
		var worker any
		if c.worker != "" {
			worker = c.worker
		}
		if _, err := s.Pool.Exec(ctx, `INSERT INTO command (command_id, event_id, execution_id, catalog_id, step_name, status, worker_id, command_key)
			VALUES ($1, $1, 1, 1, 'fetch', $2, $3, $4)`, c.eventID, c.status, worker, fmt.Sprint(c.eventID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, body, want string }{
		{"mixed", `{"name":"w1","commands":["9007199254740993",11,12,13,14,15,16,17,11]}`,
			`{"message":"Heartbeat recorded","released":["11","12","14","16","17"],"status":"ok"}`},
		{"all its own", `{"name":"w1","commands":[15,"9007199254740993"]}`,
			`{"message":"Heartbeat recorded","released":[],"status":"ok"}`},
		{"empty list", `{"name":"w1","commands":[]}`,
			`{"message":"Heartbeat recorded","released":[],"status":"ok"}`},
		{"no list", `{"name":"w1"}`, `{"message":"Heartbeat recorded","status":"ok"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(tc.body); got != tc.want {
				t.Errorf("answer = %s\nwant %s", got, tc.want)
			}
		})
	}
}
