// Package postgres is the `postgres` tool: a script (`query`, alias `command`) run over
// pgx. A script of several statements is one transaction unless it ends its own; every
// statement but the last runs first, in one simple-protocol round trip; the last runs on
// its own and gives the data: {columns, rows, row_count} when it returns
// rows (SELECT, INSERT … RETURNING, a SELECT after a comment), else {affected_rows}.
// An SQL error is an error outcome carrying PostgreSQL's code and message, also as
// data ({sqlstate, severity, message, detail, ...}).
package postgres

import "context"
import "errors"
import "fmt"
import "net"
import "net/url"
import "regexp"
import "strconv"
import "strings"
import "sync"
import "time"
import "unicode/utf8"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgxpool"

import "github.com/noetl/controlplane/services/worker/internal/credentials"
import "github.com/noetl/controlplane/services/worker/internal/tool"

// maxPools bounds the connection pools kept open (one per connection target).
const maxPools = 16

// Tool runs SQL. Pools are cached per connection string and schema.
type Tool struct {
	mu    sync.Mutex
	pools map[string]*cachedPool
}

type cachedPool struct {
	pool     *pgxpool.Pool
	lastUsed time.Time
}

// New returns the postgres tool.
func New() *Tool { return &Tool{pools: map[string]*cachedPool{}} }

// Close closes every cached pool.
func (t *Tool) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, p := range t.pools {
		p.pool.Close()
		delete(t.pools, k)
	}
}

// Run executes the script.
func (t *Tool) Run(ctx context.Context, call tool.Call) tool.Result {
	start := time.Now()
	cfg := call.Config
	script, ok, err := tool.String(cfg, "query", "command", "sql")
	if err != nil {
		return tool.ConfigFailure("postgres", err)
	}
	if !ok || strings.TrimSpace(script) == "" {
		return tool.ConfigFailure("postgres", tool.Configf("missing field `query` (or `command`)"))
	}
	var params []any
	if v, ok := cfg["params"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return tool.ConfigFailure("postgres", tool.Configf("params must be a list"))
		}
		params = list
	}
	asObjects, err := tool.Bool(cfg, "as_objects", true)
	if err != nil {
		return tool.ConfigFailure("postgres", err)
	}
	dsn, err := ConnString(cfg)
	if err != nil {
		return tool.ConfigFailure("postgres", err)
	}
	schema, _, err := tool.String(cfg, "schema")
	if err != nil {
		return tool.ConfigFailure("postgres", err)
	}
	stmts := Split(script)
	if len(stmts) == 0 {
		return tool.ConfigFailure("postgres", tool.Configf("the query holds no statement"))
	}
	if i := copyFromStdin(stmts); i >= 0 {
		return tool.ConfigFailure("postgres", tool.Configf("statement %d is COPY ... FROM STDIN, which waits for rows a client sends, "+
			"and the postgres tool sends none (the step would hang until a timeout): insert the rows with INSERT ... VALUES, "+
			"or from a JSON param with INSERT ... SELECT * FROM json_populate_recordset(NULL::<table>, $1)", i+1))
	}
	if i := copyToStdout(stmts); i >= 0 {
		return tool.ConfigFailure("postgres", tool.Configf("statement %d is COPY ... TO STDOUT, whose rows go to a client stream "+
			"the postgres tool does not read (the step would report only their count): SELECT them instead", i+1))
	}
	if len(params) > 0 && len(stmts) > 1 {
		return tool.ConfigFailure("postgres", tool.Configf("params need a single statement, got %d", len(stmts)))
	}
	timeout, bounded, err := tool.Seconds(cfg, "timeout_seconds")
	if err != nil {
		return tool.ConfigFailure("postgres", err)
	}
	runCtx := ctx
	if bounded {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := t.run(runCtx, dsn, schema, stmts, params, asObjects)
	if bounded && runCtx.Err() != nil && ctx.Err() == nil && r.Status != tool.Success {
		r = tool.TimedOut(true, "Database error: the query ran past timeout_seconds (%s) and was cancelled", timeout)
	}
	return withDuration(r, start)
}

