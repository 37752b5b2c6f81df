#!/usr/bin/env bash
# Runs the whole AgentIdP stack on one machine: PostgreSQL and Redis (the machine's, or
# private ones), migrations, the four services, and an nginx ingress on one port.
#
#   scripts/stack.sh run      start, print URLs, stay in the foreground; Ctrl-C stops all
#   scripts/stack.sh up       start in the background
#   scripts/stack.sh down     stop what `up` started
#   scripts/stack.sh status   show what is running
#
# Variables: STACK_PROFILE (release|debug, default release), INGRESS_PORT (8080),
# STACK_DB (agentidp), STACK_FRESH_DB=1 (start from an empty database: only a database this
# script created is ever dropped), DATABASE_URL / REDIS_URL (use these servers instead of
# local ones), STACK_DEV_DIR (state: private servers, secrets, logs; default .dev),
# CARGO_TARGET_DIR (honoured), plus any service variable (docs/ENVIRONMENT.md), passed
# through to every service.
#
# Each service listens on its public port (8081-8084, behind the ingress) and on its
# internal port (9081-9084: /internal, /metrics, /health/detailed), which the services use
# to call each other.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SERVICES=(identity marketplace billing analytics)
declare -A PORTS=([identity]=8081 [marketplace]=8082 [billing]=8083 [analytics]=8084)
declare -A INTERNAL_PORTS=([identity]=9081 [marketplace]=9082 [billing]=9083 [analytics]=9084)
# Marks a database this script created: the only kind it ever drops.
STACK_MARK="created by agentidp scripts/stack.sh"
PROFILE=${STACK_PROFILE:-release}
INGRESS_PORT=${INGRESS_PORT:-8080}
STACK_DB=${STACK_DB:-agentidp}
PIDS="$DEV/pids"; LOGS="$DEV/logs"; NGINX="$DEV/nginx"
mkdir -p "$PIDS" "$LOGS" "$NGINX/tmp"

bin_dir() { if [ "$PROFILE" = release ]; then echo "$(target_dir)/release"; else echo "$(target_dir)/debug"; fi; }

