package database

import "context"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "strconv"
import "strings"
import "time"
import "unicode"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgtype"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"
import "github.com/noetl/controlplane/shared/pg"

// SQLConfig bounds POST /api/postgres/execute (docs/security.md, "The SQL route").
type SQLConfig struct {
	// StatementTimeout cancels a statement that runs longer (PostgreSQL's
	// statement_timeout, set for each call).
	StatementTimeout time.Duration `env:"NOETL_SQL_STATEMENT_TIMEOUT" envDefault:"30s"`
	// MaxRows is the most rows one call returns; a statement that produces more is
	// cancelled and rolled back (422).
	MaxRows int `env:"NOETL_SQL_MAX_ROWS" envDefault:"10000"`
	// MaxConns sizes the route's own pool, so that slow statements cannot take the
	// connections every other route needs.
	MaxConns int32 `env:"NOETL_SQL_MAX_CONNECTIONS" envDefault:"2"`
	// DatabaseURL, when set, is the connection the route uses instead of the api's: a
	// PostgreSQL role with only the rights the route should have.
	DatabaseURL config.Secret `env:"NOETL_SQL_DATABASE_URL"`
}

// Validate applies the fail-fast rules.
func (c SQLConfig) Validate() error {
	var errs []error
	if c.StatementTimeout < time.Millisecond || c.StatementTimeout > 24*time.Hour {
		errs = append(errs, errors.New("NOETL_SQL_STATEMENT_TIMEOUT: must be between 1ms and 24h"))
	}
	if c.MaxRows < 1 {
		errs = append(errs, errors.New("NOETL_SQL_MAX_ROWS: must be >= 1"))
	}
	if c.MaxConns < 1 {
		errs = append(errs, errors.New("NOETL_SQL_MAX_CONNECTIONS: must be >= 1"))
	}
	errs = append(errs, pg.CheckURL("NOETL_SQL_DATABASE_URL", c.DatabaseURL))
	return errors.Join(errs...)
}

// maxResultBytes bounds the text of one answer, whatever the row count: ten thousand
// rows of a megabyte each would not fit in the api's memory.
const maxResultBytes = 32 << 20

// acquireWait is how long a call waits for one of the route's connections.
const acquireWait = 5 * time.Second

// OpenSQLPool opens the route's pool: db's connection (or NOETL_SQL_DATABASE_URL), the
// same schema and time zone, NOETL_SQL_MAX_CONNECTIONS connections, and no statement
// caches (each call ends with DISCARD ALL, which would invalidate them).
func OpenSQLPool(ctx context.Context, db pg.Config, c SQLConfig, log *slog.Logger) (*pgxpool.Pool, error) {
	if c.DatabaseURL.IsSet() {
		db = db.WithURL(c.DatabaseURL.Reveal())
	} else {
		log.Warn("POST /api/postgres/execute runs as the api's own database role and can read and write every table, the wallet's included; set NOETL_SQL_DATABASE_URL to a restricted role")
	}
	db.MaxConns, db.MinConns = c.MaxConns, 0
	pc, err := db.PoolConfig()
	if err != nil {
		return nil, fmt.Errorf("NOETL_SQL_DATABASE_URL: %w", err)
	}
	pc.MinConns = 0
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pc.ConnConfig.StatementCacheCapacity, pc.ConnConfig.DescriptionCacheCapacity = 0, 0
	pc.ConnConfig.RuntimeParams["application_name"] = "noetl-sql-route"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create the SQL route's pool: %w", err)
	}
	return pool, nil
}

// Runner runs caller SQL for POST /api/postgres/execute.
type Runner struct {
	pool *pgxpool.Pool
	cfg  SQLConfig
}

// NewRunner returns a runner on the route's pool.
func NewRunner(pool *pgxpool.Pool, cfg SQLConfig) *Runner { return &Runner{pool: pool, cfg: cfg} }

// Execute runs one statement in a transaction of its own, with search_path set for
// that transaction when schema is given, and returns its rows (an empty list for a
// statement without rows), each row an object of typed values.
//
// One statement: it is sent with the extended protocol, in which PostgreSQL refuses a
// second one. No transaction control: a COMMIT inside the text would end the wrapping
// transaction and let the rest of the work escape it, so such statements are refused
// before they are sent, and the transaction state is checked after. The statement runs
// under statement_timeout, may return at most MaxRows rows, and the connection is reset
// (DISCARD ALL) before it goes back to the pool, so a SET ROLE or a session-level SET
// cannot reach the next caller.
func (r *Runner) Execute(ctx context.Context, sql, schema string) ([]map[string]any, error) {
	if err := checkStatement(sql); err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, acquireWait)
	conn, err := r.pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, httpx.WithStatus(http.StatusServiceUnavailable,
			fmt.Sprintf("the SQL route is busy: its %d connections (NOETL_SQL_MAX_CONNECTIONS) are all running statements; retry later", r.cfg.MaxConns), err)
	}
	pgc := conn.Conn().PgConn()
	defer func() {
		// Back to a clean session, or not back to the pool at all.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if pgc.TxStatus() != 'I' {
			_ = pgc.Exec(rctx, "ROLLBACK").Close()
		}
		if err := pgc.Exec(rctx, "DISCARD ALL").Close(); err != nil {
			_ = conn.Hijack().Close(rctx)
			return
		}
		conn.Release()
	}()
	// The server cancels at statement_timeout; this bounds the wait should it not.
	ctx, cancel = context.WithTimeout(ctx, r.cfg.StatementTimeout+10*time.Second)
	defer cancel()
	setup := "BEGIN; SET LOCAL statement_timeout = " + strconv.FormatInt(r.cfg.StatementTimeout.Milliseconds(), 10)
	if path := SearchPath(schema); path != "" {
		setup += "; SET LOCAL search_path TO " + path
	}
	if _, err := pgc.Exec(ctx, setup).ReadAll(); err != nil {
		return nil, r.sqlError(err, false)
	}
	rr := pgc.ExecParams(ctx, sql, nil, nil, nil, nil)
	out, cancelled, rerr := r.readRows(ctx, pgc, rr)
	_, err = rr.Close()
	switch {
	case rerr != nil:
		return nil, rerr
	case err != nil:
		return nil, r.sqlError(err, cancelled)
	case pgc.TxStatus() != 'T':
		return nil, httpx.Validation("the statement ended the transaction it runs in; transaction control is not allowed")
	}
	if err := pgc.Exec(ctx, "COMMIT").Close(); err != nil {
		return nil, r.sqlError(err, false)
	}
	return out, nil
}

