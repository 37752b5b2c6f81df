#!/usr/bin/env bash
# Brings the stack up from the debug build on a spare port, checks every service's
# /health/live and /health/ready through the ingress, /health/detailed and /metrics on its
# internal port (the ingress and the public port answer 404 for them), and stops it again.
# Then scripts/fresh-machine.sh: the same stack on a machine whose PostgreSQL wants a
# password.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export STACK_PROFILE=${STACK_PROFILE:-debug}
export INGRESS_PORT=${INGRESS_PORT:-18080}
export STACK_DB=${STACK_DB:-agentidp_smoke}
export STACK_FRESH_DB=1
trap '"$ROOT/scripts/stack.sh" down' EXIT
"$ROOT/scripts/stack.sh" up
ingress="http://127.0.0.1:$INGRESS_PORT"
# "<service> running (pid N, port P, internal port I)" lines of `stack.sh status`.
declare -A PORT INTERNAL
while read -r s port internal; do PORT[$s]=$port; INTERNAL[$s]=$internal; done < <(
  "$ROOT/scripts/stack.sh" status \
    | sed -n 's/^\([a-z]*\) .*running .*port \([0-9]*\), internal port \([0-9]*\))$/\1 \2 \3/p')
for s in identity marketplace billing analytics; do
  [ -n "${PORT[$s]:-}" ] && [ -n "${INTERNAL[$s]:-}" ] || die "$s is not running"
  for probe in live ready; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$ingress/health/$s/$probe")
    [ "$code" = 200 ] || die "$s /health/$probe through the ingress -> $code"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' "$ingress/health/$s/detailed")
  [ "$code" = 404 ] || die "the ingress exposes $s /health/detailed ($code)"
  for path in /health/detailed /metrics; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$s]}$path")
    [ "$code" = 404 ] || die "$s serves $path on its public port ($code)"
  done
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${INTERNAL[$s]}/metrics")
  [ "$code" = 200 ] || die "$s /metrics on its internal port -> $code"
  code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:${INTERNAL[$s]}/health/detailed")
  echo "$s /health/detailed (internal port ${INTERNAL[$s]}) -> $code $(cat /tmp/agentidp-smoke.json)"
  [ "$code" = 200 ] || die "$s is not healthy on its internal port"
done
code=$(curl -s -o /tmp/agentidp-smoke.json -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/api/v1/billing/tiers")
[ "$code" = 200 ] && grep -q '"enterprise"' /tmp/agentidp-smoke.json || die "the tier table is not served through the ingress ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/internal/v1/events")
[ "$code" = 404 ] || die "/internal is routed by the ingress ($code)"
# The services reach each other over their internal ports: an agent registered through the
# ingress reaches the marketplace (which reads identity's change feed on identity's internal
# port) and analytics counts the events it read the same way.
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
tenant="$DEV/demo-tenant-$STACK_DB.json"
[ -f "$tenant" ] || die "no demo tenant was seeded"
token=$(curl -fsS -u "$(json '["client_id"]' < "$tenant"):$(json '["client_secret"]' < "$tenant")" \
  -d grant_type=client_credentials "$ingress/oauth2/token" | json '["access_token"]')
agent=$(curl -fsS -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"smoke agent","description":"Registered by the smoke test","agent_type":"monitor",
       "version":"1.0.0","capabilities":["smoke:run"],"owner":"smoke@example.com",
       "deployment_env":"development","tags":["smoke"]}' \
  "$ingress/api/v1/agents" | json '["id"]')
listed=""
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$ingress/api/v1/marketplace/agents/$agent")
  [ "$code" = 200 ] && { listed=1; break; }
  sleep 0.1
done
[ -n "$listed" ] || die "the marketplace did not list the new agent (identity's feed over the internal port)"
applied=""
for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:${INTERNAL[analytics]}/metrics" \
      | grep -q '^agentidp_feed_events_applied_total{.*} [1-9]'; then applied=1; break; fi
  sleep 0.1
done
[ -n "$applied" ] || die "analytics applied no event of identity's feed over the internal port"
log "smoke test passed"
"$ROOT/scripts/stack.sh" down
trap - EXIT
"$ROOT/scripts/fresh-machine.sh"
