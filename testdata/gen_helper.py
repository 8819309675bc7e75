#!/usr/bin/env python3
"""Helper for generate.sh: ids, metadata/event JSON, packet tables, corrupt files."""
import datetime
import hashlib
import json
import os
import struct
import sys
import uuid

DURS_MS = [5000, 4000, 6000]
# chunkDuration where a chunk presents more than its encoded media: empty_edit's chunk 1 is
# 4 s of media after a 500 ms leading empty edit.
META_DURS_MS = {"empty_edit": [5000, 4500, 6000]}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
TICKS_PER_MS = 10_000  # 100 ns ticks

VARIANTS = {
    # name: (start time, fractional digits of every timestamp)
    "basic": ("2024-05-14T16:32:34.1115003", 7),
    "bframes": ("2024-05-15T09:01:02.0000420", 7),
    "paused": ("2024-05-16T10:20:30.125", 3),
    "fragmented": ("2024-05-17T11:00:00", 0),
    "faststart": ("2024-05-18T12:34:56.7890123", 7),
    "mismatch": ("2024-05-19T13:00:00.5000000", 7),
    "fragmented_bframes": ("2024-05-20T08:00:00.250", 3),
    "mixed_timescale": ("2024-05-21T09:30:00.0000000", 7),
    "paused_bframes": ("2024-05-22T10:00:00.500", 3),
    "empty_edit": ("2024-05-23T11:15:00.0000000", 7),
}

# paused: per chunk, list of (wall offset from chunk start in ms, duration ms)
PAUSES = {
    "paused": [
        [(2000, 7000)],
        # 1500 ms at media +1000 (wall +1000); 3250 ms at media +3000 = wall +3000+1500
        [(1000, 1500), (4500, 3250)],
        [],
    ],
    # B-frames (GOP of 16 frames = 2 s): a pause inside a GOP, one at a chunk's very start,
    # and two back to back.
    "paused_bframes": [
        [(1300, 2000)],
        [(0, 1000)],
        [(2000, 500), (2500, 700)],
    ],
}


def h(s):
    return hashlib.md5(s.encode()).hexdigest()


def guid(s):
    return str(uuid.UUID(h(s)))


def doc_ids(name):
    return ["0-eus-d3-" + h(f"{name}/chunk/{k}") for k in range(3)]


def parse_ticks(s):
    if "." in s:
        base, frac = s.split(".")
    else:
        base, frac = s, ""
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    secs = (dt - EPOCH) // datetime.timedelta(seconds=1)
    return secs * 10_000_000 + int((frac + "0000000")[:7])


def fmt(ticks, digits):
    secs, rem = divmod(ticks, 10_000_000)
    dt = EPOCH + datetime.timedelta(seconds=secs)
    out = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{rem:07d}"
    if digits == 0:
        assert rem == 0, "timestamp not representable with 0 digits"
    else:
        assert frac[digits:] == "0" * (7 - digits), "timestamp not representable"
        out += "." + frac[:digits]
    return out + "Z"


