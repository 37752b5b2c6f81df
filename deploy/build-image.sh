#!/usr/bin/env bash
# Builds the container image of one service:
#
#   deploy/build-image.sh <identity|marketplace|billing|analytics> [tag]
#
# With a container engine that can pull the base images this is
#   docker build -f deploy/Dockerfile --build-arg SERVICE=<service> -t agentidp/<service>:<tag> .
# (`podman build` alike). Where no registry can be reached, BUILD_OFFLINE=1 assembles the
# same runtime image with buildah from scratch, following the Dockerfile's runtime stage:
# the binary built with the same `dist` profile, the shared libraries it links and the CA
# certificates (what the distroless base provides), the same user, ports, environment,
# health check, entrypoint, command and OCI labels.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

service=${1:?usage: deploy/build-image.sh <service> [tag]}
tag=${2:-dev}
case "$service" in identity|marketplace|billing|analytics) ;; *) die "unknown service $service" ;; esac
image="agentidp/$service:$tag"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [ "${BUILD_OFFLINE:-0}" != 1 ]; then
  engine=$(command -v docker || command -v podman) || die "no docker or podman (or set BUILD_OFFLINE=1)"
  exec "$engine" build -f deploy/Dockerfile --build-arg SERVICE="$service" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
    -t "$image" .
fi

command -v buildah >/dev/null || apt_install buildah
log "building $service (profile dist)"
cargo build --profile dist --locked -p "$service" --bin "$service"
bin="$(target_dir)/dist/$service"

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$ctr")
install -D -m 0755 "$bin" "$root/usr/local/bin/agentidp-service"
# The loader and every library the binary links, at the same paths (glibc, as in
# distroless/cc).
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  install -D -m 0644 "$lib" "$root$lib"
done
chmod 0755 "$root"/lib*/ld-linux* "$root"/lib*/*/ld-linux* 2>/dev/null || true
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$root/etc" "$root/tmp"; chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nagentidp:x:10001:10001::/nonexistent:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nagentidp:x:10001:\n' > "$root/etc/group"
buildah unmount "$ctr" >/dev/null
BUILDAH_FORMAT=docker buildah config \
  --user 10001:10001 --port 8080 --port 9090 \
  --env HOST=0.0.0.0 --env PORT=8080 --env INTERNAL_PORT=9090 --env LOG_FORMAT=json \
  --healthcheck 'CMD ["/usr/local/bin/agentidp-service", "healthcheck"]' \
  --healthcheck-interval 10s --healthcheck-timeout 3s --healthcheck-start-period 10s --healthcheck-retries 3 \
  --stop-signal SIGTERM \
  --entrypoint '["/usr/local/bin/agentidp-service"]' --cmd serve \
  --label org.opencontainers.image.title="agentidp-$service" \
  --label org.opencontainers.image.description="AgentIdP $service service: identity provider for AI agents" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.created="$created" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.vendor=AgentIdP \
  "$ctr"
buildah commit --format docker --rm "$ctr" "$image" >/dev/null
trap - EXIT
log "built $image ($(buildah images --format '{{.Size}}' "$image" | head -n1))"
