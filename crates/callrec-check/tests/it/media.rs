//! Per-chunk media checks against metadata read directly from the fixture JSON.

use callrec_check::{check_chunk, ChunkRef, Options};

use crate::util::{chunks, expected_from_json, recording};

#[test]
fn dump_facts() {
    for name in [
        "basic",
        "bframes",
        "paused",
        "fragmented",
        "faststart",
        "mismatch",
    ] {
        for (idx, doc, mp4, meta) in chunks(&recording(name)) {
            let data = std::fs::read(&mp4).unwrap();
            let chunk = ChunkRef {
                index: idx,
                document_id: doc,
            };
            let (s, f) = check_chunk(
                Some(&data),
                &expected_from_json(&meta),
                &Options::default(),
                &chunk,
            );
            println!("{name} {idx} {}", serde_json::to_string(&s.media).unwrap());
            for x in f {
                println!("   {x}");
            }
        }
    }
}
