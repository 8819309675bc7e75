#!/usr/bin/env bash
# Interop checks against ffmpeg's tools. Each check is a function `check_<name> TARGET` that
# prints "FAIL ..." lines and returns non-zero on disagreement; `run_check` counts failures.
# To add a check: write a function and add its name to CHECKS (run on every fixture chunk file)
# or REC_CHECKS (run on every fixture recording directory). Exit status is non-zero when any
# check failed.
#
# Chunk files: `inspect --json` agrees with ffprobe.
# Recordings: `stitch` (compact and --wall-clock) and, with ffprobe/ffmpeg:
#   - every packet of every chunk is in the output, in order, with its bytes (MD5); the only
#     other packets are silent AAC frames; wall clock may drop whole audio frames at a chunk's
#     two ends (priming, end padding);
#   - every track has one media edit after at most a leading empty one: the sample tables
#     alone carry the joins, so players that ignore edit lists or decode back to back agree;
#   - each chunk's presented packets keep their times relative to each other (one tick) and
#     the chunk starts where the --timeline JSON's output.chunks says (1 ms), on every track,
#     so the A/V offset at every join (and after every pause) is the chunk's own (1 ms);
#   - wall clock: every presented packet within one video frame of its wall-clock instant
#     (chunkStartTime minus recordingStartTime, plus the chunk's pauses before it), and the
#     output lasts the timeline's wall_ms within a frame;
#   - ffmpeg's own edit-list handling presents every packet it keeps at our time and discards
#     only what precedes the start (chunk 0's priming); the output lasts the timeline's
#     output.duration_ms;
#   - the decoded video frames (ffmpeg framemd5) are the chunks' decoded frames, in order;
#   - `ffmpeg -v error -i OUT -f null -` prints nothing; `--threads 1` writes the same bytes;
#     the recording's files are unchanged;
#   - a recording whose chunks' tracks differ from chunk 0's (codec, sample rate, channels,
#     track count; found with ffprobe) is refused: non-zero exit, a message naming the chunk
#     and the parameter, and no output or temporary file left. Another timescale is not a
#     difference: it is converted.
set -uo pipefail
cd "$(dirname "$0")/.."

command -v ffprobe >/dev/null || (apt-get update && apt-get install -y ffmpeg)
command -v python3 >/dev/null || { echo "interop: python3 is required" >&2; exit 2; }

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet -p callrec-examples --example inspect --example stitch || exit 2
INSPECT="$TARGET_DIR/release/examples/inspect"
STITCH="$TARGET_DIR/release/examples/stitch"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

FAILURES=0
CHECKED=0
CHECKS=(inspect_matches_ffprobe)
REC_CHECKS=(stitch_compact stitch_wall_clock)

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

# The stitch checks (see the top of this file), in Python: ARGS = stitch binary, recording
# directory, mode (compact | wall-clock), scratch directory.
read -r -d '' STITCH_PY <<'PY' || true
"""Checks one stitch of one recording with ffprobe/ffmpeg (see scripts/interop.sh)."""
import datetime, glob, hashlib, json, os, re, subprocess, sys
from fractions import Fraction as F

STITCH, REC, MODE, WORK = sys.argv[1:5]
WALL = MODE == "wall-clock"
NAME = os.path.basename(REC.rstrip("/"))
MS = F(1, 1000)
fails = []


def fail(msg):
    fails.append(msg)


def ms(x):
    return f"{float(x) * 1000:.3f} ms"


def ffprobe(path, *args):
    r = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL {NAME} {MODE}: ffprobe {path}: {r.stderr.strip()}")
    return json.loads(r.stdout)


