#!/usr/bin/env python3
"""Interop checks of our tools against ffmpeg's (Python 3 standard library, ffprobe, ffmpeg).

    python3 scripts/interop.py          (or bash scripts/interop.sh; CARGO_TARGET_DIR is honoured)

Each check is a function `check_<name>(target, ctx)` returning its failures as strings (a
`Fatal` raised stops that check with one failure). `main` runs FILE_CHECKS on every fixture chunk
file and RECORDING_CHECKS on every fixture recording directory, prints "ok NAME TARGET" or
"FAIL TARGET: why" lines then "not ok NAME TARGET", and exits 1 when any check failed (2 when
the tools cannot be built). To add a check: write the function and add it to one of the lists.

Chunk files: `inspect --json` agrees with ffprobe.
Recordings: `stitch` (compact and --wall-clock) and, with ffprobe/ffmpeg:
  - every packet of every chunk is in the output, in order, with its bytes (MD5); the only
    other packets are silent AAC frames; wall clock may drop whole audio frames at a chunk's
    two ends (priming, end padding);
  - every track has one media edit after at most a leading empty one: the sample tables
    alone carry the joins, so players that ignore edit lists or decode back to back agree;
  - each chunk's presented packets keep their times relative to each other (one tick) and
    the chunk starts where the --timeline JSON's output.chunks says (1 ms), on every track,
    so the A/V offset at every join (and after every pause) is the chunk's own (1 ms);
  - wall clock: every presented packet within one video frame of its wall-clock instant
    (chunkStartTime minus recordingStartTime, plus the chunk's pauses before it), and the
    output lasts the timeline's wall_ms within a frame;
  - ffmpeg's own edit-list handling presents every packet it keeps at our time and discards
    only what precedes the start (chunk 0's priming); the output lasts the timeline's
    output.duration_ms;
  - the decoded video frames (ffmpeg framemd5) are the chunks' decoded frames, in order;
  - `ffmpeg -v error -i OUT -f null -` prints nothing; `--threads 1` writes the same bytes;
    the recording's files are unchanged;
  - a recording whose chunks' tracks differ from chunk 0's (codec, sample rate, channels,
    track count; found with ffprobe) is refused: non-zero exit, a message naming the chunk
    and the parameter, and no output or temporary file left. Another timescale is not a
    difference: it is converted.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from fractions import Fraction as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MS = F(1, 1000)
# The one silent AAC-LC frame the stitcher inserts (mono or stereo, any rate): its MD5 as ffprobe
# prints it.
SILENT = {"MD5:" + hashlib.md5(bytes([0x00, 0xC8, 0x00, 0x07])).hexdigest()}
# Which words a refusal must use for each track parameter that differs.
PARAM_WORDS = {"codec": "codec", "sample_rate": "sample rate", "channels": "channel"}


class Fatal(Exception):
    """A check that cannot go on; the message is its one failure."""


class Context:
    """What every check needs: the binaries and a scratch directory."""

    def __init__(self, inspect, stitch, work):
        self.inspect, self.stitch, self.work = inspect, stitch, work


def ms(x):
    return f"{float(x) * 1000:.3f} ms"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def ffprobe(path, *args):
    r = run(["ffprobe", "-v", "error", *args, "-of", "json", path])
    if r.returncode != 0:
        raise Fatal(f"ffprobe {path}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def wall(ts):
    """RFC 3339 time with 0 to 9 fractional digits -> exact seconds since the epoch."""
    m = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", ts)
    if not m:
        raise Fatal(f"bad time {ts!r}")
    base = datetime.datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    return int(base.timestamp()) + (F(m[2][1:]) / 10 ** (len(m[2]) - 1) if m[2] else 0)


# --- chunk files ---------------------------------------------------------------------------------
def check_inspect_matches_ffprobe(path, ctx):
    """inspect --json agrees with ffprobe: track count, kinds, codec, timescale, sample count,
    width/height, sample rate, channels."""
    r = run([ctx.inspect, path, "--json"])
    if r.returncode != 0:
        return ["inspect failed"]
    ours = json.loads(r.stdout)["tracks"]
    entries = "stream=index,codec_type,codec_name,time_base,nb_read_packets,width,height," \
              "sample_rate,channels"
    try:
        probed = ffprobe(path, "-ignore_editlist", "1", "-count_packets", "-show_entries", entries)
    except Fatal:
        return ["ffprobe failed"]
    theirs = [s for s in probed["streams"] if s.get("codec_type") in ("video", "audio")]
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
    return bad


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
            raise Fatal(f"bad {typ!r} box at {pos}")
        yield typ, pos + hdr, pos + size
        pos += size


def child(buf, span, typ):
    return next(((s, e) for t, s, e in boxes(buf, *span) if t == typ), None)


def u(buf, at, n, signed=False):
    return int.from_bytes(buf[at:at + n], "big", signed=signed)


def header_timescale(buf, span):
    """The timescale of an mvhd or mdhd (version 0 or 1) whose payload is `span`."""
    return u(buf, span[0] + (20 if buf[span[0]] == 1 else 12), 4)


def edit_list(buf, elst, movie_ts, path, fails):
    """elst entries as (segment seconds, media_time | None for an empty edit)."""
    p, v = elst[0], buf[elst[0]]
    n, p, edits = u(buf, p + 4, 4), p + 8, []
    for _ in range(n):
        w = 8 if v == 1 else 4
        seg, mt = u(buf, p, w), u(buf, p + w, w, signed=True)
        rate = u(buf, p + 2 * w, 4)
        if rate != 0x10000:
            fails.append(f"{path}: edit with media rate {rate / 65536}")
        edits.append((F(seg, movie_ts), None if mt == -1 else mt))
        p += 2 * w + 4
    return edits


def movie_info(path, fails):
    """(movie timescale, [{handler, timescale, edits: [(segment seconds, media_time|None)]|None}])"""
    with open(path, "rb") as f:
        buf = f.read()
    moov = child(buf, (0, len(buf)), b"moov")
    movie_ts = header_timescale(buf, child(buf, moov, b"mvhd"))
    tracks = []
    for typ, s, e in boxes(buf, *moov):
        if typ != b"trak":
            continue
        mdia = child(buf, (s, e), b"mdia")
        ts = header_timescale(buf, child(buf, mdia, b"mdhd"))
        handler = bytes(buf[child(buf, mdia, b"hdlr")[0] + 8:][:4])
        edts = child(buf, (s, e), b"edts")
        elst = edts and child(buf, edts, b"elst")
        edits = edit_list(buf, elst, movie_ts, path, fails) if elst else None
        if handler in (b"vide", b"soun"):
            tracks.append({"handler": handler, "timescale": ts, "edits": edits})
    return movie_ts, tracks


# --- packets (sample tables) from ffprobe, presentation per ISO/IEC 14496-12 edit lists ----------
def stream_packets(d, s):
    """One stream's packets in decode order: pts, duration (ticks), MD5, byte position."""
    pk = [p for p in d["packets"] if p["stream_index"] == s["index"]]
    pkts = []
    for i, p in enumerate(pk):
        if i + 1 < len(pk):
            dur = int(pk[i + 1]["dts"]) - int(p["dts"])
        else:  # the last sample's own duration: the stream's media duration says it
            dur = int(pk[0]["dts"]) + int(s["duration_ts"]) - int(p["dts"])
        pkts.append({"pts": int(p["pts"]), "dur": dur, "md5": p["data_hash"],
                     "pos": int(p["pos"])})
    return pk, pkts