def meta(name, outdir):
    start_s, digits = VARIANTS[name]
    start = parse_ticks(start_s)
    ids = doc_ids(name)
    call_id = guid(f"{name}/call")
    resource_id = guid("resource")
    server_call = "aHR0cHM6Ly9jb252LWV1cy0wMS5jb252LnNreXBlLmNvbS9jb252LyR7bmFtZX0_i=" + name
    participants = [{"participantId": f"8:acs:{guid('resource')}_{h(name + '/p' + str(i))[:24]}"}
                    for i in range(2)]
    pauses = PAUSES.get(name, [[], [], []])
    t = start
    for k, doc in enumerate(ids):
        dur = META_DURS_MS.get(name, DURS_MS)[k]
        intervals = [{"startTime": fmt(t + off * TICKS_PER_MS, digits), "duration": pd}
                     for off, pd in pauses[k]]
        vconf = {"longerSideLength": 1920, "shorterSideLength": 1080}
        if name == "bframes":
            vconf["frameRate"] = 8
        else:
            vconf["framerate"] = 8
        vconf["bitRate"] = 60000
        m = {
            "resourceId": resource_id,
            "callId": call_id,
            "chunkDocumentId": doc,
            "chunkIndex": k,
            "chunkStartTime": fmt(t, digits),
            "chunkDuration": float(dur) if name == "bframes" else dur,
            "pauseResumeIntervals": intervals,
            "recordingInfo": {
                "contentType": "mixed",
                "channelType": "audioVideo",
                "format": "mp4",
                "audioConfiguration": {
                    "sampleRate": 16000 if name == "bframes" else "16000",
                    "bitRate": 32000,
                    "channels": 1,
                },
                "videoConfiguration": vconf,
            },
            "participants": participants,
        }
        if name == "bframes":
            m["recordingId"] = guid(f"{name}/recording")
            m["recordingInfo"]["unknownFutureField"] = {"nested": [1, 2, 3]}
        with open(os.path.join(outdir, doc + ".json"), "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
        t += (dur + sum(pd for _, pd in pauses[k])) * TICKS_PER_MS
    end = t
    chunks = []
    for k, doc in enumerate(ids):
        c = {"documentId": doc, "index": k,
             "endReason": "SessionEnded" if k == 2 else "ChunkMaximumSizeExceeded"}
        if name == "bframes":
            base = "https://storage.asm.skype.com/v1/objects/" + doc
            c["contentLocation"] = base + "/content/video"
            c["metadataLocation"] = base + "/content/acsmetadata"
            c["deleteLocation"] = base
        chunks.append(c)
    data = {
        "recordingStorageInfo": {"recordingChunks": chunks},
        "recordingStartTime": fmt(start, digits),
        "recordingDurationMs": sum(META_DURS_MS.get(name, DURS_MS)),
        "sessionEndReason": "CallEnded",
    }
    if name == "bframes":
        data["recordingId"] = guid(f"{name}/recording")
        data["recordingContentType"] = "Mixed"
        data["recordingChannelType"] = "AudioVideo"
        data["recordingFormatType"] = "Mp4"
    topic = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/callrec"
             "/providers/Microsoft.Communication/communicationServices/callrec-test")
    subject = f"/recording/call/{call_id}/serverCallId/{server_call}"
    event_time = fmt(end + 90 * 10_000_000, digits)
    etype = "Microsoft.Communication.RecordingFileStatusUpdated"
    if name == "fragmented":
        ev = {"id": guid(f"{name}/event"), "source": topic, "specversion": "1.0", "type": etype,
              "subject": subject, "time": event_time, "datacontenttype": "application/json",
              "data": data}
    else:
        ev = {"id": guid(f"{name}/event"), "topic": topic, "subject": subject, "data": data,
              "eventType": etype, "dataVersion": "1.0", "metadataVersion": "1",
              "eventTime": event_time}
    doc_out = ev if name == "paused" else [ev]
    with open(os.path.join(outdir, "event.json"), "w") as f:
        json.dump(doc_out, f, indent=2)
        f.write("\n")


def packets(path):
    with open(path) as f:
        p = json.load(f)
    streams = []
    for s in p["streams"]:
        o = {"index": s["index"], "codec_type": s["codec_type"], "time_base": s["time_base"],
             "codec": s["codec_name"]}
        if s["codec_type"] == "video":
            o.update(width=s["width"], height=s["height"], profile=s.get("profile"),
                     avg_frame_rate=s["avg_frame_rate"])
        else:
            o.update(sample_rate=int(s["sample_rate"]), channels=s["channels"],
                     profile=s.get("profile"))
        streams.append(o)
    pk = []
    for q in p["packets"]:
        pk.append({"stream": q["stream_index"], "pts": int(q["pts"]), "dts": int(q["dts"]),
                   "duration": int(q["duration"]), "size": int(q["size"]), "pos": int(q["pos"]),
                   "keyframe": "K" in q["flags"]})
    json.dump({"streams": streams, "packets": pk}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def uniq(name):
    """Counts repeated packets (an all-skip B-frame can be byte-identical in two chunks); the
    checks match packets in order, so repeats are allowed but reported."""
    seen = {}
    n = rep = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        md5 = line.split(",")[5].strip()
        n += 1
        if md5 in seen:
            rep += 1
        seen[md5] = line
    print(f"{name}: {n} packets, {rep} repeated", file=sys.stderr)


CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"udta"}


def box_header(buf, off, end):
    """(size, type) of the box at off: a 64-bit size when the 32-bit one is 1, to `end` when 0."""
    size, typ = struct.unpack(">I4s", buf[off:off + 8])
    if size == 1:
        size = struct.unpack(">Q", buf[off + 8:off + 16])[0]
    elif size == 0:
        size = end - off
    return size, typ


