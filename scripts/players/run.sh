#!/usr/bin/env bash
# Player sync harness: scripts/players/run.sh [--assert | --assert-only REGEX]
# Generates the sync recording (12 chunks, beep + white frame every second), stitches it
# (compact and --wall-clock), makes an ffmpeg concat copy for comparison, and measures
# |audio - video| at every beep in ffmpeg (back to back / by pts), GStreamer qtdemux (pull /
# push, back to back / by running time), headless Chromium and Firefox ESR. Prints the table;
# --assert exits 1 when a beep is missing or |a-v| > 20 ms at a join; --assert-only REGEX does so for
# the rows whose label matches REGEX (CI: every player's row of the default stitch).
# Env: PLAYERS_WORK=DIR keeps the work files there (default: a temp dir, removed at exit);
#      PLAYERS_BROWSERS=0 skips the browsers (reported as skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
HERE=$ROOT/scripts/players
ASSERT=()
[ "${1:-}" = "--assert" ] && ASSERT=(--assert)
[ "${1:-}" = "--assert-only" ] && ASSERT=(--assert-only "${2:?--assert-only needs a regex}")
T0=$(date +%s)

# ---- packages
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools)
for p in gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
         gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-gi gir1.2-gstreamer-1.0 \
         gir1.2-gst-plugins-base-1.0 chromium firefox-esr pulseaudio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- build, generate, stitch
echo "== cargo build --release --example stitch"
cargo build --release --example stitch -q
STITCH=$ROOT/target/release/examples/stitch
if [ -n "${PLAYERS_WORK:-}" ]; then W=$PLAYERS_WORK; rm -rf "$W"; mkdir -p "$W"; else
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; fi
PIDS=()
STARTED_PULSE=0
cleanup_pids() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "$STARTED_PULSE" = 1 ] && pulseaudio --kill 2>/dev/null || true
}
trap 'cleanup_pids; [ -z "${PLAYERS_WORK:-}" ] && rm -rf "$W"' EXIT
echo "== generating the sync recording in $W"
python3 "$HERE/make_sync_recording.py" "$W/rec"
"$STITCH" "$W/rec" -o "$W/stitch-compact.mp4"
"$STITCH" "$W/rec" -o "$W/stitch-wall.mp4" --wall-clock
"$STITCH" "$W/rec" -o "$W/stitch-trim.mp4" --trim-joins
# ffmpeg concat (moov first so push-mode qtdemux can play it)
ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$W/rec/concat.txt" -c copy \
  -movflags +faststart "$W/ffconcat.mp4"
FILES=("stitch-compact.mp4:compact" "stitch-trim.mp4:compact" "stitch-wall.mp4:wall" "ffconcat.mp4:compact")

R=$W/results.jsonl
: > "$R"
M=(python3 "$HERE/measure.py")
echo "== ffmpeg and GStreamer"
for fl in "${FILES[@]}"; do
  f=${fl%%:*} lay=${fl##*:}
  for p in ffmpeg-b2b ffmpeg-pts gst-pull gst-pull-pts gst-push gst-push-pts; do
    if ! "${M[@]}" "$p" "$W/$f" "$W/rec/sync.json" "$lay" --work "$W" --label "$p ${f%.mp4}" >> "$R" \
        2> "$W/$p.$f.err"; then
      printf '{"label": "%s %s", "skipped": "measure failed: %s"}\n' "$p" "${f%.mp4}" \
        "$(tail -1 "$W/$p.$f.err" | tr -d '"\\')" >> "$R"
    fi
  done
done

# ---- browsers
skip_browsers() {
  for fl in "${FILES[@]}"; do f=${fl%%:*}
    for b in chromium firefox; do
      printf '{"label": "%s %s", "skipped": "%s"}\n' "$b" "${f%.mp4}" "$1" >> "$R"; done; done
}
if [ "${PLAYERS_BROWSERS:-1}" = 0 ]; then
  skip_browsers "PLAYERS_BROWSERS=0"
else
  echo "== browsers (real-time playback, ~35 s per file and browser)"
  # audio output: a PulseAudio null sink (Firefox needs one; Chromium uses it too)
  if ! pactl info >/dev/null 2>&1; then
    pulseaudio -D --exit-idle-time=-1 --system=false 2>/dev/null || true
    STARTED_PULSE=1
    sleep 1
  fi
  pactl list short sinks 2>/dev/null | grep -q players_null || \
    pactl load-module module-null-sink sink_name=players_null >/dev/null 2>&1 || true
  pactl set-default-sink players_null >/dev/null 2>&1 || true
  mkdir -p "$W/res"
  PORT=$((20000 + $$ % 20000))
  python3 "$HERE/web/server.py" "$W" "$PORT" "$W/res" & PIDS+=($!)
  sleep 1
  for fl in "${FILES[@]}"; do
    f=${fl%%:*} lay=${fl##*:}
    for b in chromium firefox; do
     tag="$b-${f%.mp4}"
     # two retries: a browser's first start (fresh profile, audio server just up) can stall
     for attempt in 1 2 3; do
      [ -f "$W/res/$tag.json" ] && break
      [ "$attempt" -gt 1 ] && echo "   $tag: no result, retrying (attempt $attempt)"
      prof=$(mktemp -d -p "$W")
      url="http://127.0.0.1:$PORT/page.html?f=$f&tag=$tag"
      if [ "$b" = chromium ]; then
        chromium --headless --no-sandbox --disable-gpu --autoplay-policy=no-user-gesture-required \
          --disable-background-networking --disable-component-update --disable-sync \
          --no-first-run --user-data-dir="$prof" "$url" > "$W/$tag.log" 2>&1 & bp=$!
      else
        cat > "$prof/user.js" <<'PREFS'
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.block-webaudio", false);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("app.update.enabled", false);
PREFS
        firefox-esr --headless --no-remote --profile "$prof" "$url" > "$W/$tag.log" 2>&1 & bp=$!
      fi
      for _ in $(seq 75); do [ -f "$W/res/$tag.json" ] && break; sleep 1; done
      kill "$bp" 2>/dev/null || true; wait "$bp" 2>/dev/null || true
     done
      if [ -f "$W/res/$tag.json" ]; then
        "${M[@]}" browser "$W/$f" "$W/rec/sync.json" "$lay" --browser-json "$W/res/$tag.json" \
          --label "$b ${f%.mp4}" >> "$R" || \
          printf '{"label": "%s %s", "skipped": "measure failed"}\n' "$b" "${f%.mp4}" >> "$R"
      else
        last=$(cat "$W/res/$tag.progress.json" 2>/dev/null || echo "no page progress")
        printf '{"label": "%s %s", "skipped": "no result within 75 s, three times (%s)"}\n' "$b" "${f%.mp4}" \
          "$(echo "$last" | tr -d '"\\')" >> "$R"
      fi
    done
  done
fi

echo "== sync table ($(date -u +%F), $(($(date +%s) - T0)) s)"
python3 "$HERE/table.py" "$R" "${ASSERT[@]}"
