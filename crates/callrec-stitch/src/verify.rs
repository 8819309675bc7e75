//! The output read back before it is renamed into place: it parses with our parser, has no
//! structural defect (every sample inside `mdat`, every H.264 sample tiled by its NAL length
//! prefixes: a misplaced copy shows), and its header (`ftyp`, `moov`, the `mdat` header) is the
//! plan's byte for byte, so its sample tables, edit lists and timescales are the plan's (where
//! it is not, the error names the first track and sample that differ). With
//! [`crate::StitchOptions::verify_payload`] every copied byte is also compared with its source.
//!
//! In the ranges the filesystem cloned (their blocks shared with the chunks, whose samples were
//! validated when they were parsed) only the video samples at the edges of each
//! [`SPOT_EVERY`]-aligned piece of a range have their NAL units walked: walking every sample
//! read a page of every sample back from disk (a clone's pages are not cached), 90% of a 1 h
//! stitch on XFS. A missing or misplaced clone still shows. The samples that are walked there are
//! asked of the kernel all at once before the walk (`POSIX_FADV_WILLNEED`), so that it does not
//! wait for the disk once per sample. The read-back runs while the file is synced
//! ([`crate::write()`]).

use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use callrec_mp4::{Movie, ParseOptions, Source};

use crate::{Error, Plan, Result};

/// Cloned ranges are cut at the multiples of this many output bytes: the video samples that
/// straddle a cut (or a range's edge) have their NAL units walked.
const SPOT_EVERY: u64 = 1 << 20;

/// The cloned output ranges, cut at every multiple of [`SPOT_EVERY`], sorted: what the NAL walk
/// skips (a sample wholly inside one of them).
fn skipped(cloned: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::with_capacity(cloned.len());
    for r in cloned {
        let mut at = r.start;
        while at < r.end {
            let cut = ((at / SPOT_EVERY + 1) * SPOT_EVERY).min(r.end);
            out.push(at..cut);
            at = cut;
        }
    }
    out.sort_unstable_by_key(|r| r.start);
    out
}

/// Asks the kernel to start reading, all at once, the cloned video samples the NAL walk will
/// read (those not wholly inside one of `skipped`): a clone's pages are not cached, and read
/// one after the other by the walk each waited for the disk (about 600 reads for a 1 h
/// stitch). Read-ahead is turned off for the rest (the walk reads a few bytes per sample).
/// Advice only: errors are ignored, and the walk reads the same bytes either way.
fn prefetch(file: &File, got: &Movie, cloned: &[Range<u64>], skipped: &[Range<u64>]) {
    use rustix::fs::{fadvise, Advice};
    if cloned.is_empty() {
        return;
    }
    let _ = fadvise(file, 0, None, Advice::Random);
    let mut cloned = cloned.to_vec();
    cloned.sort_unstable_by_key(|r| r.start);
    let within = |set: &[Range<u64>], r: &Range<u64>| {
        let i = set.partition_point(|x| x.start <= r.start);
        i > 0 && r.end <= set[i - 1].end
    };
    // Overlaps a cloned range (sorted, disjoint).
    let touches = |r: &Range<u64>| {
        let i = cloned.partition_point(|x| x.end <= r.start);
        cloned.get(i).is_some_and(|x| x.start < r.end)
    };
    let mut want: Vec<Range<u64>> = got
        .tracks
        .iter()
        .filter(|t| t.kind == callrec_mp4::TrackKind::Video)
        .flat_map(|t| t.samples.iter().map(|s| s.range()))
        .filter(|r| !r.is_empty() && !within(skipped, r) && touches(r))
        .collect();
    want.sort_unstable_by_key(|r| r.start);
    for r in want {
        let _ = fadvise(
            file,
            r.start,
            NonZeroU64::new(r.end - r.start),
            Advice::WillNeed,
        );
    }
}

/// A file read with positioned reads, for the parser.
struct FileSource<'a> {
    file: &'a File,
    len: u64,
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn changed(&self) -> Option<String> {
        None
    }
}

