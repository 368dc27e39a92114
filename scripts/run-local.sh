#!/usr/bin/env bash
# `make run`: bring up PostgreSQL and NATS if needed, migrate, start the four services,
# print the URL, and stop everything cleanly on Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNDIR="$ROOT/.run"
mkdir -p "$RUNDIR/logs"

"$ROOT/scripts/deps.sh"

# Secrets and defaults (exported values win): see scripts/dev-env.sh.
# shellcheck source=scripts/dev-env.sh
. "$ROOT/scripts/dev-env.sh" "$RUNDIR"

echo "run: applying migrations"
"$ROOT/bin/noetl-api" migrate

pids=()
start() {
  local name=$1 port=$2 machine=$3
  NOETL_PORT=$port NOETL_SERVER_MACHINE_ID=$machine "$ROOT/bin/noetl-$name" >"$RUNDIR/logs/$name.log" 2>&1 &
  pids+=($!)
}
stopped=0
cleanup() {
  [ "$stopped" = 1 ] && return
  stopped=1
  echo
  echo "run: stopping (SIGTERM, services drain in-flight requests)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  echo "run: stopped"
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

start api 8083 1
start wallet 8084 2
start broker 8085 3
start router 8082 4

for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null http://127.0.0.1:8082/readyz 2>/dev/null; then
    echo "NoETL control plane is up: http://localhost:8082  (logs in .run/logs)"
    echo "  tokens in .run/dev.env: clients send NOETL_API_TOKEN, workers NOETL_WORKER_TOKEN"
    echo "  e.g.  . .run/dev.env; curl -H \"Authorization: Bearer \$NOETL_API_TOKEN\" http://localhost:8082/api/executions"
    wait -n "${pids[@]}" || true
    echo "run: a service exited; see .run/logs"
    exit 1
  fi
  sleep 0.5
done
echo "run: the suite did not become ready in 30s; see .run/logs"
curl -s http://127.0.0.1:8082/readyz || true
exit 1
