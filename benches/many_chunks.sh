#!/usr/bin/env bash
# Peak RSS and wall time of `check` and `stitch` on an event of many chunks (issue: 70,000
# chunks exhausted vm.max_map_count with one mapping per chunk, and stitch peaked at 8.7 GiB).
#
#   bash benches/many_chunks.sh [N]       (default 70000; WORK=/path for the scratch dir)
#
# The chunk files are hard links of a copy of the `basic` fixture's first chunk (57 KB, 4 s), the
# event lists them, no metadata files (compact stitch does not need them). Needs GNU time
# (Debian package `time`). The stitched output is N x 57 KB (4 GB for 70,000), removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-70000}"
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-many}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet -p callrec-examples --example stitch --example check
REC="$WORK/many-$N"
if [ ! -f "$REC/event.json" ]; then
    rm -rf "$REC"
    mkdir -p "$REC"
    python3 - "$REC" "$N" <<'PY'
import json, os, sys
rec, n = sys.argv[1], int(sys.argv[2])
src = "testdata/recordings/basic"
chunk = sorted(p for p in os.listdir(src) if p.endswith(".mp4"))[0]
event = json.load(open(os.path.join(src, "event.json")))
listing = []
base = None
for i in range(n):
    doc = f"0-eus-d3-many{i:07d}"
    # ext4 allows 65,000 links to one file: a fresh copy per 60,000 chunks.
    if i % 60000 == 0:
        base = os.path.join(rec, doc + ".mp4")
        with open(os.path.join(src, chunk), "rb") as f, open(base, "wb") as g:
            g.write(f.read())
    else:
        os.link(base, os.path.join(rec, doc + ".mp4"))
    listing.append({"documentId": doc, "index": i, "endReason": "ChunkMaximumSizeExceeded"})
event[0]["data"]["recordingStorageInfo"]["recordingChunks"] = listing
event[0]["data"]["recordingDurationMs"] = n * 4000
json.dump(event, open(os.path.join(rec, "event.json"), "w"))
PY
fi
echo "$N chunks (hard links of one 57 KB chunk), $(nproc) cores, $(date -u +%F)"
run() {
    local name="$1"; shift
    local status=0
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || status=$?
    # GNU time writes "Command exited with non-zero status N" first when it did.
    read -r wall kib < <(tail -n 1 "$WORK/time.txt")
    printf "%-34s exit %d  %8.1f s  peak RSS %7.1f MiB  %s\n" "$name" "$status" "$wall" \
        "$(echo "$kib / 1024" | bc -l)" "$(tail -c 160 "$WORK/err.txt" | tr '\n' ' ')"
}
run "check --no-decode" "$TARGET_DIR/release/examples/check" "$REC" --no-decode
run "check (every AAC frame decoded)" "$TARGET_DIR/release/examples/check" "$REC"
run "stitch --threads 2" "$TARGET_DIR/release/examples/stitch" "$REC" -o "$WORK/out.mp4" --threads 2
rm -f "$WORK/out.mp4"
