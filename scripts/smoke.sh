#!/usr/bin/env bash
# Brings the stack up from the debug build on a spare port, checks every service's
# /health/live and /health/ready through the ingress and /health/detailed on its own port
# (the ingress answers 404 for it), and stops it again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export STACK_PROFILE=${STACK_PROFILE:-debug}
export INGRESS_PORT=${INGRESS_PORT:-18080}
export STACK_DB=${STACK_DB:-agentidp_smoke}
export STACK_FRESH_DB=1
trap '"$ROOT/scripts/stack.sh" down' EXIT
"$ROOT/scripts/stack.sh" up
ingress="http://127.0.0.1:$INGRESS_PORT"
# "<service> running (pid N, port P)" lines of `stack.sh status`: each service's own port.
declare -A PORT
while read -r s port; do PORT[$s]=$port; done < <(
  "$ROOT/scripts/stack.sh" status | sed -n 's/^\([a-z]*\) .*running .*port \([0-9]*\))$/\1 \2/p')
for s in identity marketplace billing analytics; do
  [ -n "${PORT[$s]:-}" ] || die "$s is not running"
  for probe in live ready; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$ingress/health/$s/$probe")
    [ "$code" = 200 ] || die "$s /health/$probe through the ingress -> $code"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' "$ingress/health/$s/detailed")
  [ "$code" = 404 ] || die "the ingress exposes $s /health/detailed ($code)"
  code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:${PORT[$s]}/health/detailed")
  echo "$s /health/detailed (port ${PORT[$s]}) -> $code $(cat /tmp/agentidp-smoke.json)"
  [ "$code" = 200 ] || die "$s is not healthy on its own port"
done
code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/api/v1/billing/tiers")
[ "$code" = 200 ] && grep -q '"enterprise"' /tmp/agentidp-smoke.json || die "the tier table is not served through the ingress ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/internal/v1/events")
[ "$code" = 404 ] || die "/internal is routed by the ingress ($code)"
log "smoke test passed"
