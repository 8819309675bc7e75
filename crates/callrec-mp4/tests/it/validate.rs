//! The structural validator: clean fixtures have no defect; each broken fixture under
//! `testdata/corrupt/structure/` has exactly the defect its `expected.json` names.

use callrec_mp4::{validate, DefectKind};

use crate::util::fixture_chunks;

#[test]
fn clean_fixture_chunks_have_no_structural_defects() {
    let chunks = fixture_chunks();
    assert_eq!(chunks.len(), 18, "fixture chunks under testdata/recordings");
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
