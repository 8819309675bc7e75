#!/usr/bin/env python3
"""Measure audio-vs-video sync of a stitched sync recording (see make_sync_recording.py).

  measure.py PATH FILE.mp4 SYNC.json LAYOUT [--browser-json R.json] [-o RESULT.json]

PATH is one of
  ffmpeg-b2b   ffmpeg decode, audio samples back to back (sample index / rate), video frame pts
  ffmpeg-pts   ffmpeg -copyts, audio placed by its pts (aresample=async=1:first_pts=0)
  gst-pull     GStreamer filesrc ! qtdemux (pull mode), audio samples back to back
  gst-pull-pts same pipeline, each audio buffer placed at its (segment-clipped) running time
  gst-push     pushfilesrc ! qtdemux (push mode), back to back
  gst-push-pts push mode, placed by running time
  browser      events posted by page.html (--browser-json), both on the performance.now() clock
LAYOUT is compact or wall (which expected times in SYNC.json to align against).

Beep onset: first sample with |x| > 0.15 full scale after >= 200 ms of quiet. Flash: a frame with
mean luma > 128 whose previous frame is dark; its time is the frame pts. Detected events are
aligned to the expected beeps in order, tracking the running offset (so drifts of many frames
still match the right beep). Prints one JSON object: per beep a, v, a-v (ms), per join the
a-v of the first beep after it, and the summary the table uses.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys

RATE = 16000
FRAME_MS = 125.0  # the sync recording's video: 8 fps
THRESH = int(0.15 * 32768)
QUIET = int(0.2 * RATE)


def onsets(samples, times=None, rate=RATE):
    """samples: sequence of int16; times: per-sample time in ms (None: index / rate)."""
    out = []
    quiet = QUIET
    for i, x in enumerate(samples):
        if x > THRESH or x < -THRESH:
            if quiet >= QUIET:
                out.append(times[i] if times is not None else i * 1000.0 / rate)
            quiet = 0
        else:
            quiet += 1
    return out


def flashes(frames):
    """frames: [(pts_ms, mean_luma)] in decode/presentation order."""
    out = []
    prev = 0.0
    for t, y in frames:
        if y > 128 and prev <= 128:
            out.append(t)
        prev = y
    return out


def s16(buf):
    n = len(buf) // 2
    return struct.unpack(f"<{n}h", buf[:2 * n])


# ---------------------------------------------------------------- ffmpeg
def ffmpeg_audio(path, by_pts):
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if by_pts:
        cmd += ["-copyts"]
    cmd += ["-i", path, "-map", "0:a:0"]
    if by_pts:
        cmd += ["-af", "aresample=async=1:first_pts=0"]
    cmd += ["-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"]
    return s16(subprocess.run(cmd, check=True, capture_output=True).stdout)


def ffmpeg_video(path, by_pts):
    cmd = ["ffmpeg", "-nostdin", "-hide_banner"]
    if by_pts:
        cmd += ["-copyts"]
    cmd += ["-i", path, "-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough",
            "-f", "null", "-"]
    err = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    frames = []
    for m in re.finditer(r"pts_time:\s*(-?[\d.]+).*?mean:\[(\d+)", err):
        frames.append((float(m.group(1)) * 1000.0, float(m.group(2))))
    return frames


# ---------------------------------------------------------------- GStreamer
GST_SCRIPT = r'''
import json, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
path, push, out = sys.argv[1], sys.argv[2] == "push", sys.argv[3]
src = "pushfilesrc" if push else "filesrc"
p = Gst.parse_launch(
    f"{src} location={path} ! qtdemux name=d "
    "d.video_0 ! queue ! decodebin ! videoconvert ! videoscale ! "
    "video/x-raw,format=GRAY8,width=32,height=18 ! appsink name=v sync=false emit-signals=false "
    "d.audio_0 ! queue ! decodebin ! audioconvert ! audioresample ! "
    "audio/x-raw,format=S16LE,channels=1,rate=16000,layout=interleaved ! "
    "appsink name=a sync=false emit-signals=false")
vs, as_ = p.get_by_name("v"), p.get_by_name("a")
p.set_state(Gst.State.PLAYING)
frames, abufs = [], []
raw = open(out + ".raw", "wb")
import threading
def pull(sink, fn):
    while True:
        s = sink.emit("pull-sample")
        if s is None:
            return
        fn(s)
def onv(s):
    b = s.get_buffer(); seg = s.get_segment()
    ok, m = b.map(Gst.MapFlags.READ); d = bytes(m.data); b.unmap(m)
    rt = seg.to_running_time(Gst.Format.TIME, b.pts)
    frames.append([b.pts / 1e6, (rt / 1e6) if rt != Gst.CLOCK_TIME_NONE else None,
                   sum(d) / len(d)])
def ona(s):
    b = s.get_buffer(); seg = s.get_segment()
    ok, m = b.map(Gst.MapFlags.READ); d = bytes(m.data); b.unmap(m)
    n = len(d) // 2
    stop = b.pts + n * Gst.SECOND // 16000
    inseg, cs, ce = seg.clip(Gst.Format.TIME, b.pts, stop)
    skip = 0
    if inseg:
        skip = min(n, round((cs - b.pts) * 16000 / Gst.SECOND))
        keep = min(n - skip, round((ce - cs) * 16000 / Gst.SECOND))
        rt = seg.to_running_time(Gst.Format.TIME, cs)
    else:
        keep, rt = 0, None
    raw.write(d)
    abufs.append([b.pts / 1e6, n, skip, keep, (rt / 1e6) if rt is not None else None])
ts = [threading.Thread(target=pull, args=(vs, onv)), threading.Thread(target=pull, args=(as_, ona))]
for t in ts: t.start()
bus = p.get_bus()
msg = bus.timed_pop_filtered(120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
err = None
if msg and msg.type == Gst.MessageType.ERROR:
    err = str(msg.parse_error())
p.set_state(Gst.State.NULL)
for t in ts: t.join()
raw.close()
json.dump({"frames": frames, "abufs": abufs, "error": err}, open(out, "w"))
'''


def gst_run(path, push, work):
    out = os.path.join(work, os.path.basename(path) + (".push" if push else ".pull") + ".gst.json")
    if not os.path.exists(out):
        script = os.path.join(work, "gst_decode.py")
        with open(script, "w") as f:
            f.write(GST_SCRIPT)
        subprocess.run(["/usr/bin/python3", script, os.path.abspath(path),
                        "push" if push else "pull", out], check=True, timeout=180)
    with open(out) as f:
        d = json.load(f)
    with open(out + ".raw", "rb") as f:
        samples = s16(f.read())
    return d, samples


def gst_events(path, push, by_pts, work):
    d, samples = gst_run(path, push, work)
    if by_pts:
        frames = [(rt, y) for _, rt, y in d["frames"] if rt is not None]
        kept, times = [], []
        off = 0
        for pts, n, skip, keep, rt in d["abufs"]:
            if keep and rt is not None:
                kept.extend(samples[off + skip:off + skip + keep])
                times.extend(rt + i * 1000.0 / RATE for i in range(keep))
            off += n
        return onsets(kept, times), flashes(frames), d.get("error")
    # back to back: samples as produced, video at buffer pts as produced
    frames = [(pts, y) for pts, _, y in d["frames"]]
    return onsets(samples), flashes(frames), d.get("error")


# ---------------------------------------------------------------- browsers
WINDOW_MS = 1000.0


def local_median(pairs, t, window=WINDOW_MS):
    """Median of the values of `pairs` [(time, value)] sorted by time, within +-window of t."""
    import bisect
    keys = [p[0] for p in pairs]
    lo, hi = bisect.bisect_left(keys, t - window), bisect.bisect_right(keys, t + window)
    vals = sorted(p[1] for p in pairs[lo:hi])
    if not vals:
        i = min(max(bisect.bisect(keys, t), 0), len(pairs) - 1)
        return pairs[i][1]
    return vals[len(vals) // 2]


def browser_events(r, file_flashes):
    """Beep onsets and flashes on the media timeline, from the events page.html posted.

    The worklet gives each onset's AudioContext time exactly (sample count); the video gives
    each presented frame's media time exactly. What is noisy is how both clocks map to the
    performance clock: `getOutputTimestamp()` and `expectedDisplayTime` each jitter by up to a
    display refresh (16-34 ms in headless browsers on a loaded machine). Both offsets are
    steady while playback is steady, so each is taken as the median over the samples within
    +-1 s of the event; a real step (a stall, a drift at a join) still shows within a second.

    A flash is a presented frame whose canvas copy is white, in the frame callbacks or in the
    per-animation-frame samples (`draws`). Firefox's canvas copy inside the frame callback is
    sometimes the neighbouring frame, so a flash seen is put at the media time of the file's
    own flash frame nearest to it (within 1.5 frames; `file_flashes` from ffmpeg): the browser
    showed that frame, and its media time is in the file. When it is shown is the video clock's
    business, measured by the frame callbacks above.
    """
    clock = sorted((c["perf"], c["perf"] - c["ctx"] * 1000.0) for c in r.get("clock", []))
    frs = sorted(r.get("frames", []), key=lambda x: x["perf"])
    if not frs:
        return [], []
    video_off = [(x["perf"], x["perf"] - x["media"]) for x in frs]
    au = []
    for b in sorted(r.get("beeps", []), key=lambda x: x["ctx"]):
        perf = b["ctx"] * 1000.0 + local_median(clock, b["perf"]) if clock else b["perf"]
        au.append(perf - local_median(video_off, perf))
    seen = flashes([(x["media"], x["y"]) for x in frs])
    seen += flashes([(x["media"], x["y"]) for x in r.get("draws", [])])
    vi = set()
    for m in seen:
        near = min(file_flashes, key=lambda f: abs(f - m), default=None)
        vi.add(near if near is not None and abs(near - m) <= 1.5 * FRAME_MS else m)
    return au, sorted(vi)


# ---------------------------------------------------------------- alignment
def align(expected, detected, tol=450.0):
    """Map detected event times onto expected ones in order; returns list (None = missing)."""
    res = [None] * len(expected)
    off = 0.0
    j = 0
    for t in detected:
        # nearest expected (after applying the running offset) not yet taken
        best, bd = None, tol
        for i in range(j, len(expected)):
            dd = abs(t - off - expected[i])
            if dd < bd:
                best, bd = i, dd
            if expected[i] > t - off + tol:
                break
        if best is None:
            continue
        res[best] = t
        off = t - expected[best]
        j = best + 1
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("file")
    ap.add_argument("sync")
    ap.add_argument("layout", choices=["compact", "wall"])
    ap.add_argument("--browser-json")
    ap.add_argument("--work", default=None)
    ap.add_argument("--label", default=None)
    a = ap.parse_args()
    sync = json.load(open(a.sync))
    work = a.work or os.path.dirname(os.path.abspath(a.file))
    err = None
    relative = False
    if a.path in ("ffmpeg-b2b", "ffmpeg-pts"):
        bp = a.path == "ffmpeg-pts"
        au, vi = onsets(ffmpeg_audio(a.file, bp)), flashes(ffmpeg_video(a.file, bp))
    elif a.path.startswith("gst-"):
        au, vi, err = gst_events(a.file, "push" in a.path, a.path.endswith("-pts"), work)
    elif a.path == "browser":
        r = json.load(open(a.browser_json))
        err = r.get("error")
        au, vi = browser_events(r, flashes(ffmpeg_video(a.file, False)))
        relative = True
    else:
        sys.exit(f"unknown path {a.path}")
    key = "compact_ms" if a.layout == "compact" else "wall_ms"
    exp = [b[key] for b in sync["beeps"]]
    A, V = align(exp, au), align(exp, vi)
    beeps = []
    for b, x, y in zip(sync["beeps"], A, V):
        beeps.append({"chunk": b["chunk"], "expected": b[key], "a": x, "v": y,
                      "av": None if x is None or y is None else round(x - y, 2)})
    if relative:
        # a constant output latency is not a join error: measure against chunk 0's median
        base = sorted(b["av"] for b in beeps if b["chunk"] == 0 and b["av"] is not None)
        base = base[len(base) // 2] if base else 0.0
        for b in beeps:
            if b["av"] is not None:
                b["av_raw"] = b["av"]
                b["av"] = round(b["av"] - base, 2)
    else:
        base = 0.0
    nchunks = len(sync["chunks"])
    joins = []
    for k in range(1, nchunks):
        first = next((b for b in beeps if b["chunk"] == k), None)
        joins.append(None if first is None else first["av"])
    found = sum(1 for b in beeps if b["av"] is not None)
    avs = [b["av"] for b in beeps if b["av"] is not None]
    jv = [abs(j) for j in joins if j is not None]
    last = next((b for b in reversed(beeps) if b["av"] is not None), None)
    res = {
        "label": a.label or f"{a.path} {os.path.basename(a.file)}",
        "path": a.path, "file": a.file, "layout": a.layout,
        "expected": len(exp), "audio_found": sum(x is not None for x in A),
        "video_found": sum(y is not None for y in V), "found": found,
        "audio_detected": len(au), "video_detected": len(vi),
        "max_join_av": round(max(jv), 1) if jv else None,
        "max_av": round(max(abs(x) for x in avs), 1) if avs else None,
        "end_av": last["av"] if last else None,
        "joins": joins, "baseline": base, "beeps": beeps, "error": err,
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
