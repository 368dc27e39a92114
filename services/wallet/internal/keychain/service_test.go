package keychain

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "net/http"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/services/wallet/internal/wallettest"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/testkit"

// key1 is bytes 00..1f (the app tests' key).
const key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// Fixed clocks on either side of the database's now(), which decides expiry at read time.
var (
	past   = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	future = time.Date(2099, 2, 3, 4, 5, 6, 0, time.UTC)
)

// catalog is the api's answer to "does this catalog entry exist" (the api is another
// service; only its answer is faked).
type catalog struct {
	known map[int64]bool
	err   error
}

func (c catalog) CatalogExists(_ context.Context, id int64) (bool, error) { return c.known[id], c.err }

type fixture struct {
	schema *testkit.Schema
	ring   *keyring.Ring
	svc    *Service
	ctx    context.Context
}

// setup is a keychain service on its own migrated schema with the wallet's keyring (local
// key v1), a strict audit recorder (rows written before a call returns) and a clock fixed
// at future, so that relative expiries never lapse during a test.
func setup(t *testing.T, cat Catalog) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	gen, err := ids.NewGenerator(4)
	if err != nil {
		t.Fatal(err)
	}
	rec := wallettest.StrictRecorder(t, s.Pool, gen)
	ring := wallettest.Ring(t, key1, "v1", "")
	if cat == nil {
		cat = catalog{known: map[int64]bool{601: true, 602: true}}
	}
	svc := NewService(NewStore(s.Pool), ring, rec, cat)
	svc.now = func() time.Time { return future }
	return &fixture{schema: s, ring: ring, svc: svc, ctx: testkit.Context(t, 30*time.Second)}
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) set(t *testing.T, cat int64, name string, req SetRequest) SetResponse {
	t.Helper()
	r, err := f.svc.Set(f.ctx, cat, name, req)
	if err != nil {
		t.Fatalf("Set %d/%s: %v", cat, name, err)
	}
	return r
}

func (f *fixture) get(t *testing.T, k Key) GetResponse {
	t.Helper()
	r, err := f.svc.Get(f.ctx, k)
	if err != nil {
		t.Fatalf("Get %+v: %v", k, err)
	}
	return r
}

func (f *fixture) count(t *testing.T) int64 {
	t.Helper()
	return testkit.QueryOne[int64](t, f.schema, `SELECT count(*) FROM keychain`)
}

func wantStatus(t *testing.T, err error, status int, want string, secrets ...string) {
	t.Helper()
	var he *httpx.Error
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("error = %v, want an httpx.Error with status %d", err, status)
	}
	if !strings.Contains(he.Msg, want) {
		t.Errorf("error message %q does not contain %q", he.Msg, want)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q quotes the secret %q", err, s)
		}
	}
}

