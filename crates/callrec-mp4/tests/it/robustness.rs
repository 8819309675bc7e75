//! Every truncated prefix and 2,000 seeded byte flips of every fixture (valid and corrupt) go
//! through the parser with no panic and a bounded allocation.
//!
//! The bound: 128 bytes per file byte + 1 MiB. Justification: the parser admits at most one
//! sample per file byte over all tracks (a sample budget), a `Sample` is 40 bytes and vectors
//! grow at most 2x (80 bytes), the parsed tables copy at most 8 bytes per wire byte (a `trun`
//! entry of 4 bytes becomes a 32-byte `TrunSample`), plus fixed overheads.

use std::path::PathBuf;

use callrec_mp4::{Movie, ParseOptions, Reader};

use crate::alloc;
use crate::util::{fixture_chunks, testdata};

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

fn parse_bounded(data: &[u8], what: &dyn Fn() -> String) {
    let bound = 128 * data.len() + (1 << 20);
    for opts in [
        ParseOptions::default(),
        ParseOptions {
            allow_truncated_tail: true,
        },
    ] {
        let base = alloc::in_use();
        alloc::reset_peak();
        let result = Movie::parse_with(data, opts);
        let peak = alloc::peak_since(base);
        drop(result);
        assert!(
            peak <= bound,
            "{}: peak allocation {peak} > bound {bound}",
            what()
        );
    }
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

#[test]
fn every_truncated_prefix_parses_or_errors() {
    for path in all_files() {
        let data = std::fs::read(&path).unwrap();
        let dense = dense_ranges(&data);
        for len in 0..=data.len() {
            if len % 61 != 0 && !dense.iter().any(|r| r.contains(&len) || r.end == len) {
                continue;
            }
            parse_bounded(&data[..len], &|| format!("{} prefix {len}", path.display()));
        }
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
            parse_bounded(&data, &|| {
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
