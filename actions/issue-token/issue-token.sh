#!/usr/bin/env bash
# Exchanges the job's GitHub OIDC token for an AgentIdP agent token.
# In: AGENTIDP_URL, AGENTIDP_AUDIENCE, optional AGENTIDP_SCOPE and AGENTIDP_AGENT_ID, and the
# runner's ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN.
# Out (to $GITHUB_OUTPUT): access-token, expires-at. Every token is masked in the log.
set -euo pipefail

: "${AGENTIDP_URL:?agentidp-url is required}"
: "${AGENTIDP_AUDIENCE:?audience is required}"
if [ -z "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] || [ -z "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
  echo "::error::no GitHub OIDC token available: give the job 'permissions: id-token: write'"
  exit 1
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "::error::$tool is required"; exit 1; }
done

# 1. The job's OIDC token, for the policy's audience.
case "$ACTIONS_ID_TOKEN_REQUEST_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
audience=$(jq -rn --arg v "$AGENTIDP_AUDIENCE" '$v|@uri')
oidc=$(curl -sSf --max-time 30 \
  -H "Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "${ACTIONS_ID_TOKEN_REQUEST_URL}${sep}audience=${audience}" | jq -r '.value // empty')
if [ -z "$oidc" ]; then
  echo "::error::the runner gave no OIDC token"
  exit 1
fi
echo "::add-mask::$oidc"

# 2. The exchange (RFC 8693).
args=(
  --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:token-exchange"
  --data-urlencode "subject_token=$oidc"
  --data-urlencode "subject_token_type=urn:ietf:params:oauth:token-type:id_token"
  --data-urlencode "requested_token_type=urn:ietf:params:oauth:token-type:access_token"
)
[ -n "${AGENTIDP_SCOPE:-}" ] && args+=(--data-urlencode "scope=$AGENTIDP_SCOPE")
[ -n "${AGENTIDP_AGENT_ID:-}" ] && args+=(--data-urlencode "agent_id=$AGENTIDP_AGENT_ID")
response=$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST "${AGENTIDP_URL%/}/oauth2/token" "${args[@]}")
status=${response##*$'\n'}
body=${response%$'\n'*}
if [ "$status" != "200" ]; then
  reason=$(jq -r '(.error // "error") + ": " + (.error_description // "")' <<<"$body" 2>/dev/null || echo "$body")
  echo "::error::the token exchange was refused ($status) $reason"
  exit 1
fi
token=$(jq -r '.access_token' <<<"$body")
echo "::add-mask::$token"
expires_in=$(jq -r '.expires_in' <<<"$body")
expires_at=$(date -u -d "@$(( $(date +%s) + expires_in ))" +%Y-%m-%dT%H:%M:%SZ)

{
  echo "access-token=$token"
  echo "expires-at=$expires_at"
} >> "${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
echo "AgentIdP token issued, expires at $expires_at"
