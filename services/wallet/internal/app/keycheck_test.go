package app

import "context"
import "io"
import "net"
import "strings"
import "testing"
import "time"

import "github.com/noetl/controlplane/services/wallet/migrations"
import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/testkit"

// key3 is bytes 80..9f.
const key3 = "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="

// runWallet runs the wallet in the background until the test ends and reports whether
// it started listening (within 30 s) and the channel Run's error arrives on.
func runWallet(t *testing.T, cfg Config) (started bool, done <-chan error) {
	t.Helper()
	ready := make(chan net.Addr, 1)
	cfg.Hooks.LogOutput, cfg.Hooks.Ready = io.Discard, ready
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg) }()
	select {
	case <-ready:
		return true, errc
	case err := <-errc:
		errc <- err
		return false, errc
	case <-time.After(30 * time.Second):
		t.Fatal("the wallet neither started nor failed within 30s")
	}
	return false, nil
}

// runToFailure runs the wallet expecting it to refuse to start, and returns its error.
func runToFailure(t *testing.T, cfg Config) error {
	t.Helper()
	started, done := runWallet(t, cfg)
	if started {
		t.Fatal("the wallet started")
	}
	err := <-done
	if err == nil {
		t.Fatal("the wallet exited without an error")
	}
	return err
}

// TestKeyLabelIsBoundToItsKey: a new key under a label already in use stops the wallet
// at startup with a message naming both variables (before: it started, rotation skipped
// every row by its label and reported done, and every read failed); so does a previous
// key listed under the wrong label, and so does a mislabelled key on a database from
// before key check values, whose rows it cannot unwrap. The operator's correct next step
// (a new label, the old key in the previous list) starts and reads everything.
func TestKeyLabelIsBoundToItsKey(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	api := newFakeAPI(t)
	cfg1 := testConfig(t, s, api.URL)
	w := startWallet(t, cfg1)
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "pg", "type": "t", "data": map[string]any{"pw": "kc-S3CRET-1"}})
	w.stop()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM wallet_key_check WHERE provider = 'local' AND key_version = 'v1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("key check values stored for v1: %d (%v)", n, err)
	}

	cases := []struct {
		name              string
		key, ver, prev    string
		forgetCheckValues bool
		want              []string
	}{
		{"new key under the old label", key2, "v1", "", false,
			[]string{"NOETL_ENCRYPTION_KEY does not match", `NOETL_ENCRYPTION_KEY_VERSION="v1"`, "NOETL_ENCRYPTION_PREVIOUS_KEYS"}},
		{"previous key under the wrong label", key3, "v2", "v1=" + key2, false,
			[]string{`NOETL_ENCRYPTION_PREVIOUS_KEYS entry "v1" does not match`}},
		{"new key under the old label, no check values yet", key2, "v1", "", true,
			[]string{"NOETL_ENCRYPTION_KEY does not match", "cannot unwrap the rows"}},
	}
	for _, tc := range cases {
		if tc.forgetCheckValues {
			if _, err := s.Pool.Exec(context.Background(), `DELETE FROM wallet_key_check`); err != nil {
				t.Fatal(err)
			}
		}
		cfg := cfg1
		cfg.Keys.EncryptionKey, cfg.Keys.EncryptionKeyVer, cfg.Keys.PreviousKeys = config.Secret(tc.key), tc.ver, config.Secret(tc.prev)
		err := runToFailure(t, cfg)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
		testkit.AssertNoSecret(t, err.Error(), testkit.Unbase64(t, key1), testkit.Unbase64(t, key2), testkit.Unbase64(t, key3))
	}

	// The fix the message asks for: a new label, the old key kept as previous.
	cfg := cfg1
	cfg.Keys.EncryptionKey, cfg.Keys.EncryptionKeyVer, cfg.Keys.PreviousKeys = key2, "v2", "v1="+key1
	w = startWallet(t, cfg)
	w.must(200, "GET", "/readyz", nil)
	if got := dataOf(t, w.must(200, "GET", "/api/credentials/pg?include_data=true", nil)); got != `{"pw":"kc-S3CRET-1"}` {
		t.Errorf("credential after the fix = %s", got)
	}
	rot := rotate(t, w, map[string]any{})
	if rot.Credential.Rewrapped != 1 || rot.Credential.Failed != 0 {
		t.Errorf("rotation after the fix = %+v", rot.Credential)
	}
	w.stop()
	// Both labels are bound now; the old label was re-bound from its rows.
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM wallet_key_check`).Scan(&n); err != nil || n != 2 {
		t.Errorf("key check values: %d (%v), want 2", n, err)
	}
}

// TestKeyCheckWaitsForTheDatabase: when the key checks cannot be read at startup (here
// the table is missing, as before migrations ran), the wallet serves, its key routes and
// /readyz answer 503, and it keeps trying; once the table is there it verifies and
// works. A mismatch found only then stops it with the mismatch error.
func TestKeyCheckWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	ctx := context.Background()
	const recreate = `CREATE TABLE wallet_key_check (provider TEXT NOT NULL, key_version TEXT NOT NULL,
		check_value TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (provider, key_version))`
	if _, err := s.Pool.Exec(ctx, `DROP TABLE wallet_key_check`); err != nil {
		t.Fatal(err)
	}
	w := startWallet(t, testConfig(t, s, newFakeAPI(t).URL))
	if code, body := w.do("GET", "/api/credentials", nil); code != 503 || !strings.Contains(body, "NOETL_ENCRYPTION_KEY") {
		t.Errorf("key route while unverified = %d %s, want 503", code, body)
	}
	if code, _ := w.do("GET", "/readyz", nil); code != 503 {
		t.Errorf("/readyz while unverified = %d, want 503", code)
	}
	if _, err := s.Pool.Exec(ctx, recreate); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the keys verified", func() bool { code, _ := w.do("GET", "/readyz", nil); return code == 200 })
	w.must(200, "POST", "/api/credentials", map[string]any{"name": "pg", "type": "t", "data": "wait-S3CRET"})
	w.stop()

	// Again, with another key under the label of the stored row.
	if _, err := s.Pool.Exec(ctx, `DROP TABLE wallet_key_check`); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, s, newFakeAPI(t).URL)
	cfg.Keys.EncryptionKey = key2
	started, done := runWallet(t, cfg)
	if !started {
		t.Fatalf("the wallet did not start: %v", <-done)
	}
	if _, err := s.Pool.Exec(ctx, recreate); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "NOETL_ENCRYPTION_KEY does not match") {
			t.Errorf("Run = %v, want the mismatch", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the wallet kept running with a key that does not match its label")
	}
}
