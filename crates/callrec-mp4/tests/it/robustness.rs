//! Every truncated prefix and 2,000 seeded byte flips of every fixture (valid and corrupt) go
//! through the parser with no panic and a bounded allocation.
//!
//! The bounds, for a file of `len` bytes:
//! - the sample lists of a parse hold at most `len` samples over all tracks (every sample
//!   occupies at least one byte of the file) and are allocated once at their exact size, so they
//!   take at most `size_of::<Sample>()` (40) bytes per file byte: asserted on every successful
//!   parse ([`SAMPLE_BYTES_PER_FILE_BYTE`]);
//! - the peak allocation of a whole parse is at most 64 bytes per file byte + 64 KiB
//!   ([`PEAK_PER_FILE_BYTE`], [`PEAK_FIXED`]): 40 for the sample lists, at most 8 for parsed
//!   tables (a 4-byte `trun` entry becomes a 32-byte `TrunSample`; other tables, raw boxes and
//!   box structs expand less, vectors of boxes at most 3x while they grow), 16 to spare; the
//!   fixed part covers paths, error strings and hash maps. On the fixtures the measured peak
//!   stays under 3 bytes per file byte.
//!
//! Prefixes: every prefix of every file is parsed with both [`ParseOptions`], except inside an
//! `mdat` payload that follows a `moov` or `moof` (the faststart and fragmented recordings and
//! `corrupt/truncated_mdat.mp4`, 7 files): each such prefix re-parses the whole `moov` and the
//! fragments before it (100-200 µs in the debug profile, over a minute for all of them), so
//! there the first and last 64 bytes of the payload and every 61st prefix in between are parsed
//! with both options, and every prefix of the 3 faststart chunks once, with
//! `allow_truncated_tail` (the strict parse of such a prefix reads the same `moov` and then
//! fails on the `mdat` header, which the other prefixes cover). Not parsed at every prefix: the
//! `mdat` payloads of the fragmented recording and of `truncated_mdat.mp4`, where a cut
//! changes nothing but the bytes available of the last box.

use std::path::{Path, PathBuf};

use callrec_mp4::{Movie, ParseOptions, Reader, Sample};

use crate::alloc;
use crate::util::{fixture_chunks, testdata};

/// Bytes of sample list per file byte that a parse may hold: one `Sample` per file byte.
pub const SAMPLE_BYTES_PER_FILE_BYTE: usize = std::mem::size_of::<Sample>();
/// Peak allocation of a whole parse per file byte.
pub const PEAK_PER_FILE_BYTE: usize = 64;
/// Peak allocation of a whole parse, fixed part.
pub const PEAK_FIXED: usize = 64 << 10;

fn all_files() -> Vec<PathBuf> {
    let mut v = fixture_chunks();
    if let Ok(d) = std::fs::read_dir(testdata().join("corrupt")) {
        v.extend(
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "mp4")),
        );
    }
    v.sort();
    v
}

const BOTH: [ParseOptions; 2] = [
    ParseOptions {
        allow_truncated_tail: false,
    },
    ParseOptions {
        allow_truncated_tail: true,
    },
];

/// Parses `data` with each of `opts`, asserting the allocation bounds; returns the results.
pub fn parse_bounded(
    data: &[u8],
    opts: &[ParseOptions],
    what: &dyn Fn() -> String,
) -> Vec<callrec_mp4::Result<Movie>> {
    let bound = PEAK_PER_FILE_BYTE * data.len() + PEAK_FIXED;
    let mut out = Vec::new();
    for &o in opts {
        let base = alloc::in_use();
        alloc::reset_peak();
        let result = Movie::parse_with(data, o);
        let peak = alloc::peak_since(base);
        assert!(
            peak <= bound,
            "{} ({o:?}): peak allocation {peak} > bound {bound}",
            what()
        );
        if let Ok(m) = &result {
            let bytes: usize = m
                .tracks
                .iter()
                .map(|t| t.samples.capacity() * std::mem::size_of::<Sample>())
                .sum();
            assert!(
                bytes <= SAMPLE_BYTES_PER_FILE_BYTE * data.len(),
                "{} ({o:?}): {bytes} bytes of sample lists for {} file bytes",
                what(),
                data.len()
            );
        }
        out.push(result);
    }
    out
}

/// Offsets of interest: every byte of every top-level box other than `mdat`, plus the first
/// and last 4 KiB.
fn dense_ranges(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut v = vec![
        0..data.len().min(4096),
        data.len().saturating_sub(4096)..data.len(),
    ];
    let mut r = Reader::new(data);
    while let Ok(Some((h, _))) = r.next_box() {
        if h.fourcc.0 != *b"mdat" {
            v.push(h.offset as usize..(h.offset + h.size) as usize);
        }
    }
    v
}

/// Payloads of the `mdat` boxes that follow a `moov` or `moof` (cutting inside one leaves a
/// parseable header in front), without their first and last 64 bytes.
fn costly_payloads(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut v = Vec::new();
    let mut header_seen = false;
    let mut r = Reader::new(data);
    while let Ok(Some((h, _))) = r.next_box() {
        match &h.fourcc.0 {
            b"moov" | b"moof" => header_seen = true,
            b"mdat" if header_seen => {
                let start = (h.offset + h.header_len) as usize + 64;
                let end = ((h.offset + h.size) as usize).saturating_sub(64);
                if start < end {
                    v.push(start..end);
                }
            }
            _ => {}
        }
    }
    v
}

