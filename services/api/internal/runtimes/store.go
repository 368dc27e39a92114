// Package runtimes is the registry of worker pools and servers (noetl.runtime): register,
// heartbeat, deregister, list, the offline sweep, the api's own row, and the shard-info
// diagnostic.
package runtimes

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/pg"
import "github.com/noetl/controlplane/shared/wire"

// Kinds a runtime row may have (the table's CHECK constraint).
var Kinds = map[string]bool{"worker_pool": true, "server_api": true, "broker": true}

// kindNames are the Kinds in the order error messages list them.
var kindNames = []string{"worker_pool", "server_api", "broker"}

// Runtime is one row, in the upstream JSON shape (struct order, nulls emitted): its id,
// what the last registration wrote, and the row's times. The embedded Registration's
// fields encode in place, between runtime_id and heartbeat.
type Runtime struct {
	RuntimeID wire.ID `json:"runtime_id"`
	Registration
	Heartbeat wire.Time `json:"heartbeat"`
	CreatedAt wire.Time `json:"created_at"`
	UpdatedAt wire.Time `json:"updated_at"`
}

// Pool is a row as GET /api/worker/pools lists it: upstream's shape, then the heartbeat
// interval the runtime registered with (null: none reported). An operator reads its
// offline threshold and its commands' lease bounds from it (docs/engine.md, "Claim
// leases"). The register answer keeps upstream's shape without it.
type Pool struct {
	Runtime
	HeartbeatIntervalSeconds *float64 `json:"heartbeat_interval_seconds"`
}

// Registration is what a register call writes, with the row's JSON names.
type Registration struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind"`
	URI          *string         `json:"uri"`
	Status       string          `json:"status"`
	Labels       json.RawMessage `json:"labels"`
	Capabilities json.RawMessage `json:"capabilities"`
	Capacity     *int32          `json:"capacity"`
	Runtime      json.RawMessage `json:"runtime"`
	// HeartbeatInterval is the heartbeat interval the worker reported when it
	// registered, in seconds (nil: none). The lease checks read it; the row's JSON keeps
	// upstream's shape, so it is not listed.
	HeartbeatInterval *float64 `json:"-"`
}

// ErrNotFound means no row matched (kind, name).
var ErrNotFound = errors.New("runtime not found")

// Store reads and writes noetl.runtime.
type Store struct{ db pg.Querier }

// NewStore returns a store on db, a pool or a transaction.
func NewStore(db pg.Querier) *Store { return &Store{db: db} }

const columns = `runtime_id, name, kind, uri, status, labels, capabilities, capacity, runtime, heartbeat, created_at, updated_at`

// scan reads the columns, then into extra the columns a query selects after them.
func scan(row pgx.Row, extra ...any) (Runtime, error) {
	var r Runtime
	var hb, ca, ua time.Time
	var labels, caps, rt []byte
	dest := append([]any{(*int64)(&r.RuntimeID), &r.Name, &r.Kind, &r.URI, &r.Status, &labels, &caps, &r.Capacity, &rt, &hb, &ca, &ua}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Runtime{}, err
	}
	r.Labels, r.Capabilities, r.Runtime = nullJSON(labels), nullJSON(caps), nullJSON(rt)
	r.Heartbeat, r.CreatedAt, r.UpdatedAt = wire.Time(hb), wire.Time(ca), wire.Time(ua)
	return r, nil
}

// scanPool reads the columns and heartbeat_interval_seconds.
func scanPool(row pgx.CollectableRow) (Pool, error) {
	var p Pool
	var err error
	p.Runtime, err = scan(row, &p.HeartbeatIntervalSeconds)
	return p, err
}

func nullJSON(b []byte) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

func jsonArg(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return string(b)
}

// Register upserts the row for (kind, name) in one statement, so two first
// registrations racing each other both succeed (upstream's select-then-insert could
// fail one with a unique violation). An existing row keeps its runtime_id.
func (s *Store) Register(ctx context.Context, newID int64, r Registration) (Runtime, error) {
	row := s.db.QueryRow(ctx, `
		INSERT INTO runtime (runtime_id, name, kind, uri, status, labels, capabilities, capacity, runtime,
		                     heartbeat_interval_seconds, heartbeat, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9::jsonb, $10, now(), now(), now())
		ON CONFLICT (kind, name) DO UPDATE SET
			uri = EXCLUDED.uri, status = EXCLUDED.status, labels = EXCLUDED.labels,
			capabilities = EXCLUDED.capabilities, capacity = EXCLUDED.capacity,
			runtime = EXCLUDED.runtime, heartbeat_interval_seconds = EXCLUDED.heartbeat_interval_seconds,
			heartbeat = now(), updated_at = now()
		RETURNING `+columns,
		newID, r.Name, r.Kind, r.URI, r.Status, jsonArg(r.Labels), jsonArg(r.Capabilities), r.Capacity, jsonArg(r.Runtime),
		r.HeartbeatInterval)
	out, err := scan(row)
	if err != nil {
		return Runtime{}, fmt.Errorf("register runtime %s %s: %w", r.Kind, r.Name, err)
	}
	return out, nil
}

// Heartbeat records liveness. A row the sweep marked offline comes back as "ready": the
// worker is evidently alive again.
func (s *Store) Heartbeat(ctx context.Context, kind, name string) error {
	return s.HeartbeatReporting(ctx, kind, name, false)
}

// HeartbeatReporting is Heartbeat that also records whether the runtime listed the
// commands it holds: only such a worker's claims are leases that lapse when it stops
// listing them (LeaseWorkers).
func (s *Store) HeartbeatReporting(ctx context.Context, kind, name string, reportsHeld bool) error {
	return pg.ExecOne(ctx, s.db, ErrNotFound, "heartbeat "+kind+" "+name, `
		UPDATE runtime SET heartbeat = now(), updated_at = now(), reports_held = $3,
			status = CASE WHEN status = 'offline' THEN 'ready' ELSE status END
		WHERE kind = $1 AND name = $2`, kind, name, reportsHeld)
}