build() {
  log "building the service binaries ($PROFILE)"
  local flags=(); [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" --bins -p identity -p marketplace -p billing -p analytics)
}

secrets() {
  # Generated once per checkout; never committed (.dev is ignored). NEW_SECRETS=1 when made
  # now: a stack database left by another checkout holds keys sealed with other secrets.
  local f="$DEV/secrets.env"
  NEW_SECRETS=0
  if [ ! -f "$f" ]; then
    umask 077
    {
      echo "KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)"
      echo "CREDENTIAL_PEPPER=$(head -c 32 /dev/urandom | base64)"
    } > "$f"
    NEW_SECRETS=1
  fi
  set -a; source "$f"; set +a
}

configure() {
  ensure_postgres
  ensure_redis
  secrets
  [[ "$STACK_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "STACK_DB must be a plain lower-case name"
  local exists mark
  exists=$(psql -w "$PG_ADMIN_URL" -qtAc "SELECT 1 FROM pg_database WHERE datname='$STACK_DB'")
  mark=$(psql -w "$PG_ADMIN_URL" -qtAc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname='$STACK_DB'")
  if [ -n "$exists" ] && [ "$mark" != "$STACK_MARK" ]; then
    # Made by an earlier version of this script (before the mark) if it holds nothing but
    # the services' schemas; anything else is someone's data.
    local foreign
    foreign=$(psql -w "$PG_BASE/$STACK_DB" -qtAc "SELECT count(*) FROM pg_namespace n
        WHERE nspname NOT IN ('identity','marketplace','billing','analytics','public','information_schema')
          AND nspname NOT LIKE 'pg\_%'
        OR (nspname = 'public' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid))")
    [ "$foreign" = 0 ] || die "database $STACK_DB exists and was not created by this script; it is left alone: choose another STACK_DB"
    psql -w "$PG_ADMIN_URL" -qc "COMMENT ON DATABASE $STACK_DB IS '$STACK_MARK'" >/dev/null
  fi
  if [ -n "$exists" ] && { [ "${STACK_FRESH_DB:-0}" = 1 ] || [ "$NEW_SECRETS" = 1 ]; }; then
    # Its keys are sealed with secrets this checkout does not have (or a fresh start was
    # asked for); it is ours (marked when created), so it may go.
    psql -w "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $STACK_DB WITH (FORCE)" >/dev/null
    rm -f "$DEV/demo-tenant-$STACK_DB.json"
    exists=""
  fi
  if [ -z "$exists" ]; then
    psql -w "$PG_ADMIN_URL" -qc "CREATE DATABASE $STACK_DB" >/dev/null
    psql -w "$PG_ADMIN_URL" -qc "COMMENT ON DATABASE $STACK_DB IS '$STACK_MARK'" >/dev/null
  fi
  export DATABASE_URL="$PG_BASE/$STACK_DB"
  export REDIS_URL="$REDIS_BASE_URL"
  export PUBLIC_URL="${PUBLIC_URL:-http://localhost:$INGRESS_PORT}"
  # Services call each other on their internal ports (JWKS, change feed, usage).
  export IDENTITY_URL="http://127.0.0.1:${INTERNAL_PORTS[identity]}"
  export BILLING_URL="http://127.0.0.1:${INTERNAL_PORTS[billing]}"
  export HOST=127.0.0.1
  # The ingress (nginx on this machine) forwards the client's address in X-Forwarded-For.
  export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.0/8,::1/128}"
  # A local stack serves one developer from one IP: generous per-IP limits.
  export RATE_LIMIT_MAX_REQUESTS="${RATE_LIMIT_MAX_REQUESTS:-100000}"
  export RATE_LIMIT_TOKEN_IP_MAX="${RATE_LIMIT_TOKEN_IP_MAX:-100000000}"
  export RATE_LIMIT_TOKEN_CLIENT_MAX="${RATE_LIMIT_TOKEN_CLIENT_MAX:-100000000}"
  export RATE_LIMIT_TENANT_MAX="${RATE_LIMIT_TENANT_MAX:-1000000}"
  # Load tests and demos sign tenants up from this one address.
  export RATE_LIMIT_SIGNUP_IP_MAX="${RATE_LIMIT_SIGNUP_IP_MAX:-100000}"
  # The search load tests send every uncached search from this one address.
  export MARKETPLACE_SEARCH_IP_CONCURRENCY="${MARKETPLACE_SEARCH_IP_CONCURRENCY:-1000}"
  # Tier limits are counted but not enforced locally, so load tests can exceed the free
  # tier's daily limits (TIER_ENFORCEMENT=true to try them). Webhooks may target this machine.
  export TIER_ENFORCEMENT="${TIER_ENFORCEMENT:-false}"
  export WEBHOOK_ALLOWED_NETWORKS="${WEBHOOK_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}"
}

migrate() {
  for s in "${SERVICES[@]}"; do
    log "migrating $s"
    "$(bin_dir)/$s" migrate >>"$LOGS/$s.log" 2>&1 || { tail -n 20 "$LOGS/$s.log"; die "$s migrate failed"; }
  done
}

service_env() {
  # Internal OAuth clients for the services that call identity and billing.
  local s=$1 f="$DEV/clients/$s.json"
  [ "$s" = identity ] && return
  mkdir -p "$DEV/clients"
  if "$(bin_dir)/identity" service-client --help >/dev/null 2>&1; then
    "$(bin_dir)/identity" service-client "$s" > "$f.tmp" 2>>"$LOGS/identity.log" && mv "$f.tmp" "$f"
    SERVICE_CLIENT_ID=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["client_id"])' "$f")
    SERVICE_CLIENT_SECRET=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["client_secret"])' "$f")
    export SERVICE_CLIENT_ID SERVICE_CLIENT_SECRET
  fi
}

start_services() {
  for s in "${SERVICES[@]}"; do
    if [ -f "$PIDS/$s.pid" ] && kill -0 "$(cat "$PIDS/$s.pid")" 2>/dev/null; then
      log "$s already running"; continue
    fi
    (
      service_env "$s"
      PORT=${PORTS[$s]} INTERNAL_PORT=${INTERNAL_PORTS[$s]} nohup "$(bin_dir)/$s" serve >>"$LOGS/$s.log" 2>&1 &
      echo $! > "$PIDS/$s.pid"
    )
  done
}

start_ingress() {
  ensure_nginx
  local nginx_bin; nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  local user_directive=""; [ "$(id -u)" = 0 ] && user_directive="user root;"
  mkdir -p "$NGINX/tmp"
  sed -e "s#@PREFIX@#$NGINX#g" -e "s#@INGRESS_PORT@#$INGRESS_PORT#g" \
      -e "s#@USER_DIRECTIVE@#$user_directive#g" -e "s#@LISTEN_ADDRESS@#127.0.0.1#g" \
      -e "s#@\(IDENTITY\|MARKETPLACE\|BILLING\|ANALYTICS\)_HOST@#127.0.0.1#g" \
      -e "s#@IDENTITY_PORT@#${PORTS[identity]}#g" -e "s#@MARKETPLACE_PORT@#${PORTS[marketplace]}#g" \
      -e "s#@BILLING_PORT@#${PORTS[billing]}#g" -e "s#@ANALYTICS_PORT@#${PORTS[analytics]}#g" \
      "$ROOT/deploy/nginx/agentidp.conf.tmpl" > "$NGINX/nginx.conf"
  if [ -f "$NGINX/nginx.pid" ] && kill -0 "$(cat "$NGINX/nginx.pid")" 2>/dev/null; then
    "$nginx_bin" -p "$NGINX" -c "$NGINX/nginx.conf" -s reload
  else
    "$nginx_bin" -p "$NGINX" -c "$NGINX/nginx.conf"
  fi
}

wait_healthy() {
  local base="http://127.0.0.1:$INGRESS_PORT"
  for s in "${SERVICES[@]}"; do
    local ok=""
    for _ in $(seq 300); do
      if curl -fs -o /dev/null "$base/health/$s/ready"; then ok=1; break; fi
      sleep 0.2
    done
    [ -n "$ok" ] || { tail -n 30 "$LOGS/$s.log"; die "$s did not become ready"; }
  done
}

seed_demo() {
  local f="$DEV/demo-tenant-$STACK_DB.json" base="http://127.0.0.1:$INGRESS_PORT"
  [ -f "$f" ] && return
  local res
  res=$(curl -fsS -X POST "$base/api/v1/tenants" -H 'content-type: application/json' \
        -d '{"name":"Demo Tenant","email":"demo@example.com"}' 2>/dev/null) || return 0
  (umask 077; echo "$res" > "$f")
}

print_urls() {
  local base="http://localhost:$INGRESS_PORT"
  cat <<URLS

AgentIdP is running behind the ingress at $base
  health        $base/health/{identity,marketplace,billing,analytics}/{live,ready}
  detailed      http://127.0.0.1:{${INTERNAL_PORTS[identity]},${INTERNAL_PORTS[marketplace]},${INTERNAL_PORTS[billing]},${INTERNAL_PORTS[analytics]}}/health/detailed (internal ports, not the ingress; /metrics there too)
  OAuth 2.0     $base/oauth2/token   $base/.well-known/openid-configuration
  JWKS          $base/.well-known/jwks.json
  marketplace   $base/api/v1/marketplace/agents
  billing tiers $base/api/v1/billing/tiers
  logs          $LOGS/<service>.log
URLS
  if [ -f "$DEV/demo-tenant-$STACK_DB.json" ]; then
    echo "  demo tenant   $DEV/demo-tenant-$STACK_DB.json (tenant-admin client_id and client_secret)"
  fi
  echo
}

down() {
  for s in "${SERVICES[@]}"; do
    local f="$PIDS/$s.pid"
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$f"
  done
  if [ -f "$NGINX/nginx.pid" ]; then
    local nginx_bin; nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    "$nginx_bin" -p "$NGINX" -c "$NGINX/nginx.conf" -s quit 2>/dev/null || true
  fi
  log "stack stopped"
}

status() {
  for s in "${SERVICES[@]}"; do
    local f="$PIDS/$s.pid" state="stopped"
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && state="running (pid $(cat "$f"), port ${PORTS[$s]}, internal port ${INTERNAL_PORTS[$s]})"
    printf '%-12s %s\n' "$s" "$state"
  done
}

up() {
  [ "${STACK_SKIP_BUILD:-}" = 1 ] || build
  configure
  migrate
  start_services
  start_ingress
  wait_healthy
  seed_demo
  print_urls
}

case "${1:-run}" in
  up) up ;;
  down) down ;;
  status) status ;;
  run)
    up
    trap 'down; exit 0' INT TERM
    log "following logs; Ctrl-C stops the stack"
    tail -n 0 -F "$LOGS"/*.log &
    wait
    ;;
  *) die "usage: $0 run|up|down|status" ;;
esac
