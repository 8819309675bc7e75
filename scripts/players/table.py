#!/usr/bin/env python3
"""table.py RESULTS.jsonl [--assert | --assert-only REGEX]: prints the sync table; with --assert
exits 1 when a beep is missing or |a-v| > 20 ms on any row (skipped rows count as failures):
at any beep for the ffmpeg and GStreamer rows (exact), at the beep after each join for the
browser rows (real-time playback: within a chunk the stitch changes nothing, and a browser's
clocks jitter there under load as at the joins); with --assert-only, on the rows whose label
matches REGEX."""
import json
import re
import sys

LIMIT = 20.0
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
do_assert = "--assert" in sys.argv[2:]
only = None
if "--assert-only" in sys.argv[2:]:
    only = re.compile(sys.argv[sys.argv.index("--assert-only") + 1])
    do_assert = True
fmt = "{:<34} {:>7} {:>9} {:>9} {:>9}  {}"
print(fmt.format("player/path (file)", "beeps", "max|a-v|", "max|a-v|", "end a-v", "a-v after each join (ms)"))
print(fmt.format("", "found", "joins ms", "all ms", "ms", ""))
bad = []
for r in rows:
    if r.get("skipped"):
        print(f"{r['label']:<34} SKIPPED: {r['skipped']}")
        bad.append(r["label"])
        continue
    j = " ".join("-" if x is None else f"{x:+.0f}" for x in r["joins"])
    f = lambda x: "-" if x is None else f"{x:.1f}"
    print(fmt.format(r["label"], f"{r['found']}/{r['expected']}", f(r["max_join_av"]),
                     f(r["max_av"]), "-" if r["end_av"] is None else f"{r['end_av']:+.1f}", j))
    if r.get("error"):
        print(f"{'':<34}   error: {r['error']}")
    # Browser rows: the beep after each join (the criterion; their clocks jitter
    # inside a chunk under load). ffmpeg/GStreamer rows are exact: every beep.
    worst = r["max_join_av"] if r["label"].startswith(("chromium", "firefox")) else r["max_av"]
    if r["found"] < r["expected"] or worst is None or worst > LIMIT:
        bad.append(r["label"])
print("browser rows: relative to the median a-v of chunk 0 (output latency removed); "
      "ffmpeg/gst rows: absolute")
if bad:
    print(f"{len(bad)} of {len(rows)} rows miss beeps or exceed |a-v| {LIMIT:.0f} ms")
if only is not None:
    bad = [b for b in bad if only.search(b)]
    print(f"asserted rows (/{only.pattern}/): {len(bad)} fail" + (f": {', '.join(bad)}" if bad else ""))
if do_assert and bad:
    sys.exit(1)
