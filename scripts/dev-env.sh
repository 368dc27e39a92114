# Sourced by scripts/run-local.sh (`make run`) with the run directory as $1: exports the
# local secrets the suite runs with: the encryption key and the internal, client
# (NOETL_API_TOKEN) and worker (NOETL_WORKER_TOKEN) tokens.
#
# They are generated once into $1/dev.env and kept, so that credentials written in one
# session still decrypt in the next and clients keep their tokens (.run/ is never
# committed); a file from an older version gains the variables it lacks. Every variable
# in the file gives way to one the user exported, even exported empty:
# `NOETL_API_TOKEN= make run` makes the client routes take the worker token (emptying both
# leaves the public routes open).
dev_env_dir=$1
dev_token() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }
dev_keep() { grep -q "^$1=" "$dev_env_dir/dev.env" || echo "$1=$2" >>"$dev_env_dir/dev.env"; }
dev_default() { if [ -z "${!1+set}" ]; then export "$1=$2"; fi; }

(umask 077 && touch "$dev_env_dir/dev.env")
dev_keep NOETL_ENCRYPTION_KEY "$(head -c 32 /dev/urandom | base64)"
dev_keep NOETL_INTERNAL_API_TOKEN "$(dev_token)"
dev_keep NOETL_API_TOKEN "$(dev_token)"
dev_keep NOETL_WORKER_TOKEN "$(dev_token)"
while IFS= read -r dev_line; do
  # Split at the first '=' by hand: read with IFS='=' drops a base64 key's padding.
  dev_key=${dev_line%%=*}
  if [[ $dev_key =~ ^[A-Z_][A-Z0-9_]*$ ]]; then dev_default "$dev_key" "${dev_line#*=}"; fi
done <"$dev_env_dir/dev.env"
