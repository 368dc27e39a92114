#!/busybox/sh
# Development entrypoint (deploy/dev/Dockerfile.tilt). Called as noetl-<service> it runs
# /opt/noetl/bin/noetl-<service>: other commands (healthcheck, migrate, ...) directly,
# `serve` in a loop that starts the server again whenever it exits, so that Tilt's
# live_update can swap the binary and restart only that process:
#   tilt-run --restart noetl-<service>    stop the running server (it comes back at once)
bindir=${TILT_RUN_BIN_DIR:-/opt/noetl/bin}
piddir=${TILT_RUN_PID_DIR:-/tmp}
if [ "$1" = "--restart" ]; then
  pid=$(cat "$piddir/$2.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
  exit 0
fi
name=$(basename "$0")
bin=$bindir/$name
if [ $# -gt 0 ] && [ "$1" != "serve" ]; then
  exec "$bin" "$@"
fi
pidfile=$piddir/$name.pid
stopping=0
trap 'stopping=1; kill -TERM "$(cat "$pidfile")" 2>/dev/null' TERM INT
while [ "$stopping" = 0 ]; do
  "$bin" "$@" &
  echo $! >"$pidfile"
  wait $!
  # wait returns early when a trapped signal arrives: wait for the drain to finish.
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do wait "$(cat "$pidfile")"; done
  [ "$stopping" = 0 ] && echo "tilt-run: $name exited; starting the new binary" >&2
done
