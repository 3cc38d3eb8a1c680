#!/usr/bin/env bash
# Measures lookoutd end to end on the bundled photos: frames/s (events per
# second over EVENTS events, camera faster than inference so the worker never
# waits), the stats command's latency percentiles, and lookoutd's peak RSS
# (GNU time). Usage: scripts/bench_daemon.sh [EVENTS] (default 30).
# Needs a build (./scripts/build.sh) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EVENTS=${1:-30}
THREADS=${THREADS:-1}

WORK=$(mktemp -d /tmp/lookout-bench.XXXXXX)
cleanup() {
  [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cat >"$WORK/lookoutd.json" <<JSON
{
  "camera": {"name": "bench", "type": "images", "device": "$ROOT/tests/data/images", "fps": 30, "loop": true},
  "model": {"path": "$ROOT/models/mobilenet_v2_1.0_224_quant.tflite",
            "labels": "$ROOT/models/imagenet_labels.txt", "threads": $THREADS},
  "socket": {"path": "$WORK/lookoutd.sock", "mode": "0600"}
}
JSON

/usr/bin/time -v -o "$WORK/time.txt" ./build/bin/lookoutd --config "$WORK/lookoutd.json" --log-level warn \
  2>"$WORK/lookoutd.log" &
DAEMON=$!
for _ in $(seq 100); do [ -S "$WORK/lookoutd.sock" ] && break; sleep 0.1; done

start=$(date +%s.%N)
./build/bin/lookout query --socket "$WORK/lookoutd.sock" --count "$EVENTS" --timeout 600 subscribe >"$WORK/events.jsonl"
end=$(date +%s.%N)
./build/bin/lookout query --socket "$WORK/lookoutd.sock" stats >"$WORK/stats.json"
# GNU time's child is lookoutd itself: signal it through time's process group.
pkill -TERM -P "$DAEMON" lookoutd || true
wait "$DAEMON" || true
DAEMON=

python3 - "$WORK" "$EVENTS" "$start" "$end" <<'PY'
import json, pathlib, re, sys
work, events, start, end = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lines = [json.loads(l) for l in (work / "events.jsonl").read_text().splitlines()[1:]]
stats = json.loads((work / "stats.json").read_text())["result"]
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", (work / "time.txt").read_text()).group(1))
print(f"events: {len(lines)} in {end - start:.2f} s = {len(lines) / (end - start):.2f} frames/s")
print(f"stats: fps {stats['fps']}, captured {stats['frames_captured']}, inferred {stats['frames_inferred']}, "
      f"dropped {stats['frames_dropped']}, arena {stats['arena_bytes']} bytes")
for k, v in stats["latency_ms"].items():
    print(f"latency_ms.{k}: p50 {v['p50']} p90 {v['p90']} p99 {v['p99']} max {v['max']} (n={v['samples']})")
print(f"peak RSS: {rss_kb / 1024:.1f} MiB")
PY