def fragment_span(s, pk, pkts, ts, lead):
    """ffmpeg's fragments: a stretched first sample (it lasts until the second, longer than the
    one after) really starts later, by as much; audio skips its priming. (start, end) ticks."""
    if len(pkts) >= 3 and pkts[0]["pts"] == int(pk[0]["dts"]):
        d1 = int(pk[1]["dts"]) - int(pk[0]["dts"])
        d2 = int(pk[2]["dts"]) - int(pk[1]["dts"])
        if d1 > d2 > 0:
            pkts[0]["pts"] += d1 - d2
            pkts[0]["dur"] -= d1 - d2
    first = min(p["pts"] for p in pkts)
    end = max(p["pts"] + p["dur"] for p in pkts)
    return first + (round(lead * ts) if s["codec_type"] == "audio" else 0), end


def present(pkts, edits, ts):
    """Where each packet is presented per the edit list (packet index -> seconds)."""
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
    return {"when": when, "clipped": clipped, "duration": now,
            "empty_after_media": empty_after_media, "lead_empty": lead_empty}


def analyze(path, lead_rule, fails):
    """Per audio/video stream: packets in decode order with their presentation (chunk-relative
    seconds) per the file's edit lists; for a file without any edit list (ffmpeg's fragmented
    chunks) with `lead_rule`, the stitcher's rule: every track skips 1024 / sample_rate s of AAC
    priming and presents the rest of its media."""
    _, tracks = movie_info(path, fails)
    d = ffprobe(path, "-ignore_editlist", "1", "-show_streams", "-show_packets",
                "-show_data_hash", "MD5")
    streams = [s for s in d["streams"] if s["codec_type"] in ("video", "audio")]
    if len(streams) != len(tracks):
        raise Fatal(f"{path}: {len(streams)} streams, {len(tracks)} traks")
    lead = F(0)
    edit_less = lead_rule and all(t["edits"] is None for t in tracks)
    if edit_less:
        aac = [s for s in streams if s["codec_type"] == "audio" and s["codec_name"] == "aac"]
        if aac:
            lead = F(1024, int(aac[0]["sample_rate"]))
    per = []
    for s, t in zip(streams, tracks):
        pk, pkts = stream_packets(d, s)
        start = end = None
        if t["edits"] is None and edit_less:
            start, end = fragment_span(s, pk, pkts, t["timescale"], lead)
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
                start = min(p["pts"] for p in pkts)
                end = max(p["pts"] + p["dur"] for p in pkts)
            wait = F(start, ts) - origin
            edits = ([(wait, None)] if wait > 0 else []) + [(F(end - start, ts), start)]
        out.append({"kind": s["codec_type"], "codec": s["codec_name"],
                    "sample_rate": s.get("sample_rate"), "channels": s.get("channels"),
                    "time_base": s["time_base"], "pkts": pkts,
                    "ffprobe_duration": s.get("duration"), **present(pkts, edits, ts)})
    return out


