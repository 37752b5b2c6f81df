#!/usr/bin/env bash
# Tokens per second of POST /oauth2/token next to the same server's GET /health/live,
# measured in one run with wrk on the same machine.
#
#   load-tests/token-bench.sh                 # against identity on 127.0.0.1:8081 (make up)
#
# Variables: IDENTITY_BASE (http://127.0.0.1:8081), CONNECTIONS (128), THREADS (2),
# DURATION (30s), BASELINE_DURATION (10s), AGENTS (10), CREDENTIALS_PER_AGENT (10).
# The identity under test must allow the load: the stack's defaults raise the per-client and
# per-IP token limits (scripts/stack.sh).
set -euo pipefail
cd "$(dirname "$0")"
BASE=${IDENTITY_BASE:-http://127.0.0.1:8081}
CONNS=${CONNECTIONS:-128}
THREADS=${THREADS:-2}
DURATION=${DURATION:-30s}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 lib/setup.py "$BASE" "${AGENTS:-10}" "${CREDENTIALS_PER_AGENT:-10}" --lua "$WORK/creds.lua"

run() { wrk -t"$THREADS" -c"$CONNS" --latency "$@" | tail -n 1; }
# Warm both paths (credential cache, connections), then measure.
TOKEN_CREDS="$WORK/creds.lua" wrk -t"$THREADS" -c"$CONNS" -d3s -s token.lua "$BASE/oauth2/token" >/dev/null
baseline=$(run -d"${BASELINE_DURATION:-10s}" -s plain.lua "$BASE/health/live")
tokens=$(TOKEN_CREDS="$WORK/creds.lua" run -d"$DURATION" -s token.lua "$BASE/oauth2/token")

python3 - "$baseline" "$tokens" "$CONNS" <<'PY'
import json, sys
base, tok, conns = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"connections: {conns}")
for name, r in (("GET /health/live", base), ("POST /oauth2/token", tok)):
    print(f"  {name:<20} {r['rps']:>9.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['errors']}")
print(f"  tokens/s as a share of /health/live: {tok['rps'] / base['rps']:.2f}")
PY
