#!/usr/bin/env bash
# Runs every test: unit and integration tests of the workspace (real PostgreSQL and Redis,
# each test with its own database and key prefix), then the interoperability checks that
# drive the real services with independent libraries (tests/interop).
#
# Uses the PostgreSQL and Redis at TEST_DATABASE_URL / TEST_REDIS_URL, else the local ones
# on 127.0.0.1, else starts private instances (scripts/lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_postgres
ensure_redis
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$PG_ADMIN_URL}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_BASE_URL}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
  # nextest does not run doctests.
  cargo test --workspace --doc --quiet
else
  cargo test --workspace --no-fail-fast "$@"
fi

if [ -x tests/interop/run.sh ] && [ "${SKIP_INTEROP:-}" != 1 ]; then
  tests/interop/run.sh
fi