fn fail(out: &Path, reason: String) -> Error {
    Error::Verify {
        path: out.to_path_buf(),
        reason,
    }
}

/// Checks the written temporary file `file` (for target `out`) against `plan`; `cloned`: the
/// output ranges the filesystem cloned.
pub(crate) fn verify(
    plan: &Plan,
    file: &File,
    out: &Path,
    cloned: &[Range<u64>],
    payload: bool,
) -> Result<()> {
    let src = FileSource {
        file,
        len: plan.output_len(),
    };
    let got = Movie::read(&src, ParseOptions::default())
        .map_err(|e| fail(out, format!("it does not parse: {e}")))?;
    let skipped = skipped(cloned);
    prefetch(file, &got, cloned, &skipped);
    let defects = callrec_mp4::validate_source_skipping(&src, &got, &skipped)
        .map_err(|e| fail(out, format!("it cannot be validated: {e}")))?;
    if let Some(d) = defects.first() {
        return Err(fail(
            out,
            format!("{} defect(s), the first: {d}", defects.len()),
        ));
    }
    // The header on disk is the plan's, byte for byte: then its tables, edit lists and
    // timescales are the plan's. Otherwise the comparison below names what differs.
    let mut header = vec![0u8; plan.header().len()];
    file.read_exact_at(&mut header, 0)
        .map_err(|e| fail(out, format!("it cannot be read back: {e}")))?;
    if header != plan.header() {
        compare_tables(plan, &got, out)?;
        return Err(fail(out, "its header is not the plan's bytes".into()));
    }
    if payload {
        verify_payload(plan, file, out)?;
    }
    Ok(())
}

