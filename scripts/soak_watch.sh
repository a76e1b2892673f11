#!/bin/bash
# Soak test of `gantry watch` under faults (not in CI; needs root for the tmpfs):
# N files (default 2000) are dropped into a watched inbox whose outbox is a small tmpfs; a
# consumer empties the outbox every few seconds, so it keeps filling up (ENOSPC) and clearing;
# the worker is SIGKILLed every 30 s and restarted. At the end every input must have exactly one
# output, nothing may be in failed/, and the worker's peak memory must stay flat.
#
#   scripts/soak_watch.sh [GANTRY] [MODEL] [N]
set -euo pipefail
GANTRY=${1:-.build/release/gantry}
MODEL=${2:-samples/models/colourise/latest_net_G.pth}
N=${3:-2000}
KILL_EVERY=${KILL_EVERY:-30}
DRAIN_EVERY=${DRAIN_EVERY:-4}
OUTBOX_BYTES=${OUTBOX_BYTES:-262144}
ROOT=$(mktemp -d /tmp/gantry-soak.XXXXXX)
mkdir -p "$ROOT"/{in,mnt,collected,staging}
mount -t tmpfs -o size=$OUTBOX_BYTES tmpfs "$ROOT/mnt"
OUT="$ROOT/mnt/out"
cleanup() { kill -9 "${PID:-0}" 2>/dev/null || true; kill "${DRAINER:-0}" 2>/dev/null || true; umount -l "$ROOT/mnt" || true; }
trap cleanup EXIT

# One small photo, copied under N names.
"$GANTRY" convert "$(ls samples/photos/* | head -1)" -m "$MODEL" -o "$ROOT/seed.png" --max-side 48 -q

start() {
  "$GANTRY" watch "$ROOT/in" -o "$OUT" -m "$MODEL" --settle 0.2 --rescan 2 >>"$ROOT/watch.log" 2>&1 &
  PID=$!
}

# The consumer: moves finished outputs out of the outbox every few seconds.
( while true; do
    sleep "$DRAIN_EVERY"
    find "$OUT" -maxdepth 1 -type f -name '*.png' -exec mv -n {} "$ROOT/collected/" \; 2>/dev/null || true
  done ) &
DRAINER=$!

start
for i in $(seq 1 "$N"); do
  cp "$ROOT/seed.png" "$ROOT/staging/f$i.png" && mv "$ROOT/staging/f$i.png" "$ROOT/in/f$i.png"
done
echo "dropped $N files"

begin=$(date +%s); last_kill=$begin; kills=0; peaks=(); peak=0
while true; do
  sleep 1
  rss=$(awk '/VmHWM/ {print $2}' /proc/$PID/status 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  now=$(date +%s)
  done_count=$(find "$ROOT/in/.done" -type f 2>/dev/null | wc -l)
  if [ "$done_count" -ge "$N" ]; then break; fi
  if [ $((now - last_kill)) -ge "$KILL_EVERY" ]; then
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
    peaks+=("$peak"); peak=0; kills=$((kills + 1)); last_kill=$now
    start
  fi
  if [ $((now - begin)) -gt 3600 ]; then echo "FAIL: not finished within an hour"; break; fi
done
peaks+=("$peak")
sleep "$((DRAIN_EVERY + 1))"
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
find "$OUT" -maxdepth 1 -type f -name '*.png' -exec mv -n {} "$ROOT/collected/" \; 2>/dev/null || true

outputs=$(ls "$ROOT/collected" | wc -l)
unique=$(ls "$ROOT/collected" | sed 's/-[0-9]*\.png$/.png/' | sort -u | wc -l)
duplicates=$(ls "$ROOT/collected" | grep -c -- '-[0-9]*\.png$' || true)
failed=$(find "$ROOT/in/.failed" -type f 2>/dev/null | wc -l)
left=$(find "$OUT" -maxdepth 1 -type f 2>/dev/null | wc -l)   # a duplicate the consumer could not take
faults=$(grep -c ' fault ' "$ROOT/watch.log" || true)
cleared=$(grep -c ' fault-cleared ' "$ROOT/watch.log" || true)
echo "files $N, seconds $(( $(date +%s) - begin )), kills $kills, outputs $outputs, distinct $unique, numbered duplicates $duplicates, left in outbox $left, failed $failed"
echo "faults begun $faults, cleared $cleared; peak RSS per worker life (kB): ${peaks[*]}"
if [ "$outputs" -eq "$N" ] && [ "$unique" -eq "$N" ] && [ "$duplicates" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$left" -eq 0 ]; then
  echo "PASS: every file converted exactly once, none failed"
else
  echo "FAIL"; exit 1
fi
