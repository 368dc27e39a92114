package rotation

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net/http"
import "regexp"
import "strings"
import "testing"
import "time"

import "github.com/prometheus/client_golang/prometheus"
import dto "github.com/prometheus/client_model/go"

import "github.com/noetl/controlplane/services/wallet/internal/credentials"
import "github.com/noetl/controlplane/services/wallet/internal/keychain"
import "github.com/noetl/controlplane/services/wallet/internal/keyring"
import "github.com/noetl/controlplane/services/wallet/internal/wallettest"
import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/crypto/envelope"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/testkit"

// key1 is bytes 00..1f, key2 40..5f (the app tests' keys), key3 80..9f, key9 c0..df.
const (
	key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	key2 = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
	key3 = "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="
	key9 = "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t8="
)

// fixture is the two tables of sealed values on their own migrated schema, reached through
// their owners' stores, as the wallet wires them.
type fixture struct {
	schema *testkit.Schema
	creds  *credentials.Store
	kc     *keychain.Store
	ctx    context.Context
	// plain is every readable row's plaintext by row name ("credential:<id>",
	// "keychain:<cache_key>").
	plain map[string]string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	s := testkit.NewSchema(t, migrations.Set)
	return &fixture{
		schema: s, creds: credentials.NewStore(s.Pool), kc: keychain.NewStore(s.Pool),
		ctx: testkit.Context(t, 60*time.Second), plain: map[string]string{},
	}
}

// service is a rotation service whose ring is ring, with its own metrics.
func (f *fixture) service(ring Rewrapper) (*Service, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	return NewService(NewStore(f.creds.Sealed(), f.kc.Sealed()), ring, m, slog.New(slog.NewTextHandler(io.Discard, nil))), m
}

