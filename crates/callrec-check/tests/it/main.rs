//! Integration tests: the fixtures in testdata/ and bad recordings built from them.

mod media;
mod recording;
mod util;

#[test]
fn readme_lists_every_finding_code() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    for code in callrec_check::Code::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", code.as_str())),
            "README.md's findings table lacks {code}"
        );
    }
}
