//! Facade-level robustness sweep: seeded mutations of one chunk's MP4 or of the JSON files of
//! every clean fixture recording, run through open → check → timeline → stitch (compact and
//! wall-clock). Never a panic or an allocation out of proportion to the input; the report and
//! timeline exports are whole; errors name the file or chunk; a failed stitch leaves nothing
//! behind; inputs are never modified. No time limit: a hang never ends the test (speed is
//! measured in `benches/`, not here).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use callrec::{Error, Recording, StitchOptions};
use serde_json::{json, Value};

use crate::{snapshot, testdata, CLEAN};

// ---------------------------------------------------------------------------------------------
// The largest single allocation made on a thread while it is being watched.

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: never panic inside the allocator, even while the thread is torn down.
    if WATCHED.try_with(Cell::get).unwrap_or(false) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }
}

/// The system allocator, noting the size of each request on a watched thread.
struct Watching;

// The test binary's allocator: forwards every call to `System` unchanged.
#[allow(unsafe_code)]
// SAFETY: each method forwards its arguments to `System`, which upholds the `GlobalAlloc`
// contract; the bookkeeping only reads and writes const-initialized thread-locals (no allocation).
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Runs `f` with this thread watched; returns its result and the largest allocation it made
/// on this thread.
fn watched<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    WATCHED.with(|w| w.set(true));
    let out = f();
    WATCHED.with(|w| w.set(false));
    (out, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness (xorshift64*).

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Top-level boxes of an MP4: (type, start, end), without trusting sizes past the file.
fn top_boxes(data: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as u64;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        let size = match size {
            0 => (data.len() - at) as u64,
            1 if at + 16 <= data.len() => {
                u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap())
            }
            _ => size,
        };
        if size < 8 {
            break;
        }
        let end = (at as u64).saturating_add(size).min(data.len() as u64) as usize;
        out.push((kind, at, end));
        at = end;
    }
    out
}

/// The byte ranges of every top-level box of one of `kinds`.
fn ranges(data: &[u8], kinds: &[&[u8; 4]]) -> Vec<(usize, usize)> {
    top_boxes(data)
        .into_iter()
        .filter(|(k, _, _)| kinds.contains(&k))
        .map(|(_, s, e)| (s, e))
        .collect()
}

/// Boxes whose header fields (sizes, versions, counts, timescales) decide what a parser allocates
/// and computes.
const HEADER_BOXES: [&[u8; 4]; 24] = [
    b"moov", b"mvhd", b"trak", b"tkhd", b"edts", b"elst", b"mdia", b"mdhd", b"hdlr", b"minf",
    b"stbl", b"stsd", b"avc1", b"avcC", b"mp4a", b"esds", b"stts", b"ctts", b"stsc", b"stsz",
    b"stco", b"trun", b"tfhd", b"tfdt",
];

/// Offsets of every occurrence of a header box's type in `data[start..end]`.
fn header_fields(data: &[u8], (start, end): (usize, usize)) -> Vec<usize> {
    (start..end.saturating_sub(4))
        .filter(|&i| HEADER_BOXES.iter().any(|k| &data[i..i + 4] == *k))
        .collect()
}

fn flip_in(rng: &mut Rng, data: &mut [u8], (start, end): (usize, usize), n: usize) {
    for _ in 0..n {
        let i = start + rng.below(end - start);
        data[i] = match rng.below(3) {
            0 => data[i] ^ (1 << rng.below(8)),
            1 => 0xff,
            _ => rng.next() as u8,
        };
    }
}

const HTML: &[u8] = b"<!DOCTYPE html>\n<html><head><title>403 - Forbidden</title></head>\
<body><h1>AuthorizationPermissionMismatch</h1><p>This request is not authorized to perform \
this operation using this permission.</p></body></html>\n";

