#!/usr/bin/env bash
# Federated token exchange (GitHub-shaped RS256 tokens, the issuer's keys cached) against
# client_credentials on the same identity, in turns (cc ex cc ex ...), with wrk: the issue's
# goal is exchange tokens/s >= 0.5 x client_credentials tokens/s.
#
#   load-tests/token-exchange.sh
#
# Builds release binaries, runs identity alone on a private database (audit events on, as in
# production), and a fake GitHub OIDC issuer (testkit's) that mints one external token per
# exchange beforehand. Variables: ROUNDS (2), DURATION (8s), CONNECTIONS (64), THREADS (2),
# TOKENS (external tokens per exchange turn, 60000).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../scripts/lib.sh"
ensure_postgres
ensure_redis
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8s}
CONNS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PER_TURN=${TOKENS:-60000}
TARGET="${CARGO_TARGET_DIR:-$HERE/../target}"
(cd "$HERE/.." && cargo build -q --release -p identity && cargo build -q --release -p testkit --example federation_bench)
WORK=$(mktemp -d)
PORT=8093
PID="" ISSUER_PID=""
cleanup() {
  [ -n "$ISSUER_PID" ] && kill "$ISSUER_PID" 2>/dev/null || true
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench_exchange WITH (FORCE)" >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export REDIS_URL="$REDIS_BASE_URL" HOST=127.0.0.1 PORT PUBLIC_URL="http://127.0.0.1:$PORT"
export REDIS_KEY_PREFIX="bench-exchange:$$:"
export KEY_ENCRYPTION_KEY CREDENTIAL_PEPPER
KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
CREDENTIAL_PEPPER=$(head -c 32 /dev/urandom | base64)
export RATE_LIMIT_MAX_REQUESTS=100000 RATE_LIMIT_TOKEN_IP_MAX=100000000
export RATE_LIMIT_TOKEN_CLIENT_MAX=100000000 RATE_LIMIT_TENANT_MAX=100000000
export RATE_LIMIT_SIGNUP_IP_MAX=100000 RATE_LIMIT_AUTH_FAILURE_IP_MAX=100000000
export FEDERATION_ALLOWED_NETWORKS=127.0.0.0/8
export TIER_ENFORCEMENT=false BILLING_URL=http://127.0.0.1:9 LOG_LEVEL=${LOG_LEVEL:-warn}
psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench_exchange WITH (FORCE)" >/dev/null
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE bench_exchange" >/dev/null
export DATABASE_URL="$PG_BASE/bench_exchange"
"$TARGET/release/identity" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migrate failed"; }
"$TARGET/release/identity" serve >"$WORK/identity.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done

# The issuer lives as long as fd 3 stays open.
mkfifo "$WORK/stdin"
"$TARGET/release/examples/federation_bench" "http://127.0.0.1:$PORT" $((PER_TURN * ROUNDS)) "$WORK" \
  <"$WORK/stdin" &
ISSUER_PID=$!
exec 3>"$WORK/stdin"
for _ in $(seq 600); do [ -f "$WORK/ready" ] && break; sleep 0.5; done
[ -f "$WORK/ready" ] || die "the external tokens were not minted"

run() { wrk -t"$THREADS" -c"$CONNS" --latency "$@" | tail -n 1; }
# Warm up client_credentials (and connections) briefly; the exchange warms on its first turn.
TOKEN_CREDS="$WORK/creds.lua" wrk -t"$THREADS" -c"$CONNS" -d2s -s "$HERE/token.lua" "http://127.0.0.1:$PORT/oauth2/token" >/dev/null
results=()
for round in $(seq "$ROUNDS"); do
  cc=$(TOKEN_CREDS="$WORK/creds.lua" run -d"$DURATION" -s "$HERE/token.lua" "http://127.0.0.1:$PORT/oauth2/token")
  ex=$(EXCHANGE_BODIES="$WORK/exchange.lua" EXCHANGE_OFFSET=$(((round - 1) * PER_TURN)) EXCHANGE_THREADS="$THREADS" \
    run -d"$DURATION" -s "$HERE/exchange.lua" "http://127.0.0.1:$PORT/oauth2/token")
  results+=("$cc" "$ex")
done

python3 - "$PER_TURN" "${results[@]}" <<'PY'
import json, statistics, sys
per_turn = int(sys.argv[1])
runs = [json.loads(r) for r in sys.argv[2:]]
cc, ex = runs[0::2], runs[1::2]
for i, (c, e) in enumerate(zip(cc, ex), 1):
    print(f"round {i}: client_credentials {c['rps']:>7.0f}/s p99 {c['p99_ms']:.2f} ms errors {c['errors']}"
          f" | exchange {e['rps']:>7.0f}/s p99 {e['p99_ms']:.2f} ms errors {e['errors']}"
          f" (used {e['requests']} of {per_turn} external tokens)")
ratio = statistics.median(e["rps"] for e in ex) / statistics.median(c["rps"] for c in cc)
print(f"exchange / client_credentials (medians): {ratio:.2f}")
if any(e["requests"] > per_turn for e in ex):
    print("warning: a turn ran out of external tokens (raise TOKENS); its replays count as errors")
PY
