#!/usr/bin/env bash
# The main job, end to end: installs what is needed, builds, then runs lookoutd
# on the bundled model over the bundled photos (served as an image-folder
# camera) and shows its events as they come, read from lookoutd's Unix socket
# (`lookout query subscribe`: one JSON event per line). lookoutd stops by
# itself after a bounded number of frames.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

./scripts/setup.sh
./scripts/build.sh

FRAMES=${FRAMES:-12}
WORK=$(mktemp -d /tmp/lookout-demo.XXXXXX)
cat >"$WORK/lookoutd.json" <<JSON
{
  "camera": {"name": "demo", "type": "images", "device": "$ROOT/tests/data/images",
             "fps": 2, "loop": true, "max_frames": $FRAMES},
  "model": {"path": "$ROOT/models/mobilenet_v2_1.0_224_quant.tflite",
            "labels": "$ROOT/models/imagenet_labels.txt", "threads": 2},
  "output": {"top_k": 3},
  "socket": {"path": "$WORK/lookoutd.sock", "mode": "0600"}
}
JSON

echo "demo: lookoutd on $ROOT/tests/data/images ($FRAMES frames), socket $WORK/lookoutd.sock" >&2
./build/bin/lookoutd --config "$WORK/lookoutd.json" 2>"$WORK/lookoutd.log" &
DAEMON=$!
cleanup() {
  kill "$DAEMON" 2>/dev/null || true
  wait "$DAEMON" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 100); do
  [ -S "$WORK/lookoutd.sock" ] && break
  if ! kill -0 "$DAEMON" 2>/dev/null; then cat "$WORK/lookoutd.log" >&2; exit 1; fi
  sleep 0.1
done
[ -S "$WORK/lookoutd.sock" ] || { echo "demo: lookoutd did not open its socket" >&2; cat "$WORK/lookoutd.log" >&2; exit 1; }

# Stream events until lookoutd stops (after FRAMES frames) or 5 minutes pass.
./build/bin/lookout query --socket "$WORK/lookoutd.sock" --timeout 300 subscribe || true
wait "$DAEMON"
status=$?
echo "--- lookoutd log ---" >&2
cat "$WORK/lookoutd.log" >&2
exit $status
