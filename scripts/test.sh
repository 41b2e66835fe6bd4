#!/usr/bin/env bash
# Installs what the tests need, starts local services if down, runs the lint and
# type gate (ruff, mypy: configured in pyproject.toml), then the whole suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k websocket`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/services.sh
export REFLEX_USE_SYSTEM_BUN=1
echo "gate: ruff check, ruff format --check, mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
