# Sourced by `scripts/container-test.sh mpi` (which has made the base images and the package
# mirrors): builds the Dockerfile's `mpi` target and trains with it, as users of deploy/ will.
# 1. The image: its size, and gantry runs in it without MPI.
# 2. `mpirun -np 2` in one container trains what `mpirun -np 1` trains (losses within 1e-4).
# 3. The MPIJob's shape: a launcher container runs mpirun, which reaches two worker containers
#    (sshd on port 2222, the operator's key layout in /home/gantry/.ssh) over a network of their
#    own, TCP only; the data mounted read-only on the workers, the run folder shared.

step "docker build --target mpi (podman)"
podman build --format docker --pull=never --target mpi --build-arg SWIFT_IMAGE="$SWIFT_IMAGE" \
    --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" -t localhost/gantry:mpi . 2>&1 | tail -2
rm -rf container-deps/github.com
size=$(podman image inspect localhost/gantry:mpi --format '{{.Size}}')
echo "mpi image size: $(( size / 1000000 )) MB"
podman run --rm --pull=never localhost/gantry:mpi gantry --version

M=$(mktemp -d /tmp/gantry-mpi.XXXXXX)
NET=gantry-mpi-test
cleanup() {
    podman rm -f gantry-w0 gantry-w1 >/dev/null 2>&1 || true
    podman network rm -f "$NET" >/dev/null 2>&1 || true
    rm -rf "$M"
}
trap cleanup EXIT
mkdir -p "$M/data" "$M/runs" "$M/ssh"
cp samples/photos/* "$M/data/"
chown -R 10001:10001 "$M/runs" "$M/ssh"
# A short colorization run on the six sample photos (batches of 4 and 2: every rank has a share
# of each), small networks.
TRAIN=(gantry train colorization --data /data --net-g unet_128 --ngf 8 --ndf 8 --load-size 128 --crop-size 128
       --n-epochs 2 --n-epochs-decay 1 --batch-size 4 --seed 5 --threads 1)
compare() {  # the largest relative difference between two runs' logged losses
    python3 - "$1/losses.jsonl" "$2/losses.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
assert len(a) == len(b) and a, f"{len(a)} and {len(b)} records"
terms = [k for k in b[0] if k not in ("epoch", "iter", "lr", "time_s")]
worst = max(abs(x[k] - y[k]) / max(1e-3, abs(y[k])) for x, y in zip(a, b) for k in terms)
print(f"{len(a)} iterations, largest loss difference {worst:.2e}")
sys.exit(0 if worst < 1e-4 else 1)
PY
}
VOL=(-v "$M/data:/data:ro" -v "$M/runs:/runs")

step "one rank, then mpirun -np 2 in one container"
# One rank under mpirun: a run started without a launcher keeps its one-stream random draws
# (docs/scaling.md), so the reference is `-np 1`.
podman run --rm --pull=never "${VOL[@]}" localhost/gantry:mpi mpirun -np 1 "${TRAIN[@]}" --run /runs/one >/dev/null
podman run --rm --pull=never "${VOL[@]}" localhost/gantry:mpi \
    mpirun -np 2 --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none "${TRAIN[@]}" --run /runs/two \
    2>&1 | grep -v '^epoch' | tail -3
compare "$M/runs/two" "$M/runs/one" || { echo "FAIL: two ranks in one container differ from one rank"; exit 1; }

step "an MPIJob's shape: launcher + two sshd workers on their own network"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$M/ssh/id_rsa"
cp "$M/ssh/id_rsa.pub" "$M/ssh/authorized_keys"
chown -R 10001:10001 "$M/ssh"
podman network create --subnet 10.89.77.0/24 "$NET" >/dev/null
HOSTS=(--add-host gantry-w0:10.89.77.10 --add-host gantry-w1:10.89.77.11)
for i in 0 1; do
    podman run -d --name "gantry-w$i" --hostname "gantry-w$i" --pull=never --network "$NET" --ip "10.89.77.1$i" "${HOSTS[@]}" \
        "${VOL[@]}" -v "$M/ssh:/home/gantry/.ssh" localhost/gantry:mpi /usr/sbin/sshd -De -f /home/gantry/.sshd_config >/dev/null
done
printf 'gantry-w0 slots=1\ngantry-w1 slots=1\n' > "$M/hostfile"
chmod 644 "$M/hostfile"
podman run --rm --pull=never --network "$NET" --ip 10.89.77.9 "${HOSTS[@]}" -v "$M/ssh:/home/gantry/.ssh" -v "$M/hostfile:/etc/mpi/hostfile:ro" \
    localhost/gantry:mpi mpirun -np 2 --hostfile /etc/mpi/hostfile --bind-to none \
    --mca btl tcp,self --mca btl_tcp_if_include 10.89.77.0/24 --mca oob_tcp_if_include 10.89.77.0/24 \
    "${TRAIN[@]}" --run /runs/job 2>&1 | grep -v '^epoch' | tail -3
compare "$M/runs/job" "$M/runs/one" || { echo "FAIL: the two worker containers differ from one rank"; exit 1; }
step "all mpi container checks passed"
