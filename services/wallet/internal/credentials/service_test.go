package credentials

import "context"
import "encoding/json"
import "errors"
import "net/http"
import "strconv"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/internal/audit"
import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/services/wallet/internal/residency"
import "github.com/noetl/controlplane/services/wallet/internal/resolve"
import "github.com/noetl/controlplane/services/wallet/internal/wallettest"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/ids"
import "github.com/noetl/controlplane/shared/internalapi"
import "github.com/noetl/controlplane/shared/testkit"
import "github.com/noetl/controlplane/shared/wire"

// key1 is bytes 00..1f, key2 bytes 40..5f (the app tests' keys).
const (
	key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	key2 = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
)

// fixture is a credentials service on its own migrated schema, with the wallet's real
// keyring (local key v1) and a strict audit recorder, so that audit rows are written
// before a call returns and can be asserted.
type fixture struct {
	schema *testkit.Schema
	ring   *keyring.Ring
	svc    *Service
	ctx    context.Context
}

func setup(t *testing.T, kc Keychain) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	gen, err := ids.NewGenerator(3)
	if err != nil {
		t.Fatal(err)
	}
	rec := wallettest.StrictRecorder(t, s.Pool, gen)
	ring := wallettest.Ring(t, key1, "v1", "")
	return &fixture{
		schema: s, ring: ring, svc: NewService(NewStore(s.Pool), ring, rec, gen, kc),
		ctx: testkit.Context(t, 30*time.Second),
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func (f *fixture) upsert(t *testing.T, name, typ, data string) Response {
	t.Helper()
	r, err := f.svc.Upsert(f.ctx, CreateRequest{Name: &name, Type: &typ, Data: json.RawMessage(data)})
	if err != nil {
		t.Fatalf("Upsert %s: %v", name, err)
	}
	return r
}

func (f *fixture) stored(t *testing.T, name string) string {
	t.Helper()
	return testkit.QueryOne[string](t, f.schema, `SELECT data_encrypted FROM credential WHERE name = $1`, name)
}

type auditRow struct {
	Operation, Outcome string
	KEKVersion, Notes  *string
	ExecutionID        *int64
}

func (f *fixture) audits(t *testing.T, credential string) []auditRow {
	t.Helper()
	rows, err := f.schema.Pool.Query(f.ctx, `SELECT operation, outcome, kek_version, notes, execution_id
		FROM secret_audit WHERE credential = $1 ORDER BY audit_id`, credential)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.Operation, &r.Outcome, &r.KEKVersion, &r.Notes, &r.ExecutionID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantStatus fails unless err is an *httpx.Error of the status whose text contains want
// and none of the secrets.
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
		if strings.Contains(err.Error(), s) || strings.Contains(he.Msg, s) {
			t.Errorf("error %q quotes the secret %q", err, s)
		}
	}
}

