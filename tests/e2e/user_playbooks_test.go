package e2e

import "context"
import "encoding/json"
import "net/http"
import "net/http/httptest"
import "sort"
import "strings"
import "sync"
import "testing"

import "github.com/noetl/controlplane/tests/e2e/scripted"

// Playbooks of the kind users write, that the conformance suite does not cover, on a real
// worker: postgres rows (with positional params) fed to a loop, a loop of sub-playbooks
// that each return a step, a failing child whose error reaches the parent's failure, and
// steps that continue on error and branch on what the tool saw (an http status code, a
// SQLSTATE), after policy retries.
func TestUserPlaybooks(t *testing.T) {
	api := userAPI(t)
	_, c, ctx := startSuiteWithScratchCredential(t, "user_pg")
	for _, pb := range []string{userRowsLoop, userChild, userChildLoop, userFailingChild, userParentOfFailing,
		userHTTPBranch, userPGConflict, userRetryThenContinue, userSearchBalance, userManyChildren} {
		if err := c.register(ctx, pb); err != nil {
			t.Fatalf("register: %v\n%s", err, pb)
		}
	}
	runEnd := func(t *testing.T, path string, payload map[string]any, want string) {
		t.Helper()
		runEndData(ctx, t, c, path, payload, want)
	}

	t.Run("a failed http call continues and routes on its status code", func(t *testing.T) {
		runEnd(t, "user/http_branch", map[string]any{"base_url": api.URL, "user_id": 1},
			`{"codes":[200,404,404],"failed":2,"outcome":"found ann"}`)
		runEnd(t, "user/http_branch", map[string]any{"base_url": api.URL, "user_id": 2},
			`{"codes":[200,404,404],"failed":2,"outcome":"no user 2: no such user (HTTP 404 response)"}`)
	})

	t.Run("a failed insert continues and routes on its SQLSTATE", func(t *testing.T) {
		runEnd(t, "user/pg_conflict", nil, `{"constraint":"accounts_pkey","existed":true,"status":"error"}`)
	})

	t.Run("retries, then continue on error", func(t *testing.T) {
		runEnd(t, "user/retry_then_continue", map[string]any{"base_url": api.URL},
			`{"down_calls":2,"down_code":503,"flaky":true,"why":"maintenance"}`)
	})

	t.Run("an urlencoded query value, truncate and a zero balance", func(t *testing.T) {
		runEnd(t, "user/search_balance", map[string]any{"base_url": api.URL, "term": "fish & chips=1+1/2"},
			`{"balance":"0.00","keys":["q"],"q":"fish & chips=1+1/2","short":"fish and...","spent":"12.50"}`)
	})

	t.Run("more waiting sub-playbooks than the worker has slots", func(t *testing.T) {
		runEnd(t, "user/many_children", nil, `{"greetings":["hi C0","hi C1","hi C2","hi C3","hi C4","hi C5"]}`)
	})

	t.Run("postgres rows with params feed a loop", func(t *testing.T) {
		id, err := c.execute(ctx, "user/rows_loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitCompleted(ctx, t, c, id, "user/rows_loop")
		want := `{"hellos":["hi cy (19)","hi ann (31)"],"n":2,"oldest":31}`
		if g := canonical(stepData(log, "end")); g != want {
			t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
		}
	})

	t.Run("a loop of sub-playbooks returns each child's step", func(t *testing.T) {
		id, err := c.execute(ctx, "user/child_loop", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitCompleted(ctx, t, c, id, "user/child_loop")
		want := `{"greetings":["hi ANN","hi BOB","hi CY"]}`
		if g := canonical(stepData(log, "end")); g != want {
			t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
		}
	})

	t.Run("a failing child's error reaches the parent", func(t *testing.T) {
		id, err := c.execute(ctx, "user/parent_of_failing", nil)
		if err != nil {
			t.Fatal(err)
		}
		log := waitTerminal(ctx, t, c, id)
		var failed *scripted.Event
		for i := range log {
			if log[i].EventType == "playbook.failed" {
				failed = &log[i]
			}
		}
		if failed == nil {
			t.Fatalf("no playbook.failed\n%s", describeLog(log))
		}
		if e := jsonText(failed.Error); !strings.Contains(e, "ValueError: bad input 42") || !strings.Contains(e, "user/failing_child") {
			t.Fatalf("the parent's error %s does not say why the child failed\n%s", e, describeLog(log))
		}
	})
}

// runEndData runs a playbook to completion and compares the data of its `end` step, in
// canonical JSON, with want.
func runEndData(ctx context.Context, t *testing.T, c *rtClient, path string, payload map[string]any, want string) {
	t.Helper()
	id, err := c.execute(ctx, path, payload)
	if err != nil {
		t.Fatal(err)
	}
	log := waitCompleted(ctx, t, c, id, path)
	if g := canonical(stepData(log, "end")); g != want {
		t.Fatalf("end data %s, want %s\n%s", g, want, describeLog(log))
	}
}

const userRowsLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_rows_loop
  path: user/rows_loop
workflow:
  - step: start
    tool:
      kind: postgres
      auth: user_pg
      command: |
        CREATE TABLE IF NOT EXISTS people (execution_id text, name text, age int);
        INSERT INTO people VALUES ('{{ execution_id }}', 'ann', 31), ('{{ execution_id }}', 'cy', 19);
        SELECT name, age FROM people WHERE execution_id = '{{ execution_id }}' ORDER BY age
    next: [greet]
  - step: greet
    loop:
      in: "{{ start.rows }}"
      iterator: person
    tool:
      kind: python
      input:
        person: "{{ iter.person }}"
      code: |
        result = {"hello": "hi %s (%d)" % (person["name"], person["age"])}
    next: [count]
  - step: count
    tool:
      kind: postgres
      auth: user_pg
      query: "SELECT count(*) AS n, max(age) AS oldest FROM people WHERE execution_id = $1"
      params: ["{{ execution_id }}"]
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        hellos: "{{ greet.results | map(attribute='hello') | list }}"
        n: "{{ count.rows[0].n }}"
        oldest: "{{ count.rows[0].oldest }}"
`

const userChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_child
  path: user/child
workload:
  name: nobody
workflow:
  - step: start
    tool:
      kind: noop
      result:
        greeting: "hi {{ workload.name | upper }}"
    next: [finish]
  - step: finish
    tool:
      kind: noop
      result:
        greeting: "{{ start.greeting }}"
`

const userChildLoop = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_child_loop
  path: user/child_loop
workload:
  names: [ann, bob, cy]
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop:
      in: "{{ workload.names }}"
      iterator: nm
      spec: {mode: parallel, max_in_flight: 2}
    tool:
      kind: playbook
      path: user/child
      args:
        name: "{{ iter.nm }}"
      return_step: finish
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        greetings: "{{ each.results | map(attribute='greeting') | list }}"
`

const userFailingChild = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_failing_child
  path: user/failing_child
workflow:
  - step: start
    tool:
      kind: python
      code: |
        raise ValueError("bad input 42")
    next: [end]
  - step: end
    tool: {kind: noop}
`

const userParentOfFailing = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_parent_of_failing
  path: user/parent_of_failing
workflow:
  - step: start
    tool:
      kind: playbook
      path: user/failing_child
      return_step: end
    next: [end]
  - step: end
    tool: {kind: noop}
`

// userAPI is the service the http playbooks call: /users/1 is found, any other user is
// a 404; /flaky/<key> answers 503 the first time and 200 after; /down is always 503 and
// /down/calls says how often it was called; /search echoes its query's q and keys.
func userAPI(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n, down := hits[r.URL.Path], hits["/down"]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/users/1":
			_ = json.NewEncoder(w).Encode(map[string]any{"id": 1, "name": "ann"})
		case strings.HasPrefix(r.URL.Path, "/users/"):
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": "no such user"})
		case strings.HasPrefix(r.URL.Path, "/flaky/") && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/flaky/"):
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true})
		case r.URL.Path == "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": "maintenance"})
		case r.URL.Path == "/search":
			q := r.URL.Query()
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			_ = json.NewEncoder(w).Encode(map[string]any{"q": q.Get("q"), "keys": keys})
		case r.URL.Path == "/down/calls":
			_ = json.NewEncoder(w).Encode(map[string]any{"calls": down})
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const userHTTPBranch = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_http_branch
  path: user/http_branch
workload:
  base_url: ""
  user_id: 1
workflow:
  - step: start
    tool: {kind: noop}
    next: [fetch]
  - step: fetch
    spec: {on_error: continue}
    tool:
      kind: http
      url: "{{ workload.base_url }}/users/{{ workload.user_id }}"
    next:
      spec: {mode: exclusive}
      arcs:
        - step: missing
          when: "{{ fetch.status_code == 404 }}"
        - step: found
          when: "{{ fetch.status_code == 200 }}"
  - step: found
    tool: {kind: noop, result: {outcome: "found {{ fetch.data.name }}"}}
    next: [each]
  - step: missing
    tool: {kind: noop, result: {outcome: "no user {{ workload.user_id }}: {{ fetch.data.detail }} ({{ fetch.error }})"}}
    next: [each]
  - step: each
    spec: {on_error: continue}
    loop: {in: "{{ [1, 2, 3] }}", iterator: uid}
    tool:
      kind: http
      url: "{{ workload.base_url }}/users/{{ iter.uid }}"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        outcome: "{{ found.outcome if found is defined else missing.outcome }}"
        codes: "{{ each.results | map(attribute='status_code') | list }}"
        failed: "{{ each.stats.failed }}"
`

const userPGConflict = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_pg_conflict
  path: user/pg_conflict
workflow:
  - step: start
    tool:
      kind: postgres
      auth: user_pg
      command: |
        CREATE TABLE IF NOT EXISTS accounts (email text PRIMARY KEY);
        INSERT INTO accounts VALUES ('{{ execution_id }}@example.com')
    next: [again]
  - step: again
    spec: {on_error: continue}
    tool:
      kind: postgres
      auth: user_pg
      query: "INSERT INTO accounts VALUES ($1)"
      params: ["{{ execution_id }}@example.com"]
    next:
      spec: {mode: exclusive}
      arcs:
        - step: existed
          when: "{{ again.sqlstate == '23505' }}"
  - step: existed
    tool:
      kind: python
      input:
        failure: "{{ again }}"
      code: |
        def main(input_data):
            f = input_data["failure"]
            return {"existed": True, "constraint": f["constraint"], "status": f["status"]}
    next: [end]
  - step: end
    tool: {kind: noop, result: "{{ existed }}"}
`

const userRetryThenContinue = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_retry_then_continue
  path: user/retry_then_continue
workload:
  base_url: ""
workflow:
  - step: start
    tool: {kind: noop}
    next: [flaky]
  - step: flaky
    tool:
      kind: http
      url: "{{ workload.base_url }}/flaky/{{ execution_id }}"
      spec:
        policy:
          rules:
            - when: "{{ output.http.status == 503 }}"
              then: {do: retry, attempts: 3, delay: 0.05}
    next: [down]
  - step: down
    spec: {on_error: continue}
    tool:
      kind: http
      url: "{{ workload.base_url }}/down"
      spec:
        policy:
          rules:
            - when: "{{ output.error.retryable }}"
              then: {do: retry, attempts: 2, delay: 0.05}
    next:
      spec: {mode: exclusive}
      arcs:
        - step: calls
          when: "{{ down.status == 'error' }}"
  - step: calls
    tool:
      kind: http
      url: "{{ workload.base_url }}/down/calls"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        flaky: "{{ flaky.data.ok }}"
        down_code: "{{ down.status_code }}"
        why: "{{ down.data.detail }}"
        down_calls: "{{ calls.data.calls }}"
`

// userSearchBalance puts a search term with "&", "=", "+" and "/" into a query string
// with urlencode (it must stay one value), shortens a text with truncate, and reads
// money columns, one of them zero.
const userSearchBalance = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_search_balance
  path: user/search_balance
workload:
  base_url: ""
  term: ""
workflow:
  - step: start
    tool:
      kind: http
      url: "{{ workload.base_url }}/search?q={{ workload.term | urlencode }}"
    next: [balance]
  - step: balance
    tool:
      kind: postgres
      auth: user_pg
      query: "SELECT 0::numeric(10,2) AS balance, 12.5::numeric(10,2) AS spent"
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        q: "{{ start.data.q }}"
        keys: "{{ start.data.keys }}"
        short: "{{ 'fish and chips with peas' | truncate(12) }}"
        balance: "{{ balance.rows[0].balance }}"
        spent: "{{ balance.rows[0].spent }}"
`

// userManyChildren starts six children at once from one worker with four slots
// (WORKER_MAX_CONCURRENT's default): the parents' commands wait for their children,
// which need slots to run.
const userManyChildren = `apiVersion: noetl.io/v2
kind: Playbook
metadata:
  name: user_many_children
  path: user/many_children
workflow:
  - step: start
    tool: {kind: noop}
    next: [each]
  - step: each
    loop:
      in: "{{ range(6) | list }}"
      iterator: n
      spec: {mode: parallel, max_in_flight: 6}
    tool:
      kind: playbook
      path: user/child
      args:
        name: "c{{ iter.n }}"
      return_step: finish
      timeout: 30
    next: [end]
  - step: end
    tool:
      kind: noop
      result:
        greetings: "{{ each.results | map(attribute='greeting') | list }}"
`
