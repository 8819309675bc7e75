//! The output read back before it is renamed into place: it parses with our parser, has no
//! structural defect (every sample inside `mdat`, every H.264 sample tiled by its NAL length
//! prefixes: a misplaced copy shows), and its sample tables, edit lists and timescales are the
//! plan's, sample by sample. With [`crate::StitchOptions::verify_payload`] every copied byte is
//! also compared with its source.
//!
//! In the ranges the filesystem cloned (their blocks shared with the chunks, whose samples were
//! validated when they were parsed) only the video samples at the edges of each
//! [`SPOT_EVERY`]-aligned piece of a range have their NAL units walked: walking every sample
//! read a page of every sample back from disk (a clone's pages are not cached), 90% of a 1 h
//! stitch on XFS. A missing or misplaced clone still shows.

use std::fs::File;
use std::io;
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
    let defects = callrec_mp4::validate_source_skipping(&src, &got, &skipped(cloned))
        .map_err(|e| fail(out, format!("it cannot be validated: {e}")))?;
    if let Some(d) = defects.first() {
        return Err(fail(
            out,
            format!("{} defect(s), the first: {d}", defects.len()),
        ));
    }
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
    if payload {
        verify_payload(plan, file, out)?;
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
