#!/usr/bin/env bash
# Runs the benchmarks against the built binaries, PostgreSQL and NATS on this machine,
# and prints the figures docs/benchmarks.md records. BENCH_DURATION (default 60s) sets how
# long each load runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
go test -run '^$' -bench 'BenchmarkIdleFootprint|BenchmarkEventIngest|BenchmarkOrchestration|BenchmarkWorkerNoopLoop|BenchmarkWorkerPythonOverhead' -benchtime 1x -timeout 30m ./tests/e2e/
