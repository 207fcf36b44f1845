#!/bin/sh
# Start-up for the web image. `web`: collect static files and apply migrations, then exec the
# server (exec, so SIGTERM from `docker stop` reaches it). `worker`: the background worker, which
# never migrates (web does, and compose starts the worker only once web is healthy).
# `worker-alive`: the worker's healthcheck (is a `manage.py worker` process running?).
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
    # A shell `case`, not grep: grep's own command line would match the pattern.
    for f in /proc/[0-9]*/cmdline; do
      cmd=$(tr '\0' ' ' < "$f" 2>/dev/null) || continue
      case "$cmd" in *"$MANAGE worker"*) exit 0 ;; esac
    done
    exit 1
    ;;
  *)
    exec "$@"
    ;;
esac
