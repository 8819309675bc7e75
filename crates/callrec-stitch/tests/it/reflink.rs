//! The block-aligned layout (`StitchOptions::align`) and the writer's clone and copy paths.

use std::path::Path;

use callrec_mp4::Movie;
use callrec_stitch::{write, ChunkInput, Plan, StitchOptions, Summary};

use super::{assert_joined, load, no_shift, Joins, GOOD};

const BLOCK: u64 = 4096;

fn aligned(no_reflink: bool, threads: usize) -> StitchOptions {
    StitchOptions {
        align: Some(BLOCK),
        no_reflink,
        threads: Some(threads),
        ..StitchOptions::default()
    }
}

fn write_to(chunks: &[ChunkInput], o: &StitchOptions, out: &Path) -> (Plan, Summary, Vec<u8>) {
    let plan = Plan::new(chunks, o).expect("plan");
    let summary = write(&plan, out, o, &|_| {}).expect("write");
    let data = std::fs::read(out).unwrap();
    assert_eq!(data.len() as u64, plan.output_len());
    (plan, summary, data)
}

fn sample_bytes(plan: &Plan) -> u64 {
    plan.copies().iter().map(|c| c.len).sum()
}

/// Every run lands congruent to its source modulo the block, after fewer than a block of zero
/// padding; the samples, their timing and the `mdat` box are those of a compact stitch.
#[test]
fn aligned_layout_puts_each_run_congruent_to_its_source() {
    for name in GOOD {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let (plan, summary, data) = write_to(&f.chunks, &aligned(true, 2), &dir.path().join("a"));
        let compact = Plan::new(&f.chunks, &StitchOptions::default()).unwrap();
        assert_eq!(sample_bytes(&plan), sample_bytes(&compact), "{name}");
        let mut pos = plan.header().len() as u64;
        let mut aligned_runs = 0;
        for c in plan.copies() {
            // Silent frames the plan writes itself (a chunk's leading empty edit) may sit in
            // the gap, each rounded up to whole blocks so that what follows stays congruent.
            let lits: Vec<&(u64, Vec<u8>)> = plan
                .literals()
                .iter()
                .filter(|(at, _)| (pos..c.dst_offset).contains(at))
                .collect();
            let lit_bytes: u64 = lits.iter().map(|(_, b)| b.len() as u64).sum();
            // A run with a whole block inside is congruent; a shorter one follows directly.
            let head = (BLOCK - c.src_offset % BLOCK) % BLOCK;
            if c.len >= head + BLOCK {
                assert_eq!(c.dst_offset % BLOCK, c.src_offset % BLOCK, "{name}: {c:?}");
                aligned_runs += 1;
            } else if pos > plan.header().len() as u64 && lits.is_empty() {
                assert_eq!(c.dst_offset, pos, "{name}: {c:?} is padded");
            }
            assert!(
                c.dst_offset >= pos,
                "{name}: {c:?} overlaps what is before it"
            );
            assert!(
                c.dst_offset - pos - lit_bytes < BLOCK * (1 + lits.len() as u64),
                "{name}: {c:?}: a block of padding or more"
            );
            let in_literal = |x: u64| {
                lits.iter()
                    .any(|(at, b)| (*at..*at + b.len() as u64).contains(&x))
            };
            assert!(
                (pos..c.dst_offset).all(|x| in_literal(x) || data[x as usize] == 0),
                "{name}: padding before {c:?} is not zeros"
            );
            pos = c.dst_offset + c.len;
        }
        assert_eq!(pos, plan.output_len(), "{name}: the last run ends the file");
        assert!(aligned_runs > 0, "{name}: no run holds a block");
        assert!(
            plan.output_len() - compact.output_len() < BLOCK * (plan.copies().len() as u64 + 1)
        );
        // The copy path never clones.
        assert_eq!((summary.shared, summary.copied), (0, sample_bytes(&plan)));
        let movie = Movie::parse(&data).unwrap_or_else(|e| panic!("{name}: reparse: {e}"));
        assert!(
            movie.moov.start < movie.mdats[0].start,
            "{name}: moov first"
        );
        assert_eq!(
            movie.mdats[0].end,
            data.len() as u64,
            "{name}: mdat to the end"
        );
        assert_eq!(callrec_mp4::validate_movie(&data, &movie), vec![], "{name}");
        assert_joined(&f, &movie, &data, Joins::Lossless, &no_shift);
        f.assert_unchanged();
    }
}