/// Mutates an MP4; returns a description.
fn mutate_mp4(rng: &mut Rng, data: &mut Vec<u8>) -> String {
    let headers = {
        let mut r = ranges(data, &[b"moof"]);
        if r.is_empty() || rng.below(2) == 0 {
            r = ranges(data, &[b"moov"]);
        }
        r
    };
    let mdat = ranges(data, &[b"mdat"]);
    match rng.below(8) {
        0 | 1 => {
            let r = *rng.pick(&headers);
            let n = 1 + rng.below(8);
            flip_in(rng, data, r, n);
            format!("{n} byte flips in the box at {}", r.0)
        }
        2 | 3 => {
            // Aim at a box's size, version/flags and first fields (counts, timescales).
            let r = *rng.pick(&headers);
            let fields = header_fields(data, r);
            let at = *rng.pick(&fields);
            let lo = at.saturating_sub(4);
            let hi = (at + 20).min(data.len());
            let n = 1 + rng.below(3);
            flip_in(rng, data, (lo, hi), n);
            format!(
                "{n} byte flips near {} at {at}",
                String::from_utf8_lossy(&data[at..at + 4])
            )
        }
        4 => {
            let r = *rng.pick(&mdat);
            let n = 1 + rng.below(32);
            flip_in(rng, data, r, n);
            format!("{n} byte flips in the mdat")
        }
        5 | 6 => {
            let len = rng.below(data.len());
            data.truncate(len);
            format!("truncated to {len} bytes")
        }
        _ => {
            if rng.below(2) == 0 {
                data.clear();
                "zero-length".into()
            } else {
                *data = HTML.to_vec();
                "an HTML page".into()
            }
        }
    }
}

/// Values that are of the wrong type, out of range or absurd for some field.
fn hostile(rng: &mut Rng) -> Value {
    let values = [
        json!("x"),
        json!(""),
        json!(1e300),
        json!(-1e300),
        json!(1e18),
        json!(1e15),
        json!(-5000),
        json!(-1),
        json!(0),
        json!(0.5),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(null),
        json!([]),
        json!({}),
        json!(true),
        json!("NaN"),
        json!("9999-12-31T23:59:59.9999999Z"),
        json!("0001-01-01T00:00:00Z"),
        json!("2024-05-16T10:20:30.125+14:00"),
        json!("2024-02-30T25:61:61Z"),
    ];
    rng.pick(&values).clone()
}

/// Every path (object keys and array indices) in a JSON value.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                prefix.push(json!(k));
                out.push(prefix.clone());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prefix.push(json!(i));
                out.push(prefix.clone());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// The parent of `path` and the last step.
fn parent<'a>(root: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path[..path.len() - 1]
        .iter()
        .try_fold(root, |v, step| match step {
            Value::String(k) => v.get_mut(k.as_str()),
            Value::Number(i) => v.get_mut(i.as_u64()? as usize),
            _ => None,
        })
}

/// Fields whose values drive time arithmetic and allocation, with values to try there.
fn targeted(rng: &mut Rng, v: &mut Value) -> Option<String> {
    const FIELDS: [&str; 11] = [
        "chunkDuration",
        "chunkStartTime",
        "chunkIndex",
        "duration",
        "startTime",
        "recordingStartTime",
        "recordingDurationMs",
        "index",
        "sampleRate",
        "channels",
        "documentId",
    ];
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let hits: Vec<_> = all
        .into_iter()
        .filter(|p| matches!(p.last(), Some(Value::String(k)) if FIELDS.contains(&k.as_str())))
        .collect();
    if hits.is_empty() {
        return None;
    }
    let path = rng.pick(&hits).clone();
    let value = hostile(rng);
    let Value::String(key) = path.last().unwrap() else {
        unreachable!()
    };
    let desc = format!("{key} = {value}");
    parent(v, &path)?
        .as_object_mut()?
        .insert(key.clone(), value);
    Some(desc)
}

