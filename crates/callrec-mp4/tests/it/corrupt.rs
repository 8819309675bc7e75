//! Every `testdata/corrupt/*.mp4` gives exactly the typed error its `expected.json` entry
//! describes (variant, box path, offset and sizes), which names the entry's box.

use callrec_mp4::{Error, Movie};
use serde_json::Value;

use crate::util::testdata;

/// The error an `expected.json` entry describes (written by `gen_helper.py corrupt`).
fn described_error(e: &Value) -> Error {
    let path = e["path"].as_str().unwrap().to_string();
    let n = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("no {k} in {e}"));
    match e["error"].as_str().unwrap() {
        "BoxPastEnd" => Error::BoxPastEnd {
            path,
            offset: n("offset"),
            size: n("size"),
            available: n("available"),
        },
        "ZeroTimescale" => Error::ZeroTimescale { path },
        "CountTooLarge" => Error::CountTooLarge {
            path,
            count: n("count"),
            remaining: n("remaining"),
        },
        other => panic!("expected.json names an error this test does not know: {other}"),
    }
}

#[test]
fn corrupt_files_give_the_exact_error_naming_the_box() {
    let dir = testdata().join("corrupt");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut seen = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = f.path();
        if p.extension().is_none_or(|e| e != "mp4") {
            continue;
        }
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let entry = &expected[&name];
        let want = entry["box"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no entry in expected.json"));
        let data = std::fs::read(&p).unwrap();
        let err = Movie::parse(&data).expect_err(&name);
        assert_eq!(err, described_error(entry), "{name}");
        assert!(
            err.path()
                .split('/')
                .any(|seg| seg.split('[').next() == Some(want)),
            "{name}: error {err} does not name {want}"
        );
        seen.push(name);
    }
    seen.sort();
    let mut want: Vec<String> = expected.as_object().unwrap().keys().cloned().collect();
    want.sort();
    assert_eq!(want.len(), 5, "expected.json lists the 5 corrupt files");
    assert_eq!(seen, want, "every file of expected.json was checked");
}
