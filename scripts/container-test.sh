#!/usr/bin/env bash
# Builds Gantry's Dockerfile and exercises the image: convert the samples, stream under a cgroup
# memory limit, run the watch service, stop it with SIGTERM, kill it and restart its container. Works without a Docker daemon or a registry: it uses podman
# (runc), and when the official base images cannot be pulled it makes local ones —
# debian:bookworm-slim from debootstrap, and that plus the host's Swift toolchain as the build
# image (recipe: shared notes "containers-offline"). Run as root on Debian 12.
# `scripts/container-test.sh mpi` builds the Dockerfile's `mpi` target instead and trains with it:
# two ranks in one container, then an MPIJob's shape — a launcher container running mpirun, two
# worker containers running sshd, on a network of their own — against one rank.
set -euo pipefail
MODE=${1:-default}
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/var/tmp/gantry-container}
SWIFT_DIR=${SWIFT_DIR:-$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")}
MIRROR=${DEBIAN_MIRROR:-$(grep -h -m1 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$WORK"
t0=$(date +%s)
step() { echo "== $(( $(date +%s) - t0 ))s: $*"; }

step "podman"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null || ! command -v ssh-keygen >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap openssh-client >/dev/null
fi
if ! grep -q 'runtime = "runc"' /etc/containers/containers.conf 2>/dev/null; then
    mkdir -p /etc/containers
    cat > /etc/containers/containers.conf <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi

RUNTIME_IMAGE=${RUNTIME_IMAGE:-localhost/debian:bookworm-slim}
SWIFT_IMAGE=${SWIFT_IMAGE:-localhost/swift:6.3-bookworm}
if ! podman image exists "$RUNTIME_IMAGE"; then
    step "base image $RUNTIME_IMAGE (debootstrap)"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >/dev/null
    rm -rf "$WORK/rootfs"/var/cache/apt/* "$WORK/rootfs"/var/lib/apt/lists/* "$WORK/rootfs"/usr/share/doc/* "$WORK/rootfs"/usr/share/man/*
    tar --numeric-owner -C "$WORK/rootfs" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' - "$RUNTIME_IMAGE" >/dev/null
fi
if ! podman image exists "$SWIFT_IMAGE"; then
    step "build image $SWIFT_IMAGE (base + host toolchain $SWIFT_DIR)"
    rm -rf "$WORK/ctx-swift" && mkdir -p "$WORK/ctx-swift"
    cp -al "$SWIFT_DIR" "$WORK/ctx-swift/swift" 2>/dev/null || cp -a "$SWIFT_DIR" "$WORK/ctx-swift/swift"
    cat > "$WORK/ctx-swift/Containerfile" <<CF
FROM $RUNTIME_IMAGE
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    binutils libc6-dev libgcc-12-dev libstdc++-12-dev libcurl4 libxml2 libsqlite3-0 libncurses6 git pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY swift /opt/swift
ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
CF
    podman build --pull=never -q -t "$SWIFT_IMAGE" "$WORK/ctx-swift" >/dev/null
fi

step "package mirrors for an offline build"
rm -rf container-deps/github.com
# Every package in the build graph (the Package.swift dependencies and theirs).
for pkg in apple/swift-argument-parser jpsim/Yams apple/swift-nio apple/swift-metrics swift-server/swift-prometheus \
           apple/swift-atomics apple/swift-collections apple/swift-system apple/swift-protobuf; do
    if [ -d "/opt/swift-packages/$pkg.git" ]; then
        mkdir -p "container-deps/github.com/$(dirname "$pkg")"
        git clone -q --mirror "/opt/swift-packages/$pkg.git" "container-deps/github.com/$pkg.git"
    fi
done

if [ "$MODE" = mpi ]; then
    source scripts/container-mpi-checks.sh
    exit 0
fi

step "docker build (podman)"
podman build --format docker --pull=never --build-arg SWIFT_IMAGE="$SWIFT_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
    -t localhost/gantry:test . 2>&1 | tail -3
rm -rf container-deps/github.com
size=$(podman image inspect localhost/gantry:test --format '{{.Size}}')
echo "image size: $(( size / 1000000 )) MB"
[ "$size" -le 150000000 ] || { echo "FAIL: the image is over 150 MB"; exit 1; }

T=$(mktemp -d /tmp/gantry-ct.XXXXXX)
trap 'podman rm -f gantry-watch-test gantry-watch-restart >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
mkdir -p "$T/out" "$T/inbox" "$T/outbox" "$T/models"
chmod 777 "$T/out" "$T/inbox" "$T/outbox"
cp Tests/Fixtures/resnet6_instance.pth "$T/models/latest_net_G.pth"

step "convert samples/photos in the container"
podman run --rm --pull=never -v "$ROOT/samples/photos:/data/in:ro" -v "$T/out:/data/out" -v "$T/models:/models:ro" \
    localhost/gantry:test convert /data/in -m /models/latest_net_G.pth -o /data/out
n_in=$(ls samples/photos | wc -l); n_out=$(ls "$T/out" | wc -l)
[ "$n_in" = "$n_out" ] || { echo "FAIL: $n_out outputs for $n_in photos"; exit 1; }
echo "ok: $n_out outputs"

step "a container memory limit makes large images stream (the budget follows the cgroup)"
mkdir -p "$T/out2" && chmod 777 "$T/out2"
podman run --rm --pull=never --memory 400m -v "$ROOT/samples/photos:/data/in:ro" -v "$T/out2:/data/out" \
    -v "$T/models:/models:ro" localhost/gantry:test convert /data/in -m /models/latest_net_G.pth -o /data/out \
    --report /data/out/report.jsonl
streamed=$(grep -c '"streamed":true' "$T/out2/report.jsonl" || true)
[ "$streamed" = "$n_in" ] || { cat "$T/out2/report.jsonl"; echo "FAIL: $streamed of $n_in photos streamed under --memory 400m"; exit 1; }
echo "ok: $streamed photos streamed under a 400 MB cgroup limit"

step "watch service: drop files, expect outputs and inputs in .done"
podman run -d --name gantry-watch-test --pull=never -v "$T/inbox:/data/inbox" -v "$T/outbox:/data/outbox" \
    -v "$T/models:/models:ro" localhost/gantry:test >/dev/null
sleep 3
cp samples/photos/* "$T/inbox/"
for _ in $(seq 60); do
    [ "$(ls "$T/outbox" | wc -l)" = "$n_in" ] && [ "$(ls "$T/inbox/.done" 2>/dev/null | wc -l)" = "$n_in" ] && break
    sleep 1
done
[ "$(ls "$T/outbox" | wc -l)" = "$n_in" ] || { podman logs gantry-watch-test; echo "FAIL: outbox has $(ls "$T/outbox" | wc -l) files"; exit 1; }
echo "ok: $n_in outputs, inputs in .done"
health=$(podman healthcheck run gantry-watch-test 2>&1 && echo healthy || echo unhealthy)
echo "healthcheck: $health"

step "SIGTERM"
podman stop -t 30 gantry-watch-test >/dev/null
code=$(podman inspect gantry-watch-test --format '{{.State.ExitCode}}')
podman logs gantry-watch-test 2>&1 | tail -2
[ "$code" = "0" ] || { echo "FAIL: exit code $code after SIGTERM"; exit 1; }
[ "$health" = "healthy" ] || { echo "FAIL: healthcheck"; exit 1; }
step "watch killed (SIGKILL) mid-batch and its container restarted: every file converted exactly once"
mkdir -p "$T/inbox2" "$T/outbox2" && chmod 777 "$T/inbox2" "$T/outbox2"
podman run -d --name gantry-watch-restart --pull=never -v "$T/inbox2:/data/inbox" -v "$T/outbox2:/data/outbox" \
    -v "$T/models:/models:ro" localhost/gantry:test >/dev/null
sleep 3
n2=0
for round in 1 2 3 4; do
    for f in samples/photos/*; do cp "$f" "$T/inbox2/r${round}_$(basename "$f")"; n2=$((n2 + 1)); done
done
for _ in $(seq 300); do [ "$(ls "$T/outbox2" | wc -l)" -ge 2 ] && break; sleep 0.1; done
before=$(ls "$T/outbox2" | wc -l)
podman kill -s KILL gantry-watch-restart >/dev/null
podman start gantry-watch-restart >/dev/null
for _ in $(seq 180); do
    [ "$(ls "$T/outbox2" | wc -l)" = "$n2" ] && [ "$(ls "$T/inbox2/.done" 2>/dev/null | wc -l)" = "$n2" ] && break
    sleep 1
done
n_out2=$(ls "$T/outbox2" | wc -l)
[ "$n_out2" = "$n2" ] || { podman logs gantry-watch-restart 2>&1 | tail -20; echo "FAIL: $n_out2 outputs for $n2 inputs after a restart"; exit 1; }
dups=$(ls "$T/outbox2" | grep -E -- '-[0-9]+\.' || true)
[ -z "$dups" ] || { echo "FAIL: converted twice: $dups"; exit 1; }
left=$(find "$T/inbox2" -maxdepth 1 -type f | wc -l)
[ "$left" = "0" ] || { echo "FAIL: $left inputs left in the inbox"; exit 1; }
echo "ok: killed with $before of $n2 written; after the restart $n_out2 outputs, none twice, all inputs in .done"
podman stop -t 30 gantry-watch-restart >/dev/null

step "all container checks passed"