// TestUpsertStoresOnlyAnEnvelope: the value is sealed under the current key before it is
// written; the row holds an envelope that does not contain the plaintext, opens back to
// the compacted value, and the answer carries no data.
func TestUpsertStoresOnlyAnEnvelope(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "pg-S3CRET-pw-91"
	resp := f.upsert(t, "db", "postgres", `{ "user": "app", "password": "`+secret+`" }`)
	if resp.Data != nil || resp.ID == 0 || resp.Name != "db" || resp.Type != "postgres" {
		t.Fatalf("Upsert answered %+v", resp)
	}
	raw := f.stored(t, "db")
	if strings.Contains(raw, secret) || strings.Contains(raw, "password") {
		t.Fatalf("data_encrypted holds the plaintext: %s", raw)
	}
	env, err := envelope.ParseStoredEnvelope(raw)
	if err != nil {
		t.Fatalf("data_encrypted is not a stored envelope: %v", err)
	}
	if env.DEK.Provider != envelope.ProviderLocal || env.DEK.KeyVersion != "v1" {
		t.Errorf("envelope wrapped by %s/%s, want local/v1", env.DEK.Provider, env.DEK.KeyVersion)
	}
	plain, err := f.ring.Open(f.ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"user":"app","password":"` + secret + `"}`; string(plain) != want {
		t.Errorf("stored plaintext = %s, want the compacted %s", plain, want)
	}
	// Two writes of one value never store the same bytes: each record has its own DEK.
	f.upsert(t, "db2", "postgres", `{"user":"app","password":"`+secret+`"}`)
	if f.stored(t, "db2") == raw {
		t.Error("two records of the same value share a ciphertext")
	}
}

// TestUpsertReplacesByName: a second write of a name keeps the row and its id, replaces
// type, data, meta, tags and description (omitted optional fields become NULL).
func TestUpsertReplacesByName(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	name, typ := "api", "token"
	first, err := f.svc.Upsert(f.ctx, CreateRequest{
		Name: &name, Type: &typ, Data: json.RawMessage(`{"token":"old-S3CRET"}`),
		Meta: json.RawMessage(`{"owner":"ops"}`), Tags: []string{"a", "b"}, Description: ptr("first"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Meta) != `{"owner": "ops"}` || len(first.Tags) != 2 || first.Description == nil {
		t.Fatalf("first write answered meta %s tags %v description %v", first.Meta, first.Tags, first.Description)
	}
	second := f.upsert(t, "api", "bearer", `{"token":"new-S3CRET"}`)
	if second.ID != first.ID {
		t.Errorf("replace changed the id %d -> %d", first.ID, second.ID)
	}
	if second.Type != "bearer" || second.Meta != nil || second.Tags != nil || second.Description != nil {
		t.Errorf("replace kept old fields: %+v", second)
	}
	if time.Time(second.UpdatedAt).Before(time.Time(second.CreatedAt)) || !time.Time(second.CreatedAt).Equal(time.Time(first.CreatedAt)) {
		t.Errorf("created_at %v -> %v, updated_at %v", first.CreatedAt, second.CreatedAt, second.UpdatedAt)
	}
	if n := testkit.QueryOne[int64](t, f.schema, `SELECT count(*) FROM credential`); n != 1 {
		t.Errorf("%d rows after a replace, want 1", n)
	}
	got, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "api", Operation: audit.OpGetCredential})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"token":"new-S3CRET"}` {
		t.Errorf("after replace the value is %s", got.Data)
	}
}

// TestTagsAndMeta: an empty tag list stays [] and absent tags are omitted; meta is kept as
// JSON and a null meta is no meta.
func TestTagsAndMeta(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	for _, tc := range []struct {
		name string
		tags []string
		meta string
		want string // the answer's JSON without ids and times
	}{
		{"no tags", nil, "", `"name":"no-tags","type":"t"`},
		{"empty tags", []string{}, "null", `"name":"empty-tags","type":"t","tags":[]`},
		{"tags and meta", []string{"x", "y"}, `{"a": [1, 2]}`, `"name":"tags-and-meta","type":"t","meta":{"a":[1,2]},"tags":["x","y"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			req := CreateRequest{Name: &name, Type: ptr("t"), Data: json.RawMessage(`"v"`), Tags: tc.tags}
			if tc.meta != "" {
				req.Meta = json.RawMessage(tc.meta)
			}
			if _, err := f.svc.Upsert(f.ctx, req); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Get(f.ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			got.ID, got.CreatedAt, got.UpdatedAt = 0, wire.Time{}, wire.Time{}
			body, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"id":"0",` + tc.want + `,"created_at":`; !strings.HasPrefix(string(body), want) {
				t.Errorf("answer = %s, want it to start %s", body, want)
			}
		})
	}
}

