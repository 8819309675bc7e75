//! Crafted files against the sample budget: a `trun` or constant-size `stsz` claiming more
//! samples than the file holds is refused naming the box before anything is allocated, the
//! samples of all tracks together never outnumber the file's bytes, and version-0 composition
//! offsets above 2^31 - 1 are refused instead of turning negative.

use callrec_mp4::boxes::{Ctts, Moov, Mp4Box, Stco, Stsc, StscEntry, Stsz, Stts, SttsEntry};
use callrec_mp4::fragment::{Moof, Trun};
use callrec_mp4::{Error, Movie, ParseOptions, Reader, Sample};

use crate::robustness::{parse_bounded, PEAK_FIXED, PEAK_PER_FILE_BYTE};
use crate::util::fixture_chunks;

const BOTH: [ParseOptions; 2] = [
    ParseOptions {
        allow_truncated_tail: false,
    },
    ParseOptions {
        allow_truncated_tail: true,
    },
];

fn first_chunk(recording: &str) -> Vec<u8> {
    let path = fixture_chunks()
        .into_iter()
        .find(|p| p.parent().unwrap().ends_with(recording))
        .unwrap_or_else(|| panic!("a {recording} fixture"));
    std::fs::read(path).unwrap()
}

/// Re-encodes the first top-level box of type `T` after `edit`, keeping every other byte.
fn rewrite<T: Mp4Box>(data: &[u8], edit: impl FnOnce(&mut T)) -> Vec<u8> {
    let mut r = Reader::new(data);
    while let Some((h, mut c)) = r.next_box().unwrap() {
        if h.fourcc == T::FOURCC {
            let mut b = T::parse(&mut c).unwrap();
            edit(&mut b);
            let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
            let mut out = data[..start].to_vec();
            b.encode(&mut out);
            out.extend_from_slice(&data[end..]);
            return out;
        }
    }
    panic!("no {}", T::FOURCC);
}

fn count_too_large(e: &Error) -> Option<(&str, u64)> {
    match e {
        Error::CountTooLarge { path, count, .. } => Some((path.as_str(), *count)),
        _ => None,
    }
}

#[test]
fn a_trun_of_0x7fffffff_samples_without_per_sample_fields_is_refused_naming_it() {
    let data = first_chunk("fragmented");
    for default_size in [None, Some(0), Some(1)] {
        let bad = rewrite::<Moof>(&data, |moof| {
            let traf = &mut moof.traf[0];
            if default_size.is_some() {
                traf.tfhd.default_sample_size = default_size;
            }
            traf.trun[0] = Trun {
                sample_count: 0x7fff_ffff,
                samples: Vec::new(),
                ..traf.trun[0].clone()
            };
        });
        for r in parse_bounded(&bad, &BOTH, &|| format!("default size {default_size:?}")) {
            let e = r.expect_err("a 2^31-sample trun");
            assert_eq!(
                count_too_large(&e),
                Some(("moof[0]/traf[0]/trun[0]", 0x7fff_ffff)),
                "{e}"
            );
            assert!(e.to_string().contains("trun"), "{e}");
        }
    }
}

#[test]
fn a_constant_size_stsz_with_a_huge_count_is_refused_naming_it() {
    let data = first_chunk("basic");
    for count in [u32::MAX, data.len() as u32 + 1] {
        let bad = rewrite::<Moov>(&data, |moov| {
            moov.traks[0].mdia.minf.stbl.stsz = Some(Stsz {
                sample_size: 1,
                sample_count: count,
                entries: Vec::new(),
            });
        });
        for r in parse_bounded(&bad, &BOTH, &|| format!("count {count}")) {
            let e = r.expect_err("a huge stsz");
            assert_eq!(
                count_too_large(&e),
                Some(("moov/trak[0]/mdia/minf/stbl/stsz", u64::from(count))),
                "{e}"
            );
        }
    }
}

/// Both tracks of a basic chunk turned into `count` one-byte samples in one chunk each.
fn one_byte_samples(data: &[u8], count: u32) -> Vec<u8> {
    rewrite::<Moov>(data, |moov| {
        for trak in &mut moov.traks {
            let stbl = &mut trak.mdia.minf.stbl;
            stbl.stsz = Some(Stsz {
                sample_size: 1,
                sample_count: count,
                entries: Vec::new(),
            });
            stbl.stts = Stts {
                entries: vec![SttsEntry {
                    sample_count: count,
                    sample_delta: 1,
                }],
            };
            stbl.stsc = Stsc {
                entries: vec![StscEntry {
                    first_chunk: 1,
                    samples_per_chunk: count,
                    sample_description_index: 1,
                }],
            };
            stbl.stco = Some(Stco { entries: vec![0] });
            stbl.co64 = None;
            stbl.ctts = None;
            stbl.stss = None;
            stbl.sdtp = None;
        }
    })
}