# --- the few boxes ffprobe does not show: mvhd/mdhd timescales and the edit lists ---------------
def boxes(buf, start, end):
    pos = start
    while pos + 8 <= end:
        size, typ, hdr = int.from_bytes(buf[pos:pos + 4], "big"), buf[pos + 4:pos + 8], 8
        if size == 1:
            size, hdr = int.from_bytes(buf[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise SystemExit(f"FAIL {NAME} {MODE}: bad {typ!r} box at {pos}")
        yield typ, pos + hdr, pos + size
        pos += size


def child(buf, span, typ):
    return next(((s, e) for t, s, e in boxes(buf, *span) if t == typ), None)


def u(buf, at, n, signed=False):
    return int.from_bytes(buf[at:at + n], "big", signed=signed)


def movie_info(path):
    """(movie timescale, [{handler, timescale, edits: [(segment seconds, media_time|None)]|None}])"""
    buf = open(path, "rb").read()
    moov = child(buf, (0, len(buf)), b"moov")
    mvhd = child(buf, moov, b"mvhd")
    movie_ts = u(buf, mvhd[0] + (20 if buf[mvhd[0]] == 1 else 12), 4)
    tracks = []
    for typ, s, e in boxes(buf, *moov):
        if typ != b"trak":
            continue
        mdia = child(buf, (s, e), b"mdia")
        mdhd = child(buf, mdia, b"mdhd")
        ts = u(buf, mdhd[0] + (20 if buf[mdhd[0]] == 1 else 12), 4)
        handler = bytes(buf[child(buf, mdia, b"hdlr")[0] + 8:][:4])
        edits = None
        edts = child(buf, (s, e), b"edts")
        elst = edts and child(buf, edts, b"elst")
        if elst:
            p, v = elst[0], buf[elst[0]]
            n, p, edits = u(buf, p + 4, 4), p + 8, []
            for _ in range(n):
                w = 8 if v == 1 else 4
                seg, mt = u(buf, p, w), u(buf, p + w, w, signed=True)
                rate = u(buf, p + 2 * w, 4)
                if rate != 0x10000:
                    fail(f"{path}: edit with media rate {rate / 65536}")
                edits.append((F(seg, movie_ts), None if mt == -1 else mt))
                p += 2 * w + 4
        if handler in (b"vide", b"soun"):
            tracks.append({"handler": handler, "timescale": ts, "edits": edits})
    return movie_ts, tracks


# --- packets (sample tables) from ffprobe, presentation per ISO/IEC 14496-12 edit lists ----------
def analyze(path, lead_rule):
    """Per audio/video stream: packets in decode order with their presentation (chunk-relative
    seconds) per the file's edit lists; for a file without any edit list (ffmpeg's fragmented
    chunks) with `lead_rule`, the stitcher's rule: every track skips 1024 / sample_rate s of AAC
    priming and presents the rest of its media."""
    movie_ts, tracks = movie_info(path)
    d = ffprobe(path, "-ignore_editlist", "1", "-show_streams", "-show_packets",
                "-show_data_hash", "MD5")
    streams = [s for s in d["streams"] if s["codec_type"] in ("video", "audio")]
    if len(streams) != len(tracks):
        raise SystemExit(f"FAIL {NAME} {MODE}: {path}: {len(streams)} streams, {len(tracks)} traks")
    lead = F(0)
    edit_less = lead_rule and all(t["edits"] is None for t in tracks)
    if edit_less:
        aac = [s for s in streams if s["codec_type"] == "audio" and s["codec_name"] == "aac"]
        if aac:
            lead = F(1024, int(aac[0]["sample_rate"]))
    per = []
    for s, t in zip(streams, tracks):
        ts = t["timescale"]
        pk = [p for p in d["packets"] if p["stream_index"] == s["index"]]
        pkts = []
        for i, p in enumerate(pk):
            if i + 1 < len(pk):
                dur = int(pk[i + 1]["dts"]) - int(p["dts"])
            else:  # the last sample's own duration: the stream's media duration says it
                dur = int(pk[0]["dts"]) + int(s["duration_ts"]) - int(p["dts"])
            pkts.append({"pts": int(p["pts"]), "dur": dur, "md5": p["data_hash"],
                         "pos": int(p["pos"])})
        start = end = None
        if t["edits"] is None and edit_less:
            # ffmpeg's fragments: a stretched first sample (it lasts until the second, longer
            # than the one after) really starts later, by as much; audio skips its priming.
            if len(pkts) >= 3 and pkts[0]["pts"] == int(pk[0]["dts"]):
                d1 = int(pk[1]["dts"]) - int(pk[0]["dts"])
                d2 = int(pk[2]["dts"]) - int(pk[1]["dts"])
                if d1 > d2 > 0:
                    pkts[0]["pts"] += d1 - d2
                    pkts[0]["dur"] -= d1 - d2
            first = min(p["pts"] for p in pkts)
            end = max(p["pts"] + p["dur"] for p in pkts)
            start = first + (round(lead * ts) if s["codec_type"] == "audio" else 0)
        per.append((s, t, pkts, start, end))
    # The chunk's presentation starts where the audio content does; a track starting later
    # waits that long (an empty edit).
    firsts = [(s["codec_type"], F(st, t["timescale"])) for s, t, _, st, _ in per if st is not None]
    origin = next((x for k, x in firsts if k == "audio"), min((x for _, x in firsts), default=F(0)))
    out = []
    for s, t, pkts, start, end in per:
        ts = t["timescale"]
        edits = t["edits"]
        if edits is None:
            if start is None:
                first = min(p["pts"] for p in pkts)
                end = max(p["pts"] + p["dur"] for p in pkts)
                start = first
            wait = F(start, ts) - origin
            edits = ([(wait, None)] if wait > 0 else []) + [(F(end - start, ts), start)]
        when, clipped, now, empty_after_media, lead_empty = {}, set(), F(0), False, F(0)
        for seg, mt in edits:
            if mt is None:
                empty_after_media |= now > 0 and bool(when)
                lead_empty += 0 if when else seg
            else:
                m0 = F(mt, ts)
                for i, p in enumerate(pkts):
                    a, b = F(p["pts"], ts), F(p["pts"] + p["dur"], ts)
                    if b > m0 and a < m0 + seg and i not in when:
                        when[i] = now + max(a, m0) - m0
                        if a < m0:
                            clipped.add(i)
            now += seg
        out.append({"kind": s["codec_type"], "codec": s["codec_name"],
                    "sample_rate": s.get("sample_rate"), "channels": s.get("channels"),
                    "time_base": s["time_base"], "pkts": pkts, "when": when,
                    "clipped": clipped, "duration": now, "ffprobe_duration": s.get("duration"),
                    "empty_after_media": empty_after_media, "lead_empty": lead_empty})
    return out


def ffmpeg_view(path, streams):
    """What ffmpeg's edit-list handling presents: packets not flagged discard, by (stream, pos)."""
    d = ffprobe(path, "-show_packets", "-show_streams")
    dur = {s["index"]: s.get("duration") for s in d["streams"]}
    view = {}
    for p in d["packets"]:
        if "D" not in p["flags"]:
            view[(p["stream_index"], int(p["pos"]))] = F(p["pts_time"])
    return view, dur


def wall(ts):
    """RFC 3339 time with 0 to 9 fractional digits -> exact seconds since the epoch."""
    m = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", ts)
    if not m:
        raise SystemExit(f"FAIL {NAME}: bad time {ts!r}")
    base = datetime.datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    return int(base.timestamp()) + (F(m[2][1:]) / 10 ** (len(m[2]) - 1) if m[2] else 0)


# --- the recording, from its files (not from our crates) ----------------------------------------
metas = []
for f in glob.glob(os.path.join(REC, "*.json")):
    if f.endswith(".packets.json") or os.path.basename(f) == "event.json":
        continue
    m = json.load(open(f))
    metas.append((int(m["chunkIndex"]), os.path.basename(f)[:-len(".json")], m))
metas.sort(key=lambda x: x[0])
event = json.load(open(os.path.join(REC, "event.json")))
rec_start = next((e["data"]["recordingStartTime"] for e in (event if isinstance(event, list)
                  else [event]) if "recordingStartTime" in e.get("data", {})),
                 metas[0][2]["chunkStartTime"])
rec_start = wall(rec_start)
chunks = [analyze(os.path.join(REC, doc + ".mp4"), True) for _, doc, _ in metas]

# Chunks whose tracks differ from chunk 0's must be refused, naming the chunk and the parameter.
words = {"codec": "codec", "sample_rate": "sample rate", "channels": "channel"}
refuse = None
for (index, doc, _), c in zip(metas[1:], chunks[1:]):
    kinds = lambda x: [s["kind"] for s in x]
    if kinds(c) != kinds(chunks[0]):
        refuse = (index, ["track count", "track"])
    else:
        diff = [words[k] for a, b in zip(chunks[0], c) for k in words if a[k] != b[k]]
        refuse = (index, diff) if diff else None
    if refuse:
        break

def digest_inputs():
    return {f: hashlib.md5(open(os.path.join(REC, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(REC))}


inputs_before = digest_inputs()
out = os.path.join(WORK, f"{NAME}.{MODE}.mp4")
timeline = os.path.join(WORK, f"{NAME}.{MODE}.json")
cmd = [STITCH, REC, "-o", out, "--timeline", timeline] + (["--wall-clock"] if WALL else [])
r = subprocess.run(cmd, capture_output=True, text=True)
left = sorted(os.listdir(WORK))
if digest_inputs() != inputs_before:
    fail("the recording directory changed")
if refuse:
    index, params = refuse
    err = r.stderr.strip()
    if r.returncode == 0:
        fail(f"stitched although chunk {index} differs ({', '.join(params)})")
    elif not re.search(rf"\bchunk {index}\b", err):
        fail(f"the error does not name chunk {index}: {err!r}")
    elif not any(w in err for w in params):
        fail(f"the error names none of {params}: {err!r}")
    if os.path.exists(out) or any(n.startswith(f".{NAME}.{MODE}") for n in left):
        fail(f"refused, but something was written: {left}")
    for f in fails:
        print(f"FAIL {NAME} {MODE}: {f}")
    if not fails:
        print(f"   {NAME} {MODE}: refused: {err}")
    sys.exit(1 if fails else 0)
if r.returncode != 0:
    raise SystemExit(f"FAIL {NAME} {MODE}: stitch exited {r.returncode}: {r.stderr.strip()}")
res = analyze(out, False)

# Where chunk k starts (compact: the sum of the earlier chunks' presented durations; wall clock:
# its chunkStartTime), and per chunk the pauses as (media offset, duration) for the wall clock.
starts, pauses, t = [], [], F(0)
for (index, doc, m), c in zip(metas, chunks):
    start = wall(m["chunkStartTime"])
    starts.append(start - rec_start if WALL else t)
    t += max(s["duration"] for s in c)
    ps, before = [], F(0)
    for p in sorted(m.get("pauseResumeIntervals") or [], key=lambda p: wall(p["startTime"])):
        d = F(p["duration"]) / 1000
        ps.append((wall(p["startTime"]) - start - before, d))
        before += d
    pauses.append(ps if WALL else [])


def expected(k, rel):
    return starts[k] + rel + sum(d for at, d in pauses[k] if at <= rel)


ok_notes = []
SILENT = {"MD5:" + hashlib.md5(bytes([0x00, 0xC8, 0x00, 0x07])).hexdigest()}
tl = json.load(open(timeline)) if os.path.exists(timeline) else None
if tl is None:
    fail("--timeline wrote nothing")
out_chunks = (tl or {}).get("output", {}).get("chunks", [])
movie_ts, out_tracks = movie_info(out)
vframe = None
offsets = {}  # kind -> per chunk: list of (inserted before, offset)
for si, (o, ot) in enumerate(zip(res, out_tracks)):
    kind = o["kind"]
    edits = ot["edits"] or []
    # 1. One media edit, after at most one leading empty edit: the sample tables carry the joins.
    if len(edits) > 2 or sum(1 for _, mt in edits if mt is not None) != 1 or \
            (len(edits) == 2 and edits[0][1] is not None):
        fail(f"{kind}: edit list {edits}: not one media edit after at most a leading empty one")
        continue
    lead = edits[0][0] if edits[0][1] is None else F(0)
    media_time = [mt for _, mt in edits if mt is not None][0]
    ts = ot["timescale"]
    t_out = [lead + F(p["pts"] - media_time, ts) for p in o["pkts"]]
    # 2. Every packet of every chunk, in order, same bytes (wall clock: whole audio frames at a
    #    chunk's ends may be dropped); the only others are silent AAC frames.
    j, where = 0, []
    for k, c in enumerate(chunks):
        pk = c[si]["pkts"]
        w = []
        for i, p in enumerate(pk):
            while j < len(o["pkts"]) and o["pkts"][j]["md5"] in SILENT and p["md5"] not in SILENT:
                j += 1
            if j < len(o["pkts"]) and o["pkts"][j]["md5"] == p["md5"]:
                w.append(j)
                j += 1
            elif WALL and kind == "audio" and (i < 2 or i + 2 >= len(pk)):
                w.append(None)
            else:
                fail(f"{kind}: chunk {k} packet {i} is not in the output (at output packet {j})")
                break
        where.append(w)
    rest = [p for p in o["pkts"][j:] if p["md5"] not in SILENT]
    if rest:
        fail(f"{kind}: {len(rest)} output packets no chunk has")
    if fails:
        continue
    if kind == "video":
        vframe = F(o["pkts"][0]["dur"], ts)
    # 3. Each chunk presented at one offset (per stretch between inserted pauses), its packets
    #    keeping their times relative to each other (1 tick); wall clock: every packet within
    #    one video frame of its wall-clock instant.
    per = []
    for k, c in enumerate(chunks):
        offs = []
        for i, rel in sorted(c[si]["when"].items()):
            g = where[k][i]
            if g is None:
                continue
            ins = sum(d for at, d in pauses[k] if at <= rel)
            offs.append((ins, t_out[g] - rel - ins, t_out[g], rel))
        for ins, off, got, rel in offs:
            first = next(x[1] for x in offs if x[0] == ins)
            if abs(off - first) > F(1, ts):
                fail(f"{kind}: chunk {k} packet at {ms(rel)} moved {ms(off - first)} against the chunk")
                break
        if WALL:
            late = [(got, starts[k] + rel + ins) for ins, _, got, rel in offs
                    if abs(got - starts[k] - rel - ins) > F(1, 8)]
            if late:
                fail(f"{kind}: chunk {k}: {len(late)} packets more than a frame from their wall "
                     f"time, first at {ms(late[0][0])}, belongs at {ms(late[0][1])}")
        per.append(offs)
    offsets[kind] = per
    # 4. The timeline JSON says where each chunk starts (its first presented instant).
    for k, offs in enumerate(per):
        if k < len(out_chunks) and offs:
            said = F(str(out_chunks[k]["start_ms"])) / 1000
            ins, off, got, rel = offs[0]
            if abs(got - rel - said) > MS:
                fail(f"{kind}: chunk {k} starts at {ms(got - rel)}, the timeline says {ms(said)}")
    if len(out_chunks) != len(chunks):
        fail(f"the timeline lists {len(out_chunks)} chunks, the recording has {len(chunks)}")
    o["t_out"], o["media_time"] = t_out, media_time

# 5. At every join and after every pause: the A/V offset is the chunk's own (1 ms).
if not fails and "video" in offsets and "audio" in offsets:
    for k in range(len(chunks)):
        for ins, off, _, _ in offsets["video"][k]:
            a = next((x[1] for x in offsets["audio"][k] if x[0] == ins), None)
            if a is not None and abs(off - a) > MS:
                fail(f"chunk {k}: A/V offset {ms(off - a)} after {ms(ins)} of pauses, chunk's own 0")
                break

# 6. ffmpeg's own edit-list handling presents every packet it does not discard at our time,
#    and discards only chunk 0's audio priming.
if not fails:
    view, durs = ffmpeg_view(out, res)
    for si, o in enumerate(res):
        theirs = {k[1]: w for k, w in view.items() if k[0] == si}
        off = [p for p, t in zip(o["pkts"], o["t_out"]) if p["pos"] in theirs
               and abs(theirs[p["pos"]] - t) > MS]
        if off:
            fail(f"{o['kind']}: ffmpeg presents {len(off)} packets at other times")
        dropped = [p for p, t in zip(o["pkts"], o["t_out"]) if p["pos"] not in theirs]
        if any(t >= 0 for p, t in zip(o["pkts"], o["t_out"]) if p["pos"] not in theirs):
            fail(f"{o['kind']}: ffmpeg discards {len(dropped)} packets, some after the start")

# 7. The output lasts what the timeline says.
if tl is not None and not fails:
    span = max(o["duration"] for o in res)
    said = F(str(tl["output"]["duration_ms"])) / 1000
    if abs(span - said) > MS:
        fail(f"lasts {ms(span)}, timeline output duration_ms {tl['output']['duration_ms']}")
    if WALL and abs(span - F(tl["wall_ms"]) / 1000) > (vframe or F(1, 8)):
        fail(f"lasts {ms(span)}, timeline wall_ms {tl['wall_ms']}")

# 8. Decoded video frames identical to the chunks' (ffmpeg framemd5, presentation order).
def framemd5(path):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
                        "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                       capture_output=True, text=True)
    return [l.rsplit(",", 1)[1].strip() for l in r.stdout.splitlines()
            if l and not l.startswith("#")]
if not fails and any(o["kind"] == "video" for o in res):
    want = [h for _, doc, _ in metas for h in framemd5(os.path.join(REC, doc + ".mp4"))]
    got = framemd5(out)
    if want != got:
        j = next((j for j, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        fail(f"decoded video frames differ from the chunks' at frame {j} "
             f"({len(got)} decoded, chunks decode {len(want)})")

# 9. One copy thread writes the same bytes.
one = out + ".1.mp4"
r = subprocess.run(cmd[:3] + [one] + cmd[4:] + ["--threads", "1"], capture_output=True, text=True)
if r.returncode != 0 or open(one, "rb").read() != open(out, "rb").read():
    fail(f"--threads 1 gives other bytes (exit {r.returncode})")
if os.path.exists(one):
    os.remove(one)

# 10. ffmpeg decodes it without a word.
r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", out, "-f", "null", "-"],
                   capture_output=True, text=True)
if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
    fail(f"ffmpeg -v error -f null: exit {r.returncode}: {(r.stdout + r.stderr).strip()[:300]}")

for f in fails:
    print(f"FAIL {NAME} {MODE}: {f}")
if not fails:
    n = [f"{len(o['pkts'])} {o['kind']}" for o in res]
    print(f"   {NAME} {MODE}: {', '.join(n)} packets, every chunk's in order; "
          f"{len(chunks) - 1} joins where the timeline says, A/V as in the chunks; "
          f"video frames decode identical; {float(max(o['duration'] for o in res)):.3f} s"
          + "".join(f"; {x}" for x in ok_notes))
os.remove(out)
sys.exit(1 if fails else 0)
PY

check_stitch_compact() {
    local dir="$WORK/compact"
    mkdir -p "$dir" && python3 -c "$STITCH_PY" "$STITCH" "$1" compact "$dir"
}

check_stitch_wall_clock() {
    local dir="$WORK/wall-clock"
    mkdir -p "$dir" && python3 -c "$STITCH_PY" "$STITCH" "$1" wall-clock "$dir"
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

RECS=(testdata/recordings/*/)
for rec in "${RECS[@]}"; do
    for check in "${REC_CHECKS[@]}"; do
        run_check "$check" "${rec%/}"
    done
done

echo "interop: $CHECKED checks, $FAILURES failed"
[ "$FAILURES" -eq 0 ]