// run runs the statements on one pooled connection. A script of several statements is
// one transaction (a failure anywhere rolls back all of it) unless it ends its own
// transactions; then a BEGIN left open fails the step. Either way the connection goes
// back to the pool with its session reset.
func (t *Tool) run(ctx context.Context, dsn, schema string, stmts []string, params []any, asObjects bool) tool.Result {
	pool, err := t.pool(ctx, dsn, schema)
	var ce *tool.ConfigError
	if errors.As(err, &ce) {
		return tool.ConfigFailure("postgres", err)
	}
	if err != nil {
		return connFailure(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return connFailure(err)
	}
	defer func() {
		resetSession(conn.Conn())
		conn.Release()
	}()
	wrap := len(stmts) > 1 && !controlsTransactions(stmts)
	prefix := stmts[:len(stmts)-1]
	if wrap {
		prefix = append([]string{"BEGIN"}, prefix...)
	}
	if len(prefix) > 0 {
		// No arguments: pgx sends these over the simple protocol, in one round trip.
		if _, err := conn.Exec(ctx, strings.Join(prefix, batchSeparator)); err != nil {
			first := 1 // the script's number of prefix[0]
			if wrap {
				first = 0 // prefix[0] is our BEGIN
			}
			return withLocation(sqlFailure("Batch execute failed", err), err, prefix, first)
		}
	}
	data, err := runLast(ctx, conn.Conn(), stmts[len(stmts)-1], params, asObjects)
	if errors.As(err, &ce) {
		return tool.ConfigFailure("postgres", err)
	}
	var tooLarge *resultTooLarge
	if errors.As(err, &tooLarge) {
		return tool.Failed("result", false, "Database error: %v", err)
	}
	if err != nil {
		return withLocation(sqlFailure("Query failed", err), err, stmts[len(stmts)-1:], len(stmts))
	}
	if wrap {
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			return sqlFailure("Commit failed", err)
		}
	}
	if st := conn.Conn().PgConn().TxStatus(); st != 'I' {
		return tool.Failed("database", false, "Database error: the script leaves a transaction open (BEGIN without COMMIT or ROLLBACK); it was rolled back")
	}
	return tool.Result{Status: tool.Success}.WithData(data)
}

// sessionReset is DISCARD ALL without DEALLOCATE ALL, which would drop the statements
// pgx has prepared and still caches. RESET ALL brings search_path back to the schema the
// pool connects with.
const sessionReset = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; " +
	"SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES"

// resetSession ends whatever a script left on its session (an open or failed
// transaction, settings, a role, temporary tables, advisory locks, prepared statements
// of its own) so the next command on the pooled connection starts clean. A connection
// that cannot be reset is closed, and the pool drops it.
func resetSession(c *pgx.Conn) {
	if c.IsClosed() {
		return
	}
	// The command's context may be over (a timeout); the reset has a bound of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := func() error {
		if c.PgConn().TxStatus() != 'I' {
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				return err
			}
		}
		if _, err := c.Exec(ctx, sessionReset); err != nil {
			return err
		}
		// A script's own PREPARE would collide with the next command's; dropping it
		// drops pgx's cached statements too, so only then.
		var own bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE from_sql)").Scan(&own); err != nil || !own {
			return err
		}
		return c.DeallocateAll(ctx)
	}()
	if err != nil {
		_ = c.Close(ctx)
	}
}

// controlsTransactions reports whether a script ends or starts transactions itself
// (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT); such a script is run as
// written, not inside a transaction of the tool's.
func controlsTransactions(stmts []string) bool {
	for _, st := range stmts {
		words := strings.Fields(strings.ToUpper(stripLeadingComments(st)))
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "BEGIN", "START", "COMMIT", "END", "ABORT":
			return true
		case "ROLLBACK":
			if len(words) < 2 || words[1] != "TO" { // ROLLBACK TO a savepoint stays inside
				return true
			}
		}
	}
	return false
}

