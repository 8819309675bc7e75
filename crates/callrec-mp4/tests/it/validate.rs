//! The structural validator: clean fixtures have no defect; each broken fixture under
//! `testdata/corrupt/structure/` has exactly the defect its `expected.json` names.

use callrec_mp4::{validate, DefectKind};

use crate::util::fixture_chunks;

#[test]
fn clean_fixture_chunks_have_no_structural_defects() {
    let chunks = fixture_chunks();
    assert_eq!(chunks.len(), 30, "fixture chunks under testdata/recordings");
    for path in &chunks {
        let data = std::fs::read(path).unwrap();
        let defects = validate(&data).unwrap();
        assert!(defects.is_empty(), "{}: {defects:#?}", path.display());
    }
}

#[test]
fn every_defect_kind_has_a_distinct_mp4_code() {
    let mut codes: Vec<&str> = DefectKind::ALL.iter().map(|k| k.code()).collect();
    assert!(codes.iter().all(|c| c.starts_with("mp4.")));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), DefectKind::ALL.len());
}

#[test]
fn each_broken_fixture_has_exactly_its_defect() {
    let dir = crate::util::testdata().join("corrupt/structure");
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(expected.len(), 18, "broken fixtures in {}", dir.display());
    let mut kinds = Vec::new();
    for (name, want) in &expected {
        let data = std::fs::read(dir.join(name)).unwrap();
        callrec_mp4::Movie::parse(&data).unwrap_or_else(|e| panic!("{name} must parse: {e}"));
        let defects = validate(&data).unwrap();
        // A fragment removed or swapped is the same defect on every track: the first is named.
        let count = want.get("defects").and_then(|n| n.as_u64()).unwrap_or(1);
        assert_eq!(defects.len() as u64, count, "{name}: {defects:#?}");
        assert!(
            defects.iter().all(|x| x.kind == defects[0].kind),
            "{name}: {defects:#?}"
        );
        let d = &defects[0];
        assert_eq!(d.kind.code(), want["code"], "{name}: {d}");
        assert_eq!(
            Some(want["track_index"].as_u64().unwrap() as usize),
            d.track_index,
            "{name}"
        );
        assert_eq!(d.path, want["path"].as_str().unwrap(), "{name}: {d}");
        assert_eq!(d.sample, want["sample"].as_u64(), "{name}: {d}");
        kinds.push(d.kind);
    }
    kinds.sort();
    kinds.dedup();
    // mp4.stts: a zero and a huge delta; mp4.sample_data: a wrong stco and trun offset;
    // mp4.decode_order: fragments swapped and a tfdt set back; mp4.elst: rate 0, past the end.
    assert_eq!(
        kinds.len(),
        14,
        "every defect kind has a fixture: {kinds:?}"
    );
    assert_eq!(kinds.len(), DefectKind::ALL.len());
}

