#!/usr/bin/env bash
# Runs SpyGlass on the embedded default (SQLite + in-process bus), one port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
port=${PORT:-8000}
export REFLEX_USE_SYSTEM_BUN=1
echo "SpyGlass: http://localhost:$port/  (API docs: http://localhost:$port/docs)"
exec .venv/bin/reflex run --env prod --single-port --backend-port "$port" "$@"
