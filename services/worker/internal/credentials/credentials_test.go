package credentials

import "context"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "reflect"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/crypto/sealed"

// store answers credential fetches from a map; sealed answers are sealed for real to
// the recipient key, so Open is exercised end to end.
type store struct {
	creds     map[string]controlplane.Credential
	missing   map[string]string // alias -> the wallet's 404 message
	recipient sealed.SecretKey
	plain     int
	sealedN   int
	failures  int             // transient failures before answering
	denied    map[string]bool // aliases the wallet's secret manager refuses (502, not retryable)
}

func (s *store) Credential(_ context.Context, _, alias string, _ int64) (controlplane.Credential, error) {
	s.plain++
	if s.failures > 0 {
		s.failures--
		return controlplane.Credential{}, &controlplane.StatusError{Op: "GET", Code: 503}
	}
	if s.denied[alias] {
		return controlplane.Credential{}, &controlplane.StatusError{Op: "GET", Code: 502, Permanent: true,
			Body: "keychain '" + alias + "': vault: read 'app/data/x': HTTP 403: permission denied"}
	}
	if detail, ok := s.missing[alias]; ok {
		return controlplane.Credential{}, &controlplane.NotFoundError{Alias: alias, Detail: detail}
	}
	c, ok := s.creds[alias]
	if !ok {
		return c, controlplane.ErrCredentialNotFound
	}
	return c, nil
}

