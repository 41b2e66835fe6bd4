#!/usr/bin/env bash
# Serves SpyGlass: the embedded default (SQLite + in-process bus, one worker), or,
# with DATABASE_URL and REFLEX_REDIS_URL set, one host of a scaled-out deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
port=${PORT:-8000}
export REFLEX_USE_SYSTEM_BUN=1
echo "SpyGlass: http://localhost:$port/  (API docs: http://localhost:$port/docs)"
exec .venv/bin/python -m app.serve --port "$port" "$@"