// TestConcurrentUpsertsOfOneName: writers racing on one name all succeed and leave one
// row holding one of their values.
func TestConcurrentUpsertsOfOneName(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			name, typ := "raced", "t"
			_, err := f.svc.Upsert(f.ctx, CreateRequest{Name: &name, Type: &typ, Data: json.RawMessage(strconv.Itoa(i))})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Upsert: %v", err)
		}
	}
	if c := testkit.QueryOne[int64](t, f.schema, `SELECT count(*) FROM credential`); c != 1 {
		t.Fatalf("%d rows for one name", c)
	}
	got, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "raced", Operation: audit.OpGetCredential})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := strconv.Atoi(string(got.Data)); err != nil || v < 0 || v >= n {
		t.Errorf("value after the race = %s", got.Data)
	}
}

// TestUpsertRejectsBadInput: each missing or malformed field is a 422 naming the field;
// nothing is written, and the text never quotes the value.
func TestUpsertRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "half-S3CRET-value"
	for _, tc := range []struct {
		name string
		req  CreateRequest
		want string
	}{
		{"no name", CreateRequest{Type: ptr("t"), Data: json.RawMessage(`{}`)}, `field "name" is required`},
		{"empty name", CreateRequest{Name: ptr(""), Type: ptr("t"), Data: json.RawMessage(`{}`)}, `field "name" is required`},
		{"no type", CreateRequest{Name: ptr("n"), Data: json.RawMessage(`{}`)}, `field "type" is required`},
		{"empty type", CreateRequest{Name: ptr("n"), Type: ptr(""), Data: json.RawMessage(`{}`)}, `field "type" is required`},
		{"no data", CreateRequest{Name: ptr("n"), Type: ptr("t")}, `field "data" is required`},
		{"null data", CreateRequest{Name: ptr("n"), Type: ptr("t"), Data: json.RawMessage(` null `)}, `field "data" is required`},
		{"data not JSON", CreateRequest{Name: ptr("n"), Type: ptr("t"), Data: json.RawMessage(`{"password":"` + secret)}, `field "data" is not valid JSON`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Upsert(f.ctx, tc.req)
			wantStatus(t, err, http.StatusUnprocessableEntity, tc.want, secret)
		})
	}
	if n := testkit.QueryOne[int64](t, f.schema, `SELECT count(*) FROM credential`); n != 0 {
		t.Errorf("%d rows written by rejected requests", n)
	}
}

