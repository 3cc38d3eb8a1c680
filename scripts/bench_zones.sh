#!/usr/bin/env bash
# What zones cost and what they save, on a static scene: lookoutd runs a
# folder holding one bundled photo, looped at 10 frames/s, against a
# mosquitto started here on 127.0.0.1, for SECONDS (default 60) per run.
# Reports per run: MQTT messages per minute (mosquitto_sub on '#', after the
# first 5 s so start-up's discovery and first states are left out) and
# lookoutd's CPU time per processed frame (utime + stime from /proc over
# the same window, divided by the frames inferred in it).
# Runs: "every frame" (/mqtt/results every_frame without a cap: what lookoutd
# published before zones), then 1 zone and 3 zones with the defaults, the
# three back to back REPEATS times (default 3); prints each run, then per
# configuration the medians and their ratio to the "every frame" baseline.
# Usage: [REPEATS=N] scripts/bench_zones.sh [SECONDS]. Needs a build and mosquitto.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_RUN=${1:-60}
REPEATS=${REPEATS:-3}
WORK=$(mktemp -d /tmp/lookout-zones.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  for p in ${DAEMON:-} ${SUB:-} ${BROKER:-}; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/frames"
cp tests/data/images/cat_720p.jpg "$WORK/frames/"
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$WORK/mosquitto.conf"
/usr/sbin/mosquitto -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
BROKER=$!
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
frames_inferred() {
  ./build/bin/lookout query --socket "$WORK/lookoutd.sock" stats | python3 -c 'import json,sys; j = json.load(sys.stdin); print(j.get("result", j)["frames_inferred"])'
}

run() {  # name, zones JSON, results mode
  local name=$1 zones=$2 results=$3
  cat >"$WORK/lookoutd.json" <<JSON
{
  "camera": {"name": "bench", "type": "images", "device": "$WORK/frames", "fps": 10, "loop": true},
  "model": {"path": "$ROOT/models/mobilenet_v2_1.0_224_quant.tflite",
            "labels": "$ROOT/models/imagenet_labels.txt",
            "groups": "$ROOT/models/imagenet_groups.json"},
  "zones": $zones,
  "socket": {"path": "$WORK/lookoutd.sock", "mode": "0600"},
  "mqtt": {"enabled": true, "host": "127.0.0.1", "port": $PORT, "results": "$results", "results_max_per_s": 0}
}
JSON
  rm -f "$WORK/lookoutd.sock"
  ./build/bin/lookoutd --config "$WORK/lookoutd.json" --log-level warn 2>"$WORK/lookoutd.log" &
  DAEMON=$!
  for _ in $(seq 100); do [ -S "$WORK/lookoutd.sock" ] && break; sleep 0.1; done
  sleep 5
  mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'lookout/#' -t 'homeassistant/#' -v -R >"$WORK/messages.txt" 2>/dev/null &
  SUB=$!
  local hz t0 t1 f0 f1
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$DAEMON"); f0=$(frames_inferred)
  sleep "$SECONDS_PER_RUN"
  t1=$(cpu_ticks "$DAEMON"); f1=$(frames_inferred)
  kill "$SUB"; wait "$SUB" 2>/dev/null || true; SUB=
  kill -TERM "$DAEMON"; wait "$DAEMON" || true; DAEMON=
  local messages
  messages=$(wc -l <"$WORK/messages.txt")
  python3 - "$name" "$messages" "$SECONDS_PER_RUN" "$t0" "$t1" "$hz" "$f0" "$f1" <<'PY' | tee -a "$WORK/results.tsv"
import sys
name, messages, secs, t0, t1, hz, f0, f1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), *map(int, sys.argv[4:])
frames = max(f1 - f0, 1)
print(f"{name}\t{messages * 60 / secs:.1f}\t{frames / secs:.2f}\t{(t1 - t0) * 1000 / hz / frames:.2f}")
PY
}

echo "static scene (cat_720p.jpg) at 10 frames/s, ${SECONDS_PER_RUN} s per run, ${REPEATS} repeats"
echo "run: name, MQTT msgs/min, frames/s, ms CPU per processed frame"
for _ in $(seq "$REPEATS"); do
  run "every frame (before)" '[]' every_frame
  run "1 zone" '[{"name": "sofa", "groups": ["cat", "dog"]}]' off
  run "3 zones" '[{"name": "left", "region": [0, 0, 0.5, 1], "groups": ["cat"]},
    {"name": "right", "region": [0.5, 0, 1, 1], "groups": ["cat"]},
    {"name": "all", "groups": ["cat", "dog"]}]' off
done
python3 - "$WORK/results.tsv" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, msgs, fps, cpu = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(msgs), float(fps), float(cpu)))
base = rows["every frame (before)"]
base_msgs = statistics.median(r[0] for r in base)
base_cpu = statistics.median(r[2] for r in base)
print(f"{'median of ' + str(len(base)):<22} {'msgs/min':>9} {'ratio':>7} {'frames/s':>9} {'ms CPU/frame':>13} {'ratio':>6}")
for name, runs in rows.items():
    msgs = statistics.median(r[0] for r in runs)
    fps = statistics.median(r[1] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    print(f"{name:<22} {msgs:9.1f} {msgs / base_msgs:7.4f} {fps:9.2f} {cpu:13.2f} {cpu / base_cpu:6.2f}")
PY
