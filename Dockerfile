# Gateway image: `gateway serve` by default; `gatewayctl` is in the same image.
#
#   docker build -t gateway .
#   docker run --env-file .env -p 8080:8080 gateway                 # gateway serve
#   docker run --rm gateway gatewayctl --version
#
# Railway builds this file (Swift is not one of Railpack's languages). No BuildKit cache mounts:
# Railway rejects cache mounts without an id of its own format, and a plain build works on every
# host. scripts/check-image.sh rebuilds the same binaries with the same script and runs them in
# a root filesystem assembled from the same package list, so CI catches a runtime stage that
# misses a library without a Docker engine.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
COPY . .
# The one release build (also run by scripts/check-image.sh): release configuration, Swift
# standard library and Foundation linked statically, both products, laid out under /staging as
# the runtime stage expects (usr/local/bin/{gateway,gatewayctl}, usr/share/gateway/openapi.yaml).
RUN bash scripts/build-release.sh --install /staging

# ---- runtime ----------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# Installs scripts/runtime-packages.txt (C++ runtime, CA certificates, time zone data) and
# creates the unprivileged user `gateway` (uid/gid 10001).
COPY scripts/runtime-packages.txt scripts/image-runtime-setup.sh /tmp/image-setup/
RUN sh /tmp/image-setup/image-runtime-setup.sh && rm -rf /tmp/image-setup
COPY --from=build /staging/ /
COPY scripts/healthcheck.sh /usr/local/bin/gateway-healthcheck

LABEL org.opencontainers.image.title="gateway" \
      org.opencontainers.image.description="Share the AI agents on your desktop with other people, relayed over Server-Sent Events."

USER 10001:10001
WORKDIR /
# Hosts inject PORT (Railway, Render, Fly); 8080 otherwise. The gateway binds `::` (dual stack:
# IPv4 and IPv6, which Railway's IPv6 private network needs) unless BIND_ADDRESS says otherwise.
ENV PORT=8080
EXPOSE 8080
# Docker's own health state (Railway runs its own check on healthcheckPath at deploy time).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/gateway-healthcheck"]
STOPSIGNAL SIGTERM
CMD ["gateway", "serve"]