/// Mutates a JSON file; returns a description.
fn mutate_json(rng: &mut Rng, data: &mut Vec<u8>) -> String {
    match rng.below(7) {
        6 => {
            if rng.below(2) == 0 {
                data.clear();
                "zero-length".into()
            } else {
                *data = HTML.to_vec();
                "an HTML page".into()
            }
        }
        0 => {
            let len = rng.below(data.len());
            data.truncate(len);
            format!("truncated to {len} bytes")
        }
        1 => {
            let n = 1 + rng.below(4);
            let len = data.len();
            flip_in(rng, data, (0, len), n);
            format!("{n} byte flips")
        }
        k => {
            let mut v: Value = serde_json::from_slice(data).unwrap();
            let desc = if k == 2 {
                // Any field: deleted or replaced.
                let mut all = Vec::new();
                paths(&v, &mut Vec::new(), &mut all);
                let path = rng.pick(&all).clone();
                let delete = rng.below(2) == 0;
                let value = hostile(rng);
                let desc = if delete {
                    format!("deleted {path:?}")
                } else {
                    format!("{path:?} = {value}")
                };
                if let Some(p) = parent(&mut v, &path) {
                    match (path.last().unwrap(), p) {
                        (Value::String(key), Value::Object(m)) => {
                            if delete {
                                m.shift_remove(key);
                            } else {
                                m.insert(key.clone(), value);
                            }
                        }
                        (Value::Number(i), Value::Array(a)) => {
                            let i = i.as_u64().unwrap() as usize;
                            if delete {
                                a.remove(i);
                            } else {
                                a[i] = value;
                            }
                        }
                        _ => unreachable!(),
                    }
                }
                desc
            } else {
                targeted(rng, &mut v).unwrap_or_else(|| "unchanged".into())
            };
            *data = serde_json::to_vec_pretty(&v).unwrap();
            desc
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One run of the pipeline.

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let p = entry.unwrap().path();
        fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
}

/// What a mutation was applied to, to check that errors name it.
struct Victim {
    /// Strings of which an error message must contain at least one.
    names: Vec<String>,
    what: String,
    /// The file is no MP4 or JSON at all (empty, an HTML page): the check must report an error
    /// and the wall-clock stitch must be refused (the chunk has no place on the wall clock)...
    garbage: bool,
    /// ...and the compact one too when the file is the chunk's media.
    garbage_media: bool,
}

/// The documentIds of a recording directory, sorted.
fn document_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".mp4").map(str::to_string)
        })
        .collect();
    ids.sort();
    ids
}

/// Asserts an error's message names the mutated file or chunk.
fn assert_names(err: &Error, victim: &Victim, stage: &str) {
    let msg = err.to_string();
    // A problem of the whole recording (recordingDurationMs against the chunks' sum, no chunk
    // listed) names the recording's directory.
    if let Error::NotStitchable { dir, problem } = err {
        if problem.chunk().is_none() {
            assert!(msg.contains(&dir.display().to_string()), "{msg}");
            return;
        }
    }
    assert!(
        victim.names.iter().any(|n| msg.contains(n.as_str())),
        "{}: {stage} error names none of {:?}: {msg}",
        victim.what,
        victim.names
    );
}

/// The files of `out`, by name.
fn listing(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    open_failed: usize,
    stitched: usize,
    stitch_failed: usize,
}

/// Largest single allocation allowed: proportional to the input, never to a value inside it.
fn allocation_limit(input: &BTreeMap<PathBuf, Vec<u8>>) -> usize {
    let total: usize = input.values().map(Vec::len).sum();
    (8 << 20).max(4 * total)
}

fn run(dir: &Path, out: &Path, victim: &Victim, tally: &mut Tally) {
    let before = snapshot(dir);
    let (_, largest) = watched(|| pipeline(dir, out, victim, tally));
    let limit = allocation_limit(&before);
    assert!(
        largest <= limit,
        "{}: allocated {largest} bytes at once (limit {limit})",
        victim.what
    );
    assert!(snapshot(dir) == before, "{}: an input changed", victim.what);
    tally.cases += 1;
}