def boxes(buf, start, end, path=(), extra=frozenset()):
    """Yield (path, type, offset, size) depth-first."""
    off = start
    while off + 8 <= end:
        size, typ = box_header(buf, off, end)
        yield path + (typ,), typ, off, size
        if typ in CONTAINERS or typ in extra:
            yield from boxes(buf, off + 8, off + size, path + (typ,), extra)
        off += size


def find(buf, typ):
    return [(o, s) for _, t, o, s in boxes(buf, 0, len(buf)) if t == typ]


def patched(buf, at, value, fmt=">I"):
    """A copy of `buf` with `value` packed (struct format `fmt`) at byte `at`."""
    d = bytearray(buf)
    struct.pack_into(fmt, d, at, value)
    return d


def write_index(outdir, expected, notes, intro):
    """expected.json (file -> what its error must name) and a README: `intro`, then one note per
    file."""
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(outdir, "README"), "w") as f:
        f.write(intro)
        for n in notes:
            f.write(n + "\n")


def corrupt(basic, faststart, outdir):
    b = open(basic, "rb").read()
    fs = open(faststart, "rb").read()
    notes = []
    expected = {}

    def write(name, data, box, how, error):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        expected[name] = {"box": box, **error}
        notes.append(f"{name}: {how}")

    def past_end(path, offset, size, end):
        """callrec_mp4::Error::BoxPastEnd for the box at `offset` whose parent ends at `end`."""
        return {"error": "BoxPastEnd", "path": path, "offset": offset, "size": size,
                "available": end - offset}

    (mo, ms), = find(fs, b"moov")
    (do, ds), = find(fs, b"mdat")
    assert mo < do, "faststart remux must have moov before mdat"
    cut = do + ds // 2
    write("truncated_mdat.mp4", fs[:cut], "mdat",
          f"faststart remux of basic chunk 0 ({len(fs)} bytes, moov@{mo}, mdat@{do} size {ds}) "
          f"cut to {cut} bytes (middle of mdat)", past_end("mdat", do, ds, cut))

    (mo, ms), = find(b, b"moov")
    (do, ds), = find(b, b"mdat")
    assert do < mo and mo + ms == len(b), "basic chunk must have moov last"
    cut = mo + ms // 2
    write("truncated_moov.mp4", b[:cut], "moov",
          f"basic chunk 0 ({len(b)} bytes, moov@{mo} size {ms}) cut to {cut} bytes (middle of moov)",
          past_end("moov", mo, ms, cut))

    to, ts = find(b, b"trak")[0]
    newsize = (mo + ms - to) + 4096
    d = patched(b, to, newsize)
    write("box_past_eof.mp4", bytes(d), "trak",
          f"basic chunk 0: first trak@{to} size field {ts} -> {newsize} (runs 4096 bytes past "
          f"the end of moov and of the file)", past_end("moov/trak", to, newsize, mo + ms))

    ho, hs = find(b, b"mdhd")[0]
    assert to < ho < to + ts, "the first mdhd is trak[0]'s"
    ver = b[ho + 8]
    tso = ho + (20 if ver == 0 else 28)
    old = struct.unpack(">I", b[tso:tso + 4])[0]
    d = patched(b, tso, 0)
    write("zero_timescale.mp4", bytes(d), "mdhd",
          f"basic chunk 0: first mdhd@{ho} (version {ver}) timescale at byte {tso}: {old} -> 0",
          {"error": "ZeroTimescale", "path": "moov/trak[0]/mdia/mdhd"})

    so, ss = find(b, b"stsz")[0]
    assert to < so < to + ts, "the first stsz is trak[0]'s"
    old = struct.unpack(">I", b[so + 16:so + 20])[0]
    d = patched(b, so + 16, 0x7FFFFFFF)
    write("stsz_count_huge.mp4", bytes(d), "stsz",
          f"basic chunk 0: first stsz@{so} (size {ss}) sample_count at byte {so + 16}: "
          f"{old} -> 0x7fffffff",
          {"error": "CountTooLarge", "path": "moov/trak[0]/mdia/minf/stbl/stsz",
           "count": 0x7FFFFFFF, "remaining": ss - 20})

    write_index(outdir, expected, notes,
                "Corrupt MP4 files made by testdata/gen_helper.py (corrupt) from basic chunk 0.\n"
                "expected.json maps each file to the box name its parse error must mention and to\n"
                "that error: its callrec_mp4::Error variant and fields.\n\n")