func (s *store) SealedCredential(_ context.Context, _, alias, workerID string, _ int64) ([]byte, error) {
	s.sealedN++
	if detail, ok := s.missing[alias]; ok {
		return nil, &controlplane.NotFoundError{Alias: alias, Detail: detail}
	}
	c, ok := s.creds[alias]
	if !ok || workerID != "w1" {
		return nil, controlplane.ErrCredentialNotFound
	}
	plain, _ := json.Marshal(map[string]any{"id": "1", "name": c.Name, "type": c.Type, "data": c.Content()})
	env, err := sealed.Seal(s.recipient.PublicKey(), plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

func newStore(t *testing.T) (*store, sealed.SecretKey) {
	t.Helper()
	key, err := sealed.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	return &store{recipient: key, creds: map[string]controlplane.Credential{
		"pg":      {Name: "pg", Type: "postgres", Data: map[string]any{"db_host": "db.internal", "db_port": "6543", "db_user": "app", "db_password": "pg-Secret-1", "db_name": "orders"}},
		"bearer":  {Name: "bearer", Type: "Bearer", Data: map[string]any{"token": "tok-Secret-2"}},
		"basic":   {Name: "basic", Type: "basic", Data: map[string]any{"username": "u", "password": "pw-Secret-3"}},
		"apikey":  {Name: "apikey", Type: "api_key", Data: map[string]any{"api_key": "key-Secret-4", "header": "X-Token"}},
		"weird":   {Name: "weird", Type: "gcp_service_account", Data: map[string]any{"private_key": "pk-Secret-5"}},
		"badport": {Name: "badport", Type: "postgres", Data: map[string]any{"db_port": "http"}},
		"kc":      {Name: "kc", Type: "keychain", Data: map[string]any{"token": "kc-Secret-6"}},
		"solo":    {Name: "solo", Type: "keychain", Data: map[string]any{}, Value: "solo-Secret-7"},
		"pgdsn":   {Name: "pgdsn", Type: "postgres", Data: map[string]any{"connection_string": "postgresql://app:dsn%40Secret-8@db.internal:5432/orders"}},
		"pgkv":    {Name: "pgkv", Type: "postgresql", Data: map[string]any{"dsn": "host=db.internal user=app password='kv Secret-9' dbname=orders"}},
	}, missing: map[string]string{
		"plainmiss": "Credential 'plainmiss' not found",
		"vaultmiss": "keychain 'vaultmiss': vault: read 'secret/data/app/x': not found",
	}}, key
}

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind string
		cfg  map[string]any
		want map[string]any
		err  string
	}{
		{"postgres alias fills connection fields, the step's own win", "postgres",
			map[string]any{"auth": "pg", "database": "mine", "query": "SELECT 1"},
			map[string]any{"host": "db.internal", "port": int64(6543), "user": "app", "password": "pg-Secret-1", "database": "mine", "query": "SELECT 1"}, ""},
		{"credential is an alias of auth", "postgres", map[string]any{"credential": "pg"},
			map[string]any{"host": "db.internal", "port": int64(6543), "user": "app", "password": "pg-Secret-1", "database": "orders"}, ""},
		{"bearer becomes an Authorization header", "http", map[string]any{"auth": "bearer", "url": "http://x"},
			map[string]any{"url": "http://x", "headers": map[string]any{"Authorization": "Bearer tok-Secret-2"}, tool.CredentialHeadersKey: []string{"Authorization"}}, ""},
		{"a header the step set wins", "http", map[string]any{"auth": "bearer", "headers": map[string]any{"authorization": "Bearer mine"}},
			map[string]any{"headers": map[string]any{"authorization": "Bearer mine"}}, ""},
		{"basic", "http", map[string]any{"auth": "basic"},
			map[string]any{"headers": map[string]any{"Authorization": "Basic dTpwdy1TZWNyZXQtMw=="}, tool.CredentialHeadersKey: []string{"Authorization"}}, ""},
		{"api_key with its header name", "http", map[string]any{"auth": map[string]any{"type": "api_key", "credential": "apikey"}},
			map[string]any{"headers": map[string]any{"X-Token": "key-Secret-4"}, tool.CredentialHeadersKey: []string{"X-Token"}}, ""},
		{"inline bearer token", "http", map[string]any{"auth": map[string]any{"type": "bearer", "token": "inline-Secret"}},
			map[string]any{"headers": map[string]any{"Authorization": "Bearer inline-Secret"}, tool.CredentialHeadersKey: []string{"Authorization"}}, ""},
		{"auth type none", "http", map[string]any{"auth": map[string]any{"type": "none"}}, map[string]any{}, ""},
		{"other tools keep their config", "python", map[string]any{"auth": "pg"}, map[string]any{"auth": "pg"}, ""},
		{"an unknown alias", "postgres", map[string]any{"auth": "nope"}, nil, `credential alias "nope" not found`},
		{"a type the tool cannot use", "http", map[string]any{"auth": "weird"}, nil, `has type "gcp_service_account", which the http tool cannot use`},
		{"a postgres credential for http", "http", map[string]any{"auth": "pg"}, nil, "which the http tool cannot use"},
		{"a bad port", "postgres", map[string]any{"auth": "badport"}, nil, "is not a port number"},
		{"a plain miss says not found and no more", "http", map[string]any{"auth": "plainmiss"}, nil, `credential alias "plainmiss" not found$`},
		{"a keychain miss says what its provider lacked", "http", map[string]any{"auth": "vaultmiss"}, nil,
			`credential alias "vaultmiss" not found: keychain 'vaultmiss': vault: read 'secret/data/app/x': not found$`},
		{"a keychain entry as a bare alias says how to type it", "http", map[string]any{"auth": "kc"}, nil,
			`has type "keychain", which the http tool cannot use; a keychain entry names its type in the step: auth: {type: <type>, credential: kc}`},
		{"a DSN credential becomes the connection string", "postgres", map[string]any{"auth": "pgdsn", "schema": "s"},
			map[string]any{"connection_string": "postgresql://app:dsn%40Secret-8@db.internal:5432/orders", "schema": "s"}, ""},
		{"a key=value DSN under dsn", "postgres", map[string]any{"auth": "pgkv"},
			map[string]any{"connection_string": "host=db.internal user=app password='kv Secret-9' dbname=orders"}, ""},
		{"a connection string the step set wins", "postgres", map[string]any{"auth": "pgdsn", "dsn": "postgres://mine@h/d"},
			map[string]any{"dsn": "postgres://mine@h/d"}, ""},
		{"a keychain entry with its type", "http", map[string]any{"auth": map[string]any{"type": "bearer", "credential": "kc"}},
			map[string]any{"headers": map[string]any{"Authorization": "Bearer kc-Secret-6"}, tool.CredentialHeadersKey: []string{"Authorization"}}, ""},
	}
	for _, sealedMode := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/sealed=%v", tc.name, sealedMode), func(t *testing.T) {
				t.Parallel()
				st, key := newStore(t)
				s := NewResolver(st, sealedMode, key, "w1").Session(tool.Exec{ExecutionID: 1})
				cfg := map[string]any{}
				for k, v := range tc.cfg {
					cfg[k] = v
				}
				err := s.Apply(context.Background(), tc.kind, cfg)
				if tc.err != "" {
					if err == nil || !errMatches(err.Error(), tc.err) {
						t.Fatalf("err = %v, want %q", err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(cfg, tc.want) {
					t.Fatalf("config %#v\nwant %#v", cfg, tc.want)
				}
				if sealedMode && st.plain > 0 || !sealedMode && st.sealedN > 0 {
					t.Fatalf("sealed=%v fetched %d plain and %d sealed", sealedMode, st.plain, st.sealedN)
				}
			})
		}
	}
}