def ffmpeg_view(path):
    """What ffmpeg's edit-list handling presents: packets not flagged discard, by (stream, pos)."""
    d = ffprobe(path, "-show_packets", "-show_streams")
    return {(p["stream_index"], int(p["pos"])): F(p["pts_time"])
            for p in d["packets"] if "D" not in p["flags"]}


def framemd5(path):
    """The decoded video frames' MD5s (ffmpeg framemd5, presentation order)."""
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
             "-fps_mode", "passthrough", "-f", "framemd5", "-"])
    return [line.rsplit(",", 1)[1].strip() for line in r.stdout.splitlines()
            if line and not line.startswith("#")]


# --- the recording, from its files (not from our crates) ----------------------------------------
class Recording:
    """A fixture recording read with ffprobe and the JSON module: chunk metadata in chunk order,
    the recording's start (seconds since the epoch) and each chunk's analysed streams."""

    def __init__(self, path, fails):
        self.path = path
        self.name = os.path.basename(path.rstrip("/"))
        metas = []
        for f in glob.glob(os.path.join(path, "*.json")):
            if f.endswith(".packets.json") or os.path.basename(f) == "event.json":
                continue
            with open(f) as fh:
                m = json.load(fh)
            metas.append((int(m["chunkIndex"]), os.path.basename(f)[:-len(".json")], m))
        metas.sort(key=lambda x: x[0])
        self.metas = metas
        with open(os.path.join(path, "event.json")) as fh:
            event = json.load(fh)
        events = event if isinstance(event, list) else [event]
        self.start = wall(next((e["data"]["recordingStartTime"] for e in events
                                if "recordingStartTime" in e.get("data", {})),
                               metas[0][2]["chunkStartTime"]))
        self.chunks = [analyze(self.media(doc), True, fails) for _, doc, _ in metas]

    def media(self, doc):
        return os.path.join(self.path, doc + ".mp4")

    def refusal(self):
        """(chunk index, words the refusal must use) for the first chunk whose tracks differ from
        chunk 0's, or None."""
        kinds = lambda c: [s["kind"] for s in c]  # noqa: E731
        for (index, _, _), c in zip(self.metas[1:], self.chunks[1:]):
            if kinds(c) != kinds(self.chunks[0]):
                return index, ["track count", "track"]
            diff = [PARAM_WORDS[k] for a, b in zip(self.chunks[0], c) for k in PARAM_WORDS
                    if a[k] != b[k]]
            if diff:
                return index, diff
        return None

    def digest(self):
        """MD5 of every file in the recording directory, by name."""
        out = {}
        for f in sorted(os.listdir(self.path)):
            with open(os.path.join(self.path, f), "rb") as fh:
                out[f] = hashlib.md5(fh.read()).hexdigest()
        return out

    def placement(self, wall_clock):
        """Where chunk k starts (compact: the sum of the earlier chunks' presented durations;
        wall clock: its chunkStartTime) and, per chunk, its pauses as (media offset, duration)
        for the wall clock (none in compact mode)."""
        starts, pauses, t = [], [], F(0)
        for (_, _, m), c in zip(self.metas, self.chunks):
            start = wall(m["chunkStartTime"])
            starts.append(start - self.start if wall_clock else t)
            t += max(s["duration"] for s in c)
            ps, before = [], F(0)
            for p in sorted(m.get("pauseResumeIntervals") or [],
                            key=lambda p: wall(p["startTime"])):
                d = F(p["duration"]) / 1000
                ps.append((wall(p["startTime"]) - start - before, d))
                before += d
            pauses.append(ps if wall_clock else [])
        return starts, pauses


