package pg

import "context"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"

// LockKeySQL is the SQL expression of the advisory lock key named name, keyed on the
// schema as well: deployments that share a database in different schemas (and tests,
// each in its own schema) lock independently.
func LockKeySQL(name string) string {
	return `hashtextextended('noetl-` + name + `:' || current_schema(), 0)`
}

// TryLock takes the session advisory lock named name on a connection of its own, to be
// held while one replica of several does a periodic job; ok is false when another
// holds it. unlock releases it; a connection whose unlock failed is closed, which
// releases the lock too. name must be a constant identifier (it is part of the SQL).
func TryLock(ctx context.Context, pool *pgxpool.Pool, name string) (unlock func(), ok bool, err error) {
	key := LockKeySQL(name)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("%s lock: %w", name, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+key+`)`).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("%s lock: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+key+`)`); err != nil {
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}, true, nil
}

// Exclusive runs fn while holding the advisory lock named name (TryLock): a pass of a
// periodic job that one replica of several runs at a time. ran is false, and fn is not
// called, when another session holds the lock.
func Exclusive(ctx context.Context, pool *pgxpool.Pool, name string, fn func() error) (ran bool, err error) {
	unlock, ok, err := TryLock(ctx, pool, name)
	if err != nil || !ok {
		return false, err
	}
	defer unlock()
	return true, fn()
}
