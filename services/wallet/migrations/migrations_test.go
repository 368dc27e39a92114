package migrations

import "io/fs"
import "testing"
import "testing/fstest"
import "time"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/testkit"

// TestSetIsValid: versions without gaps, names that carry them, no schema-qualified
// names, and legacy versions that map to files this set ships.
func TestSetIsValid(t *testing.T) {
	t.Parallel()
	if err := Set.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestGlobalKeychainRowsLoseTheirExecution: migration 6 clears the execution id an
// earlier wallet stored on global keychain rows (their first writer's), and leaves the
// local and shared rows, whose cache key names their execution, as they are.
func TestGlobalKeychainRowsLoseTheirExecution(t *testing.T) {
	t.Parallel()
	before := pg.MigrationSet{Service: Set.Service, Files: upTo(t, 5), Legacy: Set.Legacy}
	s := testkit.NewSchema(t, before)
	ctx := testkit.Context(t, 30*time.Second)
	if _, err := s.Pool.Exec(ctx, `INSERT INTO keychain (cache_key, keychain_name, catalog_id, credential_type, cache_type, scope_type, execution_id, data_encrypted)
		VALUES ('g:1:global', 'g', 1, 'secret', 'secret', 'global', 77, 'x'),
		       ('l:1:78', 'l', 1, 'secret', 'secret', 'local', 78, 'x'),
		       ('s:1:shared:79', 's', 1, 'secret', 'secret', 'shared', 79, 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Migrate(ctx, s.Pool, s.Name, Set); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]*int64{"g:1:global": nil, "l:1:78": ptr(int64(78)), "s:1:shared:79": ptr(int64(79))} {
		got := testkit.QueryOne[*int64](t, s, `SELECT execution_id FROM keychain WHERE cache_key = $1`, key)
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("%s: execution_id = %v, want %v", key, got, want)
		}
	}
}

// upTo is the wallet's history up to and including version last.
func upTo(t *testing.T, last int) fs.FS {
	t.Helper()
	migs, err := Set.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range migs {
		if m.Version <= last {
			out[m.Name+".sql"] = &fstest.MapFile{Data: []byte(m.SQL)}
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