// TestScopesAndCacheKeys: each scope (and execution id) is its own entry under upstream's
// cache key; a read finds exactly the entry its address names, and every stored value is
// an envelope that does not hold the plaintext.
func TestScopesAndCacheKeys(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	exec := int64(77)
	for _, tc := range []struct {
		name  string
		scope *string
		exec  json.RawMessage
		key   Key
		want  string
	}{
		{"default is global", nil, nil, Key{CatalogID: 601, Name: "tok", Scope: ScopeGlobal}, "tok:601:global"},
		{"global ignores the execution", ptr("global"), json.RawMessage(`77`), Key{CatalogID: 601, Name: "tok", Scope: ScopeGlobal, ExecutionID: &exec}, "tok:601:global"},
		{"local with execution", ptr("local"), json.RawMessage(`"77"`), Key{CatalogID: 601, Name: "tok", Scope: ScopeLocal, ExecutionID: &exec}, "tok:601:77"},
		{"local without execution", ptr("local"), nil, Key{CatalogID: 601, Name: "tok", Scope: ScopeLocal}, "tok:601:local"},
		{"shared with execution", ptr("shared"), json.RawMessage(`77`), Key{CatalogID: 601, Name: "tok", Scope: ScopeShared, ExecutionID: &exec}, "tok:601:shared:77"},
		{"shared without execution", ptr("shared"), nil, Key{CatalogID: 601, Name: "tok", Scope: ScopeShared}, "tok:601:shared"},
		{"other catalog", nil, nil, Key{CatalogID: 602, Name: "tok", Scope: ScopeGlobal}, "tok:602:global"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := `"kc-S3CRET-` + strings.ReplaceAll(tc.want, ":", "-") + `"`
			resp := f.set(t, tc.key.CatalogID, "tok", SetRequest{Data: json.RawMessage(secret), ScopeType: tc.scope, ExecutionID: tc.exec})
			if resp.Status != "success" || resp.CacheKey != tc.want {
				t.Fatalf("Set = %+v, want cache key %s", resp, tc.want)
			}
			if got := f.get(t, tc.key); got.Status != "found" || string(got.Data) != secret {
				t.Errorf("Get = %+v data %s, want %s", got, got.Data, secret)
			}
			raw := testkit.QueryOne[string](t, f.schema, `SELECT data_encrypted FROM keychain WHERE cache_key = $1`, tc.want)
			if strings.Contains(raw, "S3CRET") {
				t.Errorf("data_encrypted holds the plaintext: %s", raw)
			}
			if envelope.KeyVersionLabel(raw) != "v1" {
				t.Errorf("stored value is not a v1 envelope: %s", raw)
			}
		})
	}
	// Global was written twice (two cases share its key): one row per distinct key.
	if n := f.count(t); n != 6 {
		t.Errorf("%d rows, want 6", n)
	}
}

// TestGlobalEntryBelongsToNoExecution: a global entry is shared by every execution of its
// catalog entry, so no write stores an execution id on it, not even the first, and a row
// written with one before is corrected by its next write. Local and shared rows keep the
// execution their key names.
func TestGlobalEntryBelongsToNoExecution(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	execOf := func(cacheKey string) *int64 {
		return testkit.QueryOne[*int64](t, f.schema, `SELECT execution_id FROM keychain WHERE cache_key = $1`, cacheKey)
	}
	for _, exec := range []string{`77`, `"88"`, `null`} {
		f.set(t, 601, "tok", SetRequest{Data: json.RawMessage(`"global-S3CRET"`), ExecutionID: json.RawMessage(exec)})
		if got := execOf("tok:601:global"); got != nil {
			t.Errorf("after a global write with execution_id %s the row has execution_id %d, want NULL", exec, *got)
		}
	}
	f.set(t, 601, "tok", SetRequest{Data: json.RawMessage(`"local-S3CRET"`), ScopeType: ptr("local"), ExecutionID: json.RawMessage(`77`)})
	f.set(t, 601, "tok", SetRequest{Data: json.RawMessage(`"shared-S3CRET"`), ScopeType: ptr("shared"), ExecutionID: json.RawMessage(`78`)})
	for key, want := range map[string]int64{"tok:601:77": 77, "tok:601:shared:78": 78} {
		if got := execOf(key); got == nil || *got != want {
			t.Errorf("row %s has execution_id %v, want %d", key, got, want)
		}
	}
	list, err := f.svc.List(f.ctx, 601)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Entries {
		if e.ScopeType == ScopeGlobal && e.ExecutionID != nil {
			t.Errorf("listed global entry has execution_id %d", *e.ExecutionID)
		}
	}

	// A row an earlier wallet wrote with its first writer's execution loses it on rewrite.
	if _, err := f.schema.Pool.Exec(f.ctx, `UPDATE keychain SET execution_id = 5 WHERE cache_key = 'tok:601:global'`); err != nil {
		t.Fatal(err)
	}
	f.set(t, 601, "tok", SetRequest{Data: json.RawMessage(`"global-S3CRET-2"`), ExecutionID: json.RawMessage(`99`)})
	if got := execOf("tok:601:global"); got != nil {
		t.Errorf("a rewritten global row kept execution_id %d", *got)
	}
}

