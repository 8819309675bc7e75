#!/usr/bin/env bash
# End-to-end cost of the archival worker on the synthetic 1-hour recording (6 chunks of 10
# minutes, about 465 MB; see benches/compare.sh): chunks served over loopback http, worker →
# Azurite (in memory), against the same bytes moved by curl alone (every chunk and metadata file
# downloaded, then one blob of the output's size uploaded with Put Blob).
#
#   bash benches/worker.sh            (WORK=/path for the scratch dir; the recording is reused)
#
# Prints both wall times, their difference and the worker's peak RSS (GNU time). The file
# server is python3's http.server (no Range, no signature check): this measures transfer and
# archive cost, not fault handling, which the tests cover.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-worker-bench}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
mkdir -p "$WORK"

cargo build --release --quiet -p callrec-examples --example worker
cargo build --release --quiet -p callrec-benches --bin make-recording
REC="$WORK/recording-6x600-pad15600"
if [ ! -f "$REC/event.json" ]; then
    rm -rf "$REC"
    "$TARGET_DIR/release/make-recording" "$REC" --chunks 6 --seconds 600 --pad 15600
fi
. scripts/lib/azurite.sh
azurite_up 10100 10101 10102 8091 "$REC"
SAS="$AZURITE_SAS"
Q=http://127.0.0.1:10101/devstoreaccount1/bench
C=http://127.0.0.1:10100/devstoreaccount1/bench
azurite_create "$Q" "$C"
azurite_enqueue "$Q" "$REC/event.json" bench-1h 8091

rm -rf "$WORK/wd" "$WORK/curl"
CALLREC_ACS_KEY=$(printf 'bench key' | base64) /usr/bin/time -f '%e %M' -o "$WORK/worker.time" \
    "$TARGET_DIR/release/examples/worker" --queue "$Q?$SAS" --container "$C?$SAS" \
    --acs-endpoint https://bench.communication.azure.com --allow-host 127.0.0.1:8091 \
    --workdir "$WORK/wd" --exit-when-idle 1 2> "$WORK/worker.log"
JOB=$(grep -o ' seconds=[0-9.]*' "$WORK/worker.log" | tail -1 | cut -d= -f2)
BLOB=$(curl -sfI "$C/bench-1h/recording.mp4?$SAS" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')

mkdir -p "$WORK/curl"
head -c "$BLOB" /dev/zero > "$WORK/curl/upload.bin"
start=$(date +%s.%N)
for f in "$REC"/*.mp4 "$REC"/*.json; do
    n=$(basename "$f")
    [ "$n" = event.json ] && continue
    curl -sf -o "$WORK/curl/$n" "http://127.0.0.1:8091/$n"
done
mid=$(date +%s.%N)
curl -sf -X PUT -H 'x-ms-blob-type: BlockBlob' -T "$WORK/curl/upload.bin" "$C/curl.bin?$SAS" >/dev/null
end=$(date +%s.%N)
read -r WALL RSS < "$WORK/worker.time"
python3 - "$JOB" "$WALL" "$RSS" "$start" "$mid" "$end" "$BLOB" <<'PY'
import sys
job, wall, rss, s, m, e, blob = sys.argv[1:]
curl = (float(m) - float(s)) + (float(e) - float(m))
print(f"recording.mp4: {int(blob)/1e6:.1f} MB")
print(f"worker, message received to deleted: {float(job):.2f} s (process {float(wall):.2f} s incl. 1 s idle exit), peak RSS {int(rss)/1024:.1f} MiB")
print(f"curl alone (download chunks + upload one blob): {curl:.2f} s")
print(f"worker - curl: {float(job) - curl:+.2f} s")
PY