def walk(buf, start, end, prefix=""):
    """Yield (path, type, offset, size) depth-first, with paths like moov/trak[1]/mdia: a box
    type repeated under one parent is numbered from 0 (moof[2]/traf[0]/trun[0]). Recurses into
    every container callrec reads (CONTAINERS plus moof and traf)."""
    seen = {}
    off = start
    while off + 8 <= end:
        size, typ = box_header(buf, off, end)
        assert size >= 8 and off + size <= end, f"bad box {typ} at {off}"
        name = typ.decode("latin-1")
        k = seen.get(name, 0)
        seen[name] = k + 1
        path = f"{prefix}{name}[{k}]"
        yield path, typ, off, size
        if typ in CONTAINERS or typ in (b"moof", b"traf"):
            yield from walk(buf, off + 8, off + size, path + "/")
        off += size


def locate(buf, path):
    """(offset, size) of the box at `path` (moov/trak[0]/mdia/minf/stbl/stsz; an index left out
    means [0])."""
    want = "/".join(p if p.endswith("]") else p + "[0]" for p in path.split("/"))
    for p, _, o, s in walk(buf, 0, len(buf)):
        if p == want:
            return o, s
    raise KeyError(f"no box {path}")


def full_box_entries(buf, path, head=4):
    """Offset of the first table entry of a full box with a u32 entry count (stts, stsc...),
    and that count."""
    o, _ = locate(buf, path)
    count = struct.unpack(">I", buf[o + 8 + head:o + 12 + head])[0]
    return o + 12 + head, count


