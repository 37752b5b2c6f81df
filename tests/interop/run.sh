#!/usr/bin/env bash
# Interoperability checks: the real identity and analytics binaries on a private database,
# driven by independent Python libraries (authlib, PyJWT, pydid, a2a-sdk). Called by
# scripts/test.sh. Checks get identity's base URL as their argument; ANALYTICS_URL and
# ANALYTICS_BIN name the analytics service and binary.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

VENV="$ROOT/.venv-interop"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"

(cd "$ROOT" && cargo build -q --bins -p identity -p analytics)
BIN="$ROOT/target/debug"

ADMIN_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="agentidp_interop_$$"
DB_URL="${ADMIN_URL%/*}/$DB"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
cleanup() {
  [ -n "${PID:-}" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  [ -n "${ANALYTICS_PID:-}" ] && kill -TERM "$ANALYTICS_PID" 2>/dev/null && wait "$ANALYTICS_PID" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  rm -f "$LOG"
}
trap cleanup EXIT

export DATABASE_URL="$DB_URL" REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_KEY_PREFIX="interop:$$:" HOST=127.0.0.1 PORT="$PORT" PUBLIC_URL="http://127.0.0.1:$PORT"
export KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" CREDENTIAL_PEPPER="$(head -c 32 /dev/urandom | base64)"
"$BIN/identity" migrate >>"$LOG" 2>&1
"$BIN/identity" serve >>"$LOG" 2>&1 &
PID=$!
for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break; sleep 0.1; done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/ready" || { cat "$LOG"; die "identity did not start"; }

# Analytics, reading identity's change feed with its own service client.
ANALYTICS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVICE_CLIENT=$("$BIN/identity" service-client analytics 2>>"$LOG")
"$BIN/analytics" migrate >>"$LOG" 2>&1
IDENTITY_URL="http://127.0.0.1:$PORT" PORT="$ANALYTICS_PORT" \
  SERVICE_CLIENT_ID="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$SERVICE_CLIENT")" \
  SERVICE_CLIENT_SECRET="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$SERVICE_CLIENT")" \
  "$BIN/analytics" serve >>"$LOG" 2>&1 &
ANALYTICS_PID=$!
export ANALYTICS_URL="http://127.0.0.1:$ANALYTICS_PORT" ANALYTICS_BIN="$BIN/analytics"
for _ in $(seq 150); do curl -fs -o /dev/null "$ANALYTICS_URL/health/ready" && break; sleep 0.1; done
curl -fs -o /dev/null "$ANALYTICS_URL/health/ready" || { cat "$LOG"; die "analytics did not start"; }

status=0
for check in "$HERE"/check_*.py; do
  log "interop: $(basename "$check")"
  "$VENV/bin/python" "$check" "http://127.0.0.1:$PORT" || status=1
done
[ $status = 0 ] || { tail -n 40 "$LOG"; die "interoperability checks failed"; }
log "interop: all checks passed"
