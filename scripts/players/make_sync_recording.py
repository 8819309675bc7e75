#!/usr/bin/env python3
"""Generate the A/V sync recording for the player harness (deterministic, ffmpeg only).

  make_sync_recording.py OUTDIR [--chunks N] [--gap-before K:MS]

OUTDIR gets event.json and, per chunk, <documentId>.mp4 + <documentId>.json (ACS metadata,
field names as testdata/recordings/basic), plus sync.json describing every beep (for
analyze.py). Each chunk is encoded on its own (H.264 640x360 8 fps, libx264 -bf 0, GOP 16,
AAC-LC 16 kHz mono). Lengths vary (2.5 s, 2.3 s, 2.7 s, ...) so every chunk ends with a
different amount of audio/video end padding.

Every second of the recording's media time (sum of the previous chunkDurations) there is a
beep (1 kHz, 40 ms) and, at the same instant, a full white frame; everything else is a black
frame and silence. Chunk frames sit at chunk-local multiples of 125 ms, so the beep is put on
the frame nearest the global second: inside a chunk, flash frame pts == beep start exactly,
and any |audio - video| a player shows comes from the join, not from the chunk.

--gap-before K:MS makes chunk K start MS later on the wall clock than the previous chunk's
end (a gap between chunks, which --wall-clock turns into a timestamp gap). Default 6:500 (half the beep spacing, so a
stream that ignores the gap cannot be matched to the wrong beep: its beeps show as missing).
"""
import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import uuid

FPS = 8
RATE = 16000
W, H = 640, 360
BEEP_HZ = 1000
BEEP_MS = 40
LENGTHS_MS = [2500, 2300, 2700, 2400, 2600, 2200, 2800, 2500, 2350, 2650, 2450, 2550]
START = datetime.datetime(2024, 6, 1, 10, 0, 0, 123400, tzinfo=datetime.timezone.utc)
NAME = "sync"


def h(s):
    return hashlib.md5(s.encode()).hexdigest()


def guid(s):
    return str(uuid.UUID(h(s)))


def fmt(dt):
    # 7 fractional digits, as ACS writes them
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}0Z"


