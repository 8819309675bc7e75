//! Loading fixture recordings into `ChunkInput`s, without callrec-meta.

use std::path::PathBuf;

use callrec_mp4::Movie;
use callrec_stitch::ChunkInput;
use serde_json::Value;

/// One recording: its event, and per chunk (in index order) the input, bytes and metadata.
pub struct Fixture {
    pub event: Value,
    pub chunks: Vec<ChunkInput>,
    pub bytes: Vec<Vec<u8>>,
    pub meta: Vec<Value>,
}

pub fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/recordings")
        .join(name)
}

pub fn load(name: &str) -> Fixture {
    let d = dir(name);
    let ev: Value = serde_json::from_slice(&std::fs::read(d.join("event.json")).unwrap()).unwrap();
    // An Event Grid / CloudEvents array, or a single event; `data` is under the event.
    let event = match ev {
        Value::Array(mut a) => a.remove(0),
        v => v,
    };
    let mut list: Vec<(u64, String)> = event["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["index"].as_u64().unwrap(),
                c["documentId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    let mut chunks = Vec::new();
    let mut bytes = Vec::new();
    let mut meta = Vec::new();
    for (index, id) in list {
        let path = d.join(format!("{id}.mp4"));
        let b = std::fs::read(&path).unwrap();
        let movie = Movie::parse(&b).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(d.join(format!("{id}.json"))).unwrap()).unwrap();
        chunks.push(ChunkInput {
            index: index as u32,
            name: id,
            path,
            movie,
            empty_edits: Vec::new(),
            wall_start_us: None,
        });
        bytes.push(b);
        meta.push(m);
    }
    Fixture {
        event,
        chunks,
        bytes,
        meta,
    }
}

impl Fixture {
    /// The chunk files still hold the bytes they held when loaded.
    pub fn assert_unchanged(&self) {
        for (c, b) in self.chunks.iter().zip(&self.bytes) {
            assert!(
                std::fs::read(&c.path).unwrap() == *b,
                "{} changed",
                c.path.display()
            );
        }
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.f{0,7}]Z` to µs since the epoch (fraction truncated to µs).
pub fn iso_to_us(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    let secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    let frac = s[19..].trim_end_matches('Z').trim_start_matches('.');
    let mut us = 0i64;
    for (i, c) in frac.chars().take(6).enumerate() {
        us += i64::from(c.to_digit(10).unwrap()) * 10i64.pow(5 - i as u32);
    }
    secs * 1_000_000 + us
}

#[test]
fn iso_times_parse() {
    assert_eq!(iso_to_us("1970-01-01T00:00:01Z"), 1_000_000);
    assert_eq!(
        iso_to_us("2024-05-16T10:20:32.125Z") - iso_to_us("2024-05-16T10:20:30.125Z"),
        2_000_000
    );
    assert_eq!(
        iso_to_us("2024-05-14T16:32:34.1115003Z") % 1_000_000,
        111_500
    );
    assert_eq!(iso_to_us("2000-03-01T00:00:00Z"), 951_868_800_000_000);
}