// TestGetCountsAccesses: each found read is audited, then counted; a miss or an expired
// entry counts nothing.
func TestGetCountsAccesses(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	k := Key{CatalogID: 601, Name: "db", Scope: ScopeGlobal}
	f.set(t, 601, "db", SetRequest{Data: json.RawMessage(`{"pw":"count-S3CRET"}`), AutoRenew: ptr(true)})
	for want := int64(1); want <= 3; want++ {
		got := f.get(t, k)
		if got.Status != "found" || got.AccessCount == nil || *got.AccessCount != want || got.AutoRenew == nil || !*got.AutoRenew {
			t.Fatalf("read %d = %+v, want found with access_count %d and auto_renew", want, got, want)
		}
		if got.ExpiresAt != nil {
			t.Errorf("an entry written without an expiry answers expires_at %v", got.ExpiresAt)
		}
	}
	if got := f.get(t, Key{CatalogID: 601, Name: "nope", Scope: ScopeGlobal}); got.Status != "not_found" || got.Data != nil || got.AccessCount != nil {
		t.Errorf("missing entry = %+v", got)
	}
	list, err := f.svc.List(f.ctx, 601)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Entries) != 1 || list.Entries[0].AccessCount != 3 || list.Entries[0].AccessedAt == nil || list.Entries[0].Expired {
		t.Errorf("List = %+v, want one live entry read 3 times", list.Entries)
	}
	var outcomes []string
	rows, err := f.schema.Pool.Query(f.ctx, `SELECT operation || '/' || outcome || '/' || coalesce(kek_version, '-') FROM secret_audit ORDER BY audit_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, s)
	}
	rows.Close()
	want := "resolve_keychain/ok/v1,resolve_keychain/ok/v1,resolve_keychain/ok/v1,resolve_keychain/credential_not_found/-"
	if strings.Join(outcomes, ",") != want {
		t.Errorf("audit = %v, want %s", outcomes, want)
	}
}

// TestConcurrentReadsCountEachAccess: reads racing on one entry each count once, and each
// answers a distinct count.
func TestConcurrentReadsCountEachAccess(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.set(t, 601, "hot", SetRequest{Data: json.RawMessage(`"hot-S3CRET"`)})
	const n = 10
	counts := make(chan int64, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			got, err := f.svc.Get(f.ctx, Key{CatalogID: 601, Name: "hot", Scope: ScopeGlobal})
			if err != nil || got.AccessCount == nil {
				errs <- fmt.Errorf("Get = %+v, %v", got, err)
				return
			}
			counts <- *got.AccessCount
		}()
	}
	seen := map[int64]bool{}
	for range n {
		select {
		case c := <-counts:
			seen[c] = true
		case err := <-errs:
			t.Error(err)
		}
	}
	for i := int64(1); i <= n; i++ {
		if !seen[i] {
			t.Errorf("no read answered access_count %d (got %v)", i, seen)
		}
	}
	if c := testkit.QueryOne[int64](t, f.schema, `SELECT access_count FROM keychain`); c != n {
		t.Errorf("access_count = %d after %d reads", c, n)
	}
}

// TestExpiry: expires_in counts from the service's clock, expires_at wins over it, and an
// entry past its expiry answers "expired" without its value, keeps its row and its access
// count.
func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		now         time.Time
		req         SetRequest
		wantExpires *time.Time
		expired     bool
	}{
		{"expires_in from the clock", future, SetRequest{ExpiresIn: ptr(int64(90))}, ptr(future.Add(90 * time.Second)), false},
		{"expires_in lapsed", past, SetRequest{ExpiresIn: ptr(int64(3600))}, ptr(past.Add(time.Hour)), true},
		{"expires_at with an offset", past, SetRequest{ExpiresAt: json.RawMessage(`"2098-01-01T12:00:00.123456+02:00"`)},
			ptr(time.Date(2098, 1, 1, 10, 0, 0, 123456000, time.UTC)), false},
		{"expires_at wins over expires_in", future, SetRequest{ExpiresAt: json.RawMessage(`"2000-01-01T00:00:00Z"`), ExpiresIn: ptr(int64(3600))},
			ptr(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"no expiry", past, SetRequest{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			f.svc.now = func() time.Time { return tc.now }
			tc.req.Data = json.RawMessage(`"exp-S3CRET"`)
			set := f.set(t, 601, "e", tc.req)
			if (set.ExpiresAt == nil) != (tc.wantExpires == nil) || (set.ExpiresAt != nil && !time.Time(*set.ExpiresAt).Equal(*tc.wantExpires)) {
				t.Fatalf("Set expires_at = %v, want %v", set.ExpiresAt, tc.wantExpires)
			}
			k := Key{CatalogID: 601, Name: "e", Scope: ScopeGlobal}
			for range 2 {
				got := f.get(t, k)
				switch {
				case tc.expired && (got.Status != "expired" || got.Data != nil || got.AccessCount == nil || *got.AccessCount != 0):
					t.Errorf("Get = %+v data %s, want expired without data and no access counted", got, got.Data)
				case !tc.expired && (got.Status != "found" || string(got.Data) != `"exp-S3CRET"`):
					t.Errorf("Get = %+v data %s, want found", got, got.Data)
				}
				if (got.ExpiresAt == nil) != (tc.wantExpires == nil) || (got.ExpiresAt != nil && !time.Time(*got.ExpiresAt).Equal(*tc.wantExpires)) {
					t.Errorf("Get expires_at = %v, want %v", got.ExpiresAt, tc.wantExpires)
				}
			}
			list, err := f.svc.List(f.ctx, 601)
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Entries) != 1 || list.Entries[0].Expired != tc.expired {
				t.Errorf("List = %+v, want the row kept with expired=%v", list.Entries, tc.expired)
			}
		})
	}
}

// TestSetRejectsBadInput: each bad field is a 422 naming it (the catalog check a 404 or
// 503), nothing is written, and no text quotes what was sent: a misplaced secret must not
// come back in an error.
func TestSetRejectsBadInput(t *testing.T) {
	t.Parallel()
	const secret = "misplaced-S3CRET"
	for _, tc := range []struct {
		name   string
		cat    Catalog
		req    SetRequest
		status int
		want   string
	}{
		{"no data", nil, SetRequest{}, 422, `field "data" is required`},
		{"null data", nil, SetRequest{Data: json.RawMessage(`null`)}, 422, `field "data" is required`},
		{"data not JSON", nil, SetRequest{Data: json.RawMessage(`{"pw":"` + secret)}, 422, `field "data" is not valid JSON`},
		{"unknown scope", nil, SetRequest{Data: json.RawMessage(`1`), ScopeType: ptr("planet")}, 422, `scope_type "planet" is not one of local, global, shared`},
		{"execution id not a number", nil, SetRequest{Data: json.RawMessage(`1`), ExecutionID: json.RawMessage(`"` + secret + `"`)}, 422, `field "execution_id": expected an integer or a decimal string`},
		{"expires_at not a string", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresAt: json.RawMessage(`{"v":"` + secret + `"}`)}, 422, `field "expires_at": expected an RFC 3339 timestamp string`},
		{"expires_at not RFC 3339", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresAt: json.RawMessage(`"` + secret + `"`)}, 422, `field "expires_at": not an RFC 3339 timestamp with an offset`},
		{"expires_at without offset", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresAt: json.RawMessage(`"2030-01-01T00:00:00"`)}, 422, `not an RFC 3339 timestamp with an offset`},
		{"expires_in too large", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresIn: ptr(int64(MaxExpiresIn + 1))}, 422, `field "expires_in" must be between`},
		{"expires_in negative", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresIn: ptr(int64(-1))}, 422, `field "expires_in" must be between 0 and`},
		{"execution id zero", nil, SetRequest{Data: json.RawMessage(`1`), ExecutionID: json.RawMessage(`0`)}, 422, `field "execution_id": expected a positive integer`},
		{"expires_in overflows", nil, SetRequest{Data: json.RawMessage(`1`), ExpiresIn: ptr(int64(9223372036854775807))}, 422, `field "expires_in" must be between`},
		{"catalog entry missing", catalog{}, SetRequest{Data: json.RawMessage(`"` + secret + `"`)}, 404, "catalog entry 601 not found"},
		{"catalog check fails", catalog{err: errors.New("connection refused")}, SetRequest{Data: json.RawMessage(`"` + secret + `"`)}, 503, "cannot check catalog entry 601 with the api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tc.cat)
			_, err := f.svc.Set(f.ctx, 601, "k", tc.req)
			wantStatus(t, err, tc.status, tc.want, secret)
			if n := f.count(t); n != 0 {
				t.Errorf("%d rows written by a rejected request", n)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": ScopeGlobal, "global": ScopeGlobal, "local": ScopeLocal, "shared": ScopeShared} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"GLOBAL", "execution", " local"} {
		if _, err := ParseScope(in); httpx.StatusOf(err) != http.StatusUnprocessableEntity {
			t.Errorf("ParseScope(%q) = %v, want a 422", in, err)
		}
	}
}

