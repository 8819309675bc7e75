#!/usr/bin/env bash
# Side-by-side timing of our stitch, `ffmpeg -f concat -c copy` (when installed) and `cat` of the
# same chunk files, on a synthetic 1-hour recording (6 chunks of 10 minutes, about 465 MB) built
# from the basic fixture's packets by our own writer (no ffmpeg needed to build it).
#
#   bash benches/compare.sh [RUNS]        (default 5 runs each, or $RUNS; WORK=/path to choose the
#                                          scratch dir, kept between runs: the recording is reused)
#
# Prints each tool's median wall time, peak RSS and ratio to `cat`. The inputs stay in the page
# cache between runs (the machine has the memory), so this compares CPU and syscall cost, not
# reading the disk. Our stitch syncs its output before renaming it into place (the target never
# holds a partial file) and `cat` does not, so `cat + fsync` (`sync FILE` after the cat) is
# printed too: the same bytes made as durable as ours.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-${RUNS:-5}}"
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-compare}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

cargo build --release --quiet -p callrec-examples --example stitch
cargo build --release --quiet -p callrec-benches --bin make-recording
STITCH="$TARGET_DIR/release/examples/stitch"
REC="$WORK/recording-6x600-pad15600"
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

def cat(then=""):
    return ["sh", "-c", 'cat "$@" > "$0"' + then, out] + chunks

tools = [
    ("cat", cat()),
    ("cat + fsync", cat(' && sync "$0"')),
    ("callrec stitch", [os.environ["STITCH"], os.environ["REC"], "-o", out]),
]
if shutil.which("ffmpeg"):
    tools.append(("ffmpeg concat", ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                                    "-i", os.environ["LIST"], "-c", "copy", out]))
else:
    print("ffmpeg not installed: skipping ffmpeg -f concat")

# A child spawned from Python starts with Python's own peak RSS in its ru_maxrss (the kernel
# carries the parent's high-water mark across exec), so peak RSS comes from GNU time, which is
# small, when installed (Debian package `time`); else from wait4, with that floor.
GNU_TIME = os.path.exists("/usr/bin/time")
rss_file = os.path.join(work, "rss.txt")

def run(cmd):
    if os.path.exists(out):
        os.remove(out)
    if GNU_TIME:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{cmd} failed with status {status}")
    kib = int(open(rss_file).read().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return wall, kib / 1024

if not GNU_TIME:
    print("GNU time not installed: peak RSS includes Python's own (about 10 MiB)")

total = sum(os.path.getsize(c) for c in chunks)
print(f"{len(chunks)} chunks, {total / 1e6:.0f} MB; {runs} runs each (after one warm-up)")
results = {}
for name, cmd in tools:
    run(cmd)  # warm-up: page cache, first allocation of the output
    samples = [run(cmd) for _ in range(runs)]
    results[name] = (statistics.median(w for w, _ in samples), max(r for _, r in samples))
base, synced = results["cat"][0], results["cat + fsync"][0]
print(f"{'tool':<16}{'median s':>10}{'peak RSS MiB':>14}{'x cat':>8}{'x cat+fsync':>13}")
for name, (wall, rss) in results.items():
    print(f"{name:<16}{wall:>10.3f}{rss:>14.1f}{wall / base:>8.2f}{wall / synced:>13.2f}")
os.remove(out)
PY
