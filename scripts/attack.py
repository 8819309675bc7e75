#!/usr/bin/env python3
"""Seeded mutation sweep: every fixture through every tool, under attack.

Each round copies one fixture recording, damages one of its files with a seeded mutation (byte
flips, truncation, zeroed or repeated ranges, hostile JSON values, a 1 GiB sparse JSON file, an
empty file, a FIFO or a directory in its place), then runs inspect, check, timeline, stitch and
batch on it (check and timeline also with a closed stdout, as under `| head`). A run fails the
sweep when it panics (exit 101), dies of a signal, hangs (past the per-run timeout), exits with
a status outside the convention (0, 1, 2; 141 with a closed stdout), peaks above the RSS
limit (ru_maxrss of the child, from wait4), changes any input file (SHA-256 before and after),
or leaves a temporary file (.callrec-tmp-*) behind.

    python3 scripts/attack.py --bin target/debug/examples [--seed 14] [--rounds 90]
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")


def fixtures():
    """Every fixture recording directory (a directory holding event.json or chunk metadata)."""
    found = []
    for base in ("recordings", "recordings-bad"):
        d = os.path.join(TESTDATA, base)
        for name in sorted(os.listdir(d)):
            if os.path.isdir(os.path.join(d, name)):
                found.append(os.path.join(d, name))
    return found


def corrupt_mp4s():
    """The corrupt MP4 fixtures (for inspect)."""
    out = []
    for dirpath, _, files in os.walk(os.path.join(TESTDATA, "corrupt")):
        out += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(".mp4")]
    return sorted(out)


def hashes(top):
    """SHA-256 (or the file type) of every entry under top, by relative path."""
    out = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    while True:
                        block = f.read(1 << 20)
                        if not block:
                            break
                        h.update(block)
                out[rel] = (h.hexdigest(), st.st_size)
            else:
                out[rel] = (stat.S_IFMT(st.st_mode), 0)
    return out


def mutate_bytes(rng, data):
    """One seeded damage to a byte string."""
    data = bytearray(data)
    kind = rng.choice(["flip", "flip", "truncate", "zero", "repeat", "flip_header"])
    if not data:
        return bytes(data), "empty stays empty"
    if kind == "flip":
        n = rng.randint(1, 16)
        for _ in range(n):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), f"{n} bit flips"
    if kind == "flip_header":
        # The first 4 KiB hold ftyp and, for faststart files, much of moov: sizes and counts.
        n = rng.randint(1, 8)
        for _ in range(n):
            i = rng.randrange(min(len(data), 4096))
            data[i] = rng.randrange(256)
        return bytes(data), f"{n} header bytes replaced"
    if kind == "truncate":
        cut = rng.randrange(len(data))
        return bytes(data[:cut]), f"truncated at {cut}"
    if kind == "zero":
        a = rng.randrange(len(data))
        b = min(len(data), a + rng.randint(1, 4096))
        data[a:b] = bytes(b - a)
        return bytes(data), f"zeroed {a}..{b}"
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 2048))
    data[b:b] = data[a:b]
    return bytes(data), f"repeated {a}..{b}"


HOSTILE_VALUES = [
    -1, 0, 2**31, 2**63 - 1, -(2**63), 1e308, -1e308, 9.2e18, "", "x" * 5000, None, [], {},
    "../../etc/passwd", "manifest.jsonl", "9999-12-31T23:59:59.9999999Z", "0001-01-01T00:00:00Z",
    "NaN", True,
]


def mutate_json(rng, data):
    """A hostile value put into a JSON document, or byte damage when it does not parse."""
    try:
        doc = json.loads(data)
    except ValueError:
        return mutate_bytes(rng, data)
    paths = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                paths.append(path + [k])
                walk(x, path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                paths.append(path + [i])
                walk(x, path + [i])

    walk(doc, [])
    if not paths:
        return mutate_bytes(rng, data)
    path = rng.choice(paths)
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    action = rng.choice(["set", "set", "set", "delete", "repeat"])
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
        what = f"deleted {path}"
    elif action == "repeat" and isinstance(parent[path[-1]], list):
        parent[path[-1]] = parent[path[-1]] * rng.randint(2, 200)
        what = f"repeated list {path}"
    else:
        value = rng.choice(HOSTILE_VALUES)
        parent[path[-1]] = value
        what = f"{path} = {str(value)[:40]}"
    return json.dumps(doc).encode(), what


def damage(rng, rec):
    """Damages one file of the recording copy `rec`; returns a description."""
    files = sorted(f for f in os.listdir(rec) if os.path.isfile(os.path.join(rec, f)))
    name = rng.choice(files)
    path = os.path.join(rec, name)
    special = rng.random()
    if special < 0.04:
        os.remove(path)
        os.mkfifo(path)
        return f"{name}: a FIFO"
    if special < 0.07:
        os.remove(path)
        os.mkdir(path)
        return f"{name}: a directory"
    if special < 0.10:
        open(path, "wb").close()
        return f"{name}: empty"
    if special < 0.12 and name.endswith(".json"):
        with open(path, "r+b") as f:
            f.truncate(1 << 30)  # sparse: 1 GiB of (mostly) zeros after the JSON
        return f"{name}: 1 GiB"
    with open(path, "rb") as f:
        data = f.read()
    if name.endswith(".json") and rng.random() < 0.7:
        data, what = mutate_json(rng, data)
    else:
        data, what = mutate_bytes(rng, data)
    with open(path, "wb") as f:
        f.write(data)
    return f"{name}: {what}"


class Sweep:
    def __init__(self, bins, timeout, rss_mib):
        self.bins = bins
        self.timeout = timeout
        self.rss_kib = rss_mib * 1024
        self.runs = 0
        self.failures = []
        self.peak_kib = 0
        self.statuses = {}

    def run(self, tool, args, context, closed_stdout=False):
        """Runs one tool; records a failure for a panic, signal, hang, odd status or RSS. With
        `closed_stdout` its stdout is a pipe whose reader is gone (`| head`): 141 is then the
        expected status of a tool that writes."""
        self.runs += 1
        cmd = [os.path.join(self.bins, tool)] + args
        with tempfile.TemporaryFile() as err:
            proc_pid = os.fork()
            if proc_pid == 0:
                try:
                    devnull = os.open(os.devnull, os.O_RDWR)
                    os.dup2(devnull, 0)
                    if closed_stdout:
                        reader, writer = os.pipe()
                        os.close(reader)
                        os.dup2(writer, 1)
                    else:
                        os.dup2(devnull, 1)
                    os.dup2(err.fileno(), 2)
                    os.execv(cmd[0], cmd)
                finally:
                    os._exit(127)
            deadline = time.monotonic() + self.timeout
            while True:
                pid, status, usage = os.wait4(proc_pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.kill(proc_pid, signal.SIGKILL)
                    _, status, usage = os.wait4(proc_pid, 0)
                    self.fail(context, cmd, f"hung (killed after {self.timeout} s)")
                    return
                time.sleep(0.002)
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        self.peak_kib = max(self.peak_kib, usage.ru_maxrss)
        if usage.ru_maxrss > self.rss_kib:
            self.fail(context, cmd, f"peak RSS {usage.ru_maxrss // 1024} MiB")
        if os.WIFSIGNALED(status):
            self.fail(context, cmd, f"died of signal {os.WTERMSIG(status)}: {stderr[-400:]}")
            return
        code = os.WEXITSTATUS(status)
        self.statuses[code] = self.statuses.get(code, 0) + 1
        if code == 101 or "panicked" in stderr:
            self.fail(context, cmd, f"panicked: {stderr[-600:]}")
        elif code not in (0, 1, 2) and not (closed_stdout and code == 141):
            self.fail(context, cmd, f"exit status {code}: {stderr[-400:]}")

    def fail(self, context, cmd, why):
        self.failures.append(f"{context}\n    {' '.join(cmd)}\n    {why}")


def tools_on(sweep, rec, out, context):
    """Every tool on one (damaged) recording; outputs under `out`."""
    mp4s = sorted(f for f in os.listdir(rec) if f.endswith(".mp4"))
    for m in mp4s[:2]:
        sweep.run("inspect", [os.path.join(rec, m)], context)
        sweep.run("inspect", [os.path.join(rec, m), "--json"], context)
    sweep.run("check", [rec], context)
    sweep.run("check", [rec, "--json", "--no-decode"], context)
    sweep.run("timeline", [rec], context)
    sweep.run("timeline", [rec, "--json"], context)
    sweep.run("timeline", [rec, "--vtt"], context)
    sweep.run("stitch", [rec, "-o", os.path.join(out, "s.mp4"),
                         "--timeline", os.path.join(out, "s.json")], context)
    sweep.run("stitch", [rec, "-o", os.path.join(out, "w.mp4"), "--wall-clock"], context)
    sweep.run("batch", [os.path.dirname(rec), "-o", os.path.join(out, "batch"), "-j", "1"],
              context)
    # Read by `| head`: the reader is gone before the tool writes.
    sweep.run("check", [rec, "--no-decode"], context, closed_stdout=True)
    sweep.run("timeline", [rec], context, closed_stdout=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory of the built example binaries")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--rounds", type=int, default=90)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    ap.add_argument("--rss-mib", type=int, default=512, help="peak RSS allowed per run")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sweep = Sweep(os.path.abspath(args.bin), args.timeout, args.rss_mib)
    recordings = fixtures()
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="callrec-attack-")
    try:
        pristine = hashes(TESTDATA)
        # The undamaged fixtures first, and every corrupt MP4 through inspect.
        for i, fixture in enumerate(recordings):
            out = os.path.join(work, f"clean-{i}")
            os.makedirs(out)
            tools_on(sweep, fixture, out, f"fixture {os.path.relpath(fixture, ROOT)}")
        for mp4 in corrupt_mp4s():
            sweep.run("inspect", [mp4], f"corrupt {os.path.relpath(mp4, ROOT)}")
        for r in range(args.rounds):
            fixture = recordings[r % len(recordings)]
            round_dir = os.path.join(work, f"round-{r}")
            rec = os.path.join(round_dir, "in", os.path.basename(fixture))
            out = os.path.join(round_dir, "out")
            shutil.copytree(fixture, rec)
            os.makedirs(out)
            what = damage(rng, rec)
            context = f"round {r} (seed {args.seed}): {os.path.basename(fixture)}, {what}"
            before = hashes(os.path.join(round_dir, "in"))
            tools_on(sweep, rec, out, context)
            if hashes(os.path.join(round_dir, "in")) != before:
                sweep.fail(context, ["(all tools)"], "an input changed")
            for dirpath, _, files in os.walk(round_dir):
                for f in files:
                    if f.startswith(".callrec-tmp-"):
                        sweep.fail(context, ["(all tools)"], f"left {os.path.join(dirpath, f)}")
            shutil.rmtree(round_dir)
        if hashes(TESTDATA) != pristine:
            sweep.fail("testdata", ["(all tools)"], "a fixture changed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(sweep.statuses.items()))
    print(f"attack: {sweep.runs} runs ({len(recordings)} fixtures, {args.rounds} damaged copies, "
          f"seed {args.seed}) in {elapsed:.1f} s; exit statuses {statuses}; "
          f"peak RSS {sweep.peak_kib / 1024:.1f} MiB")
    if sweep.failures:
        print(f"attack: {len(sweep.failures)} failure(s):")
        for f in sweep.failures[:50]:
            print(f"  {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