// errMatches: got contains want, or with a trailing "$" ends with the rest of want.
func errMatches(got, want string) bool {
	if w, ok := strings.CutSuffix(want, "$"); ok {
		return strings.HasSuffix(got, w)
	}
	return strings.Contains(got, want)
}

// A credential is fetched once per command, and transient failures are retried.
func TestSessionCachesAndRetries(t *testing.T) {
	t.Parallel()
	st, key := newStore(t)
	st.failures = 2
	s := NewResolver(st, false, key, "w1").Session(tool.Exec{ExecutionID: 1})
	for i := 0; i < 3; i++ {
		if _, err := s.Get(context.Background(), "bearer"); err != nil {
			t.Fatal(err)
		}
	}
	if st.plain != 3 {
		t.Fatalf("%d fetches, want 3 (two failures, then one answer cached)", st.plain)
	}
	var ce *Error
	if _, err := s.Get(context.Background(), "nope"); !errors.As(err, &ce) || ce.Retryable {
		t.Fatalf("unknown alias: %v", err)
	}
}

// A wallet that stays unreachable for longer than a few quick tries (a restart) is
// waited out for the resolver's patience, then the failure is retryable.
func TestSessionWaitsOutAnUnreachableWallet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		failures  int
		patience  time.Duration
		wantErr   bool
		wantFetch int
	}{
		{name: "back within the patience", failures: 8, patience: time.Minute, wantFetch: 9},
		{name: "still down when patience ends", failures: 1 << 30, patience: 50 * time.Millisecond, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, key := newStore(t)
			st.failures = tc.failures
			r := NewResolver(st, false, key, "w1")
			r.patience, r.pause = tc.patience, time.Millisecond
			_, err := r.Session(tool.Exec{ExecutionID: 1}).Get(context.Background(), "bearer")
			var ce *Error
			switch {
			case tc.wantErr && (!errors.As(err, &ce) || !ce.Retryable):
				t.Fatalf("err = %v, want a retryable credential error", err)
			case !tc.wantErr && err != nil:
				t.Fatalf("err = %v after %d fetches", err, st.plain)
			case !tc.wantErr && st.plain != tc.wantFetch:
				t.Fatalf("%d fetches, want %d", st.plain, tc.wantFetch)
			}
		})
	}
}

// A secret manager's denial is a 502 the wallet marks not retryable: fetched once, and
// the step's failure is not retryable either.
func TestSessionDoesNotRetryADenial(t *testing.T) {
	t.Parallel()
	st, key := newStore(t)
	st.denied = map[string]bool{"bearer": true}
	s := NewResolver(st, false, key, "w1").Session(tool.Exec{ExecutionID: 1})
	var ce *Error
	if _, err := s.Get(context.Background(), "bearer"); !errors.As(err, &ce) || ce.Retryable || !strings.Contains(ce.Msg, "HTTP 403") {
		t.Fatalf("denied alias: %v", err)
	}
	if st.plain != 1 {
		t.Fatalf("%d fetches of a denied alias, want 1", st.plain)
	}
}