/// The output's parsed tables (`got`) against the plan's header parsed: the movie and track
/// timescales, edit lists, kinds and every sample (size, time, offset).
fn compare_tables(plan: &Plan, got: &Movie, out: &Path) -> Result<()> {
    let want = Movie::parse_with(
        plan.header(),
        ParseOptions {
            allow_truncated_tail: true,
        },
    )
    .map_err(|e| fail(out, format!("the plan's own header does not parse: {e}")))?;
    if got.timescale != want.timescale || got.tracks.len() != want.tracks.len() {
        return Err(fail(out, "its movie header is not the plan's".into()));
    }
    for (i, (g, w)) in got.tracks.iter().zip(&want.tracks).enumerate() {
        if g.timescale != w.timescale || g.edits != w.edits || g.kind != w.kind {
            return Err(fail(
                out,
                format!(
                    "track {}: its timescale or edit list is not the plan's",
                    i + 1
                ),
            ));
        }
        if g.samples.len() != w.samples.len() {
            return Err(fail(
                out,
                format!(
                    "track {}: {} samples, the plan has {}",
                    i + 1,
                    g.samples.len(),
                    w.samples.len()
                ),
            ));
        }
        if let Some(k) = g.samples.iter().zip(&w.samples).position(|(a, b)| a != b) {
            return Err(fail(
                out,
                format!(
                    "track {} sample {k}: not the plan's (size, time or offset)",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// Every copied range compared with its source, a megabyte at a time.
fn verify_payload(plan: &Plan, file: &File, out: &Path) -> Result<()> {
    const BUF: usize = 1 << 20;
    let mut a = vec![0u8; BUF];
    let mut b = vec![0u8; BUF];
    let mut open: Option<(usize, File)> = None;
    for r in plan.copies() {
        let path = plan.source_path(r.chunk).unwrap_or(Path::new(""));
        let src = match &open {
            Some((c, f)) if *c == r.chunk => f,
            _ => {
                let f = File::open(path).map_err(|e| Error::Io {
                    op: "open",
                    path: path.to_path_buf(),
                    error: e,
                })?;
                &open.insert((r.chunk, f)).1
            }
        };
        let mut done = 0u64;
        while done < r.len {
            let n = (r.len - done).min(BUF as u64) as usize;
            src.read_exact_at(&mut a[..n], r.src_offset + done)
                .map_err(|e| Error::Io {
                    op: "read back",
                    path: path.to_path_buf(),
                    error: e,
                })?;
            file.read_exact_at(&mut b[..n], r.dst_offset + done)
                .map_err(|e| fail(out, format!("it cannot be read back: {e}")))?;
            if a[..n] != b[..n] {
                return Err(fail(
                    out,
                    format!(
                        "bytes {}.. of chunk {} differ from the source at {}",
                        r.dst_offset + done,
                        r.chunk,
                        r.src_offset + done
                    ),
                ));
            }
            done += n as u64;
        }
    }
    for (at, bytes) in plan.literals() {
        let mut buf = vec![0u8; bytes.len()];
        file.read_exact_at(&mut buf, *at)
            .map_err(|e| fail(out, format!("it cannot be read back: {e}")))?;
        if &buf != bytes {
            return Err(fail(out, format!("the silent frames at {at} differ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written output reads back; one whose header differs from the plan's is refused: in a
    /// byte no table holds (the `ftyp` minor version) as not the plan's bytes, in a sample
    /// size by the track and sample that differ.
    #[test]
    fn a_header_that_is_not_the_plans_bytes_is_refused() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/recordings/basic"
        );
        let path = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
            .min()
            .unwrap();
        let movie = Movie::parse(&std::fs::read(&path).unwrap()).unwrap();
        let chunks = [crate::ChunkInput {
            index: 0,
            name: "c0".into(),
            path,
            movie,
            empty_edits: Vec::new(),
            wall_start_us: None,
        }];
        let opts = crate::StitchOptions::default();
        let plan = Plan::new(&chunks, &opts).unwrap();
        // Written by hand, not by `write()`: this test binary's temporary files belong to
        // temp.rs's tests (its `remove_all` is process-wide).
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out.mp4");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&out)
            .unwrap();
        file.set_len(plan.output_len()).unwrap();
        file.write_all_at(plan.header(), 0).unwrap();
        for (at, bytes) in plan.literals() {
            file.write_all_at(bytes, *at).unwrap();
        }
        let src = std::fs::read(plan.source_path(0).unwrap()).unwrap();
        for r in plan.copies() {
            let from = r.src_offset as usize..(r.src_offset + r.len) as usize;
            file.write_all_at(&src[from], r.dst_offset).unwrap();
        }
        verify(&plan, &file, &out, &[], false).unwrap();
        // ftyp: size, "ftyp", major brand, minor version (bytes 12..16).
        file.write_all_at(&[0xee], 15).unwrap();
        let e = verify(&plan, &file, &out, &[], false).unwrap_err();
        assert!(e.to_string().contains("not the plan's bytes"), "{e}");
        file.write_all_at(&plan.header()[15..16], 15).unwrap();
        verify(&plan, &file, &out, &[], false).unwrap();
        // The last entry of the second stsz: the last sample of track 2 (audio: no NAL walk)
        // one byte shorter.
        let h = plan.header();
        let first = h.windows(4).position(|w| w == b"stsz").unwrap();
        let at = first
            + 4
            + h[first + 4..]
                .windows(4)
                .position(|w| w == b"stsz")
                .unwrap();
        let size = u32::from_be_bytes(h[at - 4..at].try_into().unwrap()) as usize;
        let last = at - 4 + size - 4;
        let n = u32::from_be_bytes(h[last..last + 4].try_into().unwrap());
        file.write_all_at(&(n - 1).to_be_bytes(), last as u64)
            .unwrap();
        let e = verify(&plan, &file, &out, &[], false).unwrap_err();
        assert!(e.to_string().contains("track 2 sample"), "{e}");
    }

    #[test]
    fn cloned_ranges_are_cut_at_every_spot() {
        let m = SPOT_EVERY;
        let got = skipped(&[3 * m + 5..3 * m + 9, 10..2 * m + 7]);
        assert_eq!(
            got,
            [10..m, m..2 * m, 2 * m..2 * m + 7, 3 * m + 5..3 * m + 9]
        );
        assert!(skipped(&[]).is_empty());
    }
}
