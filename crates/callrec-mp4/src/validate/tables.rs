//! Checks of the progressive sample tables: sample entries, `stbl` tables and `stss`.

use super::{Ctx, Defect, DefectKind};
use crate::boxes::{Stbl, Stss};
use crate::reader::Reader;
use crate::{FourCc, Movie};

/// The size of a sample entry's header and fixed fields for the codes whose layout we know
/// (8 bytes of box header, 8 for every SampleEntry, plus 70 for a visual and 20 for an audio
/// one, ISO/IEC 14496-12 8.5.2.2); child boxes (avcC, esds...) follow them.
fn fixed_entry_size(fourcc: FourCc) -> Option<u64> {
    match &fourcc.0 {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" => Some(8 + 8 + 70),
        b"mp4a" => Some(8 + 8 + 20),
        _ => None,
    }
}

/// The smallest valid size of a sample entry with this code.
fn min_entry_size(fourcc: FourCc) -> u64 {
    fixed_entry_size(fourcc).unwrap_or(8 + 8)
}

pub(super) fn sample_entries(d: &Ctx, movie: &Movie, i: usize, stbl: &str, out: &mut Vec<Defect>) {
    let t = &movie.tracks[i];
    for (k, e) in t.entries.iter().enumerate() {
        let path = format!("{stbl}/stsd/{}[{k}]", e.fourcc);
        let declared = e
            .raw
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let size = match declared {
            Some(1) => e
                .raw
                .get(8..16)
                .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))),
            other => other.map(u64::from),
        };
        let reason = match size {
            Some(0) => Some(format!(
                "the {} sample entry declares size 0 (it then runs to the end of its stsd, {} bytes)",
                e.fourcc,
                e.raw.len()
            )),
            Some(s) if s > e.raw.len() as u64 => Some(format!(
                "the {} sample entry declares {s} bytes but its stsd holds only {}",
                e.fourcc,
                e.raw.len()
            )),
            Some(s) if s < min_entry_size(e.fourcc) => Some(format!(
                "the {} sample entry is {s} bytes, smaller than its {} bytes of fixed fields",
                e.fourcc,
                min_entry_size(e.fourcc)
            )),
            None => Some(format!("the {} sample entry has no header", e.fourcc)),
            _ => None,
        };
        if let Some(reason) = reason {
            out.push(d.defect(DefectKind::SampleEntry, path, None, reason));
            continue;
        }
        // Children (avcC, esds...) must fit the entry.
        if let Some(skip) = fixed_entry_size(e.fourcc) {
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            let mut r = Reader::new(e.raw.get(skip..).unwrap_or(&[]));
            loop {
                match r.next_box() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(err) => {
                        out.push(d.defect(
                            DefectKind::SampleEntry,
                            path.clone(),
                            None,
                            format!(
                                "a child box of the {} sample entry is corrupt: {err}",
                                e.fourcc
                            ),
                        ));
                        break;
                    }
                }
            }
        }
    }
    let used = t
        .samples
        .iter()
        .position(|s| s.description_index == 0 || s.description_index as usize > t.entries.len());
    if let Some(k) = used {
        out.push(d.defect(
            DefectKind::SampleEntry,
            format!("{stbl}/stsd"),
            Some(k as u64),
            format!(
                "sample {k} uses sample description {} of {}",
                t.samples[k].description_index,
                t.entries.len()
            ),
        ));
    }
}

/// The `stbl` tables against each other: sizes, times (`stts`, `ctts`) and the runs of samples
/// (`stsc` over `stco`/`co64`) must all count the same samples.
pub(super) fn tables(d: &Ctx, stbl: &Stbl, path: &str, out: &mut Vec<Defect>) {
    let p = |b: &str| format!("{path}/{b}");
    let count = size_count(d, stbl, &p("stsz"), out);
    let size_box = if stbl.stsz.is_some() { "stsz" } else { "stz2" };
    let stts_total: u64 = stbl
        .stts
        .entries
        .iter()
        .map(|e| u64::from(e.sample_count))
        .sum();
    if stts_total != count {
        out.push(d.defect(
            DefectKind::Stsz,
            p(size_box),
            Some(count.min(stts_total)),
            format!("{size_box} lists {count} samples but stts times {stts_total}"),
        ));
    }
    zero_delta(d, stbl, &p("stts"), stts_total.max(count), out);
    if let Some(ctts) = &stbl.ctts {
        let total: u64 = ctts.entries.iter().map(|e| u64::from(e.sample_count)).sum();
        if total != count {
            out.push(d.defect(
                DefectKind::Ctts,
                p("ctts"),
                Some(total.min(count)),
                format!("ctts covers {total} samples but the track has {count}"),
            ));
        }
    }
    let runs = RunOffsets::of(stbl);
    if stsc_order(d, stbl, &runs, &p("stsc"), out) && count > 0 {
        let held = held_samples(stbl, &runs);
        if held < count {
            out.push(d.defect(
                DefectKind::Stsc,
                p("stsc"),
                Some(held),
                format!(
                    "stsc and {} place {held} samples but {size_box} lists {count}",
                    runs.fourcc
                ),
            ));
        }
    }
}