// TestReplaceAndDelete: a second write of a key replaces its value and expiry in place; a
// delete removes it once.
func TestReplaceAndDelete(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	k := Key{CatalogID: 601, Name: "r", Scope: ScopeGlobal}
	f.set(t, 601, "r", SetRequest{Data: json.RawMessage(`"first"`), ExpiresIn: ptr(int64(60))})
	f.get(t, k)
	f.set(t, 601, "r", SetRequest{Data: json.RawMessage(`"second"`)})
	got := f.get(t, k)
	if string(got.Data) != `"second"` || got.ExpiresAt != nil || got.AccessCount == nil || *got.AccessCount != 2 {
		t.Errorf("after replace = %+v data %s, want the new value, no expiry, access count kept", got, got.Data)
	}
	if n := f.count(t); n != 1 {
		t.Errorf("%d rows after a replace", n)
	}
	del, err := f.svc.Delete(f.ctx, k)
	if err != nil || del.Status != "deleted" || del.CacheKey != "r:601:global" {
		t.Fatalf("Delete = %+v, %v", del, err)
	}
	del, err = f.svc.Delete(f.ctx, k)
	if err != nil || del.Status != "not_found" || del.CacheKey != "" {
		t.Errorf("second Delete = %+v, %v", del, err)
	}
	if got := f.get(t, k); got.Status != "not_found" {
		t.Errorf("Get after delete = %+v", got)
	}
}

