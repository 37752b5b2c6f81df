#!/usr/bin/env bash
# Two identity binaries measured in one run: each serves alone on its own database, and
# token-bench.sh measures its tokens/s against its own /health/live, in turns (A B A B ...),
# so a change is judged by ratios taken minutes apart on the same machine.
#
#   load-tests/token-compare.sh OLD_BINARY NEW_BINARY
#
# Variables: ROUNDS (2), and token-bench.sh's (CONNECTIONS, DURATION, ...). Uses the
# PostgreSQL and Redis that scripts/lib.sh finds; creates and drops databases bench_a/bench_b.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
[ $# -eq 2 ] || die "usage: $0 OLD_BINARY NEW_BINARY"
ensure_postgres
ensure_redis
BINS=("$(realpath "$1")" "$(realpath "$2")")
NAMES=(a b)
PORT=8091
LOG=$(mktemp -d)
PID=""
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=""; }
trap 'stop; rm -rf "$LOG"' EXIT

export REDIS_URL="$REDIS_BASE_URL" HOST=127.0.0.1 PORT PUBLIC_URL="http://127.0.0.1:$PORT"
export KEY_ENCRYPTION_KEY CREDENTIAL_PEPPER
KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
CREDENTIAL_PEPPER=$(head -c 32 /dev/urandom | base64)
export RATE_LIMIT_MAX_REQUESTS=100000 RATE_LIMIT_TOKEN_IP_MAX=100000000
export RATE_LIMIT_TOKEN_CLIENT_MAX=100000000 RATE_LIMIT_TENANT_MAX=1000000
export RATE_LIMIT_SIGNUP_IP_MAX=100000
export TIER_ENFORCEMENT=false BILLING_URL=http://127.0.0.1:9 LOG_LEVEL=${LOG_LEVEL:-warn}

for i in 0 1; do
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench_${NAMES[$i]} WITH (FORCE)" >/dev/null
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE bench_${NAMES[$i]}" >/dev/null
  DATABASE_URL="$PG_BASE/bench_${NAMES[$i]}" "${BINS[$i]}" migrate >"$LOG/migrate" 2>&1 \
    || { cat "$LOG/migrate"; die "migrate failed: ${BINS[$i]}"; }
done

for round in $(seq "${ROUNDS:-2}"); do
  for i in 0 1; do
    DATABASE_URL="$PG_BASE/bench_${NAMES[$i]}" "${BINS[$i]}" serve >>"$LOG/${NAMES[$i]}.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done
    echo "round $round, ${NAMES[$i]}: ${BINS[$i]}"
    IDENTITY_BASE="http://127.0.0.1:$PORT" "$(dirname "$0")/token-bench.sh" | sed 's/^/  /'
    stop
  done
done
