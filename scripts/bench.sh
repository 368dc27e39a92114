#!/usr/bin/env bash
# Runs the benchmarks against the built binaries, PostgreSQL and NATS on this machine,
# and prints the figures docs/benchmarks.md records, each beside the same machine's own
# ceiling measured in the same run: the events path beside pgbench one-row INSERTs of
# the event row, the orchestration beside River no-op jobs on the same PostgreSQL.
#
# BENCH_DURATION (default 10s) sets how long each load runs; BENCH_FILTER (a go test
# -bench pattern) runs a subset. The whole run takes a few minutes with the default.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --tests
export BENCH_DURATION=${BENCH_DURATION:-10s}
filter=${BENCH_FILTER:-'BenchmarkPgbenchEventInsert|BenchmarkEventIngest|BenchmarkRiverNoopJobs|BenchmarkOrchestration|BenchmarkOrchestrationEager|BenchmarkIdleFootprint|BenchmarkWorkerNoopLoop|BenchmarkWorkerPythonOverhead'}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench "$filter" -benchtime 1x -timeout 30m ./tests/e2e/ | tee "$out"

# The summary: each figure beside its ceiling and its target.
awk '
  $1 == "figure:" { f[$2] = $3 }
  function show(label, v, unit) { if (v != "") printf "  %-46s %10.1f %s\n", label, v, unit }
  function ratio(label, a, b) { if (a != "" && b != "" && b > 0) printf "  %-46s %10.2f\n", label, a / b }
  END {
    print ""
    print "summary (same run, same machine):"
    show("events/s through the router", f["events_per_s"], "(target >= 10,000)")
    show("events p99", f["events_p99_ms"], "ms (target <= 20)")
    show("ceiling: pgbench one-row event INSERTs/s", f["pgbench_event_inserts_per_s"], "")
    ratio("events/s : pgbench (target >= 0.45)", f["events_per_s"], f["pgbench_event_inserts_per_s"])
    show("executions/s, NATS + claim per command", f["orchestration_executions_per_s"], "")
    show("commands/s, NATS + claim per command", f["orchestration_commands_per_s"], "")
    show("executions/s, eager dispatch", f["orchestration_eager_executions_per_s"], "(target >= 300)")
    show("commands/s, eager dispatch", f["orchestration_eager_commands_per_s"], "")
    show("completed -> next command p50, NATS", f["orchestration_next_p50_ms"], "ms (target <= 5)")
    show("completed -> next command claimed p50, NATS", f["orchestration_claimed_p50_ms"], "ms")
    show("completed -> next command p50, eager", f["orchestration_eager_next_p50_ms"], "ms (target <= 5)")
    show("ceiling: River no-op jobs/s", f["river_jobs_per_s"], "")
    ratio("commands/s (NATS) : River jobs/s", f["orchestration_commands_per_s"], f["river_jobs_per_s"])
    ratio("commands/s (eager) : River jobs/s (target >= 0.05)", f["orchestration_eager_commands_per_s"], f["river_jobs_per_s"])
  }' "$out"
