#!/bin/sh
# Start-up for the web image. `web`: collect static files and apply migrations, then exec the
# server (exec, so SIGTERM from `docker stop` reaches it). `worker`: the background worker, which
# never migrates (web does, and compose starts the worker only once web is healthy).
# `worker-alive`: the worker's healthcheck (did its loop make a pass in the last 5 minutes?).
# Anything else is run as given (e.g. `python manage.py createsuperuser`).
set -eu
cd /app 2>/dev/null || true
MANAGE="${MANAGE_PY:-/app/manage.py}"
case "${1:-web}" in
  web)
    python "$MANAGE" collectstatic --noinput -v 0
    python "$MANAGE" migrate --noinput
    exec python -m wheeldesk_web
    ;;
  worker)
    exec python "$MANAGE" worker
    ;;
  worker-alive)
    # The worker rewrites $DATA_DIR/worker.heartbeat at every pass of its loop (every 15 s) and
    # removes it when it stops: healthy while the file is younger than 300 s (a long sync pass
    # fits; a hung loop or a dead process does not).
    beat="${DATA_DIR:-/data}/worker.heartbeat"
    [ -f "$beat" ] || { echo "no heartbeat at $beat"; exit 1; }
    age=$(( $(date +%s) - $(stat -c %Y "$beat") ))
    [ "$age" -lt "${WORKER_HEARTBEAT_MAX_AGE:-300}" ] || { echo "last pass ${age}s ago"; exit 1; }
    ;;
  *)
    exec "$@"
    ;;
esac
