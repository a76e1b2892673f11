# Gantry: multi-stage build. Base images are build arguments so mirrors or locally made
# images can stand in (scripts/container-test.sh builds here without a registry).
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdnnl-dev libpng-dev libjpeg-dev libturbojpeg0-dev git \
 && rm -rf /var/lib/apt/lists/*
# Offline builds: package mirrors placed in container-deps/ replace GitHub.
COPY container-deps /deps
RUN if [ -d /deps/github.com ]; then git config --global url."/deps/github.com/".insteadOf "https://github.com/"; fi
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --static-swift-stdlib --product gantry \
 && mkdir -p /out \
 && cp "$(swift build -c release --show-bin-path)/gantry" /out/gantry \
 && strip --strip-debug /out/gantry \
 && cp "$(dirname "$(readlink -f "$(command -v swift)")")/../libexec/swift/linux/swift-backtrace-static" /out/

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdnnl2 libpng16-16 libturbojpeg0 libgomp1 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --create-home --home-dir /home/gantry gantry \
 && mkdir -p /data/inbox /data/outbox /models \
 && chown gantry:gantry /data/inbox /data/outbox
COPY --from=build /out/gantry /usr/local/bin/gantry
COPY --from=build /out/swift-backtrace-static /usr/local/libexec/swift-backtrace-static
# Crash backtraces on stderr (no interactive debugger in a container); the binary keeps its
# symbol table (only DWARF is stripped), so frames are named.
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/swift-backtrace-static
VOLUME ["/data/inbox", "/data/outbox", "/models"]
USER gantry
# The watch service touches this file every 2 s while its main loop runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD test $(( $(date +%s) - $(stat -c %Y /tmp/gantry.heartbeat) )) -lt 30 || exit 1
ENTRYPOINT ["gantry"]
# Put the generator at /models/latest_net_G.pth (or pass another command line).
CMD ["watch", "/data/inbox", "-o", "/data/outbox", "-m", "/models", "--heartbeat", "/tmp/gantry.heartbeat"]
