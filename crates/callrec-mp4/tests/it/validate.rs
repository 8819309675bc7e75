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

#[test]
fn each_broken_fixture_has_exactly_its_defect() {
    let dir = crate::util::testdata().join("corrupt/structure");
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(expected.len(), 8, "broken fixtures in {}", dir.display());
    let mut kinds = Vec::new();
    for (name, want) in &expected {
        let data = std::fs::read(dir.join(name)).unwrap();
        callrec_mp4::Movie::parse(&data).unwrap_or_else(|e| panic!("{name} must parse: {e}"));
        let defects = validate(&data).unwrap();
        assert_eq!(defects.len(), 1, "{name}: {defects:#?}");
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
    assert_eq!(kinds.len(), 8, "one fixture per defect kind: {kinds:?}");
}