// TestGetAndResolve: Get answers metadata only and records nothing; Resolve is the one
// path that releases the value, and records it with the key version before returning.
func TestGetAndResolve(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	created := f.upsert(t, "svc", "basic", `{"password":"get-S3CRET","username":"svc-user"}`)
	id := strconv.FormatInt(int64(created.ID), 10)
	for _, ident := range []string{"svc", id} {
		t.Run("get "+ident, func(t *testing.T) {
			got, err := f.svc.Get(f.ctx, ident)
			if err != nil {
				t.Fatal(err)
			}
			if got.Data != nil || got.ID != created.ID || got.Name != "svc" {
				t.Errorf("Get(%s) = %+v, want the metadata without data", ident, got)
			}
		})
	}
	if rows := f.audits(t, "svc"); len(rows) != 0 {
		t.Errorf("Get recorded %d audit rows; it releases nothing", len(rows))
	}
	exec := int64(4242)
	got, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: id, Operation: audit.OpGetCredential, ExecutionID: &exec})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"password":"get-S3CRET","username":"svc-user"}` || got.Name != "svc" {
		t.Errorf("Resolve = %+v data %s", got, got.Data)
	}
	// Read by id, the row still names the credential (an auditor searches by name); the
	// id the caller used is kept in the note.
	if rows := f.audits(t, id); len(rows) != 0 {
		t.Errorf("audit rows under the id %s = %+v, want none: the credential's name is recorded", id, rows)
	}
	if _, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "svc", Operation: audit.OpGetCredential}); err != nil {
		t.Fatal(err)
	}
	rows := f.audits(t, "svc")
	if len(rows) != 2 || rows[0].Outcome != string(audit.OutcomeOK) || rows[0].Operation != string(audit.OpGetCredential) ||
		rows[0].KEKVersion == nil || *rows[0].KEKVersion != "v1" || rows[0].ExecutionID == nil || *rows[0].ExecutionID != exec {
		t.Fatalf("audit rows = %+v, want an ok get_credential under v1 for execution %d, then one by name", rows, exec)
	}
	if rows[0].Notes == nil || *rows[0].Notes != "requested by id "+id {
		t.Errorf("audit notes of the read by id = %v, want %q", rows[0].Notes, "requested by id "+id)
	}
	if rows[1].Notes != nil {
		t.Errorf("audit notes of the read by name = %q, want none", *rows[1].Notes)
	}
}

// TestIdentifierPrefersID: a numeric identifier is an id first and only then a name, for
// reads and deletes alike.
func TestIdentifierPrefersID(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	target := f.upsert(t, "target", "t", `"target-value"`)
	idText := strconv.FormatInt(int64(target.ID), 10)
	f.upsert(t, idText, "t", `"named-like-an-id"`) // a credential whose name is target's id
	other := f.upsert(t, "12345", "t", `"numeric-name"`)

	got, err := f.svc.Get(f.ctx, idText)
	if err != nil || got.ID != target.ID {
		t.Fatalf("Get(%s) = %+v, %v: want the credential with that id", idText, got, err)
	}
	got, err = f.svc.Get(f.ctx, "12345") // no credential has id 12345: the name matches
	if err != nil || got.ID != other.ID {
		t.Fatalf("Get(12345) = %+v, %v: want the credential named 12345", got, err)
	}
	deleted, err := f.svc.Delete(f.ctx, idText)
	if err != nil || deleted != target.ID {
		t.Fatalf("Delete(%s) = %d, %v: want id %d", idText, deleted, err, target.ID)
	}
	got, err = f.svc.Get(f.ctx, idText) // now only the name matches
	if err != nil || got.Name != idText {
		t.Fatalf("after deleting the id, Get(%s) = %+v, %v: want the credential of that name", idText, got, err)
	}
}

// TestUnknownIdentifier: every operation on a name the store does not hold is upstream's
// 404 text; Resolve records the miss, and without a keychain an execution id changes
// nothing.
func TestUnknownIdentifier(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	exec := int64(7)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := f.svc.Get(f.ctx, "ghost"); return err }},
		{"delete", func() error { _, err := f.svc.Delete(f.ctx, "ghost"); return err }},
		{"resolve", func() error {
			_, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "ghost", Operation: audit.OpGetCredential})
			return err
		}},
		{"resolve for an execution", func() error {
			_, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "ghost", Operation: audit.OpGetSealed, ExecutionID: &exec})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.call(), http.StatusNotFound, "Credential 'ghost' not found")
		})
	}
	rows := f.audits(t, "ghost")
	if len(rows) != 2 || rows[0].Outcome != string(audit.OutcomeNotFound) || rows[1].Outcome != string(audit.OutcomeNotFound) {
		t.Errorf("audit rows = %+v, want two credential_not_found", rows)
	}
}

// TestDelete removes the row once: the second delete is a 404.
func TestDelete(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	c := f.upsert(t, "gone", "t", `"x"`)
	id, err := f.svc.Delete(f.ctx, "gone")
	if err != nil || id != c.ID {
		t.Fatalf("Delete = %d, %v", id, err)
	}
	if _, err := f.svc.Get(f.ctx, "gone"); httpx.StatusOf(err) != http.StatusNotFound {
		t.Errorf("Get after delete = %v, want 404", err)
	}
	if _, err := f.svc.Delete(f.ctx, "gone"); httpx.StatusOf(err) != http.StatusNotFound {
		t.Errorf("second Delete = %v, want 404", err)
	}
}

// TestList: newest first, no data, filters by exact type and by a literal,
// case-insensitive substring of name or description; the answer echoes only the filters
// given.
func TestList(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	for _, c := range []struct{ name, typ, desc string }{
		{"pg_main", "postgres", "Primary DB"},
		{"pgXmain", "postgres", ""},
		{"slack", "token", "alerts 100% of the time"},
		{"github", "token", "CI bot"},
		{"share", "smb", `DOMAIN\svc`},
	} {
		typ, name := c.typ, c.name
		req := CreateRequest{Name: &name, Type: &typ, Data: json.RawMessage(`{"token":"list-S3CRET"}`)}
		if c.desc != "" {
			req.Description = ptr(c.desc)
		}
		if _, err := f.svc.Upsert(f.ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		filter ListFilter
		want   []string
	}{
		{"all, newest first", ListFilter{}, []string{"share", "github", "slack", "pgXmain", "pg_main"}},
		{"type", ListFilter{Type: "postgres"}, []string{"pgXmain", "pg_main"}},
		{"underscore is literal", ListFilter{Q: "pg_"}, []string{"pg_main"}},
		{"percent is literal", ListFilter{Q: "100%"}, []string{"slack"}},
		{"backslash is literal", ListFilter{Q: `n\s`}, []string{"share"}},
		{"description, any case", ListFilter{Q: "primary"}, []string{"pg_main"}},
		{"type and q", ListFilter{Type: "token", Q: "ci"}, []string{"github"}},
		{"no match", ListFilter{Type: "nope"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.svc.List(f.ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, it := range got.Items {
				names = append(names, it.Name)
				if it.Data != nil {
					t.Errorf("List item %s carries data", it.Name)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("List(%+v) = %v, want %v", tc.filter, names, tc.want)
			}
			if (got.Filter != nil) != (tc.filter != ListFilter{}) {
				t.Errorf("filter echoed = %v for %+v", got.Filter, tc.filter)
			}
			body, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(body), "list-S3CRET") {
				t.Errorf("List answer holds a value: %s", body)
			}
		})
	}
}

// TestUnreadableStoredValue: a row the key cannot open (legacy plaintext, an envelope
// under a key this wallet does not hold) is a 500 that says what to do, never quotes the
// stored value, and is audited as an error.
func TestUnreadableStoredValue(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "legacy-S3CRET-pw"
	other := wallettest.Ring(t, key2, "v9", "")
	foreign, err := other.Seal(f.ctx, []byte(`{"password":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ name, stored, want string }{
		{"legacy plaintext", `{"password":"` + secret + `"}`, "register it again"},
		{"unknown key version", foreign, "decrypt record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			if _, err := f.schema.Pool.Exec(f.ctx, `INSERT INTO credential (id, name, type, data_encrypted) VALUES ($1, $2, 't', $3)`,
				int64(1000+i), name, tc.stored); err != nil {
				t.Fatal(err)
			}
			resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: name, Operation: audit.OpGetCredential})
			wantStatus(t, err, http.StatusInternalServerError, tc.want, secret)
			if resp.Data != nil {
				t.Errorf("a failed Resolve answered data %s", resp.Data)
			}
			rows := f.audits(t, name)
			if len(rows) != 1 || rows[0].Outcome != string(audit.OutcomeError) {
				t.Errorf("audit rows = %+v, want one error", rows)
			}
		})
	}
}

