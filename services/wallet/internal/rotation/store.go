package rotation

import "context"
import "fmt"

import "github.com/noetl/controlplane/services/wallet/internal/sealedrows"

// Table names a table whose data_encrypted the rotation re-wraps.
type Table string

const (
	TableCredential Table = "credential"
	TableKeychain   Table = "keychain"
)

// Tables lists them in pass order.
var Tables = []Table{TableCredential, TableKeychain}

// row is one stored value and its key: ID for credential, CacheKey for keychain.
type row struct {
	ID       int64
	CacheKey string
	Data     string
}

// update is a re-wrapped value to write if the row still holds Old.
type update struct {
	row
	New string
}

// Sealed is a table of sealed values as the package that owns it exposes it
// (credentials.Store.Sealed, keychain.Store.Sealed, both sealedrows.Table): keyset
// scans in key order, compare-and-set writes and a full read.
type Sealed[K any] interface {
	Batch(ctx context.Context, after *K, limit int) ([]sealedrows.Row[K], error)
	Swap(ctx context.Context, ups []sealedrows.Update[K]) (int, error)
	EachValue(ctx context.Context, fn func(stored string)) error
}

// Store is the rotation's view of the two tables: credential scanned by id, keychain by
// its primary key cache_key (which upstream's id-based scan could not handle).
type Store struct {
	credential Sealed[int64]
	keychain   Sealed[string]
}

// NewStore returns a store over the owners' tables.
func NewStore(credential Sealed[int64], keychain Sealed[string]) *Store {
	return &Store{credential: credential, keychain: keychain}
}

// Batch returns up to limit rows after the cursor (nil: from the start) in key order.
func (s *Store) Batch(ctx context.Context, t Table, afterID *int64, afterKey *string, limit int) ([]row, error) {
	switch t {
	case TableCredential:
		return batch(ctx, s.credential, afterID, limit, func(r *row, id int64) { r.ID = id })
	case TableKeychain:
		return batch(ctx, s.keychain, afterKey, limit, func(r *row, key string) { r.CacheKey = key })
	}
	return nil, fmt.Errorf("unknown table %q", t)
}

func batch[K any](ctx context.Context, tbl Sealed[K], after *K, limit int, setKey func(*row, K)) ([]row, error) {
	rs, err := tbl.Batch(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(rs))
	for i, r := range rs {
		out[i].Data = r.Stored
		setKey(&out[i], r.Key)
	}
	return out, nil
}

// Apply writes a batch's re-wrapped values in one transaction, each only if its row still
// holds the value that was re-wrapped (a row rewritten meanwhile already carries a fresh
// envelope under the current key). It returns how many rows were written.
func (s *Store) Apply(ctx context.Context, t Table, ups []update) (int, error) {
	switch t {
	case TableCredential:
		return apply(ctx, s.credential, ups, func(r row) int64 { return r.ID })
	case TableKeychain:
		return apply(ctx, s.keychain, ups, func(r row) string { return r.CacheKey })
	}
	return 0, fmt.Errorf("unknown table %q", t)
}

func apply[K any](ctx context.Context, tbl Sealed[K], ups []update, key func(row) K) (int, error) {
	out := make([]sealedrows.Update[K], len(ups))
	for i, u := range ups {
		out[i] = sealedrows.Update[K]{Row: sealedrows.Row[K]{Key: key(u.row), Stored: u.Data}, New: u.New}
	}
	return tbl.Swap(ctx, out)
}

// EachValue streams every data_encrypted of a table.
func (s *Store) EachValue(ctx context.Context, t Table, fn func(stored string)) error {
	switch t {
	case TableCredential:
		return s.credential.EachValue(ctx, fn)
	case TableKeychain:
		return s.keychain.EachValue(ctx, fn)
	}
	return fmt.Errorf("unknown table %q", t)
}