# --- one stitch of one recording ----------------------------------------------------------------
class Stitch:
    """Stitches a recording in one mode and checks the output step by step (the numbered methods);
    each step appends to `fails`, and the later steps run only on an output that passed so far."""

    def __init__(self, rec, mode, ctx, fails):
        self.rec, self.mode, self.wall, self.fails = rec, mode, mode == "wall-clock", fails
        self.work = os.path.join(ctx.work, mode)
        os.makedirs(self.work, exist_ok=True)
        self.out = os.path.join(self.work, f"{rec.name}.{mode}.mp4")
        self.timeline_path = os.path.join(self.work, f"{rec.name}.{mode}.json")
        self.cmd = [ctx.stitch, rec.path, "-o", self.out, "--timeline", self.timeline_path] + \
            (["--wall-clock"] if self.wall else [])
        self.starts, self.pauses = rec.placement(self.wall)
        self.vframe = None
        self.offsets = {}  # kind -> per chunk: [(pauses inserted before, offset, out time, rel)]

    def fail(self, msg):
        self.fails.append(msg)

    def stitch(self):
        """Runs the stitch; the recording's files must not change."""
        before = self.rec.digest()
        r = run(self.cmd)
        if self.rec.digest() != before:
            self.fail("the recording directory changed")
        return r

    def check_refused(self, r, refuse):
        """A recording with differing chunks: non-zero exit, the chunk and a parameter named,
        nothing written."""
        index, params = refuse
        left = sorted(os.listdir(self.work))
        err = r.stderr.strip()
        if r.returncode == 0:
            self.fail(f"stitched although chunk {index} differs ({', '.join(params)})")
        elif not re.search(rf"\bchunk {index}\b", err):
            self.fail(f"the error does not name chunk {index}: {err!r}")
        elif not any(w in err for w in params):
            self.fail(f"the error names none of {params}: {err!r}")
        name = f".{self.rec.name}.{self.mode}"
        if os.path.exists(self.out) or any(n.startswith(name) for n in left):
            self.fail(f"refused, but something was written: {left}")
        return f"refused: {err}"

    def check_output(self):
        """Steps 1 to 10 on the stitched output; returns the summary of a passing output."""
        self.res = analyze(self.out, False, self.fails)
        self.timeline = None
        if os.path.exists(self.timeline_path):
            with open(self.timeline_path) as fh:
                self.timeline = json.load(fh)
        else:
            self.fail("--timeline wrote nothing")
        self.out_chunks = (self.timeline or {}).get("output", {}).get("chunks", [])
        _, out_tracks = movie_info(self.out, self.fails)
        for si, (o, ot) in enumerate(zip(self.res, out_tracks)):
            self.check_track(si, o, ot)
        if self.timeline is not None and len(self.out_chunks) != len(self.rec.chunks):
            self.fail(f"the timeline lists {len(self.out_chunks)} chunks, "
                      f"the recording has {len(self.rec.chunks)}")
        if not self.fails:
            self.step5_av_offsets()
        if not self.fails:
            self.step6_ffmpeg_view()
        if not self.fails and self.timeline is not None:
            self.step7_duration()
        if not self.fails:
            self.step8_decoded_frames()
        self.step9_threads_1()
        self.step10_ffmpeg_decodes()
        os.remove(self.out)
        n = [f"{len(o['pkts'])} {o['kind']}" for o in self.res]
        return (f"{', '.join(n)} packets, every chunk's in order; "
                f"{len(self.rec.chunks) - 1} joins where the timeline says, A/V as in the chunks; "
                f"video frames decode identical; "
                f"{float(max(o['duration'] for o in self.res)):.3f} s")

    def check_track(self, si, o, ot):
        """Steps 1 to 4 on one output track."""
        got = self.step1_one_media_edit(o["kind"], ot["edits"] or [])
        if got is None:
            return
        lead, media_time = got
        ts = ot["timescale"]
        t_out = [lead + F(p["pts"] - media_time, ts) for p in o["pkts"]]
        where = self.step2_every_packet(si, o)
        if self.fails:
            return
        if o["kind"] == "video":
            self.vframe = F(o["pkts"][0]["dur"], ts)
        per = self.step3_chunk_offsets(si, o["kind"], ts, t_out, where)
        self.offsets[o["kind"]] = per
        self.step4_timeline_starts(o["kind"], per)
        o["t_out"], o["media_time"] = t_out, media_time

    def step1_one_media_edit(self, kind, edits):
        """1. One media edit, after at most one leading empty edit: the sample tables carry the
        joins. Returns (leading empty seconds, media_time) or None."""
        if len(edits) > 2 or sum(1 for _, mt in edits if mt is not None) != 1 or \
                (len(edits) == 2 and edits[0][1] is not None):
            self.fail(f"{kind}: edit list {edits}: not one media edit after at most a leading "
                      f"empty one")
            return None
        lead = edits[0][0] if edits[0][1] is None else F(0)
        return lead, [mt for _, mt in edits if mt is not None][0]

    def step2_every_packet(self, si, o):
        """2. Every packet of every chunk, in order, same bytes (wall clock: whole audio frames at
        a chunk's ends may be dropped); the only others are silent AAC frames. Returns per chunk
        each packet's output index (None: dropped)."""
        kind, out = o["kind"], o["pkts"]
        j, where = 0, []
        for k, c in enumerate(self.rec.chunks):
            pk = c[si]["pkts"]
            w = []
            for i, p in enumerate(pk):
                while j < len(out) and out[j]["md5"] in SILENT and p["md5"] not in SILENT:
                    j += 1
                if j < len(out) and out[j]["md5"] == p["md5"]:
                    w.append(j)
                    j += 1
                elif self.wall and kind == "audio" and (i < 2 or i + 2 >= len(pk)):
                    w.append(None)
                else:
                    self.fail(f"{kind}: chunk {k} packet {i} is not in the output "
                              f"(at output packet {j})")
                    break
            where.append(w)
        rest = [p for p in out[j:] if p["md5"] not in SILENT]
        if rest:
            self.fail(f"{kind}: {len(rest)} output packets no chunk has")
        return where

    def step3_chunk_offsets(self, si, kind, ts, t_out, where):
        """3. Each chunk presented at one offset (per stretch between inserted pauses), its
        packets keeping their times relative to each other (1 tick); wall clock: every packet
        within one video frame of its wall-clock instant. Returns the offsets per chunk."""
        per = []
        for k, c in enumerate(self.rec.chunks):
            offs = []
            for i, rel in sorted(c[si]["when"].items()):
                g = where[k][i]
                if g is None:
                    continue
                ins = sum(d for at, d in self.pauses[k] if at <= rel)
                offs.append((ins, t_out[g] - rel - ins, t_out[g], rel))
            for ins, off, got, rel in offs:
                first = next(x[1] for x in offs if x[0] == ins)
                if abs(off - first) > F(1, ts):
                    self.fail(f"{kind}: chunk {k} packet at {ms(rel)} moved {ms(off - first)} "
                              f"against the chunk")
                    break
            if self.wall:
                start = self.starts[k]
                late = [(got, start + rel + ins) for ins, _, got, rel in offs
                        if abs(got - start - rel - ins) > F(1, 8)]
                if late:
                    self.fail(f"{kind}: chunk {k}: {len(late)} packets more than a frame from "
                              f"their wall time, first at {ms(late[0][0])}, belongs at "
                              f"{ms(late[0][1])}")
            per.append(offs)
        return per

    def step4_timeline_starts(self, kind, per):
        """4. The timeline JSON says where each chunk starts (its first presented instant)."""
        for k, offs in enumerate(per):
            if k < len(self.out_chunks) and offs:
                said = F(str(self.out_chunks[k]["start_ms"])) / 1000
                _, _, got, rel = offs[0]
                if abs(got - rel - said) > MS:
                    self.fail(f"{kind}: chunk {k} starts at {ms(got - rel)}, the timeline says "
                              f"{ms(said)}")

    def step5_av_offsets(self):
        """5. At every join and after every pause: the A/V offset is the chunk's own (1 ms)."""
        if "video" not in self.offsets or "audio" not in self.offsets:
            return
        for k in range(len(self.rec.chunks)):
            for ins, off, _, _ in self.offsets["video"][k]:
                a = next((x[1] for x in self.offsets["audio"][k] if x[0] == ins), None)
                if a is not None and abs(off - a) > MS:
                    self.fail(f"chunk {k}: A/V offset {ms(off - a)} after {ms(ins)} of pauses, "
                              f"chunk's own 0")
                    break

    def step6_ffmpeg_view(self):
        """6. ffmpeg's own edit-list handling presents every packet it does not discard at our
        time, and discards only chunk 0's audio priming."""
        view = ffmpeg_view(self.out)
        for si, o in enumerate(self.res):
            theirs = {k[1]: w for k, w in view.items() if k[0] == si}
            timed = list(zip(o["pkts"], o["t_out"]))
            off = [p for p, t in timed if p["pos"] in theirs and abs(theirs[p["pos"]] - t) > MS]
            if off:
                self.fail(f"{o['kind']}: ffmpeg presents {len(off)} packets at other times")
            dropped = [t for p, t in timed if p["pos"] not in theirs]
            if any(t >= 0 for t in dropped):
                self.fail(f"{o['kind']}: ffmpeg discards {len(dropped)} packets, some after the "
                          f"start")

    def step7_duration(self):
        """7. The output lasts what the timeline says (wall clock: and its wall_ms, one frame)."""
        tl = self.timeline
        span = max(o["duration"] for o in self.res)
        said = F(str(tl["output"]["duration_ms"])) / 1000
        if abs(span - said) > MS:
            self.fail(f"lasts {ms(span)}, timeline output duration_ms "
                      f"{tl['output']['duration_ms']}")
        if self.wall and abs(span - F(tl["wall_ms"]) / 1000) > (self.vframe or F(1, 8)):
            self.fail(f"lasts {ms(span)}, timeline wall_ms {tl['wall_ms']}")

    def step8_decoded_frames(self):
        """8. Decoded video frames identical to the chunks' (ffmpeg framemd5, presentation
        order)."""
        if not any(o["kind"] == "video" for o in self.res):
            return
        want = [h for _, doc, _ in self.rec.metas for h in framemd5(self.rec.media(doc))]
        got = framemd5(self.out)
        if want != got:
            j = next((j for j, (a, b) in enumerate(zip(want, got)) if a != b),
                     min(len(want), len(got)))
            self.fail(f"decoded video frames differ from the chunks' at frame {j} "
                      f"({len(got)} decoded, chunks decode {len(want)})")

    def step9_threads_1(self):
        """9. One copy thread writes the same bytes."""
        one = self.out + ".1.mp4"
        r = run(self.cmd[:3] + [one] + self.cmd[4:] + ["--threads", "1"])
        same = False
        if r.returncode == 0:
            with open(one, "rb") as a, open(self.out, "rb") as b:
                same = a.read() == b.read()
        if not same:
            self.fail(f"--threads 1 gives other bytes (exit {r.returncode})")
        if os.path.exists(one):
            os.remove(one)

    def step10_ffmpeg_decodes(self):
        """10. ffmpeg decodes it without a word."""
        r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", self.out, "-f", "null", "-"])
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            self.fail(f"ffmpeg -v error -f null: exit {r.returncode}: "
                      f"{(r.stdout + r.stderr).strip()[:300]}")