/// The chunk of `recording` with index 0.
fn chunk0(recording: &str) -> Vec<u8> {
    let dir = crate::util::testdata().join("recordings").join(recording);
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("event.json")).unwrap()).unwrap();
    let event = if event.is_array() { &event[0] } else { &event };
    let doc = event["data"]["recordingStorageInfo"]["recordingChunks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["index"] == 0)
        .unwrap()["documentId"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::read(dir.join(format!("{doc}.mp4"))).unwrap()
}

/// Offsets of every box header of type `fourcc` (the size field), in file order.
fn boxes_of(data: &[u8], fourcc: &[u8; 4]) -> Vec<usize> {
    data.windows(4)
        .enumerate()
        .filter(|(_, w)| w == fourcc)
        .map(|(i, _)| i - 4)
        .collect()
}

fn put(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn an_stsc_entry_past_the_chunk_offsets_is_a_defect() {
    let mut d = chunk0("basic");
    // The audio track's stsc (the second): entries (1,1) (2,2) (23,1) (24,2) over 41 chunks.
    let stsc = boxes_of(&d, b"stsc")[1];
    let chunks = u32::from_be_bytes(d[boxes_of(&d, b"stco")[1] + 12..][..4].try_into().unwrap());
    put(&mut d, stsc + 16 + 12 * 2, chunks + 1);
    callrec_mp4::Movie::parse(&d).expect("still parses: entry 1 covers the samples");
    let defects = validate(&d).unwrap();
    assert_eq!(defects.len(), 1, "{defects:#?}");
    assert_eq!(defects[0].kind, DefectKind::Stsc);
    assert_eq!(defects[0].track_index, Some(1));
    assert!(defects[0].reason.contains("past") || defects[0].reason.contains("lists"));
}

#[test]
fn a_zero_duration_inside_a_fragment_is_a_defect_naming_the_sample() {
    let mut d = chunk0("fragmented");
    let trun = boxes_of(&d, b"trun")[0];
    let flags = u32::from_be_bytes(d[trun + 8..trun + 12].try_into().unwrap()) & 0xff_ffff;
    assert!(flags & 0x100 != 0, "per-sample durations");
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|f| flags & **f != 0)
        .count();
    let first = trun + 16 + 4 * usize::from(flags & 1 != 0) + 4 * usize::from(flags & 4 != 0);
    // Sample 3 of the video track.
    put(&mut d, first + 4 * per * 3, 0);
    let defects = validate(&d).unwrap();
    let z: Vec<_> = defects
        .iter()
        .filter(|x| x.kind == DefectKind::Stts)
        .collect();
    assert_eq!(z.len(), 1, "{defects:#?}");
    assert_eq!((z[0].track_index, z[0].sample), (Some(0), Some(3)));
}

/// The defects of a movie whose video track is the basic fixture's, with one sample over
/// `sample` (in a buffer that is all one mdat payload) and no audio.
fn nal_defects(sample: &[u8]) -> Vec<callrec_mp4::Defect> {
    let mut movie = callrec_mp4::Movie::parse(&chunk0("basic")).unwrap();
    let mut data = b"junkjunk".to_vec();
    let offset = data.len() as u64;
    data.extend_from_slice(sample);
    for t in &mut movie.tracks {
        let first = t.samples[0];
        t.samples.clear();
        if t.kind == callrec_mp4::TrackKind::Video {
            t.samples.push(callrec_mp4::Sample {
                offset,
                size: sample.len() as u32,
                ..first
            });
        }
    }
    let whole = 0..data.len() as u64;
    movie.mdats = Vec::from([whole]);
    callrec_mp4::validate_movie(&data, &movie)
}

#[test]
fn nal_length_prefixes_must_tile_each_h264_sample() {
    let kinds = |s: &[u8]| -> Vec<DefectKind> { nal_defects(s).iter().map(|d| d.kind).collect() };
    // Two NAL units (an SEI and an IDR slice) tiling the sample.
    assert_eq!(kinds(&[0, 0, 0, 2, 6, 5, 0, 0, 0, 2, 0x65, 0x88]), []);
    // Zero padding after the last unit.
    assert_eq!(kinds(&[0, 0, 0, 2, 0x65, 0x88, 0, 0, 0]), []);
    // A length past the sample; a prefix cut short; a forbidden bit; type 24; all zeros.
    for bad in [
        &[0, 0, 0, 5, 0x65, 0x88][..],
        &[0, 0, 0, 2, 0x65, 0x88, 0, 0, 1],
        &[0, 0, 0, 2, 0xe5, 0x88],
        &[0, 0, 0, 2, 0x78, 0x88],
        &[0, 0, 0, 0, 0, 0],
    ] {
        let d = nal_defects(bad);
        assert_eq!(d.len(), 1, "{bad:?}: {d:#?}");
        assert_eq!(d[0].kind, DefectKind::SampleData, "{bad:?}");
        assert_eq!(d[0].sample, Some(0));
        assert_eq!(d[0].path, "moov/trak[0]/mdia/minf/stbl/stco");
    }
    let d = nal_defects(&[]);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].kind, d[0].path.as_str()),
        (DefectKind::EmptySample, "moov/trak[0]/mdia/minf/stbl/stsz")
    );
}

