#!/usr/bin/env bash
# Side-by-side timing, with hyperfine, of our stitch (clone and `--no-reflink` copy), `cat`,
# `cat` + `sync`, `cp --reflink=always` of the chunks, `ffmpeg -f concat -c copy` and MP4Box
# `-cat` (when on PATH: not packaged in Debian 12) on a synthetic 1-hour recording (6 chunks of
# 10 minutes, about 465 MB) built from the basic fixture's packets by our own writer, on the
# work dir's filesystem and on a loop-mounted XFS image made with `mkfs.xfs -m reflink=1`
# (needs root; skipped, saying why, otherwise). Then `cat`, `cat` + `sync` and our stitch again
# on the same hour in 100 chunks of 36 s (the same bytes: does the cost per byte grow with the
# number of chunks?).
#
#   bash benches/compare.sh [RUNS]        (default 5 runs each after one warm-up, or $RUNS;
#                                          WORK=/path to choose the scratch dir, kept between
#                                          runs: the recording is reused)
#
# Prints, per filesystem and tool, hyperfine's median wall time, its spread (standard deviation
# and min..max), the peak RSS of one more run (GNU time) and the ratios to `cat` and to
# `cat` + `sync`. Anything that is not installed or not possible there is printed as skipped.
# The inputs stay in the page cache between runs, so this compares CPU, syscall and flush cost,
# not reading the disk. Our stitch syncs its output before renaming it into place (the target
# never holds a partial file) and `cat` does not: `cat + sync` (`sync FILE` after the cat) makes
# the same bytes as durable as ours. hyperfine, GNU time and xfsprogs are installed from Debian
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-${RUNS:-5}}"
WORK="${WORK:-${TMPDIR:-/tmp}/callrec-compare}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
if [ "$(id -u)" = 0 ] && ! command -v mkfs.xfs >/dev/null; then need+=(xfsprogs); fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "compare.sh: needs ${need[*]} (apt-get install as root)" >&2
        exit 1
    fi
fi

cargo build --release --quiet -p callrec-examples --example stitch
cargo build --release --quiet -p callrec-benches --bin make-recording
STITCH="$(realpath "$TARGET_DIR/release/examples/stitch")"
mkdir -p "$WORK"
REC="$WORK/recording-6x600-pad15600"
if [ ! -f "$REC/event.json" ]; then
    rm -rf "$REC"
    "$TARGET_DIR/release/make-recording" "$REC" --chunks 6 --seconds 600 --pad 15600
fi
# The same hour in 100 chunks of 36 s: does the cost per byte grow with the chunk count?
REC100="$WORK/recording-100x36-pad15600"
if [ ! -f "$REC100/event.json" ]; then
    rm -rf "$REC100"
    "$TARGET_DIR/release/make-recording" "$REC100" --chunks 100 --seconds 36 --pad 15600
fi

# The XFS image: a sparse 4 GiB file, mounted for this run only.
XFS="$WORK/xfs"
XFS_SKIP=""
cleanup() {
    if mountpoint -q "$XFS" 2>/dev/null; then umount "$XFS" || umount -l "$XFS" || true; fi
    rm -f "$WORK/xfs.img"
}
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then
    XFS_SKIP="not root: mounting a loop XFS image needs root"
else
    mkdir -p "$XFS"
    mountpoint -q "$XFS" && umount "$XFS"
    rm -f "$WORK/xfs.img"
    truncate -s 4G "$WORK/xfs.img"
    mkfs.xfs -q -m reflink=1 "$WORK/xfs.img"
    if mount -o loop "$WORK/xfs.img" "$XFS" 2>"$WORK/mount.err"; then
        cp -r "$REC" "$REC100" "$XFS/"
    else
        XFS_SKIP="cannot mount the XFS image: $(cat "$WORK/mount.err")"
    fi
fi

WORK="$WORK" RUNS="$RUNS" STITCH="$STITCH" REC="$REC" REC100="$REC100" XFS="$XFS" \
    XFS_SKIP="$XFS_SKIP" \
    python3 - <<'PY'
import glob, json, os, shutil, statistics, subprocess, sys, tempfile

work, runs = os.environ["WORK"], int(os.environ["RUNS"])
stitch = os.environ["STITCH"]
print(f"compare.sh: {runs} runs each after one warm-up (hyperfine), nproc {os.cpu_count()}")

def fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True,
                          text=True).stdout.strip()

