#!/usr/bin/env bash
# Interop checks against ffmpeg's tools. Each check is a function `check_<name> FILE` that
# prints "FAIL ..." lines and returns non-zero on disagreement; `run_check` counts failures.
# To add a check: write a function and add its name to CHECKS. Exit status is non-zero when any
# check failed on any file.
set -uo pipefail
cd "$(dirname "$0")/.."

command -v ffprobe >/dev/null || (apt-get update && apt-get install -y ffmpeg)
command -v python3 >/dev/null || { echo "interop: python3 is required" >&2; exit 2; }

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet -p callrec-examples --example inspect || exit 2
INSPECT="$TARGET_DIR/release/examples/inspect"

FAILURES=0
CHECKED=0
CHECKS=(inspect_matches_ffprobe)

# inspect --json agrees with ffprobe: track count, kinds, codec, timescale, sample count,
# width/height, sample rate, channels.
check_inspect_matches_ffprobe() {
    local file="$1" ours theirs
    ours="$("$INSPECT" "$file" --json)" || { echo "FAIL $file: inspect failed"; return 1; }
    theirs="$(ffprobe -v error -ignore_editlist 1 -count_packets \
        -show_entries stream=index,codec_type,codec_name,time_base,nb_read_packets,width,height,sample_rate,channels \
        -of json "$file")" || { echo "FAIL $file: ffprobe failed"; return 1; }
    OURS="$ours" THEIRS="$theirs" FILE="$file" python3 - <<'PY'
import json, os, sys
ours = json.loads(os.environ["OURS"])["tracks"]
theirs = [s for s in json.loads(os.environ["THEIRS"])["streams"]
          if s.get("codec_type") in ("video", "audio")]
f = os.environ["FILE"]
bad = []
if len(ours) != len(theirs):
    bad.append(f"track count {len(ours)} vs ffprobe {len(theirs)}")
for i, (o, t) in enumerate(zip(ours, theirs)):
    def cmp(what, a, b):
        if a != b:
            bad.append(f"track {i} {what}: inspect {a!r} vs ffprobe {b!r}")
    cmp("kind", o["kind"], t["codec_type"])
    cmp("codec", o["codec"], t["codec_name"])
    cmp("timescale", f"1/{o['timescale']}", t["time_base"])
    cmp("samples", o["samples"], int(t["nb_read_packets"]))
    if t["codec_type"] == "video":
        cmp("width", o["width"], t.get("width"))
        cmp("height", o["height"], t.get("height"))
    else:
        cmp("sample_rate", o["sample_rate"], int(t.get("sample_rate", 0)))
        cmp("channels", o["channels"], t.get("channels"))
for b in bad:
    print(f"FAIL {f}: {b}")
sys.exit(1 if bad else 0)
PY
}

run_check() {
    local name="$1" file="$2"
    CHECKED=$((CHECKED + 1))
    if ! "check_$name" "$file"; then
        FAILURES=$((FAILURES + 1))
        echo "not ok $name $file"
    else
        echo "ok $name $file"
    fi
}

shopt -s nullglob
FILES=(testdata/recordings/*/*.mp4)
if [ "${#FILES[@]}" -eq 0 ]; then
    echo "interop: no fixtures under testdata/recordings" >&2
    exit 1
fi
for file in "${FILES[@]}"; do
    for check in "${CHECKS[@]}"; do
        run_check "$check" "$file"
    done
done

echo "interop: $CHECKED checks, $FAILURES failed"
[ "$FAILURES" -eq 0 ]