// Deregister deletes the row.
func (s *Store) Deregister(ctx context.Context, kind, name string) error {
	return pg.ExecOne(ctx, s.db, ErrNotFound, "deregister "+kind+" "+name,
		`DELETE FROM runtime WHERE kind = $1 AND name = $2`, kind, name)
}

// Filter narrows List. Empty fields do not filter.
type Filter struct {
	Kind, Status, Name string
}

// List returns rows ordered by kind, name.
func (s *Store) List(ctx context.Context, f Filter) ([]Pool, error) {
	return pg.Select(ctx, s.db, "list runtimes", scanPool,
		`SELECT `+columns+`, heartbeat_interval_seconds FROM runtime
		WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR strpos(name, $3) > 0)
		ORDER BY kind, name`, f.Kind, f.Status, f.Name)
}

// Get returns one row.
func (s *Store) Get(ctx context.Context, kind, name string) (Runtime, error) {
	r, err := scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM runtime WHERE kind = $1 AND name = $2`, kind, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Runtime{}, ErrNotFound
	}
	if err != nil {
		return Runtime{}, fmt.Errorf("get runtime %s %s: %w", kind, name, err)
	}
	return r, nil
}

// OfflineIntervals is how many of its reported heartbeat intervals a runtime may stay
// silent before it is offline, when that is longer than the configured threshold. A
// threshold shorter than the interval would mark a healthy worker offline between two
// beats and recover its commands as a lost worker's; three leave room for two beats that
// are late or fail, as the claim lease does.
const OfflineIntervals = 3

// boundSQL is a row's offline threshold in seconds: $1 (NOETL_RUNTIME_OFFLINE_SECONDS),
// or $2 (OfflineIntervals) of the interval it reported when that is longer. A row that
// reported none keeps $1.
const boundSQL = `greatest($1::float8, $2::float8 * coalesce(heartbeat_interval_seconds, 0))`

// staleSQL is true for a row silent for longer than its offline threshold while the api
// watched for longer than that threshold ($3 seconds, see Watched): before then the
// silence may be the api's own absence, which no heartbeat could cross. Both times are
// the database's now(), as the heartbeat that set the column was, so clock skew between
// api replicas and the database plays no part (the watch is a duration).
const staleSQL = `heartbeat < now() - make_interval(secs => ` + boundSQL + `) AND $3::float8 > ` + boundSQL

// MarkStaleOffline marks every row silent for longer than its offline threshold (after,
// stretched to OfflineIntervals of a reported heartbeat interval) as offline and returns
// how many changed; a threshold longer than watched (how long the api has been able to
// receive heartbeats) is not judged yet. It is idempotent, so several api replicas may
// sweep at once.
func (s *Store) MarkStaleOffline(ctx context.Context, after, watched time.Duration) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE runtime SET status = 'offline', updated_at = now()
		WHERE status <> 'offline' AND `+staleSQL, after.Seconds(), float64(OfflineIntervals), watched.Seconds())
	if err != nil {
		return 0, fmt.Errorf("mark stale runtimes offline: %w", err)
	}
	return tag.RowsAffected(), nil
}

// SetStatus sets the status of one row.
func (s *Store) SetStatus(ctx context.Context, kind, name, status string) error {
	_, err := s.db.Exec(ctx, `UPDATE runtime SET status = $3, updated_at = now() WHERE kind = $1 AND name = $2`, kind, name, status)
	if err != nil {
		return fmt.Errorf("set runtime status: %w", err)
	}
	return nil
}

// CountLiveWorkerPools counts worker pools that are not offline (the dashboard's
// worker figure).
func (s *Store) CountLiveWorkerPools(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM runtime WHERE kind = 'worker_pool' AND status <> 'offline'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count worker pools: %w", err)
	}
	return n, nil
}

// LiveWorkerPools names the worker pools that are neither offline nor silent for
// longer than their offline threshold (after, stretched and held back by watched as
// MarkStaleOffline does). A claimed command whose worker is not among them is lost (the
// orchestrator requeues it).
func (s *Store) LiveWorkerPools(ctx context.Context, after, watched time.Duration) ([]string, error) {
	return pg.Select(ctx, s.db, "list live worker pools", pgx.RowTo[string], `SELECT name FROM runtime WHERE kind = 'worker_pool'
		AND (status = 'offline' OR `+staleSQL+`) IS NOT TRUE`, after.Seconds(), float64(OfflineIntervals), watched.Seconds())
}

// LeaseWorker is what the claim-lease checks know of a worker pool: whether its last
// heartbeat listed the commands it holds, and the heartbeat interval it registered with
// (0: none reported).
type LeaseWorker struct {
	Name        string
	ReportsHeld bool
	Interval    float64 // seconds
}

// LeaseWorkers lists the worker pools the lease checks treat apart from the rest: those
// whose last heartbeat listed the commands they hold (a command claimed by one of them
// that it has not listed, nor posted an event for, within the lease has lapsed) and
// those that reported a heartbeat interval (whose bounds stretch to it).
func (s *Store) LeaseWorkers(ctx context.Context) ([]LeaseWorker, error) {
	return pg.Select(ctx, s.db, "list the lease bounds of worker pools", pgx.RowToStructByPos[LeaseWorker],
		`SELECT name, reports_held, coalesce(heartbeat_interval_seconds, 0) FROM runtime
		WHERE kind = 'worker_pool' AND (reports_held OR heartbeat_interval_seconds IS NOT NULL)`)
}