/// The sample count per the size table (`stsz` at `stsz_path`, else `stz2`); an `stsz` whose
/// declared count is not the sizes it lists is a defect.
fn size_count(d: &Ctx, stbl: &Stbl, stsz_path: &str, out: &mut Vec<Defect>) -> u64 {
    match (&stbl.stsz, &stbl.stz2) {
        (Some(z), _) => {
            if z.sample_size == 0 && z.sample_count as usize != z.entries.len() {
                out.push(d.defect(
                    DefectKind::Stsz,
                    stsz_path.to_string(),
                    None,
                    format!(
                        "stsz declares {} samples but lists {} sizes",
                        z.sample_count,
                        z.entries.len()
                    ),
                ));
            }
            if z.sample_size == 0 {
                z.entries.len() as u64
            } else {
                u64::from(z.sample_count)
            }
        }
        (None, Some(z)) => z.entries.len() as u64,
        (None, None) => 0,
    }
}

/// A zero decode delta on any of the `samples` but the last is a defect (the first one).
fn zero_delta(d: &Ctx, stbl: &Stbl, stts_path: &str, samples: u64, out: &mut Vec<Defect>) {
    let mut k = 0u64;
    for e in &stbl.stts.entries {
        let n = u64::from(e.sample_count);
        if e.sample_delta == 0 && n > 0 && k + 1 < samples {
            out.push(d.defect(
                DefectKind::Stts,
                stts_path.to_string(),
                Some(k),
                format!("sample {k} has a decode delta of 0 (only the last sample may)"),
            ));
            break;
        }
        k += n;
    }
}

/// The table of run offsets: which box it is and how many runs it lists.
struct RunOffsets {
    fourcc: &'static str,
    runs: u64,
}

impl RunOffsets {
    /// `stco`, else `co64` (an absent table is an empty `stco`).
    fn of(stbl: &Stbl) -> RunOffsets {
        let (fourcc, runs) = match (&stbl.stco, &stbl.co64) {
            (Some(c), _) => ("stco", c.entries.len() as u64),
            (None, Some(c)) => ("co64", c.entries.len() as u64),
            (None, None) => ("stco", 0),
        };
        RunOffsets { fourcc, runs }
    }
}

/// Whether every `stsc` first_chunk counts from 1, increases and names a listed run; the
/// first that does not is a defect.
fn stsc_order(
    d: &Ctx,
    stbl: &Stbl,
    offsets: &RunOffsets,
    stsc_path: &str,
    out: &mut Vec<Defect>,
) -> bool {
    let mut prev = 0u32;
    for (j, e) in stbl.stsc.entries.iter().enumerate() {
        let reason = if e.first_chunk == 0 {
            Some(format!(
                "stsc entry {j} has first_chunk 0 (chunks count from 1)"
            ))
        } else if e.first_chunk <= prev {
            Some(format!(
                "stsc entry {j} has first_chunk {} after {prev}: not increasing",
                e.first_chunk
            ))
        } else if u64::from(e.first_chunk) > offsets.runs {
            Some(format!(
                "stsc entry {j} has first_chunk {} but {} lists {} chunks",
                e.first_chunk, offsets.fourcc, offsets.runs
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            out.push(d.defect(DefectKind::Stsc, stsc_path.to_string(), None, reason));
            return false;
        }
        prev = e.first_chunk;
    }
    true
}

/// How many samples the runs hold, per `stsc` (entries in order).
fn held_samples(stbl: &Stbl, offsets: &RunOffsets) -> u64 {
    let mut held = 0u64;
    for (j, e) in stbl.stsc.entries.iter().enumerate() {
        let end = stbl
            .stsc
            .entries
            .get(j + 1)
            .map_or(offsets.runs + 1, |n| u64::from(n.first_chunk));
        held = held.saturating_add(
            end.saturating_sub(u64::from(e.first_chunk))
                .saturating_mul(u64::from(e.samples_per_chunk)),
        );
    }
    held
}

/// `stss` entries: each a 1-based sample number within the track, strictly increasing.
pub(super) fn stss(d: &Ctx, stss: Option<&Stss>, count: usize, stbl: &str, out: &mut Vec<Defect>) {
    let Some(stss) = stss else { return };
    let mut prev = 0u32;
    for (j, &k) in stss.entries.iter().enumerate() {
        let reason = if k == 0 {
            Some(format!("stss entry {j} is 0 (sample numbers count from 1)"))
        } else if k as usize > count {
            Some(format!(
                "stss entry {j} names sample {k} but the track has {count} samples"
            ))
        } else if k <= prev {
            Some(format!(
                "stss entry {j} names sample {k} after {prev}: not increasing"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            // The sample named, when it is one of the track's.
            let sample = (k > 0 && k as usize <= count).then(|| u64::from(k - 1));
            out.push(d.defect(DefectKind::Stss, format!("{stbl}/stss"), sample, reason));
            return;
        }
        prev = k;
    }
}
