//! Every `testdata/corrupt/*.mp4` gives a typed error naming the box in `expected.json`.

use callrec_mp4::Movie;
use serde_json::Value;

use crate::util::testdata;

#[test]
fn corrupt_files_give_errors_naming_the_box() {
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
        let want = expected[&name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no entry in expected.json"));
        let data = std::fs::read(&p).unwrap();
        let err = Movie::parse(&data).expect_err(&name);
        let msg = err.to_string();
        assert!(
            err.path()
                .split('/')
                .any(|seg| seg.split('[').next() == Some(want)),
            "{name}: error {msg:?} does not name {want}"
        );
        seen.push(name);
    }
    seen.sort();
    let mut want: Vec<String> = expected.as_object().unwrap().keys().cloned().collect();
    want.sort();
    assert_eq!(want.len(), 5, "expected.json lists the 5 corrupt files");
    assert_eq!(seen, want, "every file of expected.json was checked");
}
