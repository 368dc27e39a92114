// Package catalog stores playbooks (noetl.catalog): register, list, fetch by id or by
// path and version, and the parsed-playbook cache the runtime uses.
package catalog

import "context"
import "errors"
import "fmt"
import "math"
import "strings"
import "sync"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"

import "github.com/noetl/controlplane/services/api/internal/playbook"
import "github.com/noetl/controlplane/shared/pg"

// Querier is what the store needs.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Entry is a catalog row.
type Entry struct {
	CatalogID int64
	Path      string
	Version   int64
	Kind      string
	Content   string
	Layout    []byte
	Payload   []byte
	Meta      []byte
	CreatedAt time.Time
}

// ErrNotFound means no catalog row matched.
var ErrNotFound = errors.New("catalog entry not found")

const entryColumns = `catalog_id, path, version, kind, coalesce(content, ''), layout, payload, meta, created_at`

func scanEntry(row pgx.Row) (*Entry, error) {
	var e Entry
	var version int16
	err := row.Scan(&e.CatalogID, &e.Path, &version, &e.Kind, &e.Content, &e.Layout, &e.Payload, &e.Meta, &e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog entry: %w", err)
	}
	e.Version = int64(version)
	return &e, nil
}

// ByID returns the entry with catalog_id.
func ByID(ctx context.Context, q Querier, id int64) (*Entry, error) {
	return scanEntry(q.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog WHERE catalog_id = $1`, id))
}

// Latest returns the highest version registered at path.
func Latest(ctx context.Context, q Querier, path string) (*Entry, error) {
	return scanEntry(q.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog WHERE path = $1 ORDER BY version DESC LIMIT 1`, path))
}

