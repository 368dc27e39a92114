#!/usr/bin/env bash
# `make run`: the whole suite on this machine. Checks the ports first, brings up
# PostgreSQL and NATS if needed, writes development secrets and internal mTLS certificates
# once (.run/), migrates, starts the four services and a worker, waits until each of its
# own processes is ready, prints how to use it, and stops everything cleanly on Ctrl-C.
#
# Settings (the README's "make run" table): NOETL_RUN_ROUTER_PORT, NOETL_RUN_API_PORT,
# NOETL_RUN_WALLET_PORT, NOETL_RUN_BROKER_PORT, NOETL_RUN_WORKER_PORT, NOETL_RUN_DIR, NOETL_RUN_BIN_DIR,
# NOETL_RUN_INTERNAL_TLS, NOETL_RUN_READY_TIMEOUT, and any variable of the services
# (NOETL_SCHEMA, DATABASE_URL, ...): what you export wins over .run/dev.env.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNDIR=${NOETL_RUN_DIR:-$ROOT/.run}
BINDIR=${NOETL_RUN_BIN_DIR:-$ROOT/bin}
READY_TIMEOUT=${NOETL_RUN_READY_TIMEOUT:-60}
INTERNAL_TLS=${NOETL_RUN_INTERNAL_TLS:-true}
SERVICES=(api wallet broker router worker) # start order; a new binary goes here and in PORTS
declare -A PORTS=(
  [router]=${NOETL_RUN_ROUTER_PORT:-8082}
  [api]=${NOETL_RUN_API_PORT:-8083}
  [wallet]=${NOETL_RUN_WALLET_PORT:-8084}
  [broker]=${NOETL_RUN_BROKER_PORT:-8085}
  [worker]=${NOETL_RUN_WORKER_PORT:-8086}
)
declare -A PORT_VARS=([router]=NOETL_RUN_ROUTER_PORT [api]=NOETL_RUN_API_PORT [wallet]=NOETL_RUN_WALLET_PORT [broker]=NOETL_RUN_BROKER_PORT [worker]=NOETL_RUN_WORKER_PORT)
declare -A MACHINE_IDS=([api]=1 [wallet]=2)

