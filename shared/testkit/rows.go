package testkit

import "context"
import "testing"

// InsertCatalog adds a catalog row of kind playbook at the next version of path, for
// tests whose executions or keychain entries need a catalog entry to reference but
// that do not test registration itself.
func InsertCatalog(t testing.TB, s *Schema, id int64, path, content string) {
	t.Helper()
	_, err := s.Pool.Exec(context.Background(), `INSERT INTO catalog (catalog_id, path, version, kind, content)
		VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM catalog WHERE path = $2), 'playbook', $3)`, id, path, content)
	if err != nil {
		t.Fatalf("insert catalog %s: %v", path, err)
	}
}

// QueryOne runs a query answering one row of one column and returns that value.
func QueryOne[T any](t testing.TB, s *Schema, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := s.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}
