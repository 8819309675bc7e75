#!/usr/bin/env bash
# Reflink tests on a loop-mounted XFS image (`mkfs.xfs -m reflink=1`):
#   1. the ignored Rust tests in crates/callrec-stitch/tests/it/reflink.rs (every fixture: clone
#      and copy paths byte-identical, all but the unaligned heads and tails shared; chunks on
#      another filesystem: every clone refused with EXDEV and copied);
#   2. a synthetic 1 h recording (6 x 77 MB): the stitch shares its blocks (the filesystem's used
#      blocks grow by at most 1% of the output's size, statvfs before and after, synced), is the
#      same file as `--no-reflink`'s, and ffprobe reads every packet;
#   3. an output past 4 GiB (6 reflinked copies of one 750 MB chunk: cheap): co64 and a 64-bit
#      mdat size, read back by our parser (examples/inspect) and ffprobe, and ffmpeg decodes its
#      last seconds (packets past 4 GiB).
#
#   bash scripts/reflink.sh
#
# Needs root (losetup/mount): without it, or where the image cannot be mounted (no loop device
# in a container), it prints why and skips (exit 0). Installs xfsprogs and ffmpeg from Debian
# when missing. About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

skip() {
    echo "reflink.sh: SKIPPED, NOT RUN: $*"
    exit 0
}
fail() {
    echo "reflink.sh: FAILED: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || skip "not root: mounting a loop XFS image needs root"
need=()
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
command -v ffprobe >/dev/null || need+=(ffmpeg)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/callrec-reflink.XXXXXX")"
MNT="$SCRATCH/xfs"
cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT" || true; fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
mkdir -p "$MNT"
# Sparse: only what the tests write takes disk space (about 1.8 GB).
truncate -s 8G "$SCRATCH/xfs.img"
mkfs.xfs -q -m reflink=1 "$SCRATCH/xfs.img"
mount -o loop "$SCRATCH/xfs.img" "$MNT" 2>"$SCRATCH/mount.err" \
    || skip "cannot mount the XFS image: $(cat "$SCRATCH/mount.err")"
echo "== XFS (reflink=1) mounted at $MNT, block $(stat -f -c %S "$MNT")"

echo "== cargo test: the ignored reflink tests (clones shared; EXDEV falls back to copies)"
CALLREC_REFLINK_DIR="$MNT" cargo test -q -p callrec-stitch --test it -- --ignored reflink::

cargo build -q -p callrec-examples --example stitch --example inspect
cargo build -q -p callrec-benches --bin make-recording
BIN="$TARGET_DIR/debug"

# Used bytes of the filesystem, after a sync.
used() {
    sync -f "$MNT"
    stat -f -c '%b %f %S' "$MNT" | awk '{ print ($1 - $2) * $3 }'
}
# The number before " sample bytes shared" in the stitch example's summary line.
shared_of() { sed -n 's/.* \([0-9]*\) sample bytes shared.*/\1/p' <<<"$1"; }

echo "== 1 h recording: the stitch shares the chunks' blocks"
"$BIN/make-recording" "$MNT/rec" --chunks 6 --seconds 600 --pad 15600
before=$(used)
line=$("$BIN/examples/stitch" "$MNT/rec" -o "$MNT/clone.mp4")
after=$(used)
echo "$line"
size=$(stat -c %s "$MNT/clone.mp4")
grown=$((after - before))
echo "used bytes grew by $grown for a $size-byte output ($((grown * 10000 / size)) / 10000)"
[ $((grown * 100)) -le "$size" ] || fail "used blocks grew by $grown bytes, more than 1% of $size"
[ "$(shared_of "$line")" -gt $((size * 99 / 100)) ] || fail "less than 99% shared: $line"
"$BIN/examples/stitch" "$MNT/rec" -o "$MNT/copy.mp4" --no-reflink
cmp "$MNT/clone.mp4" "$MNT/copy.mp4" || fail "clone and --no-reflink outputs differ"
frames=$(ffprobe -v error -show_entries stream=nb_frames -of csv=p=0 "$MNT/clone.mp4" \
    | paste -sd+ | bc)
[ "$frames" = $((28800 + 56256)) ] || fail "ffprobe finds $frames samples, not 85056"
# Every packet read: video remuxed to nowhere, audio decoded (ffmpeg re-reads packets before
# each audio join as decoder pre-roll, which only a decode handles), with nothing to complain of.
ffmpeg -v error -i "$MNT/clone.mp4" -c:v copy -f null - 2>"$SCRATCH/ffmpeg.err"
[ ! -s "$SCRATCH/ffmpeg.err" ] || fail "ffmpeg: $(head -5 "$SCRATCH/ffmpeg.err")"
echo "ffprobe finds all $frames samples; ffmpeg reads every packet silently"
rm -f "$MNT/copy.mp4"

echo "== past 4 GiB: co64 and a 64-bit mdat size"
"$BIN/make-recording" "$MNT/one" --chunks 1 --seconds 600 --pad 156000
"$BIN/make-recording" "$MNT/big" --chunks 6 --seconds 600 --pad 0
for c in "$MNT"/big/*.mp4; do
    cp --reflink=always "$MNT"/one/*.mp4 "$c"
done
"$BIN/examples/stitch" "$MNT/big" -o "$MNT/big.mp4"
size=$(stat -c %s "$MNT/big.mp4")
[ "$size" -gt 4294967296 ] || fail "the output is only $size bytes"
"$BIN/examples/inspect" "$MNT/big.mp4" >"$SCRATCH/inspect.txt"
grep -q '^mdat @[0-9]* size [0-9]*$' "$SCRATCH/inspect.txt" || fail "no top-level mdat"
mdat_size=$(sed -n 's/^mdat @[0-9]* size \([0-9]*\)$/\1/p' "$SCRATCH/inspect.txt")
[ "$mdat_size" -gt 4294967295 ] || fail "mdat size $mdat_size"
[ "$(grep -c '^ *co64 @' "$SCRATCH/inspect.txt")" = 2 ] || fail "not a co64 per track"
# The mdat header is the 64-bit form: size field 1, then the 64-bit size.
off=$(sed -n 's/^mdat @\([0-9]*\) .*/\1/p' "$SCRATCH/inspect.txt")
hdr=$(od -An -tx1 -j "$off" -N 16 "$MNT/big.mp4" | tr -d ' \n')
[ "${hdr:0:16}" = 000000016d646174 ] || fail "mdat header $hdr is not the 64-bit form"
grep '"kind":"video"' "$SCRATCH/inspect.txt" | grep -q '"samples":28800' \
    || fail "our parser does not find 28800 video samples"
frames=$(ffprobe -v error -show_entries stream=nb_frames -of csv=p=0 "$MNT/big.mp4" \
    | paste -sd+ | bc)
[ "$frames" = $((28800 + 56256)) ] || fail "ffprobe finds $frames samples, not 85056"
# Decoding the last 5 s reads packets that lie past 4 GiB.
ffmpeg -v error -ss 3595 -i "$MNT/big.mp4" -f null - 2>"$SCRATCH/ffmpeg.err"
[ ! -s "$SCRATCH/ffmpeg.err" ] || fail "ffmpeg: $(head -5 "$SCRATCH/ffmpeg.err")"
echo "$size-byte output: co64, 64-bit mdat ($mdat_size), read back by inspect and ffprobe"
echo "reflink.sh: all passed"
