#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and NATS with JetStream (127.0.0.1:4222) answer.
# Starts whatever is installed but stopped; installs from Debian's packages when a server
# is missing and we are root; as a last resort runs NATS embedded from this repo
# (tests/devnats). Idempotent: does nothing when both already answer.
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT_NUM=${PGPORT_NUM:-5432}
NATS_HOST_ADDR=${NATS_HOST_ADDR:-127.0.0.1}
NATS_PORT_NUM=${NATS_PORT_NUM:-4222}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNDIR="${NOETL_RUN_DIR:-$ROOT/.run}"
mkdir -p "$RUNDIR"

log() { printf 'deps: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 what=$3
  for _ in $(seq 1 60); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  log "$what did not come up on $host:$port"
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    return 1
  fi
  log "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

ensure_postgres() {
  if port_open "$PGHOST_ADDR" "$PGPORT_NUM"; then return 0; fi
  log "PostgreSQL is not answering on $PGHOST_ADDR:$PGPORT_NUM; starting it"
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql || { log "PostgreSQL is not installed and cannot be installed here"; return 1; }
  fi
  local ver
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -z "$ver" ]; then log "no PostgreSQL cluster found under /etc/postgresql"; return 1; fi
  # Trust auth on loopback, as the tests expect (a fresh Debian cluster uses peer/md5).
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if [ -w "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port "$PGHOST_ADDR" "$PGPORT_NUM" PostgreSQL
}

ensure_nats() {
  if port_open "$NATS_HOST_ADDR" "$NATS_PORT_NUM"; then return 0; fi
  log "NATS is not answering on $NATS_HOST_ADDR:$NATS_PORT_NUM; starting it"
  if [ ! -x /usr/sbin/nats-server ]; then apt_install nats-server || true; fi
  if [ -x /usr/sbin/nats-server ]; then
    mkdir -p /var/lib/nats-server 2>/dev/null || true
    local store=/var/lib/nats-server
    [ -w "$store" ] || store="$RUNDIR/nats-store"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a "$NATS_HOST_ADDR" -p "$NATS_PORT_NUM" -js -sd "$store" -l "$RUNDIR/nats-server.log" 2>/dev/null ||
      (nohup /usr/sbin/nats-server -a "$NATS_HOST_ADDR" -p "$NATS_PORT_NUM" -js -sd "$store" >"$RUNDIR/nats-server.log" 2>&1 &)
  else
    log "no nats-server binary; running the embedded JetStream server from tests/devnats"
    (cd "$ROOT" && go build -o "$RUNDIR/devnats" ./tests/devnats)
    nohup "$RUNDIR/devnats" -addr "$NATS_HOST_ADDR:$NATS_PORT_NUM" -store "$RUNDIR/nats-store" >"$RUNDIR/devnats.log" 2>&1 &
  fi
  wait_port "$NATS_HOST_ADDR" "$NATS_PORT_NUM" NATS
}

# The documented default database user and name (POSTGRES_USER=noetl, POSTGRES_DATABASE=noetl)
# for `make run`; tests use their own schemas in the postgres database.
ensure_noetl_db() {
  command -v psql >/dev/null || return 0
  local psql=(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='noetl'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE noetl LOGIN" >/dev/null
  "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='noetl'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE DATABASE noetl OWNER noetl" >/dev/null
}

ensure_postgres
ensure_nats
ensure_noetl_db || log "could not create the noetl role/database (continuing)"
log "PostgreSQL $PGHOST_ADDR:$PGPORT_NUM and NATS $NATS_HOST_ADDR:$NATS_PORT_NUM are up"
