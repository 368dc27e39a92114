// Package database serves the upstream database routes: POST /api/db/init and GET
// /api/db/validate (schema checks of NOETL_SCHEMA), and POST /api/postgres/execute,
// which runs caller-supplied SQL and therefore exists only behind the internal token,
// one statement per call, under a statement timeout and a row cap, on a pool of its own
// (docs/security.md, "The SQL route").
package database

import "context"
import "database/sql/driver"
import "fmt"
import "math"
import "strconv"
import "strings"
import "time"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgtype"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/wire"

// Store runs the database routes' SQL.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// SchemaExists reports whether a schema exists.
func (s *Store) SchemaExists(ctx context.Context, schema string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok); err != nil {
		return false, fmt.Errorf("check schema %s: %w", schema, err)
	}
	return ok, nil
}

// Tables lists the tables and views of a schema by name.
func (s *Store) Tables(ctx context.Context, schema string) ([]string, error) {
	return pg.Select(ctx, s.pool, "list tables of "+schema, pgx.RowTo[string],
		`SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, schema)
}

// SearchPath renders a schema list ("a" or "a, b") as quoted identifiers for SET; an
// empty list gives "".
func SearchPath(schema string) string {
	var parts []string
	for _, p := range strings.Split(schema, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, pg.QuoteIdent(p))
		}
	}
	return strings.Join(parts, ", ")
}

// value turns a column value in PostgreSQL's text format into a JSON value: integers
// as int64 (full precision), floats, booleans, JSON documents decoded (int64-safe),
// timestamps as RFC 3339 UTC, NUMERIC as its exact decimal text, dates as YYYY-MM-DD,
// arrays element by element, and anything else as the text PostgreSQL printed.
// decoder decodes column values of one result.
type decoder struct{ types *pgtype.Map }

func (s decoder) value(oid uint32, src []byte) any {
	if src == nil {
		return nil
	}
	text := string(src)
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n
		}
	case pgtype.Float4OID, pgtype.Float8OID:
		if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	case pgtype.BoolOID:
		return text == "t"
	case pgtype.JSONOID, pgtype.JSONBOID:
		if v, err := jsonx.Decode(src); err == nil {
			return v
		}
	case pgtype.NumericOID, pgtype.DateOID:
		return text
	case pgtype.TimestamptzOID, pgtype.TimestampOID:
		if t, ok := s.decode(oid, src).(time.Time); ok {
			return wire.FormatTime(t)
		}
	default:
		if t, ok := s.types.TypeForOID(oid); ok {
			if _, isArray := t.Codec.(*pgtype.ArrayCodec); isArray {
				if v, ok := s.decode(oid, src).([]any); ok {
					return jsonValues(v)
				}
			}
		}
	}
	return text
}

func (s decoder) decode(oid uint32, src []byte) any {
	t, ok := s.types.TypeForOID(oid)
	if !ok {
		return nil
	}
	v, err := t.Codec.DecodeValue(s.types, oid, pgtype.TextFormatCode, src)
	if err != nil {
		return nil
	}
	return v
}

// jsonValues converts decoded array elements into the JSON value model.
func jsonValues(in []any) []any {
	out := make([]any, len(in))
	for i, v := range in {
		switch t := v.(type) {
		case time.Time:
			out[i] = wire.FormatTime(t)
		case []any:
			out[i] = jsonValues(t)
		case nil, bool, string, int16, int32, int64:
			out[i] = jsonx.Normalize(t)
		case float32, float64:
			f := jsonx.Normalize(t).(float64)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				out[i] = strconv.FormatFloat(f, 'g', -1, 64)
			} else {
				out[i] = f
			}
		case driver.Valuer: // pgtype.Numeric and friends print their exact text
			if dv, err := t.Value(); err == nil {
				if str, ok := dv.(string); ok {
					out[i] = str
					continue
				}
			}
			out[i] = fmt.Sprint(t)
		case fmt.Stringer:
			out[i] = t.String()
		default:
			out[i] = fmt.Sprint(t)
		}
	}
	return out
}