def structure(basic, bframes, fragmented, outdir):
    """One file per structural defect callrec_mp4::validate names, each a clean fixture chunk
    with one table edited in place (same length), and expected.json with each file's code,
    track index, box path and first sample."""
    os.makedirs(outdir, exist_ok=True)
    expected = {}
    notes = []
    src = {"basic": open(basic, "rb").read(), "bframes": open(bframes, "rb").read(),
           "fragmented": open(fragmented, "rb").read()}
    stbl = "moov/trak[{}]/mdia/minf/stbl"

    def write(name, base, d, code, track, path, sample, how, defects=1):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(bytes(d))
        expected[name] = {"code": code, "track_index": track, "path": path, "sample": sample,
                          "recording": base}
        if defects != 1:
            # the same defect on every track, the first one named
            expected[name]["defects"] = defects
        notes.append(f"{name}: {base} chunk 0: {how}")

    # sample entry of size 0 (the entry then runs to the end of its stsd)
    b = src["basic"]
    o, _ = locate(b, stbl.format(0) + "/stsd")
    typ = b[o + 20:o + 24].decode()
    d = patched(b, o + 16, 0)
    write("sample_entry_size0.mp4", "basic", d, "mp4.sample_entry", 0,
          stbl.format(0) + f"/stsd/{typ}[0]", None, f"trak[0] stsd entry {typ} size -> 0")

    # stsz: the audio size table one sample short of stts
    o, _ = locate(b, stbl.format(1) + "/stsz")
    n = struct.unpack(">I", b[o + 16:o + 20])[0]
    d = patched(b, o + 16, n - 1)
    write("stsz_count.mp4", "basic", d, "mp4.stsz", 1, stbl.format(1) + "/stsz", n - 1,
          f"trak[1] stsz sample_count {n} -> {n - 1} (stts still times {n})")

    # stts: a zero delta on the first run of the video track
    e, _ = full_box_entries(b, stbl.format(0) + "/stts")
    d = patched(b, e + 4, 0)
    write("stts_zero_delta.mp4", "basic", d, "mp4.stts", 0, stbl.format(0) + "/stts", 0,
          "trak[0] stts first run delta -> 0")

    # stsc: the audio track's last entry no longer after the one before it
    e, count = full_box_entries(b, stbl.format(1) + "/stsc")
    prev = struct.unpack(">I", b[e + 12 * (count - 2):e + 12 * (count - 2) + 4])[0]
    d = patched(b, e + 12 * (count - 1), prev)
    write("stsc_not_increasing.mp4", "basic", d, "mp4.stsc", 1, stbl.format(1) + "/stsc", None,
          f"trak[1] stsc entry {count - 1} first_chunk -> {prev} (same as entry {count - 2})")

    # sample range: the video track's first chunk offset points inside ftyp (its sample then
    # spans ftyp and the mdat header: inside the file, outside every mdat payload)
    fo, _ = locate(b, "ftyp")
    e, _ = full_box_entries(b, stbl.format(0) + "/stco")
    d = patched(b, e, fo + 8)
    write("chunk_offset_in_ftyp.mp4", "basic", d, "mp4.sample_range", 0,
          stbl.format(0) + "/stco", 0, f"trak[0] stco entry 0 -> {fo + 8} (inside ftyp)")

    # ctts: the video track's first run one sample short, so ctts covers one sample too few
    b = src["bframes"]
    e, _ = full_box_entries(b, stbl.format(0) + "/ctts")
    first = struct.unpack(">I", b[e:e + 4])[0]
    nv = struct.unpack(">I", b[locate(b, stbl.format(0) + "/stsz")[0] + 16:][:4])[0]
    assert first >= 1
    d = patched(b, e, first - 1)
    write("ctts_short.mp4", "bframes", d, "mp4.ctts", 0, stbl.format(0) + "/ctts", nv - 1,
          f"trak[0] ctts first run sample_count {first} -> {first - 1}")

    # composition offset: 20 s on the video track's first sample
    o, _ = locate(b, "moov/trak[0]/mdia/mdhd")
    ts = struct.unpack(">I", b[o + (20 if b[o + 8] == 0 else 28):][:4])[0]
    d = patched(b, e + 4, 20 * ts)
    write("composition_offset_huge.mp4", "bframes", d, "mp4.composition_offset", 0,
          stbl.format(0) + "/ctts", 0, f"trak[0] ctts first run offset -> {20 * ts} (20 s)")

    # trun: the last sample of moof[0]'s last run 4096 bytes larger, past the mdat after it
    b = src["fragmented"]
    ti = 0
    while True:
        try:
            locate(b, f"moof[0]/traf[{ti + 1}]")
            ti += 1
        except KeyError:
            break
    o, _ = locate(b, f"moof[0]/traf[{ti}]/tfhd")
    track_id = struct.unpack(">I", b[o + 12:o + 16])[0]
    o, _ = locate(b, f"moof[0]/traf[{ti}]/trun")
    flags = struct.unpack(">I", b[o + 8:o + 12])[0] & 0xFFFFFF
    n = struct.unpack(">I", b[o + 12:o + 16])[0]
    assert flags & 0x200, "trun must carry per-sample sizes"
    per = [f for f in (0x100, 0x200, 0x400, 0x800) if flags & f]
    p = o + 16 + 4 * bool(flags & 1) + 4 * bool(flags & 4)
    p += 4 * len(per) * (n - 1) + 4 * per.index(0x200)
    old = struct.unpack(">I", b[p:p + 4])[0]
    d = patched(b, p, old + 4096)
    write("trun_past_data.mp4", "fragmented", d, "mp4.trun", track_id - 1,
          f"moof[0]/traf[{ti}]/trun[0]", n - 1,
          f"moof[0]/traf[{ti}] (track {track_id}) trun sample {n - 1} size {old} -> {old + 4096}")

    # Misses found by an attacker: edits that leave every table consistent with the others but
    # point the samples at the wrong bytes, or hold values no encoder writes.
    b = src["basic"]

    # stco: the video track's first chunk offset one byte late (its samples' NAL length
    # prefixes then no longer tile them)
    e, _ = full_box_entries(b, stbl.format(0) + "/stco")
    old = struct.unpack(">I", b[e:e + 4])[0]
    d = patched(b, e, old + 1)
    write("stco_off_by_one.mp4", "basic", d, "mp4.sample_data", 0, stbl.format(0) + "/stco", 0,
          f"trak[0] stco entry 0 {old} -> {old + 1}")

    # stsz: the last video sample of the first chunk 0 bytes (the next chunk has its own
    # offset, so no other sample moves)
    e, _ = full_box_entries(b, stbl.format(0) + "/stsc")
    first_chunk, per_chunk = struct.unpack(">II", b[e:e + 8])
    assert first_chunk == 1
    o, _ = locate(b, stbl.format(0) + "/stsz")
    assert struct.unpack(">I", b[o + 12:o + 16])[0] == 0, "video stsz has a size per sample"
    k = per_chunk - 1
    d = patched(b, o + 20 + 4 * k, 0)
    write("video_sample_empty.mp4", "basic", d, "mp4.empty_sample", 0, stbl.format(0) + "/stsz",
          k, f"trak[0] stsz entry {k} (the last sample of the first chunk) -> 0 bytes")

    # stss: the last sync sample entry past the video track's sample count
    nv = struct.unpack(">I", b[o + 16:o + 20])[0]
    e, count = full_box_entries(b, stbl.format(0) + "/stss")
    d = patched(b, e + 4 * (count - 1), nv + 1)
    write("stss_past_count.mp4", "basic", d, "mp4.stss", 0, stbl.format(0) + "/stss", None,
          f"trak[0] stss entry {count - 1} -> {nv + 1} (the track has {nv} samples)")

    # stts: the video track's first run delta 2^31 ticks (hours: beyond 10 s and the mdhd
    # duration)
    e, _ = full_box_entries(b, stbl.format(0) + "/stts")
    d = patched(b, e + 4, 1 << 31)
    write("stts_delta_huge.mp4", "basic", d, "mp4.stts", 0, stbl.format(0) + "/stts", 0,
          "trak[0] stts first run delta -> 2^31")

    # trun: moof[0]'s video run data_offset one byte late
    b = src["fragmented"]
    o, _ = locate(b, "moov/trak[0]/tkhd")
    video_id = struct.unpack(">I", b[o + (20 if b[o + 8] == 0 else 28):][:4])[0]
    ti = 0
    while True:
        o, _ = locate(b, f"moof[0]/traf[{ti}]/tfhd")
        if struct.unpack(">I", b[o + 12:o + 16])[0] == video_id:
            break
        ti += 1
    o, _ = locate(b, f"moof[0]/traf[{ti}]/trun")
    flags = struct.unpack(">I", b[o + 8:o + 12])[0] & 0xFFFFFF
    assert flags & 1, "trun must carry a data_offset"
    old = struct.unpack(">i", b[o + 16:o + 20])[0]
    d = patched(b, o + 16, old + 1, ">i")
    write("trun_data_offset_off_by_one.mp4", "fragmented", d, "mp4.sample_data", 0,
          f"moof[0]/traf[{ti}]/trun[0]", 0,
          f"moof[0]/traf[{ti}] (track {video_id}) trun data_offset {old} -> {old + 1}")

    structure_timing(src, stbl, write)

    write_index(outdir, expected, notes,
                "Structurally broken MP4 files made by testdata/gen_helper.py (structure): each "
                "parses, and\ncallrec_mp4::validate finds exactly the defect expected.json "
                "names (code, track index,\nbox path, first sample). Same length as the chunk "
                "each was edited from\n(but frag_fragment_removed.mp4: one fragment "
                "shorter).\n\n")


