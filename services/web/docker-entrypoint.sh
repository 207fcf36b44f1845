#!/bin/sh
# Start-up for the web image. `web`: collect static files and apply migrations, then exec the
# server (exec, so SIGTERM from `docker stop` reaches it). `worker`: the background worker, which
# never migrates (web does, and compose starts the worker only once web is healthy).
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
  *)
    exec "$@"
    ;;
esac