// copyFromStdinRE is a COPY of a table (columns optional) FROM STDIN.
var copyFromStdinRE = regexp.MustCompile(`(?is)^copy\s+("[^"]*"|[\w.$]+)(\s*\([^)]*\))?\s+from\s+stdin\b`)

// copyFromStdin is the index of the first COPY ... FROM STDIN statement, else -1. Sent,
// it put the connection into copy-in mode, waiting for rows nobody sends.
func copyFromStdin(stmts []string) int {
	for i, st := range stmts {
		if copyFromStdinRE.MatchString(stripLeadingComments(st)) {
			return i
		}
	}
	return -1
}

// copyToStdoutRE is a COPY whose target is STDOUT: the statement ends there or goes on
// with its options (WITH ..., (...), or the old CSV, BINARY, HEADER ... words).
var copyToStdoutRE = regexp.MustCompile(`(?is)^copy\b.*\bto\s+stdout(\s*$|\s+with\b|\s*\(|\s+(csv|binary|delimiter|null|header)\b)`)

// copyToStdout is the index of the first COPY ... TO STDOUT statement, else -1. Sent,
// its rows were read and dropped by the driver, and the step reported only their count.
func copyToStdout(stmts []string) int {
	for i, st := range stmts {
		if copyToStdoutRE.MatchString(stripLeadingComments(st)) {
			return i
		}
	}
	return -1
}

func withDuration(r tool.Result, start time.Time) tool.Result {
	r.Duration = time.Since(start)
	return r
}