say() { printf 'run: %s\n' "$*"; }
die() { printf 'run: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# 1. Ports: refuse at once, before anything starts, when one is taken or two are equal.
declare -A seen=()
for svc in "${SERVICES[@]}"; do
  port=${PORTS[$svc]}
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "${PORT_VARS[$svc]}=$port is not a port number"
  [ -z "${seen[$port]:-}" ] || die "port $port is set for both ${seen[$port]} and $svc: give each service its own (${PORT_VARS[$svc]})"
  seen[$port]=$svc
  if port_open "$port"; then
    die "port $port ($svc) is already in use by another process: stop it (ss -ltnp 'sport = :$port' shows which) or choose another port with ${PORT_VARS[$svc]}=<port>"
  fi
done
for svc in "${SERVICES[@]}"; do
  [ -x "$BINDIR/noetl-$svc" ] || die "$BINDIR/noetl-$svc is missing: run \`make build\` (make run does)"
done

mkdir -p "$RUNDIR/logs"
"$ROOT/scripts/deps.sh"

# 2. Development secrets (the encryption key, the internal, client and worker tokens),
# generated once into .run/dev.env and kept: see scripts/dev-env.sh. A variable you
# exported yourself wins over the file.
# shellcheck source=scripts/dev-env.sh
. "$ROOT/scripts/dev-env.sh" "$RUNDIR"
export POSTGRES_HOST=${POSTGRES_HOST:-127.0.0.1}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export NOETL_PUBLIC_SERVER_URL=${NOETL_PUBLIC_SERVER_URL:-http://localhost:${PORTS[router]}}
export NOETL_ROUTER_PORT=${PORTS[router]}
export NOETL_HOST=${NOETL_HOST:-127.0.0.1}

# 3. Internal mTLS: a development CA and a certificate per service (kept while valid).
scheme=http
if [ "$INTERNAL_TLS" = true ]; then
  "$BINDIR/noetl-api" certs --dir "$RUNDIR/certs" >/dev/null
  scheme=https
  export NOETL_INTERNAL_TLS_CA="$RUNDIR/certs/ca.crt"
elif [ "$INTERNAL_TLS" != false ]; then
  die "NOETL_RUN_INTERNAL_TLS=$INTERNAL_TLS: want true or false"
else
  say "internal mTLS is off (NOETL_RUN_INTERNAL_TLS=false): the services talk plain HTTP"
fi
export NOETL_API_URL=$scheme://127.0.0.1:${PORTS[api]}
export NOETL_WALLET_URL=$scheme://127.0.0.1:${PORTS[wallet]}
export NOETL_BROKER_URL=$scheme://127.0.0.1:${PORTS[broker]}

# service_env prints the variables of one service, one per line.
service_env() {
  local svc=$1
  echo "NOETL_PORT=${PORTS[$svc]}"
  if [ "$svc" = worker ]; then
    # The worker calls the router (the public surface) and serves only probes on its port.
    echo "NOETL_SERVER_URL=http://127.0.0.1:${PORTS[router]}"
    return
  fi
  [ -z "${MACHINE_IDS[$svc]:-}" ] || echo "NOETL_SERVER_MACHINE_ID=${MACHINE_IDS[$svc]}"
  if [ "$INTERNAL_TLS" = true ]; then
    echo "NOETL_INTERNAL_TLS_CERT=$RUNDIR/certs/$svc.crt"
    echo "NOETL_INTERNAL_TLS_KEY=$RUNDIR/certs/$svc.key"
    if [ "$svc" != router ]; then
      echo "NOETL_TLS_CERT=$RUNDIR/certs/$svc.crt"
      echo "NOETL_TLS_KEY=$RUNDIR/certs/$svc.key"
      echo "NOETL_TLS_CLIENT_CA=$RUNDIR/certs/ca.crt"
    fi
  fi
}
with_env() { # with_env SERVICE CMD...: run CMD with the service's variables
  local svc=$1; shift
  local -a vars
  mapfile -t vars < <(service_env "$svc")
  env "${vars[@]}" "$@"
}
# Each server runs in a session of its own, so that Ctrl-C in the terminal (SIGINT to the
# whole foreground process group) reaches only this script, which then stops the worker
# before the services (cleanup, below). macOS has no setsid command: perl's or python3's
# setsid(2) then, exec'ing the server in place so that $! stays its pid. Without any, the
# servers would share our process group and all take Ctrl-C at once, the worker's last
# reports meeting a closed router.
SETSID=()
if command -v setsid >/dev/null; then
  SETSID=(setsid)
elif command -v perl >/dev/null; then
  SETSID=(perl -MPOSIX -e 'POSIX::setsid() or warn "setsid: $!\n"; exec {$ARGV[0]} @ARGV or die "exec $ARGV[0]: $!\n"' --)
elif command -v python3 >/dev/null; then
  SETSID=(python3 -c 'import os, sys
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])')
else
  say "warning: no setsid, perl or python3 here: Ctrl-C reaches the services and the worker at once, not the worker first"
fi
serve() { # serve SERVICE, in a background subshell: exec, so that $! is the server's pid
  local -a vars
  mapfile -t vars < <(service_env "$1")
  exec "${SETSID[@]}" env "${vars[@]}" "$BINDIR/noetl-$1" serve
}

say "applying migrations (schema ${NOETL_SCHEMA:-noetl})"
"$BINDIR/noetl-api" migrate up
"$BINDIR/noetl-wallet" migrate up

declare -A PIDS=()
stopped=0
# await PID...: wait until each has exited. A trapped signal ends a `wait` early; the loop
# waits on, so that a second Ctrl-C cannot cut the stop short.
await() {
  local pid
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null; do wait "$pid" 2>/dev/null || true; done
  done
}
cleanup() {
  [ "$stopped" = 1 ] && return
  stopped=1
  # A second Ctrl-C while stopping only says so. It used to run this trap again inside
  # the first: the nested `exit` ended the script (status 130) before the services were
  # stopped, and they ran on in their own sessions, holding the ports.
  trap 'say "already stopping: the worker finishes its commands (NOETL_SHUTDOWN_TIMEOUT), then the services stop"' INT TERM HUP
  [ "${#PIDS[@]}" -gt 0 ] || return 0
  echo
  # The worker first: the commands it holds finish (within NOETL_SHUTDOWN_TIMEOUT) and
  # are reported, and it deregisters, while the services still answer. Stopped together,
  # the worker's last reports and its deregistration met a closed router: the commands
  # stayed claimed and their executions RUNNING until the next session's lost-worker sweep.
  if [ -n "${PIDS[worker]:-}" ]; then
    say "stopping the worker (SIGTERM, it finishes and reports the commands it holds)"
    kill -TERM "${PIDS[worker]}" 2>/dev/null || true
    await "${PIDS[worker]}"
  fi
  say "stopping (SIGTERM, services drain in-flight requests)"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  await "${PIDS[@]}"
  say "stopped"
}
trap 'cleanup; exit 0' INT TERM HUP
trap cleanup EXIT

for svc in "${SERVICES[@]}"; do
  serve "$svc" >"$RUNDIR/logs/$svc.log" 2>&1 &
  PIDS[$svc]=$!
done

# 4. Ready means: each of our own processes is alive and its own healthcheck (its /readyz,
# on the port it was given) answers 200 - never another process that happens to listen.
exited() {
  local svc=$1
  say "noetl-$svc exited during startup; the end of $RUNDIR/logs/$svc.log:" >&2
  tail -n 20 "$RUNDIR/logs/$svc.log" >&2 || true
  exit 1
}
deadline=$((SECONDS + READY_TIMEOUT))
pending=("${SERVICES[@]}")
while [ "${#pending[@]}" -gt 0 ]; do
  still=()
  for svc in "${pending[@]}"; do
    kill -0 "${PIDS[$svc]}" 2>/dev/null || exited "$svc"
    with_env "$svc" "$BINDIR/noetl-$svc" healthcheck >/dev/null 2>&1 || still+=("$svc")
  done
  pending=("${still[@]+"${still[@]}"}")
  [ "${#pending[@]}" -eq 0 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    for svc in "${pending[@]}"; do
      say "noetl-$svc is not ready after ${READY_TIMEOUT}s:" >&2
      with_env "$svc" "$BINDIR/noetl-$svc" healthcheck >&2 || true
    done
    say "logs are in $RUNDIR/logs" >&2
    exit 1
  fi
  sleep 0.5
done

# 5. What a second terminal needs.
umask 077
{
  echo "export NOETL_URL=http://localhost:${PORTS[router]}"
  # Quoted for the shell that sources the file: a token you exported yourself may hold
  # `$`, a space or a quote, which unquoted would give clients another value.
  printf 'export %s=%q\n' NOETL_INTERNAL_API_TOKEN "$NOETL_INTERNAL_API_TOKEN" \
    NOETL_API_TOKEN "${NOETL_API_TOKEN:-$NOETL_WORKER_TOKEN}" \
    NOETL_WORKER_TOKEN "${NOETL_WORKER_TOKEN:-$NOETL_API_TOKEN}"
  # The noetl client (make build puts it beside the services) reads NOETL_URL and NOETL_API_TOKEN.
  echo "export PATH=\"$(cd "$BINDIR" && pwd):\$PATH\""
  # A worker started from this shell (README, "Authentication") joins this suite: its
  # router, NATS server, subject prefix and stream. Without them it called
  # localhost:8082 and took the default prefix's commands: another suite's, or none.
  printf 'export %s=%q\n' NOETL_SERVER_URL "http://127.0.0.1:${PORTS[router]}" NATS_URL "$NATS_URL" \
    NOETL_NATS_SUBJECT_PREFIX "${NOETL_NATS_SUBJECT_PREFIX:-noetl}" NOETL_NATS_STREAM "${NOETL_NATS_STREAM:-NOETL_COMMANDS}"
  for v in NATS_USER NATS_PASSWORD; do
    [ -z "${!v:-}" ] || printf 'export %s=%q\n' "$v" "${!v}"
  done
} >"$RUNDIR/client.env"
cat <<EOF
NoETL control plane is up: http://localhost:${PORTS[router]}
  schema ${NOETL_SCHEMA:-noetl}; services on ${PORTS[api]} (api), ${PORTS[wallet]} (wallet), ${PORTS[broker]} (broker), internal mTLS: $INTERNAL_TLS
  a worker runs playbooks (probes and metrics on ${PORTS[worker]}); try the README's quick start
  internal token: $NOETL_INTERNAL_API_TOKEN
  clients send NOETL_API_TOKEN, workers NOETL_WORKER_TOKEN (Authorization: Bearer <token>)
  in another terminal:  source $RUNDIR/client.env
                        noetl executions
                        curl -H "Authorization: Bearer \$NOETL_API_TOKEN" \$NOETL_URL/api/executions
                        curl -H "Authorization: Bearer \$NOETL_INTERNAL_API_TOKEN" \$NOETL_URL/api/internal/outbox/pending-count
  logs in $RUNDIR/logs; Ctrl-C stops everything
EOF

wait -n "${PIDS[@]}" || true
for svc in "${SERVICES[@]}"; do
  if ! kill -0 "${PIDS[$svc]}" 2>/dev/null; then
    say "noetl-$svc exited; the end of $RUNDIR/logs/$svc.log:" >&2
    tail -n 20 "$RUNDIR/logs/$svc.log" >&2 || true
  fi
done
exit 1
