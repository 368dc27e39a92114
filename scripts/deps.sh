#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and NATS with JetStream (127.0.0.1:4222) answer.
# Starts whatever is installed but stopped; installs from Debian's packages when a server
# is missing and we are root; as a last resort runs NATS embedded from this repo
# (tests/devnats). Idempotent: does nothing when both already answer.
#
# A server the user points at elsewhere (DATABASE_URL, or POSTGRES_HOST/POSTGRES_PORT;
# NATS_URL or NOETL_NATS_URL) is only checked: it must answer, and nothing local is
# installed or started in its stead, since the services would not use it.
#
# --tests (make test, make bench): the servers the tests use, NOETL_TEST_DATABASE_URL and
# NOETL_TEST_NATS_URL (default the local ones), whatever DATABASE_URL or NATS_URL name for
# `make run`.
set -euo pipefail
PG_URL_VAR=DATABASE_URL PG_FIELDS=1 NATS_URL_VARS=(NATS_URL NOETL_NATS_URL)
if [ "${1:-}" = --tests ]; then
  PG_URL_VAR=NOETL_TEST_DATABASE_URL PG_FIELDS=0 NATS_URL_VARS=(NOETL_TEST_NATS_URL)
fi

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

# host_port URL DEFAULT_PORT prints "host port" of the first server a URL names
# (scheme://[user[:password]@]host[:port][,...][/...]); a PostgreSQL key/value DSN
# ("host=... port=...") too. Credentials are dropped here and never printed.
host_port() {
  local url=$1 default_port=$2 rest host port
  if [[ $url != *://* ]]; then
    host=$(sed -nE 's/(^|.*[[:space:]])host=([^[:space:]]+).*/\2/p' <<<"$url")
    port=$(sed -nE 's/(^|.*[[:space:]])port=([^[:space:]]+).*/\2/p' <<<"$url")
    echo "${host:-localhost} ${port:-$default_port}"
    return
  fi
  rest=${url#*://}
  rest=${rest%%[/?]*}
  rest=${rest##*@}
  rest=${rest%%,*}
  if [[ $rest == \[* ]]; then # [ipv6]:port
    host=${rest%%]*} host=${host#[} port=${rest#*]} port=${port#:}
  else
    host=${rest%%:*} port=${rest#"$host"} port=${port#:}
  fi
  echo "${host:-localhost} ${port:-$default_port}"
}

# is_local HOST PORT LOCAL_PORT: the loopback server this script manages.
is_local() {
  case $1 in 127.0.0.1 | localhost | ::1 | "$PGHOST_ADDR" | "$NATS_HOST_ADDR") [ "$2" = "$3" ] ;; *) return 1 ;; esac
}

# check_users WHAT VAR HOST PORT: a server the user chose answers, or we stop, naming it.
check_users() {
  local what=$1 var=$2 host=$3 port=$4
  if [[ $host == /* ]]; then
    log "$what at the Unix socket $host (from $var) is not checked here"
    return 0
  fi
  port_open "$host" "$port" && return 0
  log "$what is not answering on $host:$port (from $var); it is yours, so nothing is started or installed: start it, or unset $var to use the local one ($5)"
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
  # Where the services connect: DATABASE_URL overrides POSTGRES_HOST/POSTGRES_PORT (shared/pg).
  local from="" host port
  if [ -n "${!PG_URL_VAR:-}" ]; then
    from=$PG_URL_VAR
    read -r host port < <(host_port "${!PG_URL_VAR}" 5432)
  elif [ "$PG_FIELDS" = 1 ] && [ -n "${POSTGRES_HOST:-}${POSTGRES_PORT:-}" ]; then
    from=POSTGRES_HOST/POSTGRES_PORT host=${POSTGRES_HOST:-localhost} port=${POSTGRES_PORT:-5432}
  fi
  if [ -n "$from" ] && ! is_local "$host" "$port" "$PGPORT_NUM"; then
    PG_IS_LOCAL=0
    check_users PostgreSQL "$from" "$host" "$port" "$PGHOST_ADDR:$PGPORT_NUM"
    return
  fi
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
  local from="" host port var
  for var in "${NATS_URL_VARS[@]}"; do
    if [ -n "${!var:-}" ]; then from=$var && break; fi
  done
  if [ -n "$from" ]; then
    read -r host port < <(host_port "${!from}" 4222)
    if ! is_local "$host" "$port" "$NATS_PORT_NUM"; then
      check_users NATS "$from" "$host" "$port" "$NATS_HOST_ADDR:$NATS_PORT_NUM"
      return
    fi
  fi
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
# for `make run`; tests use their own schemas in the postgres database. Only in the local
# server: in the user's own, the database exists already (README, "make run").
PG_IS_LOCAL=1
ensure_noetl_db() {
  [ "$PG_IS_LOCAL" = 1 ] || return 0
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
log "PostgreSQL and NATS are up"