def plan(n):
    """Per chunk: length ms, media start ms, beeps as (global second, local frame index)."""
    chunks = []
    t = 0
    for k in range(n):
        dur = LENGTHS_MS[k % len(LENGTHS_MS)]
        nframes = -(-dur * FPS // 1000)  # frames ffmpeg -t keeps: ceil(dur / 125 ms)
        beeps = []
        s = -(-t // 1000)
        while s * 1000 < t + dur:
            f = round((s * 1000 - t) * FPS / 1000)
            # the flash frame must exist and the whole beep must fit in the chunk's audio
            if f < nframes and f * 1000 // FPS + BEEP_MS + 10 <= dur:
                beeps.append((s, f))
            s += 1
        chunks.append({"dur": dur, "start": t, "beeps": beeps})
        t += dur
    return chunks


def encode(path, c):
    dur_s = c["dur"] / 1000
    frames = [f for _, f in c["beeps"]]
    starts = [f / FPS for f in frames]  # beep start = flash frame pts (chunk-local)
    if frames:
        vexpr = "+".join(f"eq(N,{f})" for f in frames)
        video = (f"color=c=black:s={W}x{H}:r={FPS}:d={dur_s},format=yuv420p,"
                 f"geq=lum='if({vexpr},255,16)':cb=128:cr=128")
        aon = "+".join(f"between(t,{s:.6f},{s + BEEP_MS / 1000 - 1e-9:.9f})" for s in starts)
        aexpr = f"0.5*sin(2*PI*{BEEP_HZ}*t)*({aon})"
    else:
        video = f"color=c=black:s={W}x{H}:r={FPS}:d={dur_s},format=yuv420p"
        aexpr = "0"
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
           "-f", "lavfi", "-i", video,
           "-f", "lavfi", "-i", f"aevalsrc=exprs='{aexpr}':s={RATE}:c=mono:d={dur_s}",
           "-map", "0:v", "-map", "1:a",
           "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-b:v", "100k",
           "-g", "16", "-keyint_min", "16", "-sc_threshold", "0", "-bf", "0",
           "-pix_fmt", "yuv420p", "-x264-params", "threads=1",
           "-c:a", "aac", "-b:a", "32k", "-ar", str(RATE), "-ac", "1",
           "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
           "-map_metadata", "-1", "-t", f"{dur_s}", path]
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--chunks", type=int, default=12)
    ap.add_argument("--gap-before", default="6:500", help="K:MS, or 'none'")
    a = ap.parse_args()
    gap_k, gap_ms = (-1, 0) if a.gap_before == "none" else map(int, a.gap_before.split(":"))
    os.makedirs(a.outdir, exist_ok=True)
    chunks = plan(a.chunks)
    ids = ["0-eus-d3-" + h(f"{NAME}/chunk/{k}") for k in range(a.chunks)]
    call_id = guid(f"{NAME}/call")
    resource_id = guid("resource")
    participants = [{"participantId": f"8:acs:{resource_id}_{h(NAME + '/p' + str(i))[:24]}"}
                    for i in range(2)]
    wall = START
    wall_ms = 0
    for k, (doc, c) in enumerate(zip(ids, chunks)):
        if k == gap_k:
            wall += datetime.timedelta(milliseconds=gap_ms)
            wall_ms += gap_ms
        c["wall_start"] = wall_ms
        encode(os.path.join(a.outdir, doc + ".mp4"), c)
        m = {
            "resourceId": resource_id,
            "callId": call_id,
            "chunkDocumentId": doc,
            "chunkIndex": k,
            "chunkStartTime": fmt(wall),
            "chunkDuration": c["dur"],
            "pauseResumeIntervals": [],
            "recordingInfo": {
                "contentType": "mixed",
                "channelType": "audioVideo",
                "format": "mp4",
                "audioConfiguration": {"sampleRate": str(RATE), "bitRate": 32000, "channels": 1},
                "videoConfiguration": {"longerSideLength": W, "shorterSideLength": H,
                                       "framerate": FPS, "bitRate": 100000},
            },
            "participants": participants,
        }
        with open(os.path.join(a.outdir, doc + ".json"), "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
        wall += datetime.timedelta(milliseconds=c["dur"])
        wall_ms += c["dur"]
    total = sum(c["dur"] for c in chunks)
    ev = [{
        "id": guid(f"{NAME}/event"),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/callrec"
                 "/providers/Microsoft.Communication/communicationServices/callrec-test",
        "subject": f"/recording/call/{call_id}/serverCallId/c3luYw",
        "data": {
            "recordingStorageInfo": {"recordingChunks": [
                {"documentId": doc, "index": k,
                 "endReason": "SessionEnded" if k == a.chunks - 1 else "ChunkMaximumSizeExceeded"}
                for k, doc in enumerate(ids)]},
            "recordingStartTime": fmt(START),
            "recordingDurationMs": total,
            "sessionEndReason": "CallEnded",
        },
        "eventType": "Microsoft.Communication.RecordingFileStatusUpdated",
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": fmt(wall + datetime.timedelta(seconds=90)),
    }]
    with open(os.path.join(a.outdir, "event.json"), "w") as f:
        json.dump(ev, f, indent=2)
        f.write("\n")
    # beep list for the analyzer: expected output times in compact and wall-clock layouts
    beeps = []
    for k, c in enumerate(chunks):
        for s, fr in c["beeps"]:
            local = fr * 1000 / FPS
            beeps.append({"chunk": k, "second": s, "local_ms": local,
                          "compact_ms": c["start"] + local, "wall_ms": c["wall_start"] + local})
    sync = {"chunks": [{"index": k, "documentId": ids[k], "dur_ms": c["dur"],
                        "compact_start_ms": c["start"], "wall_start_ms": c["wall_start"]}
                       for k, c in enumerate(chunks)],
            "beeps": beeps, "beep_hz": BEEP_HZ, "beep_ms": BEEP_MS, "fps": FPS, "rate": RATE}
    with open(os.path.join(a.outdir, "sync.json"), "w") as f:
        json.dump(sync, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.outdir, "concat.txt"), "w") as f:
        for doc in ids:
            f.write(f"file '{os.path.abspath(os.path.join(a.outdir, doc + '.mp4'))}'\n")
    print(f"{a.outdir}: {a.chunks} chunks, {total} ms, {len(beeps)} beeps", file=sys.stderr)


if __name__ == "__main__":
    main()
