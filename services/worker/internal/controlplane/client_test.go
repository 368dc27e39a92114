package controlplane

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/http/httptest"
import "net/url"
import "strconv"
import "strings"
import "sync"
import "testing"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/shared/config"

// recorder answers by path and records what it received.
type recorder struct {
	mu    sync.Mutex
	auth  []string
	paths []string
	body  map[string]string
}

func (rec *recorder) server(t *testing.T, answers map[string]func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.auth = append(rec.auth, r.Header.Get("Authorization"))
		rec.paths = append(rec.paths, r.Method+" "+r.URL.RequestURI())
		if rec.body == nil {
			rec.body = map[string]string{}
		}
		rec.body[r.URL.Path] = string(b)
		rec.mu.Unlock()
		if f, ok := answers[r.URL.Path]; ok {
			f(w)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func answer(code int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func TestTokenIsSentWhenSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		token config.Secret
		want  string
	}{{"", ""}, {"wk-123", "Bearer wk-123"}} {
		rec := &recorder{}
		srv := rec.server(t, nil)
		c := New(srv.URL, srv.Client(), tc.token)
		if _, err := c.Heartbeat(context.Background(), "w1", nil); err != nil {
			t.Fatal(err)
		}
		if rec.auth[0] != tc.want {
			t.Errorf("token %q: Authorization %q, want %q", tc.token, rec.auth[0], tc.want)
		}
	}
}

// TestTokenGoesOnlyToTheConfiguredOrigin: a command's calls follow its notification's
// server_url only on the origin of NOETL_SERVER_URL. Anyone who can publish on the
// command subjects could otherwise name a server of their own and receive the worker's
// token with the calls.
func TestTokenGoesOnlyToTheConfiguredOrigin(t *testing.T) {
	t.Parallel()
	own, attacker := &recorder{}, &recorder{}
	ownSrv, attackerSrv := own.server(t, nil), attacker.server(t, nil)
	c := New(ownSrv.URL, ownSrv.Client(), "wk-123")
	u, _ := url.Parse(ownSrv.URL)
	tests := []struct {
		name, serverURL string
	}{
		{"another origin", attackerSrv.URL},
		{"the same origin with a path", ownSrv.URL + "/"},
		{"host in another case", "HTTP://" + strings.ToUpper(u.Host)},
		{"empty", ""},
		{"userinfo on the same host", "http://x:y@" + u.Host},
		{"not a URL", "::"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Heartbeat(context.Background(), "w1", nil); err != nil {
				t.Fatal(err)
			}
			_, _ = c.Cancelled(context.Background(), tc.serverURL, 5)
		})
	}
	attacker.mu.Lock()
	defer attacker.mu.Unlock()
	if len(attacker.auth) != 0 {
		t.Errorf("another origin received %d calls (Authorization %q)", len(attacker.auth), attacker.auth)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	if n := len(own.auth); n != 2*len(tests) {
		t.Errorf("the configured server received %d calls, want %d", n, 2*len(tests))
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := rec.server(t, map[string]func(w http.ResponseWriter){
		"/api/commands/7/claim": answer(200, `{"status":"ok","event_id":7,"execution_id":"3900000000000000123","node_id":"s","node_name":"s","action":"python",
			"context":{"tool_config":{"code":"x"}},"meta":{"command_id":"3900000000000000123:s:7","attempt":2}}`),
		"/api/commands/8/claim":  answer(409, `{"error":"Command already claimed by other","status":409}`),
		"/api/commands/9/claim":  answer(404, `{"error":"command.issued event not found: 9","status":404}`),
		"/api/commands/10/claim": answer(503, `{"error":"upstream api is unavailable","status":503}`),
		"/api/commands/11/claim": answer(200, `{"status":"ok"}`),
	})
	c := New(srv.URL, srv.Client(), "")
	cmd, err := c.Claim(context.Background(), srv.URL, 7, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.ExecutionID != 3900000000000000123 || cmd.Step != "s" || cmd.Action != "python" || cmd.CommandID != "3900000000000000123:s:7" || cmd.Attempt != 2 {
		t.Fatalf("command %+v", cmd)
	}
	if rec.body["/api/commands/7/claim"] != `{"worker_id":"w1"}` {
		t.Fatalf("claim body %s", rec.body["/api/commands/7/claim"])
	}
	for _, id := range []int64{8, 9} {
		if _, err := c.Claim(context.Background(), srv.URL, id, "w1"); !errors.Is(err, ErrClaimRefused) {
			t.Errorf("claim %d: %v, want refused", id, err)
		}
	}
	if _, err := c.Claim(context.Background(), srv.URL, 10, "w1"); !Transient(err) || StatusOf(err) != 503 || !strings.Contains(err.Error(), "upstream api is unavailable") {
		t.Errorf("claim 10: %v", err)
	}
	if _, err := c.Claim(context.Background(), srv.URL, 11, "w1"); err == nil || Transient(err) {
		t.Errorf("an answer without a command must be an error, not transient: %v", err)
	}
}

// The wallet says "retryable": false on a failure asking again cannot fix; any status.
func TestNotRetryableAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		switch r.URL.Path {
		case "/api/credentials/denied":
			_, _ = w.Write([]byte(`{"error":"keychain 'denied': vault: read 'app/data/x': HTTP 403","status":502,"retryable":false}`))
		case "/api/credentials/said-retryable":
			_, _ = w.Write([]byte(`{"error":"keychain 'said-retryable': vault is sealed","status":502,"retryable":true}`))
		default:
			_, _ = w.Write([]byte(`{"error":"keychain 'down': vault: EOF","status":502}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL, srv.Client(), "")
	for _, tc := range []struct {
		alias     string
		transient bool
	}{{"denied", false}, {"said-retryable", true}, {"down", true}} {
		t.Run(tc.alias, func(t *testing.T) {
			_, err := c.Credential(context.Background(), srv.URL, tc.alias, 1)
			if err == nil || Transient(err) != tc.transient || StatusOf(err) != http.StatusBadGateway {
				t.Errorf("%v: transient %v, want %v", err, Transient(err), tc.transient)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 500}, true}, {&StatusError{Code: 503}, true}, {&StatusError{Code: 429}, true}, {&StatusError{Code: 408}, true},
		{&StatusError{Code: 502, Permanent: true}, false}, {&StatusError{Code: 500, Permanent: true}, false},
		{&StatusError{Code: 400}, false}, {&StatusError{Code: 401}, false}, {&StatusError{Code: 422}, false},
		{context.Canceled, false}, {nil, false}, {context.DeadlineExceeded, true},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v", tc.err, got)
		}
	}
	// A connection refused is transient.
	c := New("http://127.0.0.1:1", &http.Client{Timeout: 2 * time.Second}, "")
	if _, err := c.Heartbeat(context.Background(), "w1", nil); !Transient(err) {
		t.Errorf("connection refused: %v", err)
	}
}

// Events go out as the upstream envelope; a batch carries them in order.
func TestEvents(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := rec.server(t, nil)
	c := New(srv.URL, srv.Client(), "")
	ev := NewEvent(42, 3900000000000000123, "s", "command.started", "STARTED", "w1", map[string]any{"command_id": "c"})
	if err := c.PostEvent(context.Background(), "", ev); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(rec.body["/api/events"]), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"execution_id", "event_type", "step", "status", "created_at", "context", "event_id", "worker_id"} {
		if _, ok := got[k]; !ok {
			t.Errorf("event lacks %s: %v", k, got)
		}
	}
	if !strings.Contains(rec.body["/api/events"], `"execution_id":3900000000000000123`) {
		t.Errorf("the execution id lost digits: %s", rec.body["/api/events"])
	}
	if err := c.PostEvents(context.Background(), "", 5, "w1", []Event{ev, ev}); err != nil {
		t.Fatal(err)
	}
	if b := rec.body["/api/events/batch"]; !strings.HasPrefix(b, `{"events":[`) || !strings.Contains(b, `"worker_id":"w1"`) {
		t.Errorf("batch body %s", b)
	}
}

func TestCredentialAndSealed(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := rec.server(t, map[string]func(w http.ResponseWriter){
		"/api/credentials/pg":        answer(200, `{"id":"1","name":"pg","type":"postgres","data":{"db_host":"h"},"created_at":"x","updated_at":"x"}`),
		"/api/credentials/missing":   answer(404, `{"error":"Credential not found","status":404}`),
		"/api/credentials/pg/sealed": answer(200, `{"alg":"x25519-hkdf-sha256-chacha20-poly1305","v":1,"eph_pub":"e","ciphertext":"c"}`),
		"/api/credentials/str":       answer(200, `{"id":"0","name":"str","type":"keychain","data":"text"}`),
		"/api/credentials/strstored": answer(200, `{"id":"5","name":"strstored","type":"bearer","data":"text"}`),
		"/api/credentials/kv":        answer(404, `{"error":"keychain 'kv': vault: read 'secret/data/x': not found","status":404}`),
		"/api/credentials/kv/sealed": answer(404, `{"error":"keychain 'kv': vault: read 'secret/data/x': not found","status":404}`),
	})
	c := New(srv.URL, srv.Client(), "")
	cr, err := c.Credential(context.Background(), "", "pg", 9)
	if err != nil || cr.Type != "postgres" || cr.Data["db_host"] != "h" {
		t.Fatalf("credential %+v %v", cr, err)
	}
	if !strings.Contains(strings.Join(rec.paths, " "), "/api/credentials/pg?execution_id=9&include_data=true") {
		t.Errorf("paths %v", rec.paths)
	}
	if _, err := c.Credential(context.Background(), "", "missing", 9); !errors.Is(err, ErrCredentialNotFound) {
		t.Errorf("missing: %v", err)
	}
	// A keychain entry without a map is one string; a stored credential's data is an object.
	if cr, err := c.Credential(context.Background(), "", "str", 9); err != nil || cr.Content() != "text" || len(cr.Data) != 0 {
		t.Errorf("keychain string: %+v %v", cr, err)
	}
	if _, err := c.Credential(context.Background(), "", "strstored", 9); err == nil || !strings.Contains(err.Error(), "not an object") {
		t.Errorf("non-object data of a stored credential: %v", err)
	}
	// A 404 keeps the wallet's reason.
	var nf *NotFoundError
	if _, err := c.Credential(context.Background(), "", "kv", 9); !errors.Is(err, ErrCredentialNotFound) || !errors.As(err, &nf) || nf.Detail != "keychain 'kv': vault: read 'secret/data/x': not found" {
		t.Errorf("keychain miss: %v", err)
	}
	if _, err := c.SealedCredential(context.Background(), "", "kv", "w1", 9); !errors.As(err, &nf) || !strings.Contains(nf.Detail, "vault: read") {
		t.Errorf("sealed keychain miss: %v", err)
	}
	raw, err := c.SealedCredential(context.Background(), "", "pg", "w1", 9)
	if err != nil || !strings.Contains(string(raw), `"eph_pub":"e"`) {
		t.Fatalf("sealed %s %v", raw, err)
	}
	if !strings.Contains(strings.Join(rec.paths, " "), "/api/credentials/pg/sealed?execution_id=9&worker_id=w1") {
		t.Errorf("paths %v", rec.paths)
	}
}

// PostOutcome asks for eager dispatch and reads the commands of the answer; an answer
// without them (an upstream control plane) is no command.
func TestPostOutcomeEagerDispatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer string
		want   []string
		err    string
	}{
		{"commands", `{"status":"ok","event_ids":["1"],"commands_generated":1,"commands":[{"status":"ok","event_id":"42",
			"execution_id":"7","node_id":"end","node_name":"end","action":"noop","context":{"tool_config":{}},
			"meta":{"command_id":"7:end:42","attempt":1}}]}`, []string{"42 end 7:end:42"}, ""},
		{"upstream answer", `{"status":"ok","event_ids":["1"],"commands_generated":1}`, nil, ""},
		{"broken command", `{"status":"ok","commands":[{"event_id":"42"}]}`, nil, "eager command 42"},
		{"a broken command beside a good one", `{"status":"ok","commands":[{"event_id":"41"},{"status":"ok","event_id":"42",
			"execution_id":"7","node_name":"end","action":"noop","meta":{"command_id":"7:end:42"}},{"node_name":"x"}]}`,
			[]string{"42 end 7:end:42"}, "eager command 41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			srv := rec.server(t, map[string]func(w http.ResponseWriter){"/api/events/batch": answer(200, tc.answer)})
			c := New(srv.URL, srv.Client(), "")
			cmds, err := c.PostOutcome(context.Background(), "", 7, "w1", []Event{{EventType: "command.completed", Step: "start"}}, 1)
			if tc.err != "" {
				// The answer is a 2xx, so the outcome is stored: an eager command that
				// cannot be read is an unreadable answer, and the readable ones still come.
				if !errors.Is(err, ErrUnreadableAnswer) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cmd := range cmds {
				got = append(got, strings.Join([]string{strconv.FormatInt(cmd.EventID, 10), cmd.Step, cmd.CommandID}, " "))
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Fatalf("commands %v, want %v", got, tc.want)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(rec.body["/api/events/batch"]), &body); err != nil || body["eager_capacity"] != float64(1) || body["worker_id"] != "w1" {
				t.Fatalf("request %s", rec.body["/api/events/batch"])
			}
		})
	}
}

// The heartbeat lists the commands the worker holds as decimal strings (snowflake
// ids exceed what a JSON number keeps exactly), and an empty list as [], not null: a
// present list is what tells the control plane the worker reports what it holds. The
// answer's "released" comes back as ids (strings or numbers; anything else skipped),
// and an answer without it releases nothing.
func TestHeartbeatListsHeldCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		held     []int64
		answer   string
		want     string
		released []int64
	}{
		{nil, `{"status":"ok"}`, `{"commands":[],"component_type":"worker_pool","name":"w1"}`, nil},
		{[]int64{9007199254740993, 7}, `{"status":"ok","released":["9007199254740993",7,"x",{"id":1}]}`,
			`{"commands":["9007199254740993","7"],"component_type":"worker_pool","name":"w1"}`, []int64{9007199254740993, 7}},
	} {
		rec := &recorder{}
		srv := rec.server(t, map[string]func(w http.ResponseWriter){"/api/worker/pool/heartbeat": answer(200, tc.answer)})
		c := New(srv.URL, srv.Client(), "")
		released, err := c.Heartbeat(context.Background(), "w1", tc.held)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(rec.body["/api/worker/pool/heartbeat"]); got != tc.want {
			t.Errorf("held %v: body %s, want %s", tc.held, got, tc.want)
		}
		if fmt.Sprint(released) != fmt.Sprint(tc.released) {
			t.Errorf("held %v: released %v, want %v", tc.held, released, tc.released)
		}
	}
}

// The registration carries the worker's heartbeat interval, in seconds, so the control
// plane's claim-lease bounds wait for its heartbeats; none configured sends no field.
func TestRegisterReportsTheHeartbeatInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		every time.Duration
		want  string
	}{
		{time.Minute, `"heartbeat_interval_seconds":60`},
		{1500 * time.Millisecond, `"heartbeat_interval_seconds":1.5`},
		{0, ""},
	} {
		rec := &recorder{}
		srv := rec.server(t, nil)
		c := New(srv.URL, srv.Client(), "")
		if err := c.Register(context.Background(), Registration{Name: "w1", HeartbeatInterval: tc.every}); err != nil {
			t.Fatal(err)
		}
		body := rec.body["/api/worker/pool/register"]
		if tc.want != "" && !strings.Contains(body, tc.want) || tc.want == "" && strings.Contains(body, "heartbeat_interval") {
			t.Errorf("interval %s: body %s, want %q", tc.every, body, tc.want)
		}
	}
}

// TestErrorTextCutsOnACharacter: a long body that is not an error envelope is cut at a
// character boundary, so the error never ends in half of a UTF-8 sequence.
func TestErrorTextCutsOnACharacter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{"short", "  bad gateway ", "bad gateway"},
		{"ascii", strings.Repeat("a", 301), strings.Repeat("a", 300) + "..."},
		{"two-byte across the cut", strings.Repeat("a", 299) + "éé", strings.Repeat("a", 299) + "..."},
		{"three-byte across the cut", strings.Repeat("a", 298) + "€€", strings.Repeat("a", 298) + "..."},
		{"envelope", `{"error":"` + strings.Repeat("é", 200) + `"}`, strings.Repeat("é", 200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorText([]byte(tc.raw))
			if got != tc.want {
				t.Errorf("errorText = %q, want %q", got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("errorText = %q, not valid UTF-8", got)
			}
		})
	}
}

// A claim answered 2xx with a body the worker cannot read (not JSON, or not a command)
// is ErrUnreadableAnswer, which the executor bounds, and not transient.
func TestClaimUnreadableAnswer(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := rec.server(t, map[string]func(w http.ResponseWriter){
		"/api/commands/1/claim": answer(200, `<html>proxy</html>`),
		"/api/commands/2/claim": answer(200, `{"status":"ok"}`),
		"/api/commands/3/claim": answer(200, `[1, 2]`),
		"/api/commands/4/claim": answer(200, ``),
	})
	c := New(srv.URL, srv.Client(), "")
	for _, id := range []int64{1, 2, 3, 4} {
		t.Run(strconv.FormatInt(id, 10), func(t *testing.T) {
			_, err := c.Claim(context.Background(), srv.URL, id, "w1")
			if !errors.Is(err, ErrUnreadableAnswer) || errors.Is(err, ErrClaimRefused) || !strings.Contains(err.Error(), "/claim") {
				t.Errorf("claim %d: %v, want an unreadable answer naming the route", id, err)
			}
		})
	}
}