fn pipeline(dir: &Path, out: &Path, victim: &Victim, tally: &mut Tally) {
    let rec = match Recording::open(dir) {
        Ok(rec) => rec,
        Err(err) => {
            eprintln!("{}: open: {err}", victim.what);
            assert_names(&err, victim, "open");
            tally.open_failed += 1;
            return;
        }
    };
    let mp4_bytes: u64 = rec
        .chunks()
        .iter()
        .filter_map(|c| c.media_path.as_ref())
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    let report = rec.check().unwrap();
    assert!(
        !victim.garbage || report.has_errors(),
        "{}: the check finds nothing wrong",
        victim.what
    );
    let json: Value = serde_json::from_str(&report.to_json()).expect("report JSON");
    assert_eq!(
        json["findings"].as_array().map(Vec::len),
        Some(report.findings.len()),
        "{}",
        victim.what
    );
    let timeline = rec.timeline();
    let json: Value = serde_json::from_str(&timeline.to_json()).expect("timeline JSON");
    assert_eq!(
        json["segments"].as_array().map(Vec::len),
        Some(timeline.segments().len()),
        "{}",
        victim.what
    );
    assert!(
        timeline.to_webvtt().starts_with("WEBVTT\n"),
        "{}",
        victim.what
    );
    for wall_clock in [false, true] {
        let target = out.join("out.mp4");
        let timeline_json = out.join("timeline.json");
        let mut opts = StitchOptions::new(&target).wall_clock(wall_clock);
        if !wall_clock {
            opts = opts.timeline(&timeline_json);
        }
        match rec.stitch(&opts) {
            Ok(stitched) => {
                let len = fs::metadata(&target).unwrap().len();
                assert_eq!(stitched.bytes, len, "{}", victim.what);
                // Sample bytes are copied once; the header grows with the sample count, never
                // with a duration.
                assert!(
                    len <= 2 * mp4_bytes + 65_536,
                    "{}: {len} bytes",
                    victim.what
                );
                let expect: &[&str] = if wall_clock {
                    &["out.mp4"]
                } else {
                    &["out.mp4", "timeline.json"]
                };
                assert_eq!(listing(out), expect, "{}", victim.what);
                let refused = victim.garbage_media || (victim.garbage && wall_clock);
                assert!(
                    !refused,
                    "{}: stitched (wall clock: {wall_clock})",
                    victim.what
                );
                fs::remove_file(&target).unwrap();
                let _ = fs::remove_file(&timeline_json);
                tally.stitched += 1;
            }
            Err(err) => {
                eprintln!("{}: wall_clock {wall_clock}: {err}", victim.what);
                assert_names(&err, victim, "stitch");
                assert!(
                    listing(out).is_empty(),
                    "{}: a failed stitch left {:?}",
                    victim.what,
                    listing(out)
                );
                tally.stitch_failed += 1;
            }
        }
    }
}

/// Cases per recording and kind; tuned to keep the sweep within seconds in the debug profile.
/// `CALLREC_SWEEP_CASES` and `CALLREC_SWEEP_SEED` run a longer or another sweep.
fn cases() -> usize {
    std::env::var("CALLREC_SWEEP_CASES").map_or(24, |v| v.parse().unwrap())
}

fn seed() -> u64 {
    std::env::var("CALLREC_SWEEP_SEED").map_or(0x5eed_0000, |v| v.parse().unwrap())
}

