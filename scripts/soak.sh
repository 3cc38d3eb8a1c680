#!/usr/bin/env bash
# The long soak, for a real machine: lookoutd on the bundled model and photos
# (looping, 10 fps) for HOURS hours, publishing every result over MQTT to a
# mosquitto on 127.0.0.1 that is killed (SIGKILL) and restarted every
# RESTART_MIN minutes, with a socket subscriber (`lookout query subscribe`)
# reading every event. Every SAMPLE_S seconds it writes lookoutd's VmRSS,
# VmHWM, open file descriptors and `stats` to soak.csv in the output folder,
# and at the end prints a summary. Builds nothing (./scripts/build.sh first).
#
# Usage: scripts/soak.sh HOURS        (fractional: 0.05 is 3 minutes)
#
# Exits non-zero when lookoutd's resident memory grew by more than
# MAX_RSS_GROWTH_MB after the warm-up, when its file descriptors changed, when
# frames stopped, when MQTT dropped messages (outages are far shorter than the
# 1000-message queue), or when lookoutd or the subscriber died.
#
# Environment: LOOKOUTD (default build/bin/lookoutd), LOOKOUT (build/bin/lookout),
# OUT (output folder; default a new /tmp/lookout-soak.XXXXXX, kept),
# SAMPLE_S (60), RESTART_MIN (10, or a third of a shorter run), OUTAGE_S (5),
# FPS (10), MAX_RSS_GROWTH_MB (16). Needs mosquitto (/usr/sbin/mosquitto)
# and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() {
  echo "usage: $0 HOURS   (e.g. 24, or 0.05 for 3 minutes)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
HOURS=$1
[[ $HOURS =~ ^[0-9]+([.][0-9]+)?$|^[.][0-9]+$ ]] || usage
DURATION_S=$(awk -v h="$HOURS" 'BEGIN { printf "%d", h * 3600 }')
[ "$DURATION_S" -ge 30 ] || { echo "soak: HOURS=$HOURS is under 30 seconds" >&2; exit 2; }

LOOKOUTD=${LOOKOUTD:-$ROOT/build/bin/lookoutd}
LOOKOUT=${LOOKOUT:-$ROOT/build/bin/lookout}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
SAMPLE_S=${SAMPLE_S:-60}
OUTAGE_S=${OUTAGE_S:-5}
FPS=${FPS:-10}
MAX_RSS_GROWTH_MB=${MAX_RSS_GROWTH_MB:-16}
if [ -n "${RESTART_MIN:-}" ]; then
  RESTART_S=$(awk -v m="$RESTART_MIN" 'BEGIN { printf "%d", m * 60 }')
else
  RESTART_S=$((DURATION_S / 3 < 600 ? DURATION_S / 3 : 600))
fi
[ "$RESTART_S" -ge "$((OUTAGE_S + 10))" ] || RESTART_S=$((OUTAGE_S + 10))
# Memory is compared from the end of the warm-up on: a quarter of the run,
# at most 5 minutes.
WARMUP_S=$((DURATION_S / 4 < 300 ? DURATION_S / 4 : 300))
PHOTOS=$ROOT/tests/data/images

for program in "$LOOKOUTD" "$LOOKOUT" "$MOSQUITTO"; do
  [ -x "$program" ] || { echo "soak: $program not found (build first: ./scripts/build.sh)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "soak: needs python3" >&2; exit 2; }

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d /tmp/lookout-soak.XXXXXX)
fi
SOCK=$OUT/lookoutd.sock
CSV=$OUT/soak.csv
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

