#!/usr/bin/env bash
# Marketplace search next to the same server's GET /health/live, measured with wrk on the
# same machine: a saturation run (most requests per second 64 connections get) and a paced
# run at TARGET_RPS (latency at the target rate, with CPU left for the database).
#
#   load-tests/marketplace-search.sh      # against a marketplace on 127.0.0.1:8082
#
# Load the catalogue first (`marketplace seed --count 1000000`, docs/OPERATIONS.md). The
# marketplace under test must allow the load from one IP: start it with
# RATE_LIMIT_MAX_REQUESTS=100000 and MARKETPLACE_SEARCH_IP_CONCURRENCY of at least CONNECTIONS
# (every connection may be a cache miss at once, and misses over the bound are refused with
# 429 and counted as errors; the local stack sets both).
# Variables: MARKETPLACE_BASE (http://127.0.0.1:8082), CONNECTIONS (64), THREADS (2),
# DURATION (30s, each run), BASELINE_DURATION (10s), WARMUP (15s), LONG_TAIL (0.01: share
# of requests composed at random, mostly never seen before, so served by the search index),
# TARGET_RPS (3000), P99_MAX_MS (20). The goal is the paced run's: at least TARGET_RPS
# requests per second with p99 below P99_MAX_MS and no errors. Exits 1 unless it is met and
# the saturated run also reaches TARGET_RPS. Errors in the saturated run (long-tail searches
# that waited or ran past a timeout while the machine was overloaded) are reported apart.
set -euo pipefail
cd "$(dirname "$0")"
BASE=${MARKETPLACE_BASE:-http://127.0.0.1:8082}
CONNS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-30s}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TARGET_RPS=${TARGET_RPS:-3000}
export LONG_TAIL=${LONG_TAIL:-0.01}
export MARKET_QUERIES="$WORK/queries.lua"
SEARCH="$BASE/api/v1/marketplace/agents"

python3 lib/marketplace_queries.py "$BASE" "$MARKET_QUERIES"

# Cache requests so far: "<hits> <misses>" (agentidp_marketplace_cache_requests_total).
cache_counts() {
  curl -fs "$BASE/metrics" | awk '
    /^agentidp_marketplace_cache_requests_total/ && /result="hit"/  { h = $NF }
    /^agentidp_marketplace_cache_requests_total/ && /result="miss"/ { m = $NF }
    END { printf "%d %d\n", h, m }'
}
run() { wrk -t"$THREADS" -c"$CONNS" --latency "$@" | tail -n 1; }

# Warm up: the response cache, PostgreSQL's buffers, the connections.
wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP:-15s}" -s marketplace-search.lua "$SEARCH" >/dev/null
baseline=$(run -d"${BASELINE_DURATION:-10s}" -s plain.lua "$BASE/health/live")
read -r hits0 misses0 < <(cache_counts)
saturated=$(run -d"$DURATION" -s marketplace-search.lua "$SEARCH")
read -r hits1 misses1 < <(cache_counts)
# Each connection waits PACE_MS between requests: at most 10% above TARGET_RPS in all (each
# connection's cycle is its wait plus the response time).
paced=$(PACE_MS=$((CONNS * 1000 * 10 / (TARGET_RPS * 11))) run -d"$DURATION" -s marketplace-search.lua "$SEARCH")
read -r hits2 misses2 < <(cache_counts)

python3 - "$baseline" "$saturated" "$paced" "$CONNS" "$LONG_TAIL" "$TARGET_RPS" "${P99_MAX_MS:-20}" \
  "$((hits1 - hits0)) $((misses1 - misses0)) $((hits2 - hits1)) $((misses2 - misses1))" <<'PY'
import json, sys
base, sat, paced = (json.loads(a) for a in sys.argv[1:4])
conns, tail, target, p99_max = sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7])
h1, m1, h2, m2 = (int(x) for x in sys.argv[8].split())
print(f"connections: {conns}, long tail: {tail}")
for name, r, h, m in (("GET /health/live", base, 0, 0), ("search, saturated", sat, h1, m1),
                      (f"search, paced ~{target:g}/s", paced, h2, m2)):
    cache = f"  cache hits {100 * h / (h + m):.1f}% ({m} misses)" if h + m else ""
    print(f"  {name:<24} {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms"
          f"  p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.2f} ms  errors {r['errors']}{cache}")
print(f"  saturated searches/s as a share of /health/live: {sat['rps'] / base['rps']:.2f}")
print(f"  saturated run: {sat['errors']} errors in {sat['requests']} requests")
goal = paced["rps"] >= target and paced["p99_ms"] < p99_max and paced["errors"] == 0
print(f"  goal, paced: >= {target:g} req/s with p99 < {p99_max:g} ms, no errors: "
      f"{'met' if goal else 'MISSED'}")
print(f"  saturated run reaches {target:g} req/s: {'yes' if sat['rps'] >= target else 'NO'}")
sys.exit(0 if goal and sat["rps"] >= target else 1)
PY
