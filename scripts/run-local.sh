#!/usr/bin/env bash
# `make run`: bring up PostgreSQL and NATS if needed, migrate, start the four services
# and one worker, print the URL, and stop everything cleanly on Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNDIR="$ROOT/.run"
mkdir -p "$RUNDIR/logs"

"$ROOT/scripts/deps.sh"

# Local secrets, generated once and kept so that credentials written in one session
# still decrypt in the next. Never committed (.run/ is ignored).
if [ ! -f "$RUNDIR/dev.env" ]; then
  umask 077
  {
    echo "NOETL_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)"
    echo "NOETL_INTERNAL_API_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  } >"$RUNDIR/dev.env"
fi
set -a
# shellcheck disable=SC1091
. "$RUNDIR/dev.env"
export POSTGRES_HOST=${POSTGRES_HOST:-127.0.0.1}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export NOETL_PUBLIC_SERVER_URL=${NOETL_PUBLIC_SERVER_URL:-http://localhost:8082}
set +a

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
# The reference worker registers with the router (retrying until it answers) and takes
# commands from NATS; its own port serves probes and metrics.
NOETL_SERVER_URL=http://127.0.0.1:8082 start worker 8086 5

for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null http://127.0.0.1:8082/readyz 2>/dev/null &&
     curl -fsS -o /dev/null http://127.0.0.1:8086/readyz 2>/dev/null; then
    echo "NoETL control plane is up: http://localhost:8082  (a worker runs playbooks; logs in .run/logs, internal token in .run/dev.env)"
    wait -n "${pids[@]}" || true
    echo "run: a service exited; see .run/logs"
    exit 1
  fi
  sleep 0.5
done
echo "run: the suite did not become ready in 30s; see .run/logs"
curl -s http://127.0.0.1:8082/readyz || true
exit 1