// readRows decodes the rows of rr. Past MaxRows or maxResultBytes it asks the server to
// cancel the statement (the caller then rolls it back) and returns the error to answer.
func (r *Runner) readRows(ctx context.Context, pgc *pgconn.PgConn, rr *pgconn.ResultReader) (out []map[string]any, cancelled bool, err error) {
	out = []map[string]any{}
	fds := rr.FieldDescriptions()
	dec := decoder{types: pgtype.NewMap()} // a Map is not safe for concurrent use
	size := 0
	for rr.NextRow() {
		vals := rr.Values()
		for _, v := range vals {
			size += len(v)
		}
		if len(out) == r.cfg.MaxRows || size > maxResultBytes {
			_ = pgc.CancelRequest(ctx)
			if size > maxResultBytes {
				return nil, true, httpx.Validation("the statement's rows exceed %d bytes; select fewer columns or rows", maxResultBytes)
			}
			return nil, true, httpx.Validation("the statement returns more than %d rows (NOETL_SQL_MAX_ROWS); add a LIMIT", r.cfg.MaxRows)
		}
		m := make(map[string]any, len(vals))
		for k, fd := range fds {
			m[fd.Name] = dec.value(fd.DataTypeOID, vals[k])
		}
		out = append(out, m)
	}
	return out, false, nil
}

// sqlError maps a failure of the caller's statement.
func (r *Runner) sqlError(err error, cancelledByUs bool) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("execute SQL: %w", err)
	}
	switch {
	case pe.Code == "57014" && !cancelledByUs: // query_canceled: the statement timeout
		return httpx.Validation("the statement ran longer than the statement timeout of %s (NOETL_SQL_STATEMENT_TIMEOUT) and was cancelled", r.cfg.StatementTimeout)
	case pe.Code == "42601" && strings.Contains(pe.Message, "multiple commands"):
		return httpx.Validation("one statement per call: the text holds several")
	case callerFault(pe):
		// The caller's SQL failed: a client error that says why (the caller holds the
		// internal token and wrote the statement).
		return httpx.BadRequest("SQL error: %s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	return fmt.Errorf("execute SQL: %w", err)
}

// callerFault tells errors in the caller's SQL (syntax, missing relation, constraint,
// bad data, ...) from failures of the server (resources, shutdown, internal errors).
func callerFault(pe *pgconn.PgError) bool {
	switch pe.Code[:2] {
	case "53", "57", "58", "XX":
		return false
	}
	return true
}

// txControl are the statements that begin or end transactions. Refused before they are
// sent: inside the wrapping transaction, COMMIT would commit the call's work early and
// run the rest outside any transaction.
var txControl = map[string]bool{
	"begin": true, "start": true, "commit": true, "end": true, "rollback": true, "abort": true,
	"savepoint": true, "release": true,
}

// checkStatement refuses transaction control by the statement's first word (after
// comments); PREPARE is refused when a TRANSACTION follows it.
func checkStatement(sql string) error {
	words := leadingWords(sql, 2)
	if len(words) == 0 {
		return httpx.Validation("Either 'query' or 'procedure' must be provided")
	}
	if txControl[words[0]] || (words[0] == "prepare" && len(words) > 1 && words[1] == "transaction") {
		return httpx.Validation("transaction control (%s) is not allowed: each call runs in a transaction of its own", strings.ToUpper(words[0]))
	}
	return nil
}

// leadingWords returns up to n lower-case words at the start of sql, skipping
// whitespace, -- line comments and (nested) /* block comments */.
func leadingWords(sql string, n int) []string {
	var words []string
	for i := 0; i < len(sql) && len(words) < n; {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(' || c == ';':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return words
			}
			i += j + 1
		case strings.HasPrefix(sql[i:], "/*"):
			i = pg.SkipBlockComment(sql, i)
		default:
			j := i
			for j < len(sql) && (unicode.IsLetter(rune(sql[j])) || sql[j] == '_') {
				j++
			}
			if j == i {
				return words // not a keyword: a quoted identifier, a symbol
			}
			words = append(words, strings.ToLower(sql[i:j]))
			i = j
		}
	}
	return words
}
