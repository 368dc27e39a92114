package e2e

import "context"
import "encoding/json"
import "fmt"
import "net/http"
import "strings"
import "sync"
import "sync/atomic"
import "testing"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/nats-io/nats.go"
import "github.com/nats-io/nats.go/jetstream"

import "github.com/noetl/controlplane/shared/testkit"

// twoAPIPlaybook has concurrent work inside one execution: an inclusive fan-out with a
// join and a parallel loop, so events of one execution reach both apis at the same time.
const twoAPIPlaybook = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: two_api
  path: e2e/two_api
workload:
  n: 5
  ids: [1, 2, 3, 4, 5, 6]
workflow:
  - step: start
    tool: {kind: noop, result: {n: "{{ workload.n }}"}}
    next:
      spec: {mode: inclusive}
      arcs:
        - step: left
        - step: right
        - step: fan
  - step: left
    tool: {kind: noop, result: {v: "{{ start.n + 1 }}"}}
    next: {arcs: [{step: join}]}
  - step: right
    tool: {kind: noop, result: {v: "{{ start.n * 2 }}"}}
    next: {arcs: [{step: join}]}
  - step: fan
    loop:
      in: "{{ workload.ids }}"
      iterator: id
      spec: {mode: parallel, max_in_flight: 3}
    tool: {kind: noop, result: {id: "{{ iter.id }}"}}
    next: {arcs: [{step: join}]}
  - step: join
    tool: {kind: noop, result: {total: "{{ left.v + right.v }}", ids: "{{ fan.results }}"}}
    next: {arcs: [{step: end}]}
  - step: end
    tool: {kind: noop}
`

// twoAPIRun drives executions with an in-test worker that spreads its requests over
// apis: each claim and each outcome goes to the next api in turn, and every other
// outcome asks for eager dispatch. Each command is handled on its own goroutine, so the
// events of one execution arrive at the apis concurrently.
type twoAPIRun struct {
	t       *testing.T
	c       *http.Client
	apis    []string
	turn    atomic.Int64
	mu      sync.Mutex
	granted map[int64][]string // command.issued event id → how it reached a worker
	errs    []string
}

func (r *twoAPIRun) next() string { return r.apis[int(r.turn.Add(1))%len(r.apis)] }

func (r *twoAPIRun) fail(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *twoAPIRun) grant(eventID int64, how string) {
	r.mu.Lock()
	r.granted[eventID] = append(r.granted[eventID], how)
	r.mu.Unlock()
}

type twoAPICommand struct {
	EventID     json.Number    `json:"event_id"`
	ExecutionID json.Number    `json:"execution_id"`
	NodeName    string         `json:"node_name"`
	Context     map[string]any `json:"context"`
	Meta        map[string]any `json:"meta"`
}

// notified handles a NATS notification: claim, then run the command and whatever eager
// dispatch hands over after it.
func (r *twoAPIRun) notified(eventID int64) {
	k := r.turn.Add(1)
	api := r.apis[int(k)%len(r.apis)]
	worker := fmt.Sprintf("w%d", k%3)
	code, body, err := postJSON(r.c, fmt.Sprintf("%s/api/commands/%d/claim", api, eventID), map[string]any{"worker_id": worker})
	if err != nil || code != http.StatusOK {
		r.fail("claim %d at %s: %d %s %v", eventID, api, code, body, err)
		return
	}
	r.grant(eventID, "claim")
	var cmd twoAPICommand
	if err := json.Unmarshal(body, &cmd); err != nil {
		r.fail("claim answer: %v", err)
		return
	}
	for {
		next := r.complete(cmd, worker)
		if next == nil {
			return
		}
		cmd = *next
	}
}

// complete posts a command's outcome to the next api; it returns the command eager
// dispatch handed over, if it asked and one was issued.
func (r *twoAPIRun) complete(cmd twoAPICommand, worker string) *twoAPICommand {
	key, _ := cmd.Meta["command_id"].(string)
	data := any(map[string]any{})
	if tc, ok := cmd.Context["tool_config"].(map[string]any); ok && tc["result"] != nil {
		data = tc["result"]
	}
	eager := r.turn.Load()%2 == 0
	batch := map[string]any{
		"execution_id": cmd.ExecutionID, "worker_id": worker,
		"events": []map[string]any{
			{"step": cmd.NodeName, "event_type": "call.done", "payload": map[string]any{"command_id": key, "call_index": 0,
				"result": map[string]any{"status": "success", "context": map[string]any{"status": "success", "data": data}}}},
			{"step": cmd.NodeName, "event_type": "command.completed", "payload": map[string]any{"command_id": key, "status": "success"}},
		},
	}
	if eager {
		batch["eager_capacity"] = 1
	}
	api := r.next()
	code, body, err := postJSON(r.c, api+"/api/events/batch", batch)
	if err != nil || code != http.StatusOK {
		r.fail("outcome of %s at %s: %d %s %v", key, api, code, body, err)
		return nil
	}
	var resp struct {
		Commands []twoAPICommand `json:"commands"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		r.fail("outcome answer: %v", err)
		return nil
	}
	if !eager && len(resp.Commands) > 0 {
		r.fail("commands handed over without eager_capacity: %s", body)
	}
	if len(resp.Commands) == 0 {
		return nil
	}
	if len(resp.Commands) > 1 {
		r.fail("eager_capacity 1 answered with %d commands", len(resp.Commands))
	}
	n := resp.Commands[0]
	id, _ := n.EventID.Int64()
	r.grant(id, "eager")
	return &n
}

