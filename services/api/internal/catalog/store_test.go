package catalog

import "context"
import "errors"
import "testing"

import "github.com/noetl/controlplane/services/api/migrations"
import "github.com/noetl/controlplane/shared/testkit"

// TestVersionsBeyondTheColumnNameNoEntry: the version column is a SMALLINT; a version it
// cannot hold names no entry (ErrNotFound), through Resolve too, rather than failing
// to encode (a 500 for whatever route asked).
func TestVersionsBeyondTheColumnNameNoEntry(t *testing.T) {
	t.Parallel()
	s := testkit.NewSchema(t, migrations.Set)
	testkit.InsertCatalog(t, s, 1, "col/pb", "x")
	ctx := context.Background()
	for _, v := range []int64{40000, -40000, 1 << 40} {
		if _, err := ByPathVersion(ctx, s.Pool, "col/pb", v); !errors.Is(err, ErrNotFound) {
			t.Errorf("ByPathVersion(%d) = %v, want ErrNotFound", v, err)
		}
		if _, _, err := NewCache(4).Resolve(ctx, s.Pool, Ref{Path: "col/pb", Version: &v}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(version %d) = %v, want ErrNotFound", v, err)
		}
	}
	if e, err := ByPathVersion(ctx, s.Pool, "col/pb", 1); err != nil || e.CatalogID != 1 {
		t.Errorf("ByPathVersion(1) = %+v, %v", e, err)
	}
}
