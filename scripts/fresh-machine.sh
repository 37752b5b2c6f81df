#!/usr/bin/env bash
# The README's `make up` on a machine like a fresh Debian: its PostgreSQL on 127.0.0.1
# requires a password (scram-sha-256), there is no state from an earlier run (a new
# STACK_DEV_DIR), and the build output lives elsewhere (CARGO_TARGET_DIR). The stack must
# fall back to a private PostgreSQL, never prompt, never touch a database it did not
# create, and come up healthy. Part of `make smoke`.
#
# Simulated with a private cluster that demands passwords, standing in for the machine's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/agentidp-fresh.XXXXXX)
chmod 755 "$work"
scram_port=$(free_port)
scram="$work/scram-pg"
run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  run=(runuser -u postgres --)
fi
mkdir -p "$scram"; [ "$(id -u)" = 0 ] && chown postgres: "$scram"
cleanup() {
  STACK_DEV_DIR="$work/dev" "$ROOT/scripts/stack.sh" down >/dev/null 2>&1 || true
  "${run[@]}" "$(pg_bin pg_ctl)" -D "$work/dev/postgres" -m immediate stop >/dev/null 2>&1 || true
  "${run[@]}" "$(pg_bin pg_ctl)" -D "$scram" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "a PostgreSQL on 127.0.0.1:$scram_port that requires a password (scram-sha-256)"
echo "not-the-default-$RANDOM$RANDOM" > "$work/pw"; chmod 644 "$work/pw"
"${run[@]}" "$(pg_bin initdb)" -D "$scram" -U postgres --auth=scram-sha-256 --pwfile="$work/pw" >/dev/null
"${run[@]}" "$(pg_bin pg_ctl)" -D "$scram" -l "$scram/server.log" -w \
  -o "-p $scram_port -k $scram -c listen_addresses=127.0.0.1" start >/dev/null
if psql -w "postgres://postgres@127.0.0.1:$scram_port/postgres" -qtAc 'select 1' >/dev/null 2>&1; then
  die "the simulated PostgreSQL lets user postgres in without a password"
fi

export STACK_DEV_DIR="$work/dev" LOCAL_PG_PORT=$scram_port PRIVATE_PG_PORT=$(free_port)
export STACK_PROFILE=debug INGRESS_PORT=$(free_port) STACK_DB=agentidp_fresh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(target_dir)}"
unset DATABASE_URL PGPASSWORD
"$ROOT/scripts/stack.sh" up </dev/null > "$work/up.log" 2>&1 || { cat "$work/up.log"; die "make up failed"; }
grep -q "wants a password: using a private one" "$work/up.log" || { cat "$work/up.log"; die "no fallback to a private PostgreSQL"; }
for s in identity marketplace billing analytics; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INGRESS_PORT/health/$s/ready")
  [ "$code" = 200 ] || die "$s is not ready through the ingress ($code)"
done
private="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/postgres"
[ "$(psql -w "$private" -qtAc "SELECT count(*) FROM pg_database WHERE datname='agentidp_fresh'")" = 1 ] \
  || die "the stack's database is not in the private PostgreSQL"
"$ROOT/scripts/stack.sh" down >/dev/null 2>&1

log "a database the stack did not create is never dropped"
psql -w "$private" -qc "CREATE DATABASE someone_elses" >/dev/null
psql -w "postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/someone_elses" -qc "CREATE TABLE precious (x int)" >/dev/null
if STACK_DB=someone_elses STACK_FRESH_DB=1 STACK_SKIP_BUILD=1 "$ROOT/scripts/stack.sh" up </dev/null > "$work/refused.log" 2>&1; then
  die "the stack ran on a database it did not create"
fi
grep -q "was not created by this script" "$work/refused.log" || { cat "$work/refused.log"; die "no reason given"; }
[ "$(psql -w "postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/someone_elses" -qtAc "SELECT count(*) FROM precious")" = 0 ] \
  || die "someone_elses lost its table"
log "fresh machine: ok (private PostgreSQL fallback, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
