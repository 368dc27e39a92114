#!/usr/bin/env bash
# Runs every Fuzz* target in the workspace for a bounded time each (default 10s), so CI
# exercises the fuzzers without an open-ended run.
set -euo pipefail
FUZZTIME=${1:-10s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
found=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    found=1
    echo "fuzz: $dir $target ($FUZZTIME)"
    # A short minimize budget: fuzzing ends at FUZZTIME, and a minimization of a new
    # interesting input still running then fails the run with "context deadline
    # exceeded" (the default budget is 60s, longer than the whole run).
    (cd "$dir" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 1s .)
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' shared services cli tests 2>/dev/null | sort)
[ "$found" = 1 ] || echo "fuzz: no fuzz targets"