// runLast runs the final statement and shapes its outcome.
func runLast(ctx context.Context, conn *pgx.Conn, sql string, params []any, asObjects bool) (map[string]any, error) {
	// Described before it runs: a statement refused for its params or its columns must
	// not have written anything. The empty name prepares nothing on the server.
	sd, err := conn.Prepare(ctx, "", sql)
	if err != nil {
		return nil, err
	}
	if err := registerArrayTypes(ctx, conn, sd); err != nil {
		return nil, err
	}
	if asObjects {
		if err := uniqueColumns(sd.Fields); err != nil {
			return nil, err
		}
	}
	args, err := bindParams(conn, sd, params)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	columns := make([]any, len(fields))
	layouts := make([]string, len(fields))
	for i, f := range fields {
		columns[i] = f.Name
		layouts[i] = zonelessLayout(conn.TypeMap(), f.DataTypeOID)
	}
	out := []any{}
	size := 0
	for rows.Next() {
		raw := rows.RawValues()
		for i, f := range fields {
			size += len(raw[i]) + len(f.Name) + 6 // the value, its key, quotes and separators
		}
		if size > MaxResult {
			return nil, &resultTooLarge{rows: len(out) + 1}
		}
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		if asObjects {
			obj := make(map[string]any, len(fields))
			for i, f := range fields {
				obj[f.Name] = convert(vals[i], f, raw[i], layouts[i])
			}
			out = append(out, obj)
		} else {
			row := make([]any, len(fields))
			for i, f := range fields {
				row[i] = convert(vals[i], f, raw[i], layouts[i])
			}
			out = append(out, row)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return map[string]any{"affected_rows": rows.CommandTag().RowsAffected()}, nil
	}
	return map[string]any{"columns": columns, "rows": out, "row_count": int64(len(out))}, nil
}

// MaxResult bounds the rows a step reads, counted as the bytes PostgreSQL sends plus
// each column's name per row: about the size of the JSON. A result with no bound was
// held whole in the worker's memory (a SELECT of a big table ended it), and past the
// control plane's body limit could not be reported anyway. The python tool's result and
// the http tool's body have the same bound.
const MaxResult = 32 << 20

// resultTooLarge is a result past MaxResult, at the row that crossed it.
type resultTooLarge struct{ rows int }

func (e *resultTooLarge) Error() string {
	return fmt.Sprintf("the result is over the %d MiB limit at row %d; select fewer rows or columns "+
		"(a LIMIT, or pages read by a loop with keyset or OFFSET)", MaxResult>>20, e.rows)
}

// uniqueColumns refuses a result with two columns of one name (SELECT a.id, b.id; or
// SELECT 1, 2, both "?column?") for as_objects: a row keyed by column name would keep
// only the last of them, silently.
func uniqueColumns(fields []pgconn.FieldDescription) error {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.Name] {
			return tool.Configf("the result has two columns named %q, and as_objects (the default) keys each row by column name, "+
				"so one would be lost: give them distinct names (SELECT a.id AS a_id, b.id AS b_id) or set as_objects: false", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// ConnString is `connection_string` (alias `dsn`), else a URL built from host, port,
// user, password and database (defaults postgres@localhost:5432/postgres) with every
// part escaped, plus `sslmode` when given.
func ConnString(cfg map[string]any) (string, error) {
	if s, ok, err := tool.String(cfg, "connection_string", "dsn"); err != nil || ok {
		return s, err
	}
	p := connParts{cfg: cfg}
	host := p.get("host", "localhost")
	port := p.port()
	user := p.get("user", "postgres")
	password := p.get("password", "")
	database := p.get("database", "postgres")
	if p.err != nil {
		return "", p.err
	}
	u := url.URL{Scheme: "postgresql", Host: net.JoinHostPort(host, port), Path: "/" + database}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	if mode, _, err := tool.String(cfg, "sslmode"); err != nil {
		return "", err
	} else if mode != "" {
		u.RawQuery = url.Values{"sslmode": {mode}}.Encode()
	}
	return u.String(), nil
}

// connParts reads the parts of a connection URL. After the first bad part every read
// is a no-op, so ConnString checks once and still reports the first bad part.
type connParts struct {
	cfg map[string]any
	err error
}

// get is the part at key as text (a number too), or def when it is missing or empty.
func (p *connParts) get(key, def string) string {
	if p.err != nil {
		return ""
	}
	v, ok := p.cfg[key]
	if !ok || v == nil || v == "" {
		return def
	}
	switch v.(type) {
	case string, int64, float64:
		return tool.Text(v)
	}
	p.err = tool.Configf("%s must be a string", key)
	return ""
}

// port is the `port` part (default 5432), which must be a TCP port number.
func (p *connParts) port() string {
	port := p.get("port", "5432")
	if n, err := strconv.Atoi(port); p.err == nil && (err != nil || n < 1 || n > 65535) {
		p.err = tool.Configf("port %q is not a port number", port)
	}
	return port
}

// pool returns the cached pool of a target, opening it (and evicting the least
// recently used one past maxPools) when needed.
func (t *Tool) pool(ctx context.Context, dsn, schema string) (*pgxpool.Pool, error) {
	key := schema + "\x00" + dsn
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pools[key]; ok {
		p.lastUsed = time.Now()
		return p.pool, nil
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, parseFailure(dsn, err)
	}
	pc.MaxConns = 4
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.ConnConfig.ConnectTimeout = 10 * time.Second
	pc.AfterConnect = registerTypes
	if schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = schema
	}
	p, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	if len(t.pools) >= maxPools {
		var oldest string
		for k, c := range t.pools {
			if oldest == "" || c.lastUsed.Before(t.pools[oldest].lastUsed) {
				oldest = k
			}
		}
		t.pools[oldest].pool.Close()
		delete(t.pools, oldest)
	}
	t.pools[key] = &cachedPool{pool: p, lastUsed: time.Now()}
	return p, nil
}

// parseFailure is a config error naming what pgx refused in a connection string (an
// invalid port, an unknown sslmode, a URL that does not parse) without the string or its
// password: pgx quotes the string (masking the password only as far as it can tell
// where it is) and Go's URL parser quotes it whole. Whatever pgx's words still carry
// of the string's secrets (credentials.DSNSecrets: the string, its password as written
// and decoded) is masked as well, since the string may come straight from a playbook,
// where no credential's scrubber knows it.
func parseFailure(dsn string, err error) error {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return tool.Configf("the connection settings do not parse")
	}
	what := pe.Error()
	var detail string
	if inner := pe.Unwrap(); inner != nil {
		what = strings.TrimSuffix(what, " ("+inner.Error()+")")
		var ue *url.Error
		if errors.As(inner, &ue) {
			inner = ue.Err
		}
		detail = inner.Error()
	}
	// pgx's words are "cannot parse `<string>`: <what>"; <what> holds no backquote.
	if i := strings.LastIndex(what, "`: "); i >= 0 {
		what = what[i+3:]
	}
	if detail != "" {
		what += ": " + detail
	}
	for _, secret := range credentials.DSNSecrets(dsn) {
		if len(secret) >= 4 {
			what = strings.ReplaceAll(what, secret, credentials.Redacted)
		}
	}
	return tool.Configf("the connection settings do not parse: %s", what)
}

func connFailure(err error) tool.Result {
	r := tool.Failed("connection", true, "Database error: Failed to get connection: %v", err)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		r.Fault.Code = pe.Code
		r.Fault.Retryable = retryableCode(pe.Code)
		r = r.WithData(errorData(pe))
	}
	return r
}