/// The clone path (clones refused where the filesystem cannot clone: then copied) and the copy
/// path write the same bytes, for any thread count, and count every sample byte once.
#[test]
fn clone_and_copy_paths_write_identical_files() {
    for name in ["basic", "fragmented"] {
        let f = load(name);
        let dir = tempfile::tempdir().unwrap();
        let (plan, copied, a) = write_to(&f.chunks, &aligned(true, 1), &dir.path().join("copy"));
        let (_, cloned, b) = write_to(&f.chunks, &aligned(false, 2), &dir.path().join("clone"));
        assert!(a == b, "{name}: clone and copy paths differ");
        assert_eq!(copied.shared + copied.copied, sample_bytes(&plan));
        assert_eq!(cloned.shared + cloned.copied, sample_bytes(&plan), "{name}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "{name}: no temp left"
        );
    }
}

/// Run by `scripts/reflink.sh` with `CALLREC_REFLINK_DIR` on a copy-on-write filesystem (a
/// loop-mounted XFS image made with `mkfs.xfs -m reflink=1`): the chunks copied there, the
/// stitch clones every block-aligned byte (all but less than two blocks per run), and the file
/// is the copy path's, byte for byte.
#[test]
#[ignore = "needs a reflink filesystem: scripts/reflink.sh"]
fn clone_shares_the_aligned_blocks_on_a_reflink_filesystem() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CALLREC_REFLINK_DIR").expect("CALLREC_REFLINK_DIR is not set"),
    );
    for name in GOOD {
        let mut f = load(name);
        let work = tempfile::tempdir_in(&dir).unwrap();
        for c in &mut f.chunks {
            let to = work.path().join(c.path.file_name().unwrap());
            std::fs::copy(&c.path, &to).unwrap();
            c.path = to;
        }
        let block = callrec_stitch::block_size(work.path());
        let o = StitchOptions {
            align: Some(block),
            ..StitchOptions::default()
        };
        let (plan, summary, cloned) = write_to(&f.chunks, &o, &work.path().join("clone.mp4"));
        let copy = StitchOptions {
            no_reflink: true,
            ..o.clone()
        };
        let (_, copied, data) = write_to(&f.chunks, &copy, &work.path().join("copy.mp4"));
        assert!(cloned == data, "{name}: clone and copy paths differ");
        assert_eq!(copied.shared, 0);
        let total = sample_bytes(&plan);
        assert_eq!(summary.shared + summary.copied, total);
        assert!(
            summary.copied < 2 * block * plan.copies().len() as u64,
            "{name}: {} of {total} bytes copied, {} runs",
            summary.copied,
            plan.copies().len()
        );
        assert!(summary.shared > 0, "{name}: nothing shared");
    }
}

/// Run by `scripts/reflink.sh` like the test above: chunks on another filesystem (the work
/// tree's) than the output (`CALLREC_REFLINK_DIR`): every clone is refused (`EXDEV`) and copied
/// instead, and the file is the copy path's.
#[test]
#[ignore = "needs a reflink filesystem: scripts/reflink.sh"]
fn clones_across_filesystems_fall_back_to_copies() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CALLREC_REFLINK_DIR").expect("CALLREC_REFLINK_DIR is not set"),
    );
    let f = load("basic");
    let work = tempfile::tempdir_in(&dir).unwrap();
    let o = StitchOptions {
        align: Some(callrec_stitch::block_size(work.path())),
        ..StitchOptions::default()
    };
    let (plan, summary, cloned) = write_to(&f.chunks, &o, &work.path().join("clone.mp4"));
    assert_eq!((summary.shared, summary.copied), (0, sample_bytes(&plan)));
    let copy = StitchOptions {
        no_reflink: true,
        ..o.clone()
    };
    let (_, _, data) = write_to(&f.chunks, &copy, &work.path().join("copy.mp4"));
    assert!(cloned == data, "clone (refused) and copy paths differ");
    f.assert_unchanged();
}
