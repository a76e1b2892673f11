# Gantry: multi-stage build. Base images are build arguments so mirrors or locally made
# images can stand in (scripts/container-test.sh builds here without a registry).
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdnnl-dev libpng-dev libjpeg-dev libturbojpeg0-dev libtiff-dev libwebp-dev git \
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

# The run-time files, gathered into a root file system of their own: the binary, the shared
# libraries ldd names for it (oneDNN and its OpenCL loader, libpng, libturbojpeg, libtiff and its
# codecs, libwebp, libgomp, zlib,
# the C and C++ runtimes), the user and the folders. No shell, no package manager: the final
# image is that tree alone (the health check is `gantry healthcheck`).
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdnnl2 libpng16-16 libturbojpeg0 libtiff6 libwebp7 libwebpdemux2 libwebpmux3 libgomp1
COPY --from=build /out/gantry /rootfs/usr/local/bin/gantry
COPY --from=build /out/swift-backtrace-static /rootfs/usr/local/libexec/swift-backtrace-static
RUN set -e; \
    for lib in $(ldd /rootfs/usr/local/bin/gantry | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'); do \
      mkdir -p "/rootfs$(dirname "$lib")"; cp -L "$lib" "/rootfs$lib"; \
    done; \
    mkdir -p /rootfs/etc /rootfs/tmp /rootfs/home/gantry /rootfs/data/inbox /rootfs/data/outbox /rootfs/models; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\ngantry:x:10001:10001::/home/gantry:/sbin/nologin\n' > /rootfs/etc/passwd; \
    printf 'root:x:0:\ngantry:x:10001:\n' > /rootfs/etc/group; \
    chmod 1777 /rootfs/tmp; \
    chown 10001:10001 /rootfs/home/gantry /rootfs/data/inbox /rootfs/data/outbox; \
    chroot /rootfs /usr/local/bin/gantry --version

# `docker build --target mpi -t gantry:mpi .`: the image for data-parallel training (mpirun,
# Slurm, the Kubernetes MPI Operator). Debian's Open MPI and ssh beside the same binary, which
# loads libmpi only when launched by MPI; the default image below stays without them (it would
# grow past 150 MB; docs/scaling.md). Workers run sshd on port 2222 as the gantry user, as the
# MPI Operator's own base image does.
FROM ${RUNTIME_IMAGE} AS mpi
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdnnl2 libpng16-16 libturbojpeg0 libtiff6 libwebp7 libwebpdemux2 libwebpmux3 libgomp1 openmpi-bin libopenmpi3 openssh-server openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd -m -u 10001 gantry \
 && mkdir -p /run/sshd /data /runs && chown gantry:gantry /data /runs \
 && printf 'Port 2222\nPasswordAuthentication no\nStrictModes no\nPidFile /home/gantry/sshd.pid\nHostKey /home/gantry/.ssh/id_rsa\n' > /home/gantry/.sshd_config \
 && printf 'Host *\n  Port 2222\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n' > /etc/ssh/ssh_config.d/gantry.conf
COPY --from=build /out/gantry /usr/local/bin/gantry
USER 10001:10001
ENTRYPOINT []
CMD ["gantry", "--help"]

FROM scratch
COPY --from=runtime /rootfs /
ENV PATH=/usr/local/bin
# Crash backtraces on stderr (no interactive debugger in a container); the binary keeps its
# symbol table (only DWARF is stripped), so frames are named.
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/swift-backtrace-static
VOLUME ["/data/inbox", "/data/outbox", "/models"]
USER 10001:10001
# The watch service touches this file every 2 s while its main loop runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["/usr/local/bin/gantry", "healthcheck", "/tmp/gantry.heartbeat", "--max-age", "30"]
ENTRYPOINT ["/usr/local/bin/gantry"]
# Put the generator at /models/latest_net_G.pth (or pass another command line).
CMD ["watch", "/data/inbox", "-o", "/data/outbox", "-m", "/models", "--heartbeat", "/tmp/gantry.heartbeat"]