/// The sample budget is shared by all tracks: each track's one-byte samples fit in the file,
/// but not both together. Just under the limit the parse succeeds and its sample lists are
/// the largest the bound allows, still within 40 bytes per file byte.
#[test]
fn the_samples_of_all_tracks_together_never_outnumber_the_file_bytes() {
    let data = first_chunk("basic");
    // The tables' sizes do not depend on the count: measure the file once.
    let len = one_byte_samples(&data, 1).len();
    let over = (len * 6 / 10) as u32;
    let bad = one_byte_samples(&data, over);
    assert_eq!(bad.len(), len);
    for r in parse_bounded(&bad, &BOTH, &|| "0.6 x len per track".into()) {
        let e = r.expect_err("1.2 samples per file byte");
        let (path, count) = count_too_large(&e).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(
            (path, count),
            ("moov/trak[1]/mdia/minf/stbl/stsz", u64::from(over))
        );
    }
    let under = (len * 49 / 100) as u32;
    let ok = one_byte_samples(&data, under);
    for r in parse_bounded(&ok, &BOTH, &|| "0.49 x len per track".into()) {
        let m = r.unwrap();
        let n: usize = m.tracks.iter().map(|t| t.samples.len()).sum();
        assert_eq!(n, 2 * under as usize);
        let bytes: usize = m
            .tracks
            .iter()
            .map(|t| t.samples.capacity() * std::mem::size_of::<Sample>())
            .sum();
        assert_eq!(bytes, n * 40, "allocated at the exact size");
        assert!(bytes <= 40 * len && bytes > 39 * len, "{bytes} for {len}");
        assert!(bytes < PEAK_PER_FILE_BYTE * len + PEAK_FIXED);
    }
}

/// Version 0 composition offsets are unsigned (ISO/IEC 14496-12 8.6.1.3, 8.8.8).
#[test]
fn version_0_composition_offsets_above_i32_max_are_refused_naming_the_box() {
    let ctts = |version: u8, offset: u32| {
        let mut b = vec![
            0, 0, 0, 24, b'c', b't', b't', b's', version, 0, 0, 0, 0, 0, 0, 1,
        ];
        b.extend_from_slice(&[0, 0, 0, 1]);
        b.extend_from_slice(&offset.to_be_bytes());
        b
    };
    let e = Ctts::decode(&ctts(0, 0x8000_0000)).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { path, offset: 20, .. } if path == "ctts"),
        "{e}"
    );
    assert_eq!(
        Ctts::decode(&ctts(0, 0x7fff_ffff)).unwrap().entries[0].sample_offset,
        i32::MAX
    );
    assert_eq!(
        Ctts::decode(&ctts(1, 0x8000_0000)).unwrap().entries[0].sample_offset,
        i32::MIN
    );

    let trun = |version: u8, offset: u32| {
        let mut b = vec![0, 0, 0, 20, b't', b'r', b'u', b'n', version, 0, 0x08, 0];
        b.extend_from_slice(&[0, 0, 0, 1]);
        b.extend_from_slice(&offset.to_be_bytes());
        b
    };
    let e = Trun::decode(&trun(0, 0xffff_fff0)).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid { path, offset: 16, .. } if path == "trun"),
        "{e}"
    );
    assert_eq!(
        Trun::decode(&trun(1, 0xffff_fff0)).unwrap().samples[0].cts_offset,
        Some(-16)
    );

    // In a real file: the B-frame fixture's first ctts offset with its top bit set.
    let mut data = first_chunk("bframes");
    let at = data.windows(4).position(|w| w == b"ctts").expect("a ctts") + 4;
    assert_eq!(data[at], 0, "ffmpeg writes ctts v0");
    assert!(Movie::parse(&data).is_ok());
    data[at + 12] |= 0x80;
    let e = Movie::parse(&data).unwrap_err();
    assert_eq!(e.path(), "moov/trak[0]/mdia/minf/stbl/ctts", "{e}");
    assert!(e.to_string().contains("version 0"), "{e}");
}
