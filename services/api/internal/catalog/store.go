// Package catalog stores playbooks (noetl.catalog): register, list, fetch by id or by
// path and version, and the parsed-playbook cache the runtime uses.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/noetl/controlplane/services/api/internal/playbook"
)

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

// ByPathVersion returns one version of a path.
func ByPathVersion(ctx context.Context, q Querier, path string, version int64) (*Entry, error) {
	return scanEntry(q.QueryRow(ctx, `SELECT `+entryColumns+` FROM catalog WHERE path = $1 AND version = $2`, path, version))
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
	path string
	used uint64
}

// NewCache returns a cache holding up to max playbooks.
func NewCache(max int) *Cache {
	if max <= 0 {
		max = 512
	}
	return &Cache{max: max, items: map[int64]*cached{}}
}

// Get returns the parsed playbook of catalog_id, loading and parsing it on a miss.
func (c *Cache) Get(ctx context.Context, q Querier, id int64) (*playbook.Playbook, error) {
	c.mu.Lock()
	if it, ok := c.items[id]; ok {
		c.tick++
		it.used = c.tick
		c.mu.Unlock()
		return it.pb, nil
	}
	c.mu.Unlock()
	e, err := ByID(ctx, q, id)
	if err != nil {
		return nil, err
	}
	pb, err := playbook.Parse([]byte(e.Content))
	if err != nil {
		return nil, fmt.Errorf("catalog entry %d: %w", id, err)
	}
	c.Put(id, pb)
	return pb, nil
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