def bench(label, rec, full=True):
    """Every tool on the recording `rec` (only cat and our stitch unless `full`), outputs beside
    it (same filesystem)."""
    chunks = sorted(glob.glob(os.path.join(rec, "*.mp4")))
    total = sum(os.path.getsize(c) for c in chunks)
    base = os.path.dirname(rec)
    out = os.path.join(base, "out.mp4")
    cpdir = os.path.join(base, "cp-out")
    lst = os.path.join(base, "concat.txt")
    with open(lst, "w") as f:
        for c in chunks:
            f.write(f"file '{c}'\n")
    q = lambda p: "'" + p.replace("'", "'\\''") + "'"
    cs = " ".join(q(c) for c in chunks)
    print(f"\n== {label}: {fs_type(base)} at {base}; {len(chunks)} chunks, {total / 1e6:.0f} MB")
    tools = [
        ("cat", f"cat {cs} > {q(out)}"),
        ("cat + sync", f"cat {cs} > {q(out)} && sync {q(out)}"),
        ("stitch (clone)", f"{q(stitch)} {q(rec)} -o {q(out)}"),
        ("stitch --no-reflink", f"{q(stitch)} {q(rec)} -o {q(out)} --no-reflink"),
    ]
    skipped = []
    os.makedirs(cpdir, exist_ok=True)
    if full:
        probe = subprocess.run(["cp", "--reflink=always", chunks[0], cpdir], capture_output=True,
                               text=True)
        if probe.returncode == 0:
            tools.append(("cp --reflink=always", f"cp --reflink=always {cs} {q(cpdir)}/"))
        else:
            skipped.append(("cp --reflink=always", probe.stderr.strip().splitlines()[-1]))
        if shutil.which("ffmpeg"):
            tools.append(("ffmpeg concat", f"ffmpeg -v error -y -f concat -safe 0 -i {q(lst)} "
                          f"-c copy {q(out)}"))
        else:
            skipped.append(("ffmpeg concat", "ffmpeg not installed"))
        if shutil.which("MP4Box"):
            cat = " ".join(f"-cat {q(c)}" for c in chunks)
            tools.append(("MP4Box -cat", f"MP4Box -quiet {cat} -new {q(out)}"))
        else:
            skipped.append(("MP4Box -cat", "not on PATH (not packaged in Debian 12)"))
    results = {}
    for name, cmd in tools:
        js = os.path.join(work, "hyperfine.json")
        # hyperfine's warnings (outliers, runs under 5 ms) go to stderr: shown only on failure.
        h = subprocess.run(["hyperfine", "--style", "none", "--warmup", "1", "--runs", str(runs),
                            "--prepare", f"rm -rf {q(out)} {q(cpdir)}; mkdir -p {q(cpdir)}",
                            "--export-json", js, "-n", name, cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if h.returncode != 0:
            sys.exit(f"{name}: hyperfine failed:\n{h.stderr}")
        r = json.load(open(js))["results"][0]
        subprocess.run(f"rm -rf {q(out)} {q(cpdir)}; mkdir -p {q(cpdir)}", shell=True)
        # `exec`: the tool replaces the shell, so its peak RSS is the tool's (a compound command
        # like cat + sync reports its largest process).
        shell = cmd if "&&" in cmd else "exec " + cmd
        rss = subprocess.run(["/usr/bin/time", "-f", "%M", "sh", "-c", shell + " >/dev/null"],
                             capture_output=True, text=True, check=True)
        kib = int(rss.stderr.split()[-1])
        results[name] = (r["median"], r["stddev"], r["min"], r["max"], kib / 1024)
    subprocess.run(f"rm -rf {q(out)} {q(cpdir)} {q(lst)}", shell=True)
    cat, synced = results["cat"][0], results["cat + sync"][0]
    print(f"{'tool':<22}{'median s':>9}{'± sd':>8}{'min..max s':>15}{'peak RSS MiB':>14}"
          f"{'x cat':>8}{'x cat+sync':>12}")
    for name, (med, sd, lo, hi, rss) in results.items():
        print(f"{name:<22}{med:>9.3f}{sd:>8.3f}{lo:>8.3f}..{hi:<5.3f}{rss:>14.1f}"
              f"{med / cat:>8.3f}{med / synced:>12.3f}")
    for name, why in skipped:
        print(f"{name:<22}skipped: {why}")

rec, rec100 = os.environ["REC"], os.environ["REC100"]
bench("work dir", rec)
bench("work dir, the same hour in 100 chunks", rec100, full=False)
if os.environ["XFS_SKIP"]:
    print(f"\n== XFS (reflink=1) image: skipped: {os.environ['XFS_SKIP']}")
else:
    xfs = lambda r: os.path.join(os.environ["XFS"], os.path.basename(r))
    bench("XFS (reflink=1) loop image", xfs(rec))
    bench("XFS (reflink=1) loop image, the same hour in 100 chunks", xfs(rec100), full=False)
PY