// refuseAuditWrites makes the database reject every secret_audit insert, as a full disk
// or a revoked grant would.
func refuseAuditWrites(t *testing.T, s *testkit.Schema) {
	t.Helper()
	for _, q := range []string{
		`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit table refused the write'; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON secret_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit()`,
	} {
		if _, err := s.Pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStrictAuditWithholds: when the audit row of a release cannot be written in strict
// mode, the value is not released and the error does not carry it.
func TestStrictAuditWithholds(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const secret = "withheld-S3CRET"
	f.upsert(t, "guarded", "t", `{"pw":"`+secret+`"}`)
	refuseAuditWrites(t, f.schema)
	resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "guarded", Operation: audit.OpGetCredential})
	if !errors.Is(err, audit.ErrWithheld) {
		t.Fatalf("Resolve = %v, want ErrWithheld", err)
	}
	wantStatus(t, err, http.StatusInternalServerError, "the credential value is withheld", secret)
	if resp.Data != nil {
		t.Errorf("withheld Resolve answered data %s", resp.Data)
	}
}

// fakeKeychain answers the keychain fallback with a fixed result or error.
type fakeKeychain struct {
	res   resolve.Result
	err   error
	calls []string
}

func (k *fakeKeychain) ForExecution(_ context.Context, alias string, executionID int64) (resolve.Result, error) {
	k.calls = append(k.calls, alias+"@"+strconv.FormatInt(executionID, 10))
	return k.res, k.err
}

