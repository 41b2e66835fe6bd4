#!/usr/bin/env bash
# Installs what the tests need, starts local services if down, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/services.sh
export REFLEX_USE_SYSTEM_BUN=1
exec .venv/bin/python -m pytest "$@"
