#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis used by the scale-out tests when they are down.
# Best effort: the tests themselves skip (locally) or fail (CI=true) without them.
set -uo pipefail
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    done
fi
for _ in $(seq 1 20); do
    pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break
    sleep 0.5
done
exit 0