/// Parses the prefixes of one file (see the module comment); returns (parsed, skipped).
fn sweep_prefixes(path: &Path) -> (usize, usize) {
    let data = std::fs::read(path).unwrap();
    let costly = costly_payloads(&data);
    let (mut parsed, mut skipped) = (0, 0);
    for len in 0..=data.len() {
        if len % 61 != 0 && costly.iter().any(|r| r.contains(&len)) {
            skipped += 1;
            continue;
        }
        parse_bounded(&data[..len], &BOTH, &|| {
            format!("{} prefix {len}", path.display())
        });
        parsed += 1;
    }
    (parsed, skipped)
}

#[test]
fn every_truncated_prefix_parses_or_errors() {
    let files = all_files();
    assert_eq!(files.len(), 35, "30 fixture chunks and 5 corrupt files");
    let mut sparse_files = 0;
    for path in &files {
        let (parsed, skipped) = sweep_prefixes(path);
        let len = std::fs::metadata(path).unwrap().len() as usize;
        assert_eq!(parsed + skipped, len + 1);
        let recording = path.parent().and_then(Path::file_name);
        let moov_first =
            ["faststart", "fragmented", "fragmented_bframes"].map(|d| Some(d.as_ref()));
        if moov_first.contains(&recording) || path.ends_with("corrupt/truncated_mdat.mp4") {
            sparse_files += 1;
        } else {
            assert_eq!(skipped, 0, "{}: every prefix", path.display());
        }
    }
    assert_eq!(sparse_files, 10);
}

#[test]
fn every_truncated_prefix_of_the_faststart_recording_parses_or_errors() {
    let files: Vec<_> = fixture_chunks()
        .into_iter()
        .filter(|p| p.parent().and_then(Path::file_name) == Some("faststart".as_ref()))
        .collect();
    assert_eq!(files.len(), 3);
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let mut tails = 0;
        for len in 0..=data.len() {
            let r = parse_bounded(&data[..len], &BOTH[1..], &|| {
                format!("{} prefix {len}", path.display())
            });
            if let [Ok(m)] = r.as_slice() {
                tails += usize::from(m.truncated_tail.is_some());
            }
        }
        // Once the moov is whole, every cut inside the mdat payload is a truncated tail.
        let mdat = costly_payloads(&data);
        assert!(
            tails >= mdat.iter().map(|r| r.len()).sum(),
            "{}",
            path.display()
        );
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn seeded_byte_flips_parse_or_error() {
    for (fi, path) in all_files().into_iter().enumerate() {
        let mut data = std::fs::read(&path).unwrap();
        if data.is_empty() {
            continue;
        }
        // Flip bytes where the parser looks (outside mdat payloads) most of the time.
        let dense: Vec<_> = dense_ranges(&data)
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ (fi as u64 + 1));
        for k in 0..2000 {
            let pos = if k % 4 == 0 {
                (rng.next() % data.len() as u64) as usize
            } else {
                let r = &dense[(rng.next() % dense.len() as u64) as usize];
                r.start + (rng.next() % (r.end - r.start) as u64) as usize
            };
            let old = data[pos];
            let new = match rng.next() % 4 {
                0 => 0,
                1 => 0xff,
                2 => old ^ (1 << (rng.next() % 8)),
                _ => rng.next() as u8,
            };
            data[pos] = new;
            parse_bounded(&data, &BOTH, &|| {
                format!("{} flip {k} at {pos}: {old:#x} -> {new:#x}", path.display())
            });
            data[pos] = old;
        }
    }
}

#[test]
fn the_counting_allocator_sees_a_parse() {
    let path = fixture_chunks().into_iter().next().expect("a fixture");
    let data = std::fs::read(&path).unwrap();
    let base = alloc::in_use();
    alloc::reset_peak();
    let movie = Movie::parse(&data).unwrap();
    let peak = alloc::peak_since(base);
    let samples: usize = movie.tracks.iter().map(|t| t.samples.len()).sum();
    assert!(
        peak >= samples * std::mem::size_of::<callrec_mp4::Sample>(),
        "peak {peak}"
    );
}

#[test]
fn a_file_ending_inside_a_header_is_a_truncated_tail_when_allowed() {
    let path = fixture_chunks().into_iter().next().expect("a fixture");
    let mut data = std::fs::read(&path).unwrap();
    let good = Movie::parse(&data).unwrap();
    data.extend_from_slice(&[0, 0, 0x10, 0, b'm', b'o']);
    assert!(Movie::parse(&data).is_err());
    let m = Movie::parse_with(
        &data,
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .unwrap();
    let tail = m.truncated_tail.unwrap();
    assert_eq!((tail.offset, tail.available), (data.len() as u64 - 6, 6));
    assert_eq!(m.tracks, good.tracks);
}