func (k *fakeKeychain) ForEntry(_ context.Context, e internalapi.KeychainEntry) (resolve.Result, error) {
	k.calls = append(k.calls, "entry")
	return k.res, k.err
}

// TestKeychainFallback: a store miss for an execution is resolved through the keychain,
// answered in upstream's synthetic shape at the service's clock, and audited with the
// outcome the failure maps to.
func TestKeychainFallback(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	exec := int64(99)
	for _, tc := range []struct {
		name    string
		kc      fakeKeychain
		status  int // 0: success
		outcome audit.Outcome
		notes   string
	}{
		{"provider value", fakeKeychain{res: resolve.Result{Data: json.RawMessage(`"kc-S3CRET"`), Provider: "aws", Region: "eu-1", Cached: true}},
			0, audit.OutcomeOK, "keychain provider aws region eu-1 (keychain cache)"},
		{"no entry", fakeKeychain{err: resolve.ErrNoEntry}, http.StatusNotFound, audit.OutcomeNotFound, ""},
		{"residency", fakeKeychain{err: &residency.Violation{Credential: "alias", EntryRegion: "us-2", ServerRegion: "r1"}},
			http.StatusInternalServerError, audit.OutcomeResidency, "region-locked to us-2"},
		{"template", fakeKeychain{err: httpx.WithStatus(http.StatusUnprocessableEntity, "bad template", resolve.ErrTemplate)},
			http.StatusUnprocessableEntity, audit.OutcomeTemplateError, ""},
		{"provider down", fakeKeychain{err: httpx.BadGateway("provider answered 500")},
			http.StatusBadGateway, audit.OutcomeProviderFetchError, "keychain provider fetch failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kc := tc.kc
			f := setup(t, &kc)
			f.svc.now = func() time.Time { return at }
			resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "alias", Operation: audit.OpGetSealed, ExecutionID: &exec})
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if resp.ID != 0 || resp.Type != "keychain" || string(resp.Data) != `"kc-S3CRET"` ||
					!time.Time(resp.CreatedAt).Equal(at) || !time.Time(resp.UpdatedAt).Equal(at) ||
					resp.Description == nil || *resp.Description != keychainDescription {
					t.Errorf("keychain answer = %+v", resp)
				}
			} else if got := httpx.StatusOf(err); got != tc.status {
				t.Errorf("error = %v (status %d), want status %d", err, got, tc.status)
			}
			if len(kc.calls) != 1 || kc.calls[0] != "alias@99" {
				t.Errorf("keychain calls = %v", kc.calls)
			}
			rows := f.audits(t, "alias")
			if len(rows) != 1 || rows[0].Outcome != string(tc.outcome) {
				t.Fatalf("audit rows = %+v, want one %s", rows, tc.outcome)
			}
			if tc.notes != "" && (rows[0].Notes == nil || *rows[0].Notes != tc.notes) {
				t.Errorf("audit notes = %v, want %q", rows[0].Notes, tc.notes)
			}
		})
	}
	t.Run("peer entry", func(t *testing.T) {
		t.Parallel()
		kc := &fakeKeychain{res: resolve.Result{Data: json.RawMessage(`"peer-value"`), Provider: "gcp"}}
		f := setup(t, kc)
		resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "alias", Operation: audit.OpCrossRegionBroker,
			BrokerRegion: "r2", Entry: &internalapi.KeychainEntry{}})
		if err != nil || string(resp.Data) != `"peer-value"` || len(kc.calls) != 1 || kc.calls[0] != "entry" {
			t.Errorf("Resolve = %s, %v (keychain calls %v), want the peer entry resolved as given", resp.Data, err, kc.calls)
		}
	})
	t.Run("no execution: no keychain", func(t *testing.T) {
		t.Parallel()
		kc := &fakeKeychain{res: resolve.Result{Data: json.RawMessage(`"x"`)}}
		f := setup(t, kc)
		_, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "alias", Operation: audit.OpGetCredential})
		wantStatus(t, err, http.StatusNotFound, "Credential 'alias' not found")
		if len(kc.calls) != 0 {
			t.Errorf("keychain asked without an execution: %v", kc.calls)
		}
	})
	t.Run("stored credential wins", func(t *testing.T) {
		t.Parallel()
		kc := &fakeKeychain{res: resolve.Result{Data: json.RawMessage(`"from-keychain"`)}}
		f := setup(t, kc)
		f.upsert(t, "alias", "t", `"from-store"`)
		resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "alias", Operation: audit.OpGetSealed, ExecutionID: &exec})
		if err != nil || string(resp.Data) != `"from-store"` || len(kc.calls) != 0 {
			t.Errorf("Resolve = %s, %v (keychain calls %v), want the stored value", resp.Data, err, kc.calls)
		}
	})
}