// seed writes credentials with ids 1..nCred and keychain entries k00..k<nKC-1>, each
// sealed by ring.
func (f *fixture) seed(t *testing.T, ring *keyring.Ring, nCred, nKC int) {
	t.Helper()
	for i := 1; i <= nCred; i++ {
		plain := fmt.Sprintf(`{"password":"rot-S3CRET-c%d"}`, i)
		stored, err := ring.Seal(f.ctx, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.creds.Upsert(f.ctx, int64(i), fmt.Sprintf("cred-%d", i), "t", stored, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		f.plain[fmt.Sprintf("credential:%d", i)] = plain
	}
	for i := range nKC {
		plain := fmt.Sprintf(`"rot-S3CRET-k%d"`, i)
		stored, err := ring.Seal(f.ctx, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("k%02d:601:global", i)
		if err := f.kc.Upsert(f.ctx, keychain.Entry{CacheKey: key, Name: fmt.Sprintf("k%02d", i), CatalogID: 601,
			ScopeType: keychain.ScopeGlobal, DataEncrypted: stored}, nil); err != nil {
			t.Fatal(err)
		}
		f.plain["keychain:"+key] = plain
	}
}

// rows returns every stored value by row name.
func (f *fixture) rows(t *testing.T) map[string]string {
	t.Helper()
	rows, err := f.schema.Pool.Query(f.ctx, `SELECT 'credential:' || id, data_encrypted FROM credential
		UNION ALL SELECT 'keychain:' || cache_key, data_encrypted FROM keychain`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// versions returns each row's key version label.
func (f *fixture) versions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range f.rows(t) {
		out[k] = envelope.KeyVersionLabel(v)
	}
	return out
}

// assertReadable checks that every seeded row opens under ring (which holds only the
// newest key) to its original plaintext, and is labelled version.
func (f *fixture) assertReadable(t *testing.T, ring *keyring.Ring, version string) {
	t.Helper()
	rows := f.rows(t)
	for name, plain := range f.plain {
		stored := rows[name]
		if got := envelope.KeyVersionLabel(stored); got != version {
			t.Errorf("%s is under %q, want %q", name, got, version)
			continue
		}
		got, err := ring.Open(f.ctx, stored)
		if err != nil {
			t.Errorf("%s does not open under %s alone: %v", name, version, err)
			continue
		}
		if string(got) != plain {
			t.Errorf("%s opens to %s, want %s", name, got, plain)
		}
	}
}

func counter(t *testing.T, m *Metrics, table Table, status string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.rotate.WithLabelValues(string(table), status).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// TestRotateRewrapsEveryRow: whatever the batch size, one pass moves every row of both
// tables to the current key, changing only the wrapped DEK (the data ciphertext stays
// byte for byte), so that every row still opens once the old key is gone.
func TestRotateRewrapsEveryRow(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{1, 2, 5, 100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.seed(t, wallettest.Ring(t, key1, "v1", ""), 5, 4)
			before := f.rows(t)
			svc, m := f.service(wallettest.Ring(t, key2, "v2", "v1="+key1))
			resp, err := svc.Rotate(f.ctx, Position{Table: TableCredential}, batch, DefaultMaxBatches)
			if err != nil {
				t.Fatal(err)
			}
			if !resp.Done || resp.Cursor != nil || resp.KeyVersion != "v2" || !resp.Credential.Done || !resp.Keychain.Done {
				t.Errorf("response = %+v, want done on v2 without a cursor", resp)
			}
			for _, tc := range []struct {
				table Table
				sum   Summary
				n     int64
			}{{TableCredential, resp.Credential, 5}, {TableKeychain, resp.Keychain, 4}} {
				if tc.sum.Processed != tc.n || tc.sum.Rewrapped != tc.n || tc.sum.Skipped != 0 || tc.sum.Failed != 0 {
					t.Errorf("%s summary = %+v, want %d processed and rewrapped", tc.table, tc.sum, tc.n)
				}
				if got := counter(t, m, tc.table, string(envelope.RewrapRewrapped)); got != float64(tc.n) {
					t.Errorf("%s rewrapped metric = %v, want %d", tc.table, got, tc.n)
				}
			}
			if resp.Credential.LastID != 5 || resp.Keychain.LastCacheKey == nil || *resp.Keychain.LastCacheKey != "k03:601:global" {
				t.Errorf("last keys = %d, %v", resp.Credential.LastID, resp.Keychain.LastCacheKey)
			}
			after := f.rows(t)
			for name, old := range before {
				o, err1 := envelope.ParseStoredEnvelope(old)
				n, err2 := envelope.ParseStoredEnvelope(after[name])
				if err1 != nil || err2 != nil {
					t.Fatalf("%s: %v, %v", name, err1, err2)
				}
				if string(o.Ciphertext) != string(n.Ciphertext) || string(o.DEK.Ciphertext) == string(n.DEK.Ciphertext) {
					t.Errorf("%s: rotation must change only the wrapped DEK", name)
				}
			}
			f.assertReadable(t, wallettest.Ring(t, key2, "v2", ""), "v2")
		})
	}
}

// TestRotateResumesFromCursor: a pass bounded by max_batches answers a cursor; passes
// resumed from each cursor visit every row once, credential then keychain, and the last
// one is done.
func TestRotateResumesFromCursor(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.seed(t, wallettest.Ring(t, key1, "v1", ""), 5, 3)
	svc, _ := f.service(wallettest.Ring(t, key2, "v2", "v1="+key1))
	start := Position{Table: TableCredential}
	var cursors []string
	var rewrapped int64
	for pass := 0; ; pass++ {
		if pass > 10 {
			t.Fatalf("not done after %d passes (cursors %v)", pass, cursors)
		}
		resp, err := svc.Rotate(f.ctx, start, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		rewrapped += resp.Credential.Rewrapped + resp.Keychain.Rewrapped
		if resp.Done {
			if resp.Cursor != nil {
				t.Errorf("a finished pass answered cursor %q", *resp.Cursor)
			}
			break
		}
		if resp.Cursor == nil {
			t.Fatalf("pass %d stopped without done or a cursor: %+v", pass, resp)
		}
		cursors = append(cursors, *resp.Cursor)
		if start, err = ParseCursor(*resp.Cursor); err != nil {
			t.Fatalf("the answered cursor does not parse: %v", err)
		}
	}
	if want := "credential:2,credential:4,keychain:,keychain:k01:601:global"; strings.Join(cursors, ",") != want {
		t.Errorf("cursors = %v, want %s", cursors, want)
	}
	if rewrapped != 8 {
		t.Errorf("rewrapped %d rows over the passes, want 8", rewrapped)
	}
	f.assertReadable(t, wallettest.Ring(t, key2, "v2", ""), "v2")
}

// TestKeyStatusAndSecondRotation: key-status counts each table's rows per key version
// (unreadable values as "invalid"); a second pass under the same key skips every row and
// writes nothing; a later rotation to a third key moves everything again.
func TestKeyStatusAndSecondRotation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.seed(t, wallettest.Ring(t, key1, "v1", ""), 3, 2)
	for _, q := range []string{
		`INSERT INTO credential (id, name, type, data_encrypted) VALUES (100, 'legacy', 't', '{"password":"legacy-S3CRET"}')`,
		`INSERT INTO keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, data_encrypted)
			VALUES ('junk:601:global', 'junk', 601, 'secret', 'secret', 'global', 'not json')`,
	} {
		if _, err := f.schema.Pool.Exec(f.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	status := func(svc *Service) string {
		t.Helper()
		st, err := svc.KeyStatus(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(st)
	}
	ring2 := wallettest.Ring(t, key2, "v2", "v1="+key1)
	svc2, _ := f.service(ring2)
	if got, want := status(svc2), "map[credential:map[invalid:1 v1:3] current_key_version:v2 keychain:map[invalid:1 v1:2]]"; got != want {
		t.Errorf("key-status before = %s, want %s", got, want)
	}
	if _, err := svc2.Rotate(f.ctx, Position{Table: TableCredential}, 10, 10); err != nil {
		t.Fatal(err)
	}
	if got, want := status(svc2), "map[credential:map[invalid:1 v2:3] current_key_version:v2 keychain:map[invalid:1 v2:2]]"; got != want {
		t.Errorf("key-status after = %s, want %s", got, want)
	}

	// Again under the same key: every readable row is skipped, nothing is written.
	before := f.rows(t)
	resp, err := svc2.Rotate(f.ctx, Position{Table: TableCredential}, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Credential.Rewrapped != 0 || resp.Credential.Skipped != 3 || resp.Keychain.Rewrapped != 0 || resp.Keychain.Skipped != 2 || !resp.Done {
		t.Errorf("second pass = %+v / %+v, want every row skipped", resp.Credential, resp.Keychain)
	}
	for name, v := range f.rows(t) {
		if before[name] != v {
			t.Errorf("a skipping pass rewrote %s", name)
		}
	}

	// Then to v3, with v2 kept to unwrap (v1 no longer configured).
	svc3, _ := f.service(wallettest.Ring(t, key3, "v3", "v2="+key2))
	resp, err = svc3.Rotate(f.ctx, Position{Table: TableCredential}, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Credential.Rewrapped != 3 || resp.Keychain.Rewrapped != 2 || resp.KeyVersion != "v3" {
		t.Errorf("rotation to v3 = %+v", resp)
	}
	f.assertReadable(t, wallettest.Ring(t, key3, "v3", ""), "v3")
	if got, want := status(svc3), "map[credential:map[invalid:1 v3:3] current_key_version:v3 keychain:map[invalid:1 v3:2]]"; got != want {
		t.Errorf("key-status after v3 = %s, want %s", got, want)
	}
}

// TestRotatePassesOverUnreadableRows: rows no configured key reads (legacy plaintext, an
// envelope under an unknown label) are counted by reason and left as they are; the pass
// still finishes and re-wraps the rest.
func TestRotatePassesOverUnreadableRows(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.seed(t, wallettest.Ring(t, key1, "v1", ""), 2, 1)
	foreign, err := wallettest.Ring(t, key9, "v9", "").Seal(f.ctx, []byte(`"foreign-S3CRET"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.creds.Upsert(f.ctx, 50, "legacy", "t", `{"password":"legacy-S3CRET"}`, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.creds.Upsert(f.ctx, 51, "foreign", "t", foreign, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.kc.Upsert(f.ctx, keychain.Entry{CacheKey: "zz:601:global", Name: "zz", CatalogID: 601, ScopeType: keychain.ScopeGlobal,
		DataEncrypted: foreign}, nil); err != nil {
		t.Fatal(err)
	}
	before := f.rows(t)
	svc, m := f.service(wallettest.Ring(t, key2, "v2", "v1="+key1))
	resp, err := svc.Rotate(f.ctx, Position{Table: TableCredential}, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Done {
		t.Error("a pass with unreadable rows did not finish")
	}
	c, k := resp.Credential, resp.Keychain
	if c.Processed != 4 || c.Rewrapped != 2 || c.Failed != 2 || c.Failures[string(envelope.RewrapParseError)] != 1 || c.Failures[string(envelope.RewrapFailedUnwrap)] != 1 {
		t.Errorf("credential summary = %+v", c)
	}
	if k.Processed != 2 || k.Rewrapped != 1 || k.Failed != 1 || k.Failures[string(envelope.RewrapFailedUnwrap)] != 1 {
		t.Errorf("keychain summary = %+v", k)
	}
	for _, tc := range []struct {
		table  Table
		status string
		want   float64
	}{
		{TableCredential, string(envelope.RewrapParseError), 1},
		{TableCredential, string(envelope.RewrapFailedUnwrap), 1},
		{TableKeychain, string(envelope.RewrapFailedUnwrap), 1},
		{TableCredential, StatusFailedWrite, 0},
	} {
		if got := counter(t, m, tc.table, tc.status); got != tc.want {
			t.Errorf("metric %s/%s = %v, want %v", tc.table, tc.status, got, tc.want)
		}
	}
	after := f.rows(t)
	for _, name := range []string{"credential:50", "credential:51", "keychain:zz:601:global"} {
		if after[name] != before[name] {
			t.Errorf("unreadable row %s was rewritten", name)
		}
	}
	f.assertReadable(t, wallettest.Ring(t, key2, "v2", ""), "v2")
}

// TestFailedWriteLeavesBatchWhole: when a batch's writes cannot commit, none of the
// batch is written, the batches before it stay done, and the error names the cursor from
// which a resumed pass finishes the job.
func TestFailedWriteLeavesBatchWhole(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.seed(t, wallettest.Ring(t, key1, "v1", ""), 6, 2)
	// The database refuses the update of credential 4, the second row of the second batch.
	for _, q := range []string{
		`CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'update refused by test trigger'; END $$`,
		`CREATE TRIGGER refuse BEFORE UPDATE ON credential FOR EACH ROW WHEN (OLD.id = 4) EXECUTE FUNCTION refuse_update()`,
	} {
		if _, err := f.schema.Pool.Exec(f.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	svc, m := f.service(wallettest.Ring(t, key2, "v2", "v1="+key1))
	resp, err := svc.Rotate(f.ctx, Position{Table: TableCredential}, 2, 100)
	var he *httpx.Error
	if !errors.As(err, &he) || he.Status != http.StatusInternalServerError {
		t.Fatalf("Rotate = %+v, %v; want a 500", resp, err)
	}
	match := regexp.MustCompile(`resume with cursor "([^"]*)"`).FindStringSubmatch(he.Msg)
	if match == nil || match[1] != "credential:2" {
		t.Fatalf("error %q does not name cursor credential:2", he.Msg)
	}
	if resp.Done || resp.Credential.Rewrapped != 2 || resp.Credential.Failures[StatusFailedWrite] != 2 {
		t.Errorf("response = %+v, want 2 rewrapped and 2 failed_write", resp.Credential)
	}
	if got := counter(t, m, TableCredential, StatusFailedWrite); got != 2 {
		t.Errorf("failed_write metric = %v, want 2", got)
	}
	want := map[string]string{"credential:1": "v2", "credential:2": "v2", "credential:3": "v1", "credential:4": "v1",
		"credential:5": "v1", "credential:6": "v1", "keychain:k00:601:global": "v1", "keychain:k01:601:global": "v1"}
	if got := f.versions(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("versions after the failed pass = %v, want %v", got, want)
	}

	if _, err := f.schema.Pool.Exec(f.ctx, `DROP TRIGGER refuse ON credential`); err != nil {
		t.Fatal(err)
	}
	start, err := ParseCursor(match[1])
	if err != nil {
		t.Fatal(err)
	}
	resp, err = svc.Rotate(f.ctx, start, 2, 100)
	if err != nil || !resp.Done || resp.Credential.Rewrapped != 4 || resp.Keychain.Rewrapped != 2 {
		t.Fatalf("resumed pass = %+v, %v", resp, err)
	}
	f.assertReadable(t, wallettest.Ring(t, key2, "v2", ""), "v2")
}

// TestApplyKeepsNewerWrites: a row rewritten between the scan and the write (a new POST
// of the credential) keeps its new value; the stale re-wrap is not written.
func TestApplyKeepsNewerWrites(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ring1 := wallettest.Ring(t, key1, "v1", "")
	f.seed(t, ring1, 2, 0)
	ring2 := wallettest.Ring(t, key2, "v2", "v1="+key1)
	store := NewStore(f.creds.Sealed(), f.kc.Sealed())
	rows, err := store.Batch(f.ctx, TableCredential, nil, nil, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("Batch = %v, %v", rows, err)
	}
	var ups []update
	for _, r := range rows {
		out, err := ring2.Rewrap(f.ctx, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, update{row: r, New: out.Stored})
	}
	fresh, err := ring2.Seal(f.ctx, []byte(`"newer-S3CRET"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.creds.Upsert(f.ctx, 99, "cred-1", "t", fresh, nil, nil, nil); err != nil { // same name: row 1 replaced
		t.Fatal(err)
	}
	written, err := store.Apply(f.ctx, TableCredential, ups)
	if err != nil || written != 1 {
		t.Fatalf("Apply = %d, %v, want 1 written", written, err)
	}
	if got := f.rows(t)["credential:1"]; got != fresh {
		t.Error("the stale re-wrap overwrote a newer value")
	}
}

// TestWithoutKey: with no key configured a rotation is refused with the configuration
// error, while key-status still counts rows (and names no current version).
func TestWithoutKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.seed(t, wallettest.Ring(t, key1, "v1", ""), 1, 1)
	svc, _ := f.service(keyring.Unconfigured())
	if _, err := svc.Rotate(f.ctx, Position{Table: TableCredential}, 10, 10); !errors.Is(err, keyring.ErrNotConfigured) {
		t.Errorf("Rotate without a key = %v, want ErrNotConfigured", err)
	}
	st, err := svc.KeyStatus(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(st); got != "map[credential:map[v1:1] keychain:map[v1:1]]" {
		t.Errorf("key-status without a key = %s", got)
	}
	if f.versions(t)["credential:1"] != "v1" {
		t.Error("a refused rotation changed a row")
	}
}

func TestParseCursor(t *testing.T) {
	t.Parallel()
	id := int64(42)
	key := "a:b:c"
	for _, tc := range []struct {
		in   string
		want Position
	}{
		{"credential:", Position{Table: TableCredential}},
		{"credential:42", Position{Table: TableCredential, AfterID: &id}},
		{"keychain:", Position{Table: TableKeychain}},
		{"keychain:a:b:c", Position{Table: TableKeychain, AfterKey: &key}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCursor(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.in || got.Table != tc.want.Table || (got.AfterID == nil) != (tc.want.AfterID == nil) ||
				(got.AfterKey == nil) != (tc.want.AfterKey == nil) {
				t.Errorf("ParseCursor(%q) = %+v (%s)", tc.in, got, got)
			}
		})
	}
	for _, in := range []string{"", "credential", "credential:x", "credential:1.5", "audit:1", "keychain"} {
		t.Run("invalid "+in, func(t *testing.T) {
			_, err := ParseCursor(in)
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity || !strings.Contains(he.Msg, "is not one rotate-kek returned") {
				t.Errorf("ParseCursor(%q) = %v, want a 422", in, err)
			}
		})
	}
}