/// `validate_source_skipping` does not walk the NAL units of the video samples lying wholly
/// inside a skipped range: a broken sample is found unless it is skipped; the empty-sample
/// check runs on every sample the walk reaches.
#[test]
#[allow(clippy::single_range_in_vec_init)] // one-range skip lists are the point
fn nal_walk_skips_only_samples_wholly_inside_the_skipped_ranges() {
    let mut movie = callrec_mp4::Movie::parse(&chunk0("basic")).unwrap();
    // Sample 0 good (bytes 0..6), sample 1 broken (6..12: a forbidden bit), sample 2 empty.
    let data = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 2, 0xe5, 0x88];
    for t in &mut movie.tracks {
        let first = t.samples[0];
        t.samples.clear();
        if t.kind == callrec_mp4::TrackKind::Video {
            for (offset, size) in [(0, 6), (6, 6), (12, 0)] {
                t.samples.push(callrec_mp4::Sample {
                    offset,
                    size,
                    ..first
                });
            }
        }
    }
    movie.mdats = vec![0..data.len() as u64];
    let src: &[u8] = &data;
    let kinds = |skip: &[std::ops::Range<u64>]| -> Vec<(DefectKind, Option<u64>)> {
        callrec_mp4::validate_source_skipping(&src, &movie, skip)
            .unwrap()
            .iter()
            .map(|d| (d.kind, d.sample))
            .collect()
    };
    let empty = (DefectKind::EmptySample, Some(2));
    let broken = (DefectKind::SampleData, Some(1));
    // The walk stops at the first faulty sample (the empty one after it is not reached).
    assert_eq!(kinds(&[]), [broken]);
    assert_eq!(kinds(&[0..6]), [broken]);
    assert_eq!(kinds(&[6..12]), [empty]);
    assert_eq!(kinds(&[0..12]), [empty]);
    assert_eq!(kinds(&[0..3, 4..100]), [empty]);
    // Split inside sample 1: it lies wholly inside neither part, and is walked.
    assert_eq!(kinds(&[0..9, 9..100]), [broken]);
    assert_eq!(kinds(&[7..100]), [broken]);
    let all: Vec<_> = callrec_mp4::validate_source(&src, &movie)
        .unwrap()
        .iter()
        .map(|d| (d.kind, d.sample))
        .collect();
    assert_eq!(all, [broken]);
}

/// `validate_tables` then `Tables::walk` give `validate_source`'s defects in its order: the
/// video track's NAL defect (track 0, found by the walk) before the audio track's stray sample
/// (track 1, found by the tables), although the walk runs last.
#[test]
#[allow(clippy::single_range_in_vec_init)] // one mdat is the point
fn tables_then_walk_keep_the_track_order_of_the_defects() {
    let mut movie = callrec_mp4::Movie::parse(&chunk0("basic")).unwrap();
    // Video: sample 0 good (bytes 0..6), sample 1 broken (6..12: a forbidden bit). Audio: one
    // sample past every mdat.
    let data = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 2, 0xe5, 0x88];
    for t in &mut movie.tracks {
        let first = t.samples[0];
        t.samples.clear();
        let samples: &[(u64, u32)] = match t.kind {
            callrec_mp4::TrackKind::Video => &[(0, 6), (6, 6)],
            _ => &[(8, 8)],
        };
        for &(offset, size) in samples {
            t.samples.push(callrec_mp4::Sample {
                offset,
                size,
                ..first
            });
        }
    }
    assert_eq!(movie.tracks[0].kind, callrec_mp4::TrackKind::Video);
    movie.mdats = vec![0..data.len() as u64];
    let src: &[u8] = &data;
    let kinds = |defects: &[callrec_mp4::Defect]| -> Vec<(DefectKind, Option<usize>)> {
        defects.iter().map(|d| (d.kind, d.track_index)).collect()
    };
    let tables = callrec_mp4::validate_tables(&src, &movie).unwrap();
    let found = kinds(tables.defects());
    // The audio track's defects (its edit no longer fits one sample, too); none on the video.
    assert_eq!(found[0], (DefectKind::SampleRange, Some(1)), "{found:?}");
    assert!(found.iter().all(|(_, t)| *t == Some(1)), "{found:?}");
    let all = kinds(&tables.walk(&src, &movie, &[]).unwrap());
    let mut want = vec![(DefectKind::SampleData, Some(0))];
    want.extend(found);
    assert_eq!(all, want);
    let one_step = callrec_mp4::validate_source(&src, &movie).unwrap();
    assert_eq!(kinds(&one_step), want);
}
