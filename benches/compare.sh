#!/usr/bin/env bash
# Side-by-side timing of our stitch, `ffmpeg -f concat -c copy` (when installed) and `cat` of the
# same chunk files, on a synthetic 1-hour recording (6 chunks of 10 minutes, about 465 MB) built
# from the basic fixture's packets by our own writer (no ffmpeg needed to build it).
#
#   bash benches/compare.sh [RUNS]        (default 5 runs each; WORK=/path to choose the scratch dir)
#
# Prints each tool's median wall time, peak RSS and ratio to `cat`. The files stay in the page
# cache between runs (the machine has the memory), so this compares CPU and syscall cost, not disk.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-compare}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

cargo build --release --quiet -p callrec-examples --example stitch
cargo build --release --quiet -p callrec-benches --bin make-recording
STITCH="$TARGET_DIR/release/examples/stitch"
REC="$WORK/recording"
if [ ! -f "$REC/event.json" ]; then
    rm -rf "$REC"
    "$TARGET_DIR/release/make-recording" "$REC" --chunks 6 --seconds 600 --pad 15600
fi

# Chunk files in index order (documentIds end in the zero-padded index).
mapfile -t CHUNKS < <(ls "$REC"/*.mp4 | sort)
LIST="$WORK/concat.txt"
: > "$LIST"
for c in "${CHUNKS[@]}"; do printf "file '%s'\n" "$c" >> "$LIST"; done

WORK="$WORK" RUNS="$RUNS" STITCH="$STITCH" REC="$REC" LIST="$LIST" python3 - "${CHUNKS[@]}" <<'PY'
import os, statistics, subprocess, sys, time, shutil

work, runs = os.environ["WORK"], int(os.environ["RUNS"])
chunks = sys.argv[1:]
out = os.path.join(work, "out.mp4")

def cat():
    return ["sh", "-c", 'cat "$@" > ' + out, "cat"] + chunks

tools = [
    ("cat", cat()),
    ("callrec stitch", [os.environ["STITCH"], os.environ["REC"], "-o", out]),
]
if shutil.which("ffmpeg"):
    tools.append(("ffmpeg concat", ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                                    "-i", os.environ["LIST"], "-c", "copy", out]))
else:
    print("ffmpeg not installed: skipping ffmpeg -f concat")

def run(cmd):
    if os.path.exists(out):
        os.remove(out)
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{cmd[0]} failed with status {status}")
    return wall, usage.ru_maxrss / 1024  # KiB -> MiB

total = sum(os.path.getsize(c) for c in chunks)
print(f"{len(chunks)} chunks, {total / 1e6:.0f} MB; {runs} runs each (after one warm-up)")
results = {}
for name, cmd in tools:
    run(cmd)  # warm-up: page cache, first allocation of the output
    samples = [run(cmd) for _ in range(runs)]
    results[name] = (statistics.median(w for w, _ in samples), max(r for _, r in samples))
base = results["cat"][0]
print(f"{'tool':<16}{'median s':>10}{'peak RSS MiB':>14}{'x cat':>8}")
for name, (wall, rss) in results.items():
    print(f"{name:<16}{wall:>10.3f}{rss:>14.1f}{wall / base:>8.2f}")
os.remove(out)
PY