def stitch_check(rec_path, mode, ctx):
    """Stitches one recording in one mode and checks it (see the top of this file)."""
    fails = []
    try:
        rec = Recording(rec_path, fails)
        refuse = rec.refusal()
        s = Stitch(rec, mode, ctx, fails)
        r = s.stitch()
        if refuse:
            note = s.check_refused(r, refuse)
        elif r.returncode != 0:
            raise Fatal(f"stitch exited {r.returncode}: {r.stderr.strip()}")
        else:
            note = s.check_output()
    except Fatal as e:
        raise Fatal(f"{mode}: {e}") from None
    if not fails:
        print(f"   {rec.name} {mode}: {note}")
    return [f"{mode}: {f}" for f in fails]


def check_stitch_compact(rec, ctx):
    """The stitch checks in compact mode (chunks back to back)."""
    return stitch_check(rec, "compact", ctx)


def check_stitch_wall_clock(rec, ctx):
    """The stitch checks in --wall-clock mode (chunks and pauses at their wall-clock instants)."""
    return stitch_check(rec, "wall-clock", ctx)


FILE_CHECKS = [check_inspect_matches_ffprobe]
RECORDING_CHECKS = [check_stitch_compact, check_stitch_wall_clock]


# --- the runner ---------------------------------------------------------------------------------
def run_check(check, target, ctx):
    """Runs one check on one target, prints its FAIL lines and verdict; True when it passed."""
    name = check.__name__[len("check_"):]
    try:
        fails = check(target, ctx)
    except Fatal as e:
        fails = [str(e)]
    except Exception:  # a check that crashes fails, and the others still run
        fails = ["check crashed:\n" + traceback.format_exc().rstrip()]
    for f in fails:
        print(f"FAIL {target}: {f}")
    print(f"{'not ok' if fails else 'ok'} {name} {target}", flush=True)
    return not fails


