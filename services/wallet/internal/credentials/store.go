package credentials

import "context"
import "errors"
import "fmt"
import "strconv"
import "strings"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/wallet/internal/sealedrows"
import "github.com/noetl/controlplane/shared/pg"

// ErrNotFound is a missing credential.
var ErrNotFound = errors.New("credential not found")

// Row is one credential row. DataEncrypted is empty when the query did not select it.
type Row struct {
	ID            int64
	Name          string
	Type          string
	DataEncrypted string
	Meta          []byte // raw JSONB, nil for NULL
	Tags          []string
	Description   *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Store is the SQL of the credential table.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Sealed is the credential table as a table of sealed values keyed by id, for the key
// rotation and the key checks.
func (s *Store) Sealed() *sealedrows.Table[int64] {
	return sealedrows.New[int64](s.pool, "credential", sealedrows.Queries{
		Rows: `SELECT id, data_encrypted FROM credential`,
		Swap: `UPDATE credential SET data_encrypted = $2 WHERE id = $1 AND data_encrypted = $3`,
	})
}

const metaCols = `id, name, type, meta, tags, description, created_at, updated_at`

func scanMeta(r pgx.Row, withData bool) (Row, error) {
	var row Row
	dst := []any{&row.ID, &row.Name, &row.Type, &row.Meta, &row.Tags, &row.Description, &row.CreatedAt, &row.UpdatedAt}
	if withData {
		dst = append(dst, &row.DataEncrypted)
	}
	err := r.Scan(dst...)
	return row, err
}

// Upsert inserts a credential or, when the name exists, overwrites its type, data, meta,
// tags and description (omitted optional fields become NULL, as upstream). id is used only
// for a new row; one statement, so two concurrent writers of one name cannot both insert.
func (s *Store) Upsert(ctx context.Context, id int64, name, typ, dataEncrypted string, meta *string, tags []string, description *string) (Row, error) {
	row, err := scanMeta(s.pool.QueryRow(ctx, `
		INSERT INTO credential (id, name, type, data_encrypted, meta, tags, description)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
		ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type, data_encrypted = EXCLUDED.data_encrypted,
			meta = EXCLUDED.meta, tags = EXCLUDED.tags, description = EXCLUDED.description, updated_at = now()
		RETURNING `+metaCols, id, name, typ, dataEncrypted, meta, tags, description), false)
	if err != nil {
		return Row{}, fmt.Errorf("upsert credential: %w", err)
	}
	return row, nil
}

// lookup is the id-then-name rule: a numeric identifier matches an id first, and only
// then a name; anything else matches a name.
func lookup(identifier string) (where string, args []any) {
	if id, err := strconv.ParseInt(identifier, 10, 64); err == nil {
		return `(id = $1 OR name = $2) ORDER BY (id = $1) DESC LIMIT 1`, []any{id, identifier}
	}
	return `name = $1`, []any{identifier}
}

// Find returns the credential with its encrypted data, or ErrNotFound.
func (s *Store) Find(ctx context.Context, identifier string, withData bool) (Row, error) {
	where, args := lookup(identifier)
	cols := metaCols
	if withData {
		cols += ", data_encrypted"
	}
	row, err := scanMeta(s.pool.QueryRow(ctx, `SELECT `+cols+` FROM credential WHERE `+where, args...), withData)
	if err = pg.RowError(err, ErrNotFound, "read credential"); err != nil {
		return Row{}, err
	}
	return row, nil
}

// Delete removes the credential the identifier resolves to and returns its id.
func (s *Store) Delete(ctx context.Context, identifier string) (int64, error) {
	where, args := lookup(identifier)
	var id int64
	err := s.pool.QueryRow(ctx, `DELETE FROM credential WHERE id = (SELECT id FROM credential WHERE `+where+`) RETURNING id`, args...).Scan(&id)
	if err = pg.RowError(err, ErrNotFound, "delete credential"); err != nil {
		return 0, err
	}
	return id, nil
}

// ListFilter narrows List; empty fields do not filter.
type ListFilter struct {
	Type string // exact match
	Q    string // substring of name or description, case-insensitive
}

// List returns credentials newest first, without data.
func (s *Store) List(ctx context.Context, f ListFilter) ([]Row, error) {
	var typ, q *string
	if f.Type != "" {
		typ = &f.Type
	}
	if f.Q != "" {
		// Upstream passed q to ILIKE unescaped, so "_" and "%" acted as wildcards; a
		// search box means a literal substring.
		p := "%" + likeEscaper.Replace(f.Q) + "%"
		q = &p
	}
	return pg.Select(ctx, s.pool, "list credentials", func(r pgx.CollectableRow) (Row, error) { return scanMeta(r, false) },
		`SELECT `+metaCols+` FROM credential
		WHERE ($1::text IS NULL OR type = $1)
		  AND ($2::text IS NULL OR name ILIKE $2 OR description ILIKE $2)
		ORDER BY created_at DESC, id DESC`, typ, q)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