def traf_of(b, mi, track_id):
    """Index of moof[mi]'s traf for `track_id`."""
    ti = 0
    while True:
        o, _ = locate(b, f"moof[{mi}]/traf[{ti}]/tfhd")
        if struct.unpack(">I", b[o + 12:o + 16])[0] == track_id:
            return ti
        ti += 1


def trun_count(b, mi, ti):
    o, _ = locate(b, f"moof[{mi}]/traf[{ti}]/trun")
    return struct.unpack(">I", b[o + 12:o + 16])[0]


def fragments(b):
    """[(offset, end)] of each moof with the mdat after it."""
    out = []
    for p, typ, o, s in walk(b, 0, len(b)):
        if typ == b"moof":
            out.append([o, o + s])
        elif typ == b"mdat" and out and out[-1][1] == o:
            out[-1][1] = o + s
    return out


def structure_timing(src, stbl, write):
    """Decode-time and edit-list defects (mp4.decode_gap, mp4.decode_order, mp4.elst): a
    fragment removed or swapped, a tfdt going back, an elst rate 0 or starting past the media."""
    b = src["fragmented"]
    o, _ = locate(b, "moov/trak[0]/tkhd")
    video_id = struct.unpack(">I", b[o + (20 if b[o + 8] == 0 else 28):][:4])[0]
    frags = fragments(b)
    assert len(frags) >= 3, "the fragmented chunk needs 3 fragments"
    n = [trun_count(b, mi, traf_of(b, mi, video_id)) for mi in range(len(frags))]

    # moof[1] and its mdat removed (default-base-is-moof offsets keep the others valid): the
    # video's moof[1] (the old moof[2]) starts a fragment late
    (s1, e1) = frags[1]
    d = b[:s1] + b[e1:]
    write("frag_fragment_removed.mp4", "fragmented", d, "mp4.decode_gap", 0,
          f"moof[1]/traf[{traf_of(d, 1, video_id)}]/trun[0]", n[0],
          f"moof[1] and its mdat ({e1 - s1} bytes) removed (a hole on both tracks)", defects=2)

    # moof[1] and moof[2] (with their mdats) swapped: the old moof[1], now moof[2], goes back
    (s2, e2) = frags[2]
    d = b[:s1] + b[s2:e2] + b[s1:e1] + b[e2:]
    write("frag_fragments_swapped.mp4", "fragmented", d, "mp4.decode_order", 0,
          f"moof[2]/traf[{traf_of(d, 2, video_id)}]/trun[0]", n[0] + n[2],
          "moof[1] and moof[2] (each with its mdat) swapped (on both tracks)", defects=2)

    # moof[2]'s video tfdt set to 0
    ti = traf_of(b, 2, video_id)
    o, _ = locate(b, f"moof[2]/traf[{ti}]/tfdt")
    version = b[o + 8]
    d = bytearray(b)
    if version == 1:
        struct.pack_into(">Q", d, o + 12, 0)
    else:
        struct.pack_into(">I", d, o + 12, 0)
    write("frag_tfdt_backwards.mp4", "fragmented", d, "mp4.decode_order", 0,
          f"moof[2]/traf[{ti}]/trun[0]", n[0] + n[1], f"moof[2]/traf[{ti}] tfdt -> 0")

    # elst: the video edit's media rate 0; then its media_time 2^31 - 1 (past the media)
    b = src["basic"]
    elst = "moov/trak[0]/edts/elst"
    o, _ = locate(b, elst)
    version = b[o + 8]
    assert struct.unpack(">I", b[o + 12:o + 16])[0] == 1, "one edit"
    e = o + 16
    mt, rate = (e + 4, e + 8) if version == 0 else (e + 8, e + 16)
    d = bytearray(b)
    struct.pack_into(">h", d, rate, 0)
    write("elst_rate0.mp4", "basic", d, "mp4.elst", 0, elst, None,
          "trak[0] elst entry 0 media_rate_integer 1 -> 0")
    d = bytearray(b)
    if version == 0:
        struct.pack_into(">i", d, mt, (1 << 31) - 1)
    else:
        struct.pack_into(">q", d, mt, (1 << 31) - 1)
    write("elst_media_time_past_end.mp4", "basic", d, "mp4.elst", 0, elst, None,
          "trak[0] elst entry 0 media_time -> 2^31 - 1 (past the track's media)")


