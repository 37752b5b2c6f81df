#!/usr/bin/env bash
# Brings the stack up from the debug build on a spare port, checks every service's
# /health/detailed through the ingress, and stops it again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export STACK_PROFILE=${STACK_PROFILE:-debug}
export INGRESS_PORT=${INGRESS_PORT:-18080}
export STACK_DB=${STACK_DB:-agentidp_smoke}
export STACK_FRESH_DB=1
trap '"$ROOT/scripts/stack.sh" down' EXIT
"$ROOT/scripts/stack.sh" up
for s in identity marketplace billing analytics; do
  code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/health/$s/detailed")
  echo "$s /health/detailed -> $code $(cat /tmp/agentidp-smoke.json)"
  [ "$code" = 200 ] || die "$s is not healthy through the ingress"
done
code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/api/v1/billing/tiers")
[ "$code" = 200 ] && grep -q '"enterprise"' /tmp/agentidp-smoke.json || die "the tier table is not served through the ingress ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/internal/v1/events")
[ "$code" = 404 ] || die "/internal is routed by the ingress ($code)"
log "smoke test passed"