DAEMON='' BROKER='' SUBSCRIBER='' COUNTER=''
cleanup() {
  # Only the processes this script started, by their ids.
  local pid
  for pid in "$SUBSCRIBER" "$COUNTER" "$DAEMON" "$BROKER"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "$SUBSCRIBER" "$COUNTER" "$DAEMON" "$BROKER"; do
    if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
  done
  rm -f "$OUT/events.fifo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- mosquitto ---------------------------------------------------------------
{
  echo "listener $PORT 127.0.0.1"
  echo "allow_anonymous true"
  # As root, mosquitto would switch to the mosquitto user.
  echo "user $(id -un)"
  echo "log_dest stderr"
} >"$OUT/mosquitto.conf"

broker_up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start_broker() {
  "$MOSQUITTO" -c "$OUT/mosquitto.conf" >>"$OUT/mosquitto.log" 2>&1 &
  BROKER=$!
  for _ in $(seq 100); do
    broker_up && return 0
    sleep 0.1
  done
  echo "soak: mosquitto did not start on 127.0.0.1:$PORT; see $OUT/mosquitto.log" >&2
  exit 1
}

RESTARTS=0
restart_broker() {
  kill -KILL "$BROKER" 2>/dev/null || true
  wait "$BROKER" 2>/dev/null || true
  BROKER=''
  sleep "$OUTAGE_S"
  start_broker
  RESTARTS=$((RESTARTS + 1))
}

# --- lookoutd ----------------------------------------------------------------
cat >"$OUT/lookoutd.json" <<JSON
{
  "camera": {"name": "soak", "type": "images", "device": "$PHOTOS", "fps": $FPS, "loop": true},
  "model": {"path": "$ROOT/models/mobilenet_v2_1.0_224_quant.tflite",
            "labels": "$ROOT/models/imagenet_labels.txt"},
  "output": {"top_k": 3},
  "socket": {"path": "$SOCK", "mode": "0600"},
  "mqtt": {"enabled": true, "host": "127.0.0.1", "port": $PORT, "topic_prefix": "lookout/soak",
           "qos": 1, "results": "every_frame", "results_max_per_s": 0,
           "reconnect_min_s": 1, "reconnect_max_s": 2, "diagnostics_interval_s": 60}
}
JSON

start_broker
"$LOOKOUTD" --config "$OUT/lookoutd.json" 2>"$OUT/lookoutd.log" &
DAEMON=$!
for _ in $(seq 600); do
  [ -S "$SOCK" ] && "$LOOKOUT" query --socket "$SOCK" --timeout 5 version >/dev/null 2>&1 && break
  kill -0 "$DAEMON" 2>/dev/null || { echo "soak: lookoutd exited; its log:" >&2; cat "$OUT/lookoutd.log" >&2; exit 1; }
  sleep 0.1
done

# The subscriber: every event, counted (result events) into events.count.
mkfifo "$OUT/events.fifo"
"$LOOKOUT" query --socket "$SOCK" --count 0 --timeout 0 subscribe >"$OUT/events.fifo" 2>"$OUT/subscriber.log" &
SUBSCRIBER=$!
awk -v f="$OUT/events.count" '/"type":"result"/ { n++; if (n % 10 == 0) { print n > f; close(f) } }
                                 END { print n + 0 > f }' <"$OUT/events.fifo" &
COUNTER=$!

# --- sampling ----------------------------------------------------------------
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON/status"; }

# The highest of 5 VmRSS readings 0.2 s apart: decoding a photo takes a few
# MiB for a moment, so single readings swing by ~7 MiB without any growth.
rss_kb() {
  local max=0 v
  for _ in 1 2 3 4 5; do
    v=$(status_kb VmRSS)
    [ "${v:-0}" -gt "$max" ] && max=$v
    sleep 0.2
  done
  echo "$max"
}

# Open descriptors, less the photo the capture thread may be reading.
fd_count() {
  local n=0 fd target
  for fd in "/proc/$DAEMON/fd/"*; do
    target=$(readlink "$fd" 2>/dev/null) || continue
    case $target in "$PHOTOS"/*) continue ;; esac
    n=$((n + 1))
  done
  echo "$n"
}

stats_fields() {
  "$LOOKOUT" query --socket "$SOCK" --timeout 30 stats | python3 -c '
import json, sys
s = json.load(sys.stdin)["result"]
m = s.get("mqtt", {})
print(",".join(str(v) for v in [s["frames_captured"], s["frames_inferred"], s["frames_dropped"], s["frames_bad"],
      int(m.get("connected", False)), m.get("published", 0), m.get("queued", 0), m.get("dropped", 0),
      m.get("reconnects", 0), s.get("socket_clients", 0)]))'
}

echo "time_s,rss_kb,hwm_kb,fds,frames_captured,frames_inferred,frames_dropped,frames_bad,mqtt_connected,mqtt_published,mqtt_queued,mqtt_dropped,mqtt_reconnects,socket_clients,events,log_lines,broker_restarts" >"$CSV"
# One CSV row; fails when lookoutd does not answer. mqtt_connected is 1 only
# if lookoutd was connected to the broker both before and after the
# descriptors were counted (one of them is that connection).
sample() {
  local rss hwm fds before stats events lines
  rss=$(rss_kb)
  hwm=$(status_kb VmHWM)
  before=$(stats_fields) || return 1
  fds=$(fd_count)
  stats=$(stats_fields) || return 1
  [ "$(cut -d, -f5 <<<"$before")" = 1 ] || stats=$(awk -F, -v OFS=, '{ $5 = 0; print }' <<<"$stats")
  events=$(cat "$OUT/events.count" 2>/dev/null || echo 0)
  lines=$(wc -l <"$OUT/lookoutd.log")
  echo "$((SECONDS - START)),$rss,$hwm,$fds,$stats,$events,$lines,$RESTARTS" >>"$CSV"
}

echo "soak: $HOURS h ($DURATION_S s): lookoutd pid $DAEMON, mosquitto on 127.0.0.1:$PORT killed and restarted every ${RESTART_S} s (${OUTAGE_S} s outage), a sample every ${SAMPLE_S} s; output in $OUT" >&2
START=$SECONDS
NEXT_SAMPLE=$START
NEXT_RESTART=$((START + RESTART_S))
FAILED=()
while [ $((SECONDS - START)) -lt "$DURATION_S" ]; do
  if ! kill -0 "$DAEMON" 2>/dev/null; then FAILED+=("lookoutd exited"); DAEMON=''; break; fi
  if ! kill -0 "$SUBSCRIBER" 2>/dev/null; then FAILED+=("the socket subscriber ended"); break; fi
  if [ "$SECONDS" -ge "$NEXT_SAMPLE" ]; then
    sample || { FAILED+=("lookoutd did not answer stats"); break; }
    NEXT_SAMPLE=$((NEXT_SAMPLE + SAMPLE_S))
  fi
  if [ "$SECONDS" -ge "$NEXT_RESTART" ] && [ $((SECONDS - START + OUTAGE_S + 10)) -lt "$DURATION_S" ]; then
    restart_broker
    NEXT_RESTART=$((NEXT_RESTART + RESTART_S))
  fi
  sleep 1
done
# The last sample with the broker up and lookoutd connected to it again.
if [ -n "$DAEMON" ]; then
  for _ in $(seq 30); do
    "$LOOKOUT" query --socket "$SOCK" --timeout 10 stats 2>/dev/null | grep -q '"connected":true' && break
    sleep 1
  done
  sample || FAILED+=("lookoutd did not answer stats")
fi

# --- lookoutd stops ----------------------------------------------------------
EXIT_STATUS=''
if [ -n "$DAEMON" ]; then
  kill -TERM "$DAEMON"
  EXIT_STATUS=0
  wait "$DAEMON" || EXIT_STATUS=$?
  DAEMON=''
  [ "$EXIT_STATUS" -eq 0 ] || FAILED+=("lookoutd exited with status $EXIT_STATUS on SIGTERM")
fi
wait "$SUBSCRIBER" 2>/dev/null || true
SUBSCRIBER=''
wait "$COUNTER" 2>/dev/null || true
COUNTER=''

# --- summary -----------------------------------------------------------------
SUMMARY=$(python3 - "$CSV" "$WARMUP_S" "$MAX_RSS_GROWTH_MB" <<'PY'
import csv, sys
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
warmup_s, max_growth_mb = int(sys.argv[2]), float(sys.argv[3])
failed = []
if len(rows) < 2:
    print("samples: %d (too few)" % len(rows))
    print("FAIL: fewer than 2 samples")
    sys.exit(0)
mib = lambda kb: kb / 1024.0
first, last = rows[0], rows[-1]
warm = next((r for r in rows if r["time_s"] >= warmup_s), last)
after = [r for r in rows if r["time_s"] > warm["time_s"]]
growth = (max(r["rss_kb"] for r in after) - warm["rss_kb"]) if after else 0
connected = [r for r in rows if r["mqtt_connected"] == 1]
fds = sorted({r["fds"] for r in connected})
minutes = last["time_s"] / 60.0 or 1.0
print("samples: %d over %.1f min; broker restarts: %d" % (len(rows), minutes, last["broker_restarts"]))
print("VmRSS: start %.1f MiB, at warm-up end (%d s) %.1f MiB, end %.1f MiB, max %.1f MiB; growth after warm-up %.1f MiB (bound %.0f)"
      % (mib(first["rss_kb"]), warm["time_s"], mib(warm["rss_kb"]), mib(last["rss_kb"]),
         mib(max(r["rss_kb"] for r in rows)), mib(growth), max_growth_mb))
print("VmHWM: %.1f MiB" % mib(max(r["hwm_kb"] for r in rows)))
print("fds (samples with MQTT connected): %s; all samples: %s" % (fds, sorted({r["fds"] for r in rows})))
print("frames: captured %d, inferred %d, dropped %d, bad %d; socket events %d"
      % (last["frames_captured"], last["frames_inferred"], last["frames_dropped"], last["frames_bad"], last["events"]))
print("mqtt: published %d, queued %d, dropped %d, reconnects %d"
      % (last["mqtt_published"], last["mqtt_queued"], last["mqtt_dropped"], last["mqtt_reconnects"]))
print("log: %d lines, %.1f per minute" % (last["log_lines"], last["log_lines"] / minutes))
if mib(growth) > max_growth_mb:
    failed.append("VmRSS grew %.1f MiB after the warm-up (bound %.0f MiB)" % (mib(growth), max_growth_mb))
if len(fds) > 1:
    failed.append("open file descriptors changed: %s" % fds)
for a, b in zip(rows, rows[1:]):
    if b["frames_inferred"] <= a["frames_inferred"] or b["events"] <= a["events"]:
        failed.append("no frames or no socket events between %d s and %d s" % (a["time_s"], b["time_s"]))
if last["mqtt_dropped"] > 0:
    failed.append("MQTT dropped %d messages" % last["mqtt_dropped"])
if last["mqtt_reconnects"] < last["broker_restarts"]:
    failed.append("MQTT reconnected %d times for %d broker restarts" % (last["mqtt_reconnects"], last["broker_restarts"]))
for f in failed:
    print("FAIL: " + f)
PY
)
echo "soak: summary (CSV: $CSV)"
while IFS= read -r line; do echo "  $line"; done <<<"$SUMMARY"
if [ -n "$EXIT_STATUS" ]; then echo "  lookoutd exit status on SIGTERM: $EXIT_STATUS"; fi
for f in "${FAILED[@]}"; do echo "  FAIL: $f"; done
if [ ${#FAILED[@]} -gt 0 ] || grep -q '^FAIL' <<<"$SUMMARY"; then
  echo "soak: FAILED"
  exit 1
fi
echo "soak: passed"
