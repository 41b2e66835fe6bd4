#!/usr/bin/env bash
# Runs the benchmarks: the task and progress path against real server processes
# (bench/run.py, extra arguments go to it), where a task's CPU goes, in one process
# (bench/breakdown.py), then the dashboard's reads over 100,000 stored tasks
# (bench/queries.py). Each prints a table and JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/services.sh
export REFLEX_USE_SYSTEM_BUN=1
.venv/bin/python -m bench.run "$@"
.venv/bin/python -m bench.breakdown
exec .venv/bin/python -m bench.queries