// sqlFailure formats a database error upstream's way: "Database error: <context>:
// <SEVERITY>: <message> (SQLSTATE <code>)", with DETAIL and HINT when present.
func sqlFailure(context string, err error) tool.Result {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
			return tool.Failed("connection", true, "Database error: %s: %v", context, err)
		}
		return tool.Failed("database", false, "Database error: %s: %v", context, err)
	}
	msg := fmt.Sprintf("Database error: %s: %s: %s (SQLSTATE %s)", context, pe.Severity, pe.Message, pe.Code)
	if pe.Detail != "" {
		msg += " | DETAIL: " + pe.Detail
	}
	if pe.Hint != "" {
		msg += " | HINT: " + pe.Hint
	}
	r := tool.Result{Status: tool.Error, Error: msg, Fault: &tool.Fault{Kind: "database", Code: pe.Code, Retryable: retryableCode(pe.Code)}}
	return r.WithData(errorData(pe))
}

// batchSeparator joins the statements sent in one simple-protocol round trip.
const batchSeparator = ";\n"

// withLocation adds to a failure's data where in the script PostgreSQL's error position
// points: `statement` (the script's statement, counting from 1), `line` and `character`
// (within that statement, from 1; not `column`, PostgreSQL's column name). PostgreSQL counts characters in the text sent, the
// pieces joined by batchSeparator; first is the script's number of pieces[0]. Without
// it a syntax error in a long script said only `at or near "FROM"`. No SQL text is
// copied: a rendered statement may hold a secret.
func withLocation(r tool.Result, err error, pieces []string, first int) tool.Result {
	var pe *pgconn.PgError
	data, ok := r.Data.(map[string]any)
	if !errors.As(err, &pe) || pe.Position <= 0 || !ok {
		return r
	}
	pos := int(pe.Position) - 1 // 0-based, in characters
	off := 0
	for i, piece := range pieces {
		chars := []rune(piece)
		if pos >= off+len(chars) {
			off += len(chars) + utf8.RuneCountInString(batchSeparator)
			continue
		}
		at := pos - off
		if at < 0 || first+i < 1 {
			return r // in the separator, or in our own BEGIN
		}
		line, col := 1, 1
		for _, c := range chars[:at] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		data["position"] = int64(pe.Position)
		data["statement"] = int64(first + i)
		data["line"] = int64(line)
		data["character"] = int64(col)
		return r.WithData(data)
	}
	return r
}

// errorData is what PostgreSQL said about a failure, field by field, so that a step
// that continues on error can branch on the SQLSTATE or the constraint rather than
// parse the message. Empty fields are left out.
func errorData(pe *pgconn.PgError) map[string]any {
	out := map[string]any{"sqlstate": pe.Code, "severity": pe.Severity, "message": pe.Message}
	for k, v := range map[string]string{"detail": pe.Detail, "hint": pe.Hint, "schema": pe.SchemaName,
		"table": pe.TableName, "column": pe.ColumnName, "constraint": pe.ConstraintName} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// retryableCode: connection problems, serialization failures, deadlocks, a server
// shutting down, exhausted resources.
func retryableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P"):
		return true
	case code == "40001", code == "40P01":
		return true
	}
	return false
}
