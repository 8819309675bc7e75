//! The output read back before it is renamed into place: it parses with our parser, has no
//! structural defect (every sample inside `mdat`, every H.264 sample tiled by its NAL length
//! prefixes: a misplaced copy shows), and its sample tables, edit lists and timescales are the
//! plan's, sample by sample. With [`crate::StitchOptions::verify_payload`] every copied byte is
//! also compared with its source.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use callrec_mp4::{Movie, ParseOptions, Source};

use crate::{Error, Plan, Result};

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

/// Checks the written temporary file `file` (for target `out`) against `plan`.
pub(crate) fn verify(plan: &Plan, file: &File, out: &Path, payload: bool) -> Result<()> {
    let src = FileSource {
        file,
        len: plan.output_len(),
    };
    let got = Movie::read(&src, ParseOptions::default())
        .map_err(|e| fail(out, format!("it does not parse: {e}")))?;
    let defects = callrec_mp4::validate_source(&src, &got)
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
