#!/usr/bin/env bash
# Creates (POST /api/v1/agents) or updates (PATCH /api/v1/agents/{id}) an agent from a JSON
# manifest, with a token from issue-token.sh.
# In: AGENTIDP_URL, AGENTIDP_AUDIENCE, AGENTIDP_MANIFEST, optional AGENTIDP_TARGET_AGENT_ID.
# Out (to $GITHUB_OUTPUT): agent-id.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

: "${AGENTIDP_MANIFEST:?manifest is required}"
[ -f "$AGENTIDP_MANIFEST" ] || { echo "::error::manifest $AGENTIDP_MANIFEST not found"; exit 1; }
jq -e 'type == "object"' "$AGENTIDP_MANIFEST" >/dev/null || { echo "::error::the manifest must be a JSON object"; exit 1; }

outputs=$(mktemp)
trap 'rm -f "$outputs"' EXIT
GITHUB_OUTPUT="$outputs" AGENTIDP_AGENT_ID="" AGENTIDP_SCOPE="" "$here/../issue-token/issue-token.sh"
token=$(sed -n 's/^access-token=//p' "$outputs")

if [ -n "${AGENTIDP_TARGET_AGENT_ID:-}" ]; then
  method=PATCH
  url="${AGENTIDP_URL%/}/api/v1/agents/$AGENTIDP_TARGET_AGENT_ID"
  expected=200
else
  method=POST
  url="${AGENTIDP_URL%/}/api/v1/agents"
  expected=201
fi
response=$(curl -sS --max-time 30 -w '\n%{http_code}' -X "$method" "$url" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary "@$AGENTIDP_MANIFEST")
status=${response##*$'\n'}
body=${response%$'\n'*}
if [ "$status" != "$expected" ]; then
  echo "::error::$method $url answered $status: $(jq -c . <<<"$body" 2>/dev/null || echo "$body")"
  exit 1
fi
agent_id=$(jq -r '.id' <<<"$body")
echo "agent-id=$agent_id" >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
echo "AgentIdP agent $agent_id $( [ "$method" = POST ] && echo registered || echo updated )"
