#!/usr/bin/env bash
# Runs the benchmark against a real server process; prints a table and JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export REFLEX_USE_SYSTEM_BUN=1
exec .venv/bin/python bench/run.py "$@"