def fragcheck(mp4, table):
    """Assert each traf's tfdt equals ffprobe's dts of the fragment's first sample."""
    b = open(mp4, "rb").read()
    with open(table) as f:
        pk = json.load(f)["packets"]
    dts = {}
    for q in pk:
        dts.setdefault(q["stream"] + 1, []).append(q["dts"])
    seen = {}
    track = None
    n = 0
    for _, t, o, s in boxes(b, 0, len(b), extra={b"moof", b"traf"}):
        if t == b"tfhd":
            track = struct.unpack(">I", b[o + 12:o + 16])[0]
        elif t == b"tfdt":
            v = b[o + 8]
            base = struct.unpack(">Q" if v == 1 else ">I", b[o + 12:o + (20 if v == 1 else 16)])[0]
            i = seen.get(track, 0)
            assert dts[track][i] == base, f"{mp4}: track {track} tfdt {base} != dts {dts[track][i]}"
            n += 1
        elif t == b"trun":
            seen[track] = seen.get(track, 0) + struct.unpack(">I", b[o + 12:o + 16])[0]
    assert n > 0, f"{mp4}: no tfdt"
    print(f"{os.path.basename(mp4)}: {n} tfdt match ffprobe dts", file=sys.stderr)


def main():
    cmd = sys.argv[1]
    if cmd == "ids":
        print("\n".join(doc_ids(sys.argv[2])))
    elif cmd == "meta":
        meta(sys.argv[2], sys.argv[3])
    elif cmd == "packets":
        packets(sys.argv[2])
    elif cmd == "fragcheck":
        fragcheck(sys.argv[2], sys.argv[3])
    elif cmd == "uniq":
        uniq(sys.argv[2])
    elif cmd == "structure":
        structure(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "corrupt":
        corrupt(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