// TestList: a catalog's entries only, newest first, without values.
func TestList(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.set(t, 601, "a", SetRequest{Data: json.RawMessage(`"list-S3CRET-a"`)})
	f.set(t, 601, "b", SetRequest{Data: json.RawMessage(`"list-S3CRET-b"`), ScopeType: ptr("local"), ExecutionID: json.RawMessage(`5`)})
	f.set(t, 602, "c", SetRequest{Data: json.RawMessage(`"list-S3CRET-c"`)})
	list, err := f.svc.List(f.ctx, 601)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "S3CRET") {
		t.Errorf("List answer holds a value: %s", body)
	}
	if len(list.Entries) != 2 || list.Entries[0].KeychainName != "b" || list.Entries[1].KeychainName != "a" {
		t.Fatalf("List(601) = %+v, want b then a", list.Entries)
	}
	b := list.Entries[0]
	if b.ScopeType != ScopeLocal || b.ExecutionID == nil || *b.ExecutionID != 5 || b.AccessCount != 0 || b.AccessedAt == nil {
		t.Errorf("entry b = %+v", b)
	}
	if empty, err := f.svc.List(f.ctx, 12345); err != nil || empty.Entries == nil || len(empty.Entries) != 0 {
		t.Errorf("List of an empty catalog = %+v, %v, want an empty list", empty, err)
	}
}

