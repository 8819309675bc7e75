//! Independent cross-check of progressive sample tables with the `mp4` crate (0.14).

use std::io::Cursor;

use callrec_mp4::Movie;

use crate::util::fixture_chunks;

#[test]
fn progressive_sample_tables_agree_with_the_mp4_crate() {
    let mut n = 0;
    for path in fixture_chunks() {
        let data = std::fs::read(&path).unwrap();
        let movie = Movie::parse(&data).unwrap();
        if movie.fragmented {
            continue; // the mp4 crate reads one trun only
        }
        let mut other = mp4::Mp4Reader::read_header(Cursor::new(&data), data.len() as u64).unwrap();
        for t in &movie.tracks {
            let count = other.sample_count(t.id).unwrap();
            assert_eq!(
                count as usize,
                t.samples.len(),
                "{} track {}",
                path.display(),
                t.id
            );
            for (i, s) in t.samples.iter().enumerate() {
                let o = other.read_sample(t.id, i as u32 + 1).unwrap().unwrap();
                assert_eq!(
                    o.start_time,
                    s.dts,
                    "{} track {} sample {i}",
                    path.display(),
                    t.id
                );
                assert_eq!(o.duration, s.duration);
                assert_eq!(o.rendering_offset, s.cts_offset);
                assert_eq!(o.is_sync, s.sync);
                assert_eq!(o.bytes.len(), s.size as usize);
                assert_eq!(
                    &o.bytes[..],
                    &data[s.offset as usize..(s.offset + u64::from(s.size)) as usize]
                );
            }
            n += 1;
        }
    }
    assert!(n > 0);
}