// A sealed envelope opened with another key is refused.
func TestSealedWithTheWrongKey(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	other, _ := sealed.GenerateSecretKey()
	s := NewResolver(st, true, other, "w1").Session(tool.Exec{ExecutionID: 1})
	if _, err := s.Get(context.Background(), "bearer"); err == nil || !strings.Contains(err.Error(), "AEAD") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeychain(t *testing.T) {
	t.Parallel()
	st, key := newStore(t)
	s := NewResolver(st, false, key, "w1").Session(tool.Exec{ExecutionID: 1})
	cfg := map[string]any{"url": "http://x/{{ keychain.bearer.token }}", "h": []any{"{{ keychain['basic'].password }}"}}
	if got := KeychainAliases(cfg); !reflect.DeepEqual(got, []string{"basic", "bearer"}) {
		t.Fatalf("aliases %v", got)
	}
	kc, err := s.Keychain(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if kc["bearer"].(map[string]any)["token"] != "tok-Secret-2" {
		t.Fatalf("keychain %v", kc)
	}
	if got := s.Scrub.String("u tok-Secret-2 pw-Secret-3"); got != "u [REDACTED] [REDACTED]" {
		t.Fatalf("scrubbed %q", got)
	}
	// A template may put any field of a credential anywhere: through keychain, a typed
	// credential's fields are secret but for where the service is and who connects.
	if _, err := s.Keychain(context.Background(), map[string]any{"q": "{{ keychain.pg.db_host }} {{ keychain.apikey.header }}"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Scrub.String("app@db.internal:6543/orders X-Token pg-Secret-1"); got != "app@db.internal:6543/orders X-Token [REDACTED]" {
		t.Fatalf("scrubbed %q", got)
	}
}

// A header made from a credential is a secret too: a server echoing the Basic header's
// base64 (which decodes to user:password) must not put the password in a result.
func TestDerivedHeadersAreScrubbed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		auth any
		echo string
	}{
		{"basic alias", "basic", "dTpwdy1TZWNyZXQtMw=="},
		{"inline basic", map[string]any{"type": "basic", "username": "u", "password": "pw-Inline-9"}, "dTpwdy1JbmxpbmUtOQ=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, key := newStore(t)
			s := NewResolver(st, false, key, "w1").Session(tool.Exec{ExecutionID: 1})
			if err := s.Apply(context.Background(), "http", map[string]any{"auth": tc.auth}); err != nil {
				t.Fatal(err)
			}
			got := s.Scrub.Value(map[string]any{"y": tc.echo, "x": "Basic " + tc.echo})
			want := map[string]any{"y": Redacted, "x": Redacted}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("scrubbed %v", got)
			}
		})
	}
}

// A keychain entry without a map resolves to one string: {{ keychain.<alias> }} is that
// string, plain or sealed, and it is scrubbed like any keychain value.
func TestKeychainString(t *testing.T) {
	t.Parallel()
	for _, sealedMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%v", sealedMode), func(t *testing.T) {
			t.Parallel()
			st, key := newStore(t)
			s := NewResolver(st, sealedMode, key, "w1").Session(tool.Exec{ExecutionID: 1})
			kc, err := s.Keychain(context.Background(), map[string]any{"h": "Bearer {{ keychain.solo }}"})
			if err != nil {
				t.Fatal(err)
			}
			if kc["solo"] != "solo-Secret-7" {
				t.Fatalf("keychain %#v", kc)
			}
			if got := s.Scrub.String("got solo-Secret-7"); got != "got [REDACTED]" {
				t.Fatalf("scrubbed %q", got)
			}
		})
	}
}

// A DSN holds its password inside; the DSN, the password as written and the password
// percent-decoded are all secrets, whatever field name carried the DSN.
func TestDSNIsScrubbed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		auth any
		in   string
		want string
	}{
		{"URL alias, written and decoded", "pgdsn",
			"postgresql://app:dsn%40Secret-8@db.internal:5432/orders | dsn%40Secret-8 | dsn@Secret-8 | app@db.internal",
			"[REDACTED] | [REDACTED] | [REDACTED] | app@db.internal"},
		{"key=value alias", "pgkv", "kv Secret-9 | host=db.internal", "[REDACTED] | host=db.internal"},
		{"inline URL", map[string]any{"type": "postgres", "connection_string": "postgres://u:in%2Fline-Pw@h/d"},
			"in%2Fline-Pw in/line-Pw", "[REDACTED] [REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, key := newStore(t)
			s := NewResolver(st, false, key, "w1").Session(tool.Exec{ExecutionID: 1})
			if err := s.Apply(context.Background(), "postgres", map[string]any{"auth": tc.auth}); err != nil {
				t.Fatal(err)
			}
			if got := s.Scrub.String(tc.in); got != tc.want {
				t.Fatalf("scrubbed %q\nwant     %q", got, tc.want)
			}
		})
	}
}

func TestDSNSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"postgres://u:p%40ss@h/d", []string{"postgres://u:p%40ss@h/d", "p%40ss", "p@ss"}},
		{"postgresql://u@h/d", []string{"postgresql://u@h/d"}},
		{"host=h password=plain user=u", []string{"host=h password=plain user=u", "plain"}},
		{`host=h password='it\'s here' user=u`, []string{`host=h password='it\'s here' user=u`, `it\'s here`, "it's here"}},
		{"just words", nil},
		{"https://u:p@example.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := DSNSecrets(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DSNSecrets(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	s := NewScrubber()
	s.AddCredential(controlplane.Credential{Type: "postgres", Data: map[string]any{"db_host": "db.internal", "db_user": "app", "db_password": "pg-Secret-1"}})
	s.AddCredential(controlplane.Credential{Type: "bearer", Data: map[string]any{"token": "tok-Secret-2", "nested": map[string]any{"client_secret": "cs-Secret-3"}}})
	s.Add("abc") // too short to scrub
	in := map[string]any{
		"error": "connect app@db.internal with pg-Secret-1 failed",
		"data":  []any{"Bearer tok-Secret-2", int64(7), map[string]any{"tok-Secret-2": "cs-Secret-3 abc"}},
	}
	want := map[string]any{
		"error": "connect app@db.internal with [REDACTED] failed",
		"data":  []any{"Bearer [REDACTED]", int64(7), map[string]any{"[REDACTED]": "[REDACTED] abc"}},
	}
	if got := s.Value(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if in["error"] != "connect app@db.internal with pg-Secret-1 failed" {
		t.Fatal("the input was modified")
	}
}

// TestScrubberListsAndNumbers: secret fields inside lists, at any depth, and numeric
// secrets (as their decimal text) are scrubbed like the rest.
func TestScrubberListsAndNumbers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cred controlplane.Credential
		in   any
		want any
	}{
		{"secret field in a list", controlplane.Credential{Type: "generic", Data: map[string]any{
			"accounts": []any{map[string]any{"user": "ops", "password": "list-Secret-1"}}}},
			"login ops/list-Secret-1", "login ops/[REDACTED]"},
		{"secret field in nested lists", controlplane.Credential{Type: "generic", Data: map[string]any{
			"shards": []any{[]any{map[string]any{"conn": map[string]any{"token": "deep-Secret-2"}}}}}},
			"t=deep-Secret-2", "t=[REDACTED]"},
		{"list under a secret field", controlplane.Credential{Type: "generic", Data: map[string]any{
			"api_keys": []any{"k1-Secret-3", []any{"k2-Secret-4"}}}},
			"k1-Secret-3 k2-Secret-4", "[REDACTED] [REDACTED]"},
		{"integer secret", controlplane.Credential{Type: "generic", Data: map[string]any{"passcode": int64(90817263)}},
			map[string]any{"said": "pin 90817263", "n": int64(90817263), "other": int64(5432)},
			map[string]any{"said": "pin [REDACTED]", "n": "[REDACTED]", "other": int64(5432)}},
		{"float secret", controlplane.Credential{Type: "generic", Data: map[string]any{"secret": 31415.9265}},
			[]any{"v=31415.9265", 31415.9265}, []any{"v=[REDACTED]", "[REDACTED]"}},
		{"numeric keychain value", controlplane.Credential{Type: "keychain", Value: []any{int64(5550123)}},
			"call 5550123", "call [REDACTED]"},
		// Where a service is and who connects are not secrets: scrubbing them turned every
		// "localhost", "5432" and user name in a step's output into [REDACTED].
		{"keychain entry's public fields stay", controlplane.Credential{Type: "keychain", Data: map[string]any{
			"host": "db.internal", "port": int64(6543), "user": "svc_user", "dbname": "appdb", "password": "kc-Pass-1"}},
			map[string]any{"who": "svc_user@db.internal:6543/appdb", "port": int64(6543), "pw": "kc-Pass-1"},
			map[string]any{"who": "svc_user@db.internal:6543/appdb", "port": int64(6543), "pw": "[REDACTED]"}},
		{"keychain entry's unknown fields are secret", controlplane.Credential{Type: "keychain", Data: map[string]any{
			"value": "kc-Value-2", "bearer": "kc-Bearer-3", "region": "eu-west-1"}},
			"kc-Value-2 kc-Bearer-3 eu-west-1", "[REDACTED] [REDACTED] eu-west-1"},
		{"a connection string under a public field is still scrubbed", controlplane.Credential{Type: "keychain", Data: map[string]any{
			"host": "postgresql://app:kc-Dsn-4@db.internal/orders"}},
			"failed: kc-Dsn-4", "failed: [REDACTED]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewScrubber()
			s.AddCredential(tc.cred)
			if got := s.Value(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// Bytes carried as {base64, size} (a binary http body, shell or python output that is
// not UTF-8) are scrubbed in their decoded form: the base64 text never shows a secret.
func TestScrubberBase64Data(t *testing.T) {
	t.Parallel()
	s := NewScrubber()
	s.Add("b64-Secret-1")
	enc := func(b string) string { return base64.StdEncoding.EncodeToString([]byte(b)) }
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{"a secret in the bytes", map[string]any{"base64": enc("\xffkey=b64-Secret-1\xfe"), "size": int64(18), "truncated": int64(3)},
			map[string]any{"base64": enc("\xffkey=[REDACTED]\xfe"), "size": int64(16), "truncated": int64(3)}},
		{"none", map[string]any{"base64": enc("\xff\xfe"), "size": int64(2)}, map[string]any{"base64": enc("\xff\xfe"), "size": int64(2)}},
		{"not base64 is left as text", map[string]any{"base64": "b64-Secret-1!", "size": int64(1)},
			map[string]any{"base64": "[REDACTED]!", "size": int64(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Value(map[string]any{"stdout": tc.in}); !reflect.DeepEqual(got, map[string]any{"stdout": tc.want}) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// A secret reaches output in the forms a transport gives it: percent-encoded in a query
// or a path (an http step's params, a redirect's URL quoted in Go's error, a server
// echoing the query back) and base64 (either alphabet, padded or not). Each is scrubbed
// like the value as written.
func TestScrubberEncodedForms(t *testing.T) {
	t.Parallel()
	const secret = "Tok+en/9=x y?"
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, tc := range []struct{ name, in, want string }{
		{"as written", "t=" + secret, "t=[REDACTED]"},
		{"query escaped", `Get "http://h:1/gone?t=Tok%2Ben%2F9%3Dx+y%3F": connection refused`, `Get "http://h:1/gone?t=[REDACTED]": connection refused`},
		{"query escaped, space as %20", "t=Tok%2Ben%2F9%3Dx%20y%3F&u=1", "t=[REDACTED]&u=1"},
		{"path escaped", "/v1/Tok+en%2F9=x%20y%3F/items", "/v1/[REDACTED]/items"},
		{"base64 padded", "b64 " + b64, "b64 [REDACTED]"},
		{"base64 url alphabet", "b64 " + base64.RawURLEncoding.EncodeToString([]byte(secret)), "b64 [REDACTED]"},
		{"unrelated text", "Tok en", "Tok en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewScrubber()
			s.AddCredential(controlplane.Credential{Type: "bearer", Data: map[string]any{"token": secret}})
			if got := s.String(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A secret holding a quote, a backslash or a non-ASCII character reaches output escaped
// inside a quoted string: a server echoing the JSON body it was sent, a Python dict
// printed or json.dumps'd, a Go %q in an error. Each form is scrubbed like the value.
func TestScrubberQuotedForms(t *testing.T) {
	t.Parallel()
	const secret = `pa"ss\wörd<1>`
	for _, tc := range []struct{ name, in, want string }{
		{"as written", "pw=" + secret, "pw=[REDACTED]"},
		{"JSON (an echoed body, json.dumps)", `{"pw": "pa\"ss\\wörd<1>"}`, `{"pw": "[REDACTED]"}`},
		{"JSON from Go", `{"pw":"pa\"ss\\wörd\u003c1\u003e"}`, `{"pw":"[REDACTED]"}`},
		{"JSON, ASCII only", `{"pw": "pa\"ss\\w\u00f6rd<1>"}`, `{"pw": "[REDACTED]"}`},
		{"Go %q", `bad value "pa\"ss\\wörd<1>"`, `bad value "[REDACTED]"`},
		{"Python repr", `{'pw': 'pa"ss\\wörd<1>'}`, `{'pw': '[REDACTED]'}`},
		{"unrelated text", `pa"ss`, `pa"ss`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewScrubber()
			s.AddCredential(controlplane.Credential{Type: "postgres", Data: map[string]any{"password": secret}})
			if got := s.String(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Holds finds a secret anywhere in a value: strings, keys, lists, numbers, encoded forms.
func TestScrubberHolds(t *testing.T) {
	t.Parallel()
	s := NewScrubber()
	s.AddCredential(controlplane.Credential{Type: "generic", Data: map[string]any{"token": "Tok+en/9", "pin": int64(90817263)}})
	s.Add("90817263")
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"in a string", map[string]any{"a": []any{"x Tok+en/9 y"}}, true},
		{"in a key", map[string]any{"Tok+en/9": 1}, true},
		{"percent-encoded", "t=Tok%2Ben%2F9", true},
		{"a number", []any{int64(90817263)}, true},
		{"none", map[string]any{"a": "Tok", "b": int64(5), "c": nil, "d": true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Holds(tc.v); got != tc.want {
				t.Fatalf("Holds(%v) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}