#[test]
fn seeded_mutations_of_every_clean_recording_give_errors_naming_the_file_never_a_panic() {
    let (mp4_cases, json_cases) = (cases(), cases());
    let tmp = tempfile::tempdir().unwrap();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (r, name) in CLEAN.iter().enumerate() {
        let src = testdata().join("recordings").join(name);
        let ids = document_ids(&src);
        let mut rng = Rng::new(seed() + r as u64);
        for case in 0..mp4_cases + json_cases {
            let dir = tmp.path().join(format!("{name}-{case}"));
            let out = tmp.path().join(format!("{name}-{case}-out"));
            copy_dir(&src, &dir);
            fs::create_dir(&out).unwrap();
            let id = rng.pick(&ids);
            // The chunk's index, from the fixture's metadata.
            let meta: Value =
                serde_json::from_slice(&fs::read(src.join(format!("{id}.json"))).unwrap()).unwrap();
            let k = meta["chunkIndex"].as_u64().unwrap();
            let (file, names) = if case < mp4_cases {
                (format!("{id}.mp4"), vec![id.clone(), format!("chunk {k}")])
            } else if rng.below(3) == 0 {
                // The event names chunks by documentId and index.
                let mut names: Vec<String> = ids.clone();
                names.extend(["event.json".into(), "chunk".into()]);
                ("event.json".into(), names)
            } else {
                // A chunk's start time also decides the gap before the next chunk, which the
                // wall-clock stitch names after that chunk.
                (
                    format!("{id}.json"),
                    vec![id.clone(), format!("chunk {k}"), format!("chunk {}", k + 1)],
                )
            };
            let path = dir.join(&file);
            let mut data = fs::read(&path).unwrap();
            let how = if file.ends_with(".mp4") {
                mutate_mp4(&mut rng, &mut data)
            } else {
                mutate_json(&mut rng, &mut data)
            };
            fs::write(&path, &data).unwrap();
            let victim = Victim {
                names,
                garbage: how == "zero-length" || how == "an HTML page",
                garbage_media: file.ends_with(".mp4")
                    && (how == "zero-length" || how == "an HTML page"),
                what: format!("{name}/{file} (case {case}): {how}"),
            };
            // A panic anywhere (ours or an assertion) is recorded and the sweep goes on, so one
            // run lists every failing case.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&dir, &out, &victim, &mut tally)
            }));
            if outcome.is_err() {
                failures.push(victim.what);
            }
            fs::remove_dir_all(&dir).unwrap();
            fs::remove_dir_all(&out).unwrap();
        }
    }
    WATCHED.with(|w| w.set(false));
    eprintln!("{tally:?}");
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(tally.cases, CLEAN.len() * (mp4_cases + json_cases));
    // The sweep exercises both outcomes.
    assert!(tally.stitched > 0 && tally.stitch_failed > 0, "{tally:?}");
}

// ---------------------------------------------------------------------------------------------
// Huge values kept consistent across the files, so that they reach the timeline and the planner
// instead of being refused as a mismatch first.

/// Copies `name` to a temp dir and edits its JSON files with `edit(file name, value)`.
fn edited(name: &str, edit: impl Fn(&str, &mut Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    copy_dir(&testdata().join("recordings").join(name), &dir);
    fs::create_dir(tmp.path().join("out")).unwrap();
    for entry in fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let file = p.file_name().unwrap().to_str().unwrap().to_string();
        if file.ends_with(".json") && !file.ends_with(".packets.json") {
            let mut v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            edit(&file, &mut v);
            fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        }
    }
    tmp
}

/// The event's `data` object (Event Grid array, single object or CloudEvents).
fn event_data(v: &mut Value) -> &mut Value {
    let ev = if v.is_array() { &mut v[0] } else { v };
    &mut ev["data"]
}

/// Runs the pipeline on an edited recording; every stage must be quick and bounded.
fn run_edited(tmp: &tempfile::TempDir, what: &str) -> Tally {
    let dir = tmp.path().join("in");
    let victim = Victim {
        names: document_ids(&dir)
            .into_iter()
            .chain(["chunk".into(), "event.json".into()])
            .collect(),
        what: what.into(),
        garbage: false,
        garbage_media: false,
    };
    let mut tally = Tally::default();
    run(&dir, &tmp.path().join("out"), &victim, &mut tally);
    eprintln!("{what}: {tally:?}");
    tally
}

