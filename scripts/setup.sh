#!/usr/bin/env bash
# Installs what SpyGlass needs on a fresh Debian machine; fast no-op when done.
# Usage: scripts/setup.sh [run|test]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
python=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$python" -m venv .venv
req=requirements.txt
[ "$mode" = test ] && req=requirements-dev.txt
stamp=".venv/.installed-$mode-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
    touch "$stamp"
fi

# Browser tests drive Debian's chromium (Playwright's own browser download is not reachable).
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# Reflex 0.10 needs bun >= 1.4.4 (or Node >= 22.22); its own installer downloads
# from outside the package registries, so take bun from npm instead.
if ! command -v bun >/dev/null 2>&1; then
    if ! command -v npm >/dev/null 2>&1; then
        apt-get install -y --no-install-recommends nodejs npm >/dev/null
    fi
    npm install --global --silent bun >/dev/null
fi
