#!/usr/bin/env bash
# Interoperability checks: the real identity, billing and analytics binaries on a private
# database, driven by independent Python libraries (authlib, PyJWT, pydid, stripe, a2a-sdk).
# Each check gets identity's and billing's base URLs as arguments; ANALYTICS_URL and
# ANALYTICS_BIN name the analytics service and binary. Called by scripts/test.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

# The checks' libraries: in a virtualenv where this Python can make one, else in a
# directory of their own on PYTHONPATH (no python3-venv needed, nothing written to the
# system's site-packages, PEP 668 respected).
VENV="$ROOT/.venv-interop"
if [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >/dev/null 2>&1; then
  PYTHON="$VENV/bin/python"
  "$PYTHON" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
else
  rm -rf "$VENV"
  SITE="$DEV/interop-site"
  if ! cmp -s "$HERE/requirements.txt" "$SITE/.requirements.txt"; then
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    rm -rf "$SITE"
    python3 -m pip install -q --disable-pip-version-check --target "$SITE" -r "$HERE/requirements.txt" \
      || python3 -m pip install -q --disable-pip-version-check --break-system-packages --target "$SITE" -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$SITE/.requirements.txt"
  fi
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  PYTHON=python3
fi

(cd "$ROOT" && cargo build -q --bins -p identity -p billing -p analytics)
BIN="$(target_dir)/debug"

ADMIN_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="agentidp_interop_$$"
DB_URL="${ADMIN_URL%/*}/$DB"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BILLING_PORT=$(free_port)
LOG=$(mktemp)
BILLING_LOG=$(mktemp)
cleanup() {
  [ -n "${BILLING_PID:-}" ] && kill -TERM "$BILLING_PID" 2>/dev/null && wait "$BILLING_PID" 2>/dev/null || true
  [ -n "${PID:-}" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  [ -n "${ANALYTICS_PID:-}" ] && kill -TERM "$ANALYTICS_PID" 2>/dev/null && wait "$ANALYTICS_PID" 2>/dev/null || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  rm -f "$LOG" "$BILLING_LOG"
}
trap cleanup EXIT

export DATABASE_URL="$DB_URL" REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_KEY_PREFIX="interop:$$:" HOST=127.0.0.1 PORT="$PORT" PUBLIC_URL="http://127.0.0.1:$PORT"
export KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" CREDENTIAL_PEPPER="$(head -c 32 /dev/urandom | base64)"
export IDENTITY_URL="http://127.0.0.1:$PORT" BILLING_URL="http://127.0.0.1:$BILLING_PORT"
export FEDERATION_ALLOWED_NETWORKS=127.0.0.0/8
export STRIPE_WEBHOOK_SECRET="whsec_interop_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export STRIPE_PRICE_PRO=price_interop_pro STRIPE_PRICE_ENTERPRISE=price_interop_enterprise
"$BIN/identity" migrate >>"$LOG" 2>&1
"$BIN/billing" migrate >>"$BILLING_LOG" 2>&1
"$BIN/identity" serve >>"$LOG" 2>&1 &
PID=$!
PORT="$BILLING_PORT" "$BIN/billing" serve >>"$BILLING_LOG" 2>&1 &
BILLING_PID=$!
for p in "$PORT" "$BILLING_PORT"; do
  for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$p/health/ready" && break; sleep 0.1; done
done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/ready" || { cat "$LOG"; die "identity did not start"; }
curl -fs -o /dev/null "http://127.0.0.1:$BILLING_PORT/health/ready" || { cat "$BILLING_LOG"; die "billing did not start"; }

# Analytics, reading identity's change feed with its own service client.
ANALYTICS_PORT=$(free_port)
SERVICE_CLIENT=$("$BIN/identity" service-client analytics 2>>"$LOG")
"$BIN/analytics" migrate >>"$LOG" 2>&1
PORT="$ANALYTICS_PORT" \
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
  "$PYTHON" "$check" "http://127.0.0.1:$PORT" "http://127.0.0.1:$BILLING_PORT" || status=1
done
[ $status = 0 ] || { tail -n 40 "$LOG"; tail -n 40 "$BILLING_LOG"; die "interoperability checks failed"; }
log "interop: all checks passed"
