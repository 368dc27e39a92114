package e2e

import "context"
import "fmt"
import "os"
import "os/exec"
import "path/filepath"
import "regexp"
import "strconv"
import "sync/atomic"
import "testing"
import "time"

import "github.com/jackc/pgx/v5/pgxpool"
import "github.com/riverqueue/river"
import "github.com/riverqueue/river/riverdriver/riverpgxv5"
import "github.com/riverqueue/river/rivermigrate"

import "github.com/noetl/controlplane/shared/testkit"

// The ceilings: what the same machine's PostgreSQL does with the simplest version of
// our work, measured in the same `make bench` run so the ratios hold whatever else the
// machine is doing. BenchmarkEventIngest is judged against BenchmarkPgbenchEventInsert,
// BenchmarkOrchestration against BenchmarkRiverNoopJobs.

// pgbenchEventInsert is one informative event as the api stores it (the row of a
// command.started posted by BenchmarkEventIngest), in a transaction of its own, into a
// schema with every migration applied: the same table, indexes and checks.
const pgbenchEventInsert = `\set ev random(1, 9000000000000000000)
\set ex random(1, 200)
INSERT INTO event (execution_id, catalog_id, event_id, seq, created_at, event_type, node_id, node_name,
  status, result, meta, worker_id)
VALUES (:ex, 1, :ev, :ev, now(), 'command.started', 'middle', 'middle', 'STARTED',
  '{"status": "STARTED", "context": {"command_id": "bench:17:123456"}}'::jsonb,
  '{"actionable": false, "informative": true, "worker_id": "bench-worker"}'::jsonb, 'bench-worker')
ON CONFLICT (execution_id, event_id) DO NOTHING;
`

var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+)`)
var pgbenchLat = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// BenchmarkPgbenchEventInsert runs pgbench with 50 clients (the concurrency of
// BenchmarkEventIngest), each transaction one event-shaped INSERT: the ceiling the
// events path is compared with.
func BenchmarkPgbenchEventInsert(b *testing.B) {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		b.Skip("pgbench is not installed (it comes with PostgreSQL's packages)")
	}
	s := MigratedSchema(b)
	script := filepath.Join(b.TempDir(), "event_insert.sql")
	if err := os.WriteFile(script, []byte(pgbenchEventInsert), 0o600); err != nil {
		b.Fatal(err)
	}
	secs := max(1, int(benchDuration().Seconds()))
	cmd := exec.Command(bin, "-n", "-c", "50", "-j", "2", "-T", strconv.Itoa(secs), "-f", script, testkit.DatabaseURL())
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+s.Name)
	b.ResetTimer()
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := pgbenchTPS.FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench printed no tps:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	lat := 0.0
	if l := pgbenchLat.FindSubmatch(out); l != nil {
		lat, _ = strconv.ParseFloat(string(l[1]), 64)
	}
	b.ReportMetric(tps, "inserts/s")
	b.ReportMetric(lat, "mean-ms")
	fmt.Printf("ceiling: pgbench one-row event INSERT, 50 clients, %ds: %.0f tx/s, mean latency %.2f ms\n", secs, tps, lat)
	figure("pgbench_event_inserts_per_s", tps)
}

// riverNoop is River's no-op job.
type riverNoop struct{}

func (riverNoop) Kind() string { return "noop" }

type riverNoopWorker struct {
	river.WorkerDefaults[riverNoop]
	done *atomic.Int64
}

func (w *riverNoopWorker) Work(context.Context, *river.Job[riverNoop]) error {
	w.done.Add(1)
	return nil
}

// BenchmarkRiverNoopJobs measures River, a Go job queue on PostgreSQL, working no-op
// jobs on the same PostgreSQL: each job is inserted, fetched (claimed), worked and
// completed in the database, which is the least a durable queue does per command. A
// producer keeps a backlog inserted in batches while 100 River workers drain it; the
// figure is jobs completed per second. It is the ceiling BenchmarkOrchestration's
// commands/s is compared with.
func BenchmarkRiverNoopJobs(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	schema := testkit.UniqueName("river_")
	cfg, err := pgxpool.ParseConfig(testkit.DatabaseURL())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 20
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { testkit.DropSchema(b, schema) })
	driver := riverpgxv5.New(pool)
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatalf("river migrations: %v", err)
	}
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverNoopWorker{done: &done})
	client, err := river.NewClient(driver, &river.Config{
		Schema:            schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 100}},
		Workers:           workers,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            nil,
	})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]river.InsertManyParams, 1000)
	for i := range batch {
		batch[i] = river.InsertManyParams{Args: riverNoop{}}
	}
	var inserted atomic.Int64
	insert := func() error {
		n, err := client.InsertManyFast(ctx, batch)
		inserted.Add(int64(n))
		return err
	}
	for i := 0; i < 20; i++ { // a backlog before the clock starts
		if err := insert(); err != nil {
			b.Fatalf("insert: %v", err)
		}
	}
	deadline := time.Now().Add(benchDuration())
	producerDone := make(chan error, 1)
	go func() {
		for time.Now().Before(deadline) {
			if inserted.Load()-done.Load() > 20_000 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err := insert(); err != nil {
				producerDone <- err
				return
			}
		}
		producerDone <- nil
	}()
	b.ResetTimer()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-producerDone; err != nil && ctx.Err() == nil {
		b.Fatalf("insert: %v", err)
	}
	elapsed := time.Since(start)
	worked := done.Load()
	b.StopTimer()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	_ = client.Stop(stopCtx)
	rate := float64(worked) / elapsed.Seconds()
	b.ReportMetric(rate, "jobs/s")
	fmt.Printf("ceiling: River %s no-op jobs, 100 workers: %d worked in %s: %.0f jobs/s\n", "v0.51.2", worked,
		elapsed.Round(time.Millisecond), rate)
	figure("river_jobs_per_s", rate)
}
