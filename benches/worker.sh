#!/usr/bin/env bash
# End-to-end cost of the archival worker on the synthetic 1-hour recording (6 chunks of 10
# minutes, about 465 MB; see benches/compare.sh): chunks served over loopback http, worker →
# Azurite (in memory), against the same bytes moved by curl alone: every chunk and metadata file
# downloaded, then one blob of the output's size uploaded with one Put Blob, and again as the
# worker uploads it (4 MiB staged blocks, four at once, then Put Block List).
#
#   bash benches/worker.sh            (WORK=/path for the scratch dir; the recording is reused;
#                                      WORKER_ARGS="--block-size 16" adds worker flags;
#                                      WORKER=path/to/worker runs that build instead)
#
# ROUNDS (default 3) rounds, each the worker on a fresh message, then curl; prints each round's
# wall times, their difference and the worker's peak RSS (GNU time), and the median. The file
# server is python3's http.server (no Range, no signature check): this measures transfer and
# archive cost, not fault handling, which the tests cover.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-worker-bench}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
mkdir -p "$WORK"

if [ -z "${WORKER:-}" ]; then
    cargo build --release --quiet -p callrec-examples --example worker
    WORKER="$TARGET_DIR/release/examples/worker"
fi
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
ROUNDS="${ROUNDS:-3}"
KEY=$(printf 'bench key' | base64)
rm -rf "$WORK/curl" "$WORK/rounds"
mkdir -p "$WORK/curl"
: > "$WORK/rounds"
for r in $(seq "$ROUNDS"); do
    # The worker: one recording, message received to deleted (its own log line).
    azurite_enqueue "$Q" "$REC/event.json" "bench-1h-$r" 8091
    rm -rf "$WORK/wd"
    CALLREC_ACS_KEY=$KEY /usr/bin/time -f '%e %M' -o "$WORK/worker.time" \
        "$WORKER" --queue "$Q?$SAS" --container "$C?$SAS" \
        --acs-endpoint https://bench.communication.azure.com --allow-host 127.0.0.1:8091 \
        --workdir "$WORK/wd" --exit-when-idle 1 ${WORKER_ARGS:-} 2> "$WORK/worker.log"
    JOB=$(grep -o ' seconds=[0-9.]*' "$WORK/worker.log" | tail -1 | cut -d= -f2)
    BLOB=$(curl -sfI "$C/bench-1h-$r/recording.mp4?$SAS" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')
    # curl alone: every chunk and metadata file down, one blob of the output's size up.
    [ -f "$WORK/curl/upload.bin" ] || head -c "$BLOB" /dev/zero > "$WORK/curl/upload.bin"
    start=$(date +%s.%N)
    for f in "$REC"/*.mp4 "$REC"/*.json; do
        n=$(basename "$f")
        [ "$n" = event.json ] && continue
        curl -sf -o "$WORK/curl/$n" "http://127.0.0.1:8091/$n"
    done
    mid=$(date +%s.%N)
    curl -sf -X PUT -H 'x-ms-blob-type: BlockBlob' -T "$WORK/curl/upload.bin" "$C/curl-$r.bin?$SAS" >/dev/null
    end=$(date +%s.%N)
    # The same upload as the worker makes it: 4 MiB staged blocks, four at once, one commit.
    if [ ! -d "$WORK/blocks-4m" ]; then
        mkdir -p "$WORK/blocks-4m"
        split -b 4194304 -d -a 5 "$WORK/curl/upload.bin" "$WORK/blocks-4m/b"
    fi
    bstart=$(date +%s.%N)
    (cd "$WORK/blocks-4m" && ls) | xargs -P 4 -I{} sh -c 'curl -sf -X PUT -T "$1/{}" \
        "$2/curl-blocks-$3.bin?comp=block&blockid=$(printf %s {} | base64)&$4" >/dev/null' \
        _ "$WORK/blocks-4m" "$C" "$r" "$SAS"
    list=$( (cd "$WORK/blocks-4m" && ls) | while read -r b; do
        printf '<Latest>%s</Latest>' "$(printf %s "$b" | base64)"; done)
    curl -sf -X PUT -d "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>$list</BlockList>" \
        "$C/curl-blocks-$r.bin?comp=blocklist&$SAS" >/dev/null
    bend=$(date +%s.%N)
    read -r WALL RSS < "$WORK/worker.time"
    echo "$JOB $WALL $RSS $start $mid $end $bstart $bend $BLOB" >> "$WORK/rounds"
    # Azurite keeps every blob in memory: each round starts from the same state.
    for b in "bench-1h-$r/recording.mp4" "curl-$r.bin" "curl-blocks-$r.bin"; do
        curl -sf -X DELETE "$C/$b?$SAS" >/dev/null || true
    done
done
python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
put, blocks = [], []
for i, (job, wall, rss, s, m, e, bs, be, blob) in enumerate(rows, 1):
    down = float(m) - float(s)
    one = down + float(e) - float(m)
    staged = down + float(be) - float(bs)
    put.append(float(job) - one)
    blocks.append(float(job) - staged)
    print(f"round {i}: worker {float(job):.2f} s (message received to deleted; peak RSS "
          f"{int(rss)/1024:.1f} MiB); curl: downloads {down:.2f} s, + one Put Blob {one:.2f} s, "
          f"+ staged blocks {staged:.2f} s")
print(f"recording.mp4: {int(rows[0][8])/1e6:.1f} MB")
print(f"median over {len(rows)} rounds: worker - curl (one Put Blob) {statistics.median(put):+.2f} s, "
      f"worker - curl (the same staged blocks) {statistics.median(blocks):+.2f} s; "
      f"peak RSS max {max(int(r[2]) for r in rows)/1024:.1f} MiB")
PY