def build(target_dir):
    """Builds inspect and stitch (release); returns their paths."""
    r = subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "callrec-examples",
                        "--example", "inspect", "--example", "stitch"], cwd=ROOT)
    if r.returncode != 0:
        sys.exit(2)
    bins = os.path.join(target_dir, "release", "examples")
    return os.path.join(bins, "inspect"), os.path.join(bins, "stitch")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="directory holding the inspect and stitch binaries "
                    "(default: build them with cargo --release)")
    args = ap.parse_args()
    if args.bin:
        args.bin = os.path.abspath(args.bin)  # before the chdir: relative to the caller's cwd
    os.chdir(ROOT)
    if shutil.which("ffprobe") is None:
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(["apt-get", "install", "-y", "ffmpeg"], check=False)
    if args.bin:
        inspect, stitch = (os.path.join(args.bin, n) for n in ("inspect", "stitch"))
    else:
        inspect, stitch = build(os.environ.get("CARGO_TARGET_DIR", "target"))
    files = sorted(glob.glob("testdata/recordings/*/*.mp4"))
    recordings = sorted(d.rstrip("/") for d in glob.glob("testdata/recordings/*/"))
    if not files:
        print("interop: no fixtures under testdata/recordings", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp()
    try:
        ctx = Context(os.path.abspath(inspect), os.path.abspath(stitch), work)
        results = [run_check(c, f, ctx) for f in files for c in FILE_CHECKS]
        results += [run_check(c, r, ctx) for r in recordings for c in RECORDING_CHECKS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"interop: {len(results)} checks, {results.count(False)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