// TestResolverCache: Remember/Cached are the execution-local cache of provider values:
// found for the same execution only, counted as an access, and passed over once expired.
func TestResolverCache(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	if err := f.svc.Remember(f.ctx, 601, "aws_key", 10, []byte(`"cache-S3CRET"`), future); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Remember(f.ctx, 601, "old_key", 10, []byte(`"stale"`), past); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alias string
		exec  int64
		want  string
	}{
		{"same execution", "aws_key", 10, `"cache-S3CRET"`},
		{"other execution", "aws_key", 11, ""},
		{"expired", "old_key", 10, ""},
		{"unknown alias", "nope", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, exp, ok, err := f.svc.Cached(f.ctx, 601, tc.alias, tc.exec)
			if err != nil || ok != (tc.want != "") || string(data) != tc.want {
				t.Errorf("Cached = %s, %v, %v, want %q", data, ok, err, tc.want)
			}
			if ok && (exp == nil || !exp.Equal(future)) {
				t.Errorf("Cached expiry = %v, want the row's %v", exp, future)
			}
		})
	}
	// The cache entry is an ordinary local-scope entry: a keychain GET reads it too.
	exec := int64(10)
	got := f.get(t, Key{CatalogID: 601, Name: "aws_key", Scope: ScopeLocal, ExecutionID: &exec})
	if got.Status != "found" || got.AccessCount == nil || *got.AccessCount != 2 {
		t.Errorf("GET of the cached entry = %+v, want found with the cache read counted", got)
	}
	if raw := testkit.QueryOne[string](t, f.schema, `SELECT data_encrypted FROM keychain WHERE cache_key = 'aws_key:601:10'`); strings.Contains(raw, "S3CRET") {
		t.Errorf("cached value stored in plaintext: %s", raw)
	}
}

// TestStrictAuditWithholds: when the audit row of a read cannot be written in strict mode,
// the value is not released, the error does not carry it, and no access is counted.
func TestStrictAuditWithholds(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "withheld-S3CRET-kc"
	f.set(t, 601, "guarded", SetRequest{Data: json.RawMessage(`"` + secret + `"`)})
	for _, q := range []string{
		`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit table refused the write'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON secret_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit()`,
	} {
		if _, err := f.schema.Pool.Exec(f.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.svc.Get(f.ctx, Key{CatalogID: 601, Name: "guarded", Scope: ScopeGlobal})
	if !errors.Is(err, audit.ErrWithheld) {
		t.Fatalf("Get = %+v, %v, want ErrWithheld", got, err)
	}
	wantStatus(t, err, http.StatusInternalServerError, "the credential value is withheld", secret)
	if got.Data != nil {
		t.Errorf("withheld Get answered data %s", got.Data)
	}
	if n := testkit.QueryOne[int64](t, f.schema, `SELECT access_count FROM keychain`); n != 0 {
		t.Errorf("a withheld read was counted: access_count %d", n)
	}
}

// TestUnreadableEntry: an entry the key cannot open is an error that does not quote it,
// audited as such, and not counted as an access.
func TestUnreadableEntry(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "legacy-S3CRET-kc"
	if _, err := f.schema.Pool.Exec(f.ctx, `INSERT INTO keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted)
		VALUES ('old:601:global', 'old', 601, 'secret', 'secret', 'global', $1)`, `{"pw":"`+secret+`"}`); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Get(f.ctx, Key{CatalogID: 601, Name: "old", Scope: ScopeGlobal})
	wantStatus(t, err, http.StatusInternalServerError, "register it again", secret)
	if n := testkit.QueryOne[int64](t, f.schema, `SELECT access_count FROM keychain`); n != 0 {
		t.Errorf("a failed read was counted: access_count %d", n)
	}
	if oc := testkit.QueryOne[string](t, f.schema, `SELECT outcome FROM secret_audit WHERE credential = 'old'`); oc != string(audit.OutcomeError) {
		t.Errorf("audit outcome %q, want error", oc)
	}
}
