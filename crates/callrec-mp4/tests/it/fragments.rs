//! Fragment defaults resolved by hand-built files: trex defaults, tfhd overrides, first sample
//! flags, base offsets without default-base-is-moof, tfdt absent (times continue).

use callrec_mp4::boxes::{Moov, Mp4Box};
use callrec_mp4::fragment::{Mfhd, Moof, Tfhd, Traf, Trex, Trun, TrunSample};
use callrec_mp4::reader::Reader;
use callrec_mp4::Movie;

use crate::util::fixture_chunks;

/// The first track of the first fragmented fixture's moov, alone, with `trex`.
fn moov_with(trex: Trex) -> Moov {
    let path = fixture_chunks()
        .into_iter()
        .find(|p| p.to_str().unwrap().contains("/fragmented/"))
        .expect("a fragmented fixture");
    let data = std::fs::read(path).unwrap();
    let mut r = Reader::new(&data);
    while let Some((h, mut c)) = r.next_box().unwrap() {
        if h.fourcc.0 == *b"moov" {
            let mut moov = Moov::parse(&mut c).unwrap();
            moov.traks.truncate(1);
            moov.traks[0].tkhd.track_id = trex.track_id;
            let mvex = moov.mvex.as_mut().unwrap();
            mvex.trex = vec![trex];
            return moov;
        }
    }
    panic!("no moov");
}

#[test]
fn defaults_resolve_from_trex_then_tfhd_then_trun() {
    let trex = Trex {
        track_id: 7,
        default_sample_description_index: 1,
        default_sample_duration: 100,
        default_sample_size: 10,
        default_sample_flags: 0x0001_0000, // non-sync
    };
    let mut file = Vec::new();
    moov_with(trex).encode(&mut file);
    // Fragment 1: all defaults from trex, first sample flagged sync, no data offset: the data
    // starts at the moof (first traf, no base offset, no default-base-is-moof).
    let moof1_at = file.len() as u64;
    Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 7,
                ..Tfhd::default()
            },
            tfdt: None,
            trun: vec![Trun {
                data_offset: None,
                first_sample_flags: Some(0),
                sample_count: 3,
                samples: vec![],
            }],
            other: vec![],
        }],
        other: vec![],
    }
    .encode(&mut file);
    // Fragment 2: tfhd overrides the duration, per-sample sizes, explicit data offset from
    // the moof, and no tfdt: decode times continue from fragment 1.
    let moof2_at = file.len() as u64;
    let moof2 = |data_offset| Moof {
        mfhd: Mfhd { sequence_number: 2 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 7,
                default_sample_duration: Some(50),
                default_base_is_moof: true,
                ..Tfhd::default()
            },
            tfdt: None,
            trun: vec![Trun {
                data_offset: Some(data_offset),
                first_sample_flags: None,
                sample_count: 2,
                samples: vec![
                    TrunSample {
                        size: Some(3),
                        cts_offset: Some(-5),
                        ..TrunSample::default()
                    },
                    TrunSample {
                        size: Some(4),
                        cts_offset: Some(7),
                        ..TrunSample::default()
                    },
                ],
            }],
            other: vec![],
        }],
        other: vec![],
    };
    let len = moof2(0).to_bytes().len() as i32;
    moof2(len + 8).encode(&mut file);
    file.extend_from_slice(&[0, 0, 0, 15, b'm', b'd', b'a', b't', 1, 2, 3, 4, 5, 6, 7]);

    let movie = Movie::parse(&file).unwrap();
    assert!(movie.fragmented);
    let got: Vec<_> = movie.tracks[0]
        .samples
        .iter()
        .map(|s| (s.offset, s.size, s.dts, s.pts(), s.duration, s.sync))
        .collect();
    let mdat = moof2_at + len as u64 + 8;
    assert_eq!(
        got,
        vec![
            (moof1_at, 10, 0, 0, 100, true),
            (moof1_at + 10, 10, 100, 100, 100, false),
            (moof1_at + 20, 10, 200, 200, 100, false),
            (mdat, 3, 300, 295, 50, false),
            (mdat + 3, 4, 350, 357, 50, false),
        ]
    );
    assert_eq!(movie.tracks[0].media_duration, 400);
}