// ByPathVersion returns one version of a path. A version the version column (SMALLINT)
// cannot hold names no entry: ErrNotFound, not an encoding error (a 500 on execute).
func ByPathVersion(ctx context.Context, q Querier, path string, version int64) (*Entry, error) {
	if version < math.MinInt16 || version > math.MaxInt16 {
		return nil, ErrNotFound
	}
	return scanEntry(q.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog WHERE path = $1 AND version = $2`, path, version))
}

// ResourceKinds are the kinds an entry may have (the rows of the resource table), in
// name order.
func ResourceKinds(ctx context.Context, q Querier) ([]string, error) {
	return pg.Select(ctx, q, "list resource kinds", pgx.RowTo[string], `SELECT name FROM resource ORDER BY name`)
}

// List returns every entry of kind (all kinds when kind is empty), newest first.
func List(ctx context.Context, q Querier, kind string) ([]Entry, error) {
	rows, err := q.Query(ctx, `SELECT `+entryColumns+` FROM catalog WHERE ($1 = '' OR kind = $1)
		ORDER BY created_at DESC, catalog_id DESC`, kind)
	if err != nil {
		return nil, fmt.Errorf("list catalog entries: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list catalog entries: %w", err)
	}
	return out, nil
}

// Beginner opens transactions (a *pgxpool.Pool).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Registration is one resource to store. Layout, Payload and Meta are JSON or nil (NULL).
type Registration struct {
	Path    string
	Kind    string // lower-case, a row of the resource table
	Content string
	Layout  []byte
	Payload []byte
	Meta    []byte
}

// Registered is the outcome of Register.
type Registered struct {
	CatalogID int64
	Version   int64
	// Existing is set when the latest version of the path already held the same kind and
	// byte-identical content: nothing was written and its id and version are returned.
	Existing bool
}

var (
	// ErrUnknownKind means the kind is not a row of the resource table.
	ErrUnknownKind = errors.New("unknown resource kind")
	// ErrVersionsExhausted means the path already has version 32767 (version is SMALLINT).
	ErrVersionsExhausted = errors.New("catalog path has reached the highest version")
)

// Register stores r as the next version of its path, or returns the latest version when
// that one already holds identical content. Registrations of one path are serialised by
// a transaction-scoped advisory lock, so concurrent registrations get consecutive
// versions instead of a unique violation; a unique violation that still happens (a
// writer that does not take the lock, such as an upstream server on the same schema) is
// retried.
func Register(ctx context.Context, db Beginner, id int64, r Registration) (Registered, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		res, err := register(ctx, db, id, r)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName != "catalog_pkey" {
			lastErr = err
			continue
		}
		return res, err
	}
	return Registered{}, lastErr
}

func register(ctx context.Context, db Beginner, id int64, r Registration) (Registered, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return Registered{}, fmt.Errorf("register catalog entry: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The key includes the schema: schemas on one server share advisory locks.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('noetl-catalog:' || current_schema() || ':' || $1, 0))`, r.Path); err != nil {
		return Registered{}, fmt.Errorf("lock catalog path %q: %w", r.Path, err)
	}
	var (
		latestID      int64
		latestVersion int16
		same          bool
	)
	err = tx.QueryRow(ctx, `SELECT catalog_id, version, kind = $2 AND content IS NOT DISTINCT FROM $3
		FROM catalog WHERE path = $1 ORDER BY version DESC LIMIT 1`, r.Path, r.Kind, r.Content).
		Scan(&latestID, &latestVersion, &same)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		latestVersion = 0
	case err != nil:
		return Registered{}, fmt.Errorf("read latest version of %q: %w", r.Path, err)
	case same:
		return Registered{CatalogID: latestID, Version: int64(latestVersion), Existing: true}, nil
	}
	if latestVersion >= math.MaxInt16 {
		return Registered{}, ErrVersionsExhausted
	}
	next := latestVersion + 1
	_, err = tx.Exec(ctx, `INSERT INTO catalog (catalog_id, path, kind, version, content, layout, payload, meta)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, r.Path, r.Kind, next, r.Content, jsonArg(r.Layout), jsonArg(r.Payload), jsonArg(r.Meta))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return Registered{}, fmt.Errorf("%w %q", ErrUnknownKind, r.Kind)
		}
		return Registered{}, fmt.Errorf("insert catalog entry %q version %d: %w", r.Path, next, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Registered{}, fmt.Errorf("commit catalog entry %q version %d: %w", r.Path, next, err)
	}
	return Registered{CatalogID: id, Version: int64(next)}, nil
}

// jsonArg passes nil as SQL NULL and JSON text as a jsonb value.
func jsonArg(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Cache holds parsed playbooks by catalog_id. Catalog rows never change once written
// (a new registration is a new row), so entries never go stale; the cache is bounded.
type Cache struct {
	mu    sync.Mutex
	max   int
	items map[int64]*cached
	tick  uint64
}

type cached struct {
	pb   *playbook.Playbook
	used uint64
}

// NewCache returns a cache holding up to max playbooks.
func NewCache(max int) *Cache {
	if max <= 0 {
		max = 512
	}
	return &Cache{max: max, items: map[int64]*cached{}}
}

// Ref names a catalog entry: by CatalogID when it is set, otherwise by Path at Version
// (the highest version when Version is nil).
type Ref struct {
	CatalogID *int64
	Path      string
	Version   *int64
}

// ErrNoContent means the entry exists but holds no playbook text. It is a kind of
// ErrNotFound: errors.Is matches both.
var ErrNoContent = fmt.Errorf("%w: no playbook content", ErrNotFound)

// ErrNotPlaybook means the entry is of another kind (a credential, say): there is
// nothing to run.
var ErrNotPlaybook = errors.New("catalog entry is not a playbook")

// Resolve reads the entry ref names (one query) and returns it with its parsed
// playbook, parsing only when the cache does not hold it yet. A missing entry is
// ErrNotFound, one of another kind ErrNotPlaybook, an empty one ErrNoContent, an
// unreadable one the playbook package's error.
func (c *Cache) Resolve(ctx context.Context, q Querier, ref Ref) (*Entry, *playbook.Playbook, error) {
	var e *Entry
	var err error
	switch {
	case ref.CatalogID != nil:
		e, err = ByID(ctx, q, *ref.CatalogID)
	case ref.Version != nil:
		e, err = ByPathVersion(ctx, q, ref.Path, *ref.Version)
	default:
		e, err = Latest(ctx, q, ref.Path)
	}
	if err != nil {
		return nil, nil, err
	}
	if !strings.EqualFold(e.Kind, "playbook") {
		return e, nil, fmt.Errorf("catalog entry %d: %w", e.CatalogID, ErrNotPlaybook)
	}
	if strings.TrimSpace(e.Content) == "" {
		return e, nil, fmt.Errorf("catalog entry %d: %w", e.CatalogID, ErrNoContent)
	}
	if pb, ok := c.cached(e.CatalogID); ok {
		return e, pb, nil
	}
	pb, err := playbook.Parse([]byte(e.Content))
	if err != nil {
		return e, nil, fmt.Errorf("catalog entry %d: %w", e.CatalogID, err)
	}
	c.Put(e.CatalogID, pb)
	return e, pb, nil
}

// Get returns the parsed playbook of catalog_id: from the cache, or through Resolve
// on a miss.
func (c *Cache) Get(ctx context.Context, q Querier, id int64) (*playbook.Playbook, error) {
	if pb, ok := c.cached(id); ok {
		return pb, nil
	}
	_, pb, err := c.Resolve(ctx, q, Ref{CatalogID: &id})
	return pb, err
}

func (c *Cache) cached(id int64) (*playbook.Playbook, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[id]
	if !ok {
		return nil, false
	}
	c.tick++
	it.used = c.tick
	return it.pb, true
}

// Put stores a parsed playbook (the execute route parses before it has an execution).
func (c *Cache) Put(id int64, pb *playbook.Playbook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		// Evict the least recently used entry; O(n) on a bounded map is fine here.
		var oldest int64
		var oldestUse uint64 = ^uint64(0)
		for k, v := range c.items {
			if v.used < oldestUse {
				oldest, oldestUse = k, v.used
			}
		}
		delete(c.items, oldest)
	}
	c.tick++
	c.items[id] = &cached{pb: pb, used: c.tick}
}

// ExistingIDs returns which of ids are catalog entries, inside the caller's transaction.
func ExistingIDs(ctx context.Context, q Querier, ids []int64) (map[int64]bool, error) {
	ids, err := pg.Select(ctx, q, "check catalog ids", pgx.RowTo[int64], `SELECT catalog_id FROM catalog WHERE catalog_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	found := make(map[int64]bool, len(ids))
	for _, id := range ids {
		found[id] = true
	}
	return found, nil
}

// CountPlaybooks counts distinct paths of kind playbook, in any case (register stores
// "Playbook").
func CountPlaybooks(ctx context.Context, q Querier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(DISTINCT path) FROM catalog WHERE lower(kind) = 'playbook'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count playbooks: %w", err)
	}
	return n, nil
}
