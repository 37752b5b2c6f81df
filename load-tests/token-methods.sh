#!/usr/bin/env bash
# Tokens/s of each way to get a token, against client_secret_basic on the same identity, in
# turns (secret, private_key_jwt, DPoP, federated exchange; ROUNDS times), with wrk:
#   - private_key_jwt: an ES256 client assertion per request (each used once);
#   - DPoP: client_secret_basic plus an ES256 DPoP proof per request (each used once);
#   - token exchange: a GitHub-shaped RS256 external token per request, keys cached.
# Goals: private_key_jwt >= 0.6, DPoP >= 0.5, exchange >= 0.5 of client_secret.
#
#   load-tests/token-methods.sh
#
# Builds release binaries, runs identity alone on a private database (audit events on, as in
# production) and testkit's fake GitHub OIDC issuer. Variables: ROUNDS (2), DURATION (6s),
# CONNECTIONS (64), THREADS (2), TOKENS (single-use requests per method and turn, 60000).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../scripts/lib.sh"
ensure_postgres
ensure_redis
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-6s}
CONNS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PER_TURN=${TOKENS:-60000}
TARGET="${CARGO_TARGET_DIR:-$HERE/../target}"
(cd "$HERE/.." && cargo build -q --release -p identity && cargo build -q --release -p testkit --example token_bench)
WORK=$(mktemp -d)
PORT=8093
PID="" SETUP_PID=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [ -n "$SETUP_PID" ] && kill "$SETUP_PID" 2>/dev/null || true
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench_methods WITH (FORCE)" >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export REDIS_URL="$REDIS_BASE_URL" HOST=127.0.0.1 PORT PUBLIC_URL="http://127.0.0.1:$PORT"
export REDIS_KEY_PREFIX="bench-methods:$$:"
export KEY_ENCRYPTION_KEY CREDENTIAL_PEPPER
KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
CREDENTIAL_PEPPER=$(head -c 32 /dev/urandom | base64)
export RATE_LIMIT_MAX_REQUESTS=100000 RATE_LIMIT_TOKEN_IP_MAX=100000000
export RATE_LIMIT_TOKEN_CLIENT_MAX=100000000 RATE_LIMIT_TENANT_MAX=100000000
export RATE_LIMIT_SIGNUP_IP_MAX=100000 RATE_LIMIT_AUTH_FAILURE_IP_MAX=100000000
export FEDERATION_ALLOWED_NETWORKS=127.0.0.0/8
export TIER_ENFORCEMENT=false BILLING_URL=http://127.0.0.1:9 LOG_LEVEL=${LOG_LEVEL:-warn}
psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS bench_methods WITH (FORCE)" >/dev/null
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE bench_methods" >/dev/null
export DATABASE_URL="$PG_BASE/bench_methods"
"$TARGET/release/identity" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migrate failed"; }
"$TARGET/release/identity" serve >"$WORK/identity.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done

# The setup tool (and its issuer) lives as long as fd 3 stays open.
mkfifo "$WORK/stdin"
"$TARGET/release/examples/token_bench" "http://127.0.0.1:$PORT" $((PER_TURN * ROUNDS)) "$WORK" <"$WORK/stdin" &
SETUP_PID=$!
exec 3>"$WORK/stdin"
for _ in $(seq 900); do [ -f "$WORK/ready" ] && break; sleep 0.5; done
[ -f "$WORK/ready" ] || die "the single-use requests were not made"

URL="http://127.0.0.1:$PORT/oauth2/token"
run() { wrk -t"$THREADS" -c"$CONNS" --latency "$@" "$URL" | tail -n 1; }
onetime() {
  ONETIME_REQUESTS="$WORK/$1.txt" ONETIME_OFFSET="$2" ONETIME_THREADS="$THREADS" \
    run -d"$DURATION" -s "$HERE/onetime.lua"
}
TOKEN_CREDS="$WORK/creds.lua" wrk -t"$THREADS" -c"$CONNS" -d2s -s "$HERE/token.lua" "$URL" >/dev/null
results=()
for round in $(seq "$ROUNDS"); do
  offset=$(((round - 1) * PER_TURN))
  results+=("$(TOKEN_CREDS="$WORK/creds.lua" run -d"$DURATION" -s "$HERE/token.lua")")
  results+=("$(onetime private_key_jwt "$offset")")
  results+=("$(onetime dpop "$offset")")
  results+=("$(onetime exchange "$offset")")
done

python3 - "$PER_TURN" "${results[@]}" <<'PY'
import json, statistics, sys
per_turn = int(sys.argv[1])
runs = [json.loads(r) for r in sys.argv[2:]]
for r in runs:
    # Only answered tokens count: a refused request (an error) is not a token.
    r["rps"] = (r["requests"] - r["errors"]) / r["seconds"]
names = ["client_secret", "private_key_jwt", "DPoP", "token exchange"]
goals = [None, 0.6, 0.5, 0.5]
by = {n: runs[i::4] for i, n in enumerate(names)}
for i in range(len(by["client_secret"])):
    print(f"round {i + 1}: " + " | ".join(
        f"{n} {by[n][i]['rps']:.0f}/s p99 {by[n][i]['p99_ms']:.1f} ms err {by[n][i]['errors']}" for n in names))
base = statistics.median(r["rps"] for r in by["client_secret"])
for n, goal in zip(names[1:], goals[1:]):
    ratio = statistics.median(r["rps"] for r in by[n]) / base
    print(f"{n} / client_secret (medians): {ratio:.2f} (goal {goal})")
    if any(r["requests"] > per_turn for r in by[n]):
        print(f"warning: {n} ran out of single-use requests in a turn (raise TOKENS); replays count as errors")
PY