// runExecutions starts n executions through start and waits until none is running; it
// returns their ids.
func (r *twoAPIRun) runExecutions(ctx context.Context, n int, start string) []int64 {
	t := r.t
	ids := make([]int64, n)
	for i := range ids {
		code, body, err := postJSON(r.c, start+"/api/execute", map[string]any{"path": "e2e/two_api", "payload": map[string]any{}})
		if err != nil || code != http.StatusOK {
			t.Fatalf("execute: %d %s %v", code, body, err)
		}
		var v struct {
			ExecutionID json.Number `json:"execution_id"`
		}
		_ = json.Unmarshal(body, &v)
		ids[i], _ = v.ExecutionID.Int64()
	}
	for _, id := range ids {
		for {
			resp, err := r.c.Get(fmt.Sprintf("%s/api/executions/%d/status", r.apis[0], id))
			if err == nil {
				var st struct {
					Status string `json:"status"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
				if st.Status != "" && st.Status != "RUNNING" && st.Status != "PENDING" {
					break
				}
			}
			if ctx.Err() != nil {
				r.mu.Lock()
				t.Fatalf("execution %d did not finish: %v", id, r.errs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ids
}

// signature is what an execution produced, independent of timing: its status, how
// many events of each type and step it logged, and what the join rendered.
func signature(t *testing.T, db *pgxConn, id int64) string {
	t.Helper()
	ctx := context.Background()
	var status string
	if err := db.QueryRow(ctx, `SELECT status FROM execution WHERE execution_id = $1`, id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT event_type || ' ' || coalesce(node_name, '') || ' ' || count(*)
		FROM event WHERE execution_id = $1 GROUP BY event_type, node_name ORDER BY 1`, id)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var join string
	if err := db.QueryRow(ctx, `SELECT (context->'tool_config'->'result')::text FROM event
		WHERE execution_id = $1 AND event_type = 'command.issued' AND node_name = 'join'`, id).Scan(&join); err != nil {
		t.Fatalf("join of %d: %v", id, err)
	}
	return status + "\n" + strings.Join(counts, "\n") + "\njoin " + join
}

type pgxConn = pgx.Conn

// Two api processes serve the same executions at once, the events of one execution
// alternating between them (claims and outcomes, with and without eager dispatch): the
// executions end as they do on one api, and no command reaches a worker twice.
func TestTwoAPIsServeTheSameExecutions(t *testing.T) {
	s := StartSuite(t, SuiteOptions{})
	_, api2 := s.StartAnotherAPI(t, "21")
	c := benchClient(s)
	if code, body, err := postJSON(c, s.URL+"/api/catalog/register", map[string]any{"content": twoAPIPlaybook}); err != nil || code != http.StatusOK {
		t.Fatalf("register: %d %s %v", code, body, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	nc, err := nats.Connect(s.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var run atomic.Pointer[twoAPIRun]
	var notes sync.Map // command.issued event id → notifications received
	cons, err := js.OrderedConsumer(ctx, s.Commands.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.Commands.Prefix + ".commands.>"}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		var n struct {
			EventID int64 `json:"event_id"`
		}
		if json.Unmarshal(m.Data(), &n) != nil {
			return
		}
		v, _ := notes.LoadOrStore(n.EventID, new(atomic.Int64))
		if v.(*atomic.Int64).Add(1) > 1 {
			return // counted; a second delivery must not be run again
		}
		go run.Load().notified(n.EventID)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	db, err := pgx.Connect(ctx, testkit.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(ctx, "SET search_path TO "+s.Schema); err != nil {
		t.Fatal(err)
	}

	const n = 8
	one := &twoAPIRun{t: t, c: c, apis: []string{s.APIURL}, granted: map[int64][]string{}}
	run.Store(one)
	single := one.runExecutions(ctx, n, s.APIURL)
	two := &twoAPIRun{t: t, c: c, apis: []string{s.APIURL, api2}, granted: map[int64][]string{}}
	run.Store(two)
	both := two.runExecutions(ctx, n, api2)

	for _, r := range []*twoAPIRun{one, two} {
		if len(r.errs) > 0 {
			t.Fatalf("worker errors with %d api(s): %v", len(r.apis), r.errs)
		}
	}
	want := signature(t, db, single[0])
	if !strings.HasPrefix(want, "COMPLETED\n") || !strings.Contains(want, `"total": 16`) {
		t.Fatalf("the one-api run itself is wrong:\n%s", want)
	}
	for _, id := range append(single[1:], both...) {
		if got := signature(t, db, id); got != want {
			t.Fatalf("execution %d differs from the one-api run:\n%s\nwant\n%s", id, got, want)
		}
	}
	// No command reached a worker twice: one claim or one eager hand-over each, one
	// command.claimed event each, and an eagerly handed command was never published.
	eager := 0
	for id, how := range two.granted {
		if len(how) != 1 {
			t.Fatalf("command %d reached workers %v", id, how)
		}
		if how[0] == "eager" {
			eager++
			if v, ok := notes.Load(id); ok {
				t.Fatalf("eagerly dispatched command %d was also published (%d notifications)", id, v.(*atomic.Int64).Load())
			}
		}
	}
	notes.Range(func(k, v any) bool {
		if c := v.(*atomic.Int64).Load(); c != 1 {
			t.Errorf("command %d was published %d times", k, c)
		}
		return true
	})
	if eager == 0 {
		t.Fatal("no command went by eager dispatch: the test did not exercise it")
	}
	var dup int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT execution_id, meta->>'command_id' FROM event
		WHERE event_type = 'command.claimed' GROUP BY 1, 2 HAVING count(*) > 1) d`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Fatalf("%d commands were claimed more than once", dup)
	}
	if len(two.granted) != n*11 { // start, left, right, six iterations, join, end
		t.Fatalf("%d commands over %d executions", len(two.granted), n)
	}
}