#[test]
fn a_pause_of_1e15_ms_does_not_make_a_wall_clock_stitch_allocate_or_loop_by_its_length() {
    // 9e12 ms (285 years) still fits the nanosecond range: the compact stitch ignores it, the
    // wall-clock one refuses a gap no 32-bit sample duration holds. 1e15 ms makes the metadata
    // invalid: the compact stitch does without it, the wall-clock one cannot.
    for (ms, stitched) in [(9e12, 1), (1e15, 1)] {
        let tmp = edited("paused", |_, v| {
            if let Some(p) = v.get_mut("pauseResumeIntervals").and_then(|p| p.get_mut(0)) {
                p["duration"] = json!(ms);
            }
        });
        let tally = run_edited(&tmp, &format!("paused with pauses of {ms} ms"));
        assert_eq!(
            (tally.stitched, tally.stitch_failed),
            (stitched, 2 - stitched)
        );
    }
}

#[test]
fn a_chunk_duration_of_centuries_matched_by_the_event_stays_bounded() {
    // 9e12 ms (285 years) still fits the nanosecond range and stitches (the media decides the
    // compact output; the wall clock puts chunk 1 where its chunkStartTime says); 1e18 ms makes
    // the metadata invalid (only the compact stitch does without it); 1e300 is refused already
    // in event.json.
    for (ms, stitched, open_failed) in [(9e12, 2, 0), (1e18, 1, 0), (1e300, 0, 1)] {
        let tmp = edited("basic", |file, v| {
            if file == "event.json" {
                event_data(v)["recordingDurationMs"] = json!(ms + 10000.0);
            } else if v["chunkIndex"] == json!(0) {
                v["chunkDuration"] = json!(ms);
            }
        });
        let tally = run_edited(&tmp, &format!("basic with chunk 0 lasting {ms} ms"));
        assert_eq!((tally.stitched, tally.open_failed), (stitched, open_failed));
    }
}

#[test]
fn timestamps_in_year_0001_and_9999_stay_bounded() {
    // Wall-clock gaps of millennia (saturated at 292 years) are refused by the wall-clock
    // stitch; chunks that start before their predecessor overlap it on the timeline and stitch.
    for (start, chunk2, stitched) in [
        ("0001-01-01T00:00:00Z", None, 1),
        ("9999-12-31T23:59:59.9999999Z", None, 2),
        (
            "0001-01-01T00:00:00Z",
            Some("9999-12-31T23:59:59.9999999Z"),
            1,
        ),
        (
            "2024-05-14T16:32:34.1115003Z",
            Some("9999-12-31T23:59:59.9999999Z"),
            1,
        ),
        (
            "2024-05-14T16:32:34.1115003Z",
            Some("0001-01-01T00:00:00Z"),
            2,
        ),
    ] {
        let tmp = edited("basic", |file, v| {
            if file == "event.json" {
                event_data(v)["recordingStartTime"] = json!(start);
            } else if v["chunkIndex"] == json!(0) {
                v["chunkStartTime"] = json!(start);
            } else if let (Some(t), true) = (chunk2, v["chunkIndex"] == json!(2)) {
                v["chunkStartTime"] = json!(t);
            }
        });
        let what = format!("basic starting {start}, chunk 2 at {chunk2:?}");
        let tally = run_edited(&tmp, &what);
        assert_eq!(tally.stitched, stitched, "{what}");
    }
}

#[test]
fn the_allocation_watcher_sees_allocations_on_its_thread_only() {
    let (v, largest) = watched(|| vec![1u8; 3 << 20]);
    assert!(largest >= 3 << 20, "{largest}");
    drop(v);
    let (_, largest) = watched(|| std::thread::spawn(|| vec![1u8; 5 << 20]).join().unwrap());
    assert!(largest < 5 << 20, "{largest}");
}