// TestKeychainCredentialIndirection: a provider-less keychain entry's `credential:` names
// a stored credential (by name or id); its data is answered under the alias, in the
// synthetic shape, and audited under the alias with the stored row's key version. A name
// the store does not hold is a 404 naming both, and is not resolved through the keychain
// again.
func TestKeychainCredentialIndirection(t *testing.T) {
	t.Parallel()
	exec := int64(77)
	kc := &fakeKeychain{}
	f := setup(t, kc)
	stored := f.upsert(t, "pg_prod", "postgres", `{"user":"app","password":"IND-S3CRET"}`)
	id := strconv.FormatInt(int64(stored.ID), 10)
	for _, target := range []string{"pg_prod", id} {
		kc.res = resolve.Result{Credential: target}
		resp, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "pg", Operation: audit.OpGetSealed, ExecutionID: &exec})
		if err != nil || resp.ID != 0 || resp.Name != "pg" || resp.Type != "keychain" ||
			string(resp.Data) != `{"user":"app","password":"IND-S3CRET"}` {
			t.Errorf("%s: Resolve = %+v (data %s), %v", target, resp, resp.Data, err)
		}
	}
	rows := f.audits(t, "pg")
	if len(rows) != 2 {
		t.Fatalf("audit rows = %+v, want two", rows)
	}
	// The target is named by its name, also when the playbook gave its id.
	for i, notes := range []string{"keychain credential indirection to 'pg_prod'",
		"keychain credential indirection to 'pg_prod'; requested by id " + id} {
		if r := rows[i]; r.Outcome != string(audit.OutcomeOK) || r.KEKVersion == nil || *r.KEKVersion != "v1" ||
			r.Notes == nil || *r.Notes != notes {
			t.Errorf("audit row %d = %+v (notes %q), want ok under v1 with notes %q", i, r, deref(r.Notes), notes)
		}
	}

	kc.res, kc.calls = resolve.Result{Credential: "pg_missing"}, nil
	_, err := f.svc.Resolve(f.ctx, ResolveRequest{Identifier: "pg", Operation: audit.OpGetCredential, ExecutionID: &exec})
	wantStatus(t, err, http.StatusNotFound, "keychain 'pg': credential 'pg_missing' not found")
	if len(kc.calls) != 1 {
		t.Errorf("keychain calls = %v: the missing target must not be resolved through the keychain", kc.calls)
	}
	if rows := f.audits(t, "pg"); len(rows) != 3 || rows[2].Outcome != string(audit.OutcomeNotFound) {
		t.Errorf("audit rows = %+v, want a credential_not_found", rows)
	}
}
