//! Helpers shared by the benchmarks: synthetic recordings of any length, built with the
//! callrec-mp4 writers from the packets of a fixture chunk (no ffmpeg needed).
//!
//! A synthetic chunk repeats the source chunk's video frames (a repetition starts on its IDR
//! frame, so every frame decodes) and its AAC frames (the priming frame once, at the start). Video
//! frames can be padded to a size with an H.264 filler-data NAL unit (type 12, which decoders
//! skip), to reach the bitrate of a real recording. The layout is ACS's and ffmpeg's: `ftyp`,
//! `mdat` (one chunk per track per second, interleaved), `moov` at the end with one edit per
//! track (video from 0, audio after the 1024-sample priming).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use callrec_mp4::boxes::{
    run_offsets, Dinf, Edts, Elst, Ftyp, Hdlr, Mdhd, Mdia, Minf, Moov, Mvhd, Smhd, Stbl, Stsc,
    StscEntry, Stsd, Stss, Stsz, Stts, SttsEntry, Tkhd, Trak, Vmhd, IDENTITY_MATRIX,
};
use callrec_mp4::{Edit, FourCc, Movie, Mp4Box, TrackKind};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

/// AAC frames of priming that ffmpeg's encoder puts first, in samples.
const PRIMING: u32 = 1024;

/// The packets and JSON a synthetic recording is made from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Video frames: bytes and sync flag, in decode order (no B-frames).
    pub video: Vec<(Vec<u8>, bool)>,
    /// AAC frames after the priming frame.
    pub audio: Vec<Vec<u8>>,
    /// The priming frame.
    pub priming: Vec<u8>,
    /// Raw `avc1` sample entry.
    pub video_entry: Vec<u8>,
    /// Raw `mp4a` sample entry.
    pub audio_entry: Vec<u8>,
    /// Video timescale and frame duration.
    pub video_timescale: u32,
    /// Ticks per video frame.
    pub frame_ticks: u32,
    /// Audio sample rate (= audio timescale).
    pub sample_rate: u32,
    /// The fixture's event.json (an Event Grid array).
    pub event: Value,
    /// The fixture's first chunk metadata.
    pub metadata: Value,
}

/// The `testdata/recordings/basic` fixture directory.
pub fn basic_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/recordings/basic")
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Source {
    /// Reads chunk 0 of a fixture recording (Event Grid array event, no B-frames).
    pub fn load(dir: &Path) -> io::Result<Source> {
        let event: Value = serde_json::from_slice(&fs::read(dir.join("event.json"))?)?;
        let first = event[0]["data"]["recordingStorageInfo"]["recordingChunks"][0]["documentId"]
            .as_str()
            .ok_or_else(|| invalid("event.json: no chunk 0 documentId".into()))?
            .to_string();
        let metadata: Value =
            serde_json::from_slice(&fs::read(dir.join(format!("{first}.json")))?)?;
        let data = fs::read(dir.join(format!("{first}.mp4")))?;
        let movie = Movie::parse(&data).map_err(|e| invalid(format!("{first}.mp4: {e}")))?;
        let bytes = |s: &callrec_mp4::Sample| {
            usize::try_from(s.offset)
                .ok()
                .and_then(|start| data.get(start..start + s.size as usize))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| invalid(format!("{first}.mp4: sample past the end of the file")))
        };
        let video = movie
            .track(TrackKind::Video)
            .ok_or_else(|| invalid("no video track".into()))?;
        let audio = movie
            .track(TrackKind::Audio)
            .ok_or_else(|| invalid("no audio track".into()))?;
        Ok(Source {
            video: video
                .samples
                .iter()
                .map(|s| Ok((bytes(s)?, s.sync)))
                .collect::<io::Result<_>>()?,
            priming: bytes(
                audio
                    .samples
                    .first()
                    .ok_or_else(|| invalid("no audio samples".into()))?,
            )?,
            audio: audio.samples[1..]
                .iter()
                .map(bytes)
                .collect::<io::Result<_>>()?,
            video_entry: video
                .entries
                .first()
                .ok_or_else(|| invalid("no video sample entry".into()))?
                .raw
                .clone(),
            audio_entry: audio
                .entries
                .first()
                .ok_or_else(|| invalid("no audio sample entry".into()))?
                .raw
                .clone(),
            video_timescale: video.timescale.get(),
            frame_ticks: video
                .samples
                .first()
                .ok_or_else(|| invalid("no video samples".into()))?
                .duration,
            sample_rate: audio.timescale.get(),
            event,
            metadata,
        })
    }

    /// Video frames per second.
    pub fn fps(&self) -> u32 {
        self.video_timescale / self.frame_ticks
    }
}

/// Appends an H.264 filler-data NAL unit (4-byte length prefix) so the sample is `size` bytes.
fn pad_frame(frame: &mut Vec<u8>, size: usize) {
    if frame.len() + 6 > size {
        return;
    }
    let nal_len = size - frame.len() - 4;
    frame.extend_from_slice(&(nal_len as u32).to_be_bytes());
    frame.push(12);
    frame.resize(frame.len() + nal_len - 2, 0xff);
    frame.push(0x80);
}

/// A video or AAC track as [`trak`] writes it.
#[derive(Debug, Clone)]
pub struct TrackSpec<'a> {
    /// The track id.
    pub id: u32,
    /// A video track (else AAC).
    pub video: bool,
    /// The media timescale.
    pub timescale: u32,
    /// Every sample's duration, in ticks.
    pub delta: u32,
    /// Every sample's size.
    pub sizes: Vec<u32>,
    /// Samples per run (an `stco` chunk), in order.
    pub per_run: &'a [u32],
    /// Each run's file offset.
    pub offsets: &'a [u64],
    /// The sync samples (1-based), or `None` when every sample is one.
    pub sync: Option<Vec<u32>>,
    /// The raw sample entry.
    pub entry: Vec<u8>,
    /// The one edit's duration, in ms.
    pub duration_ms: u64,
    /// The one edit's media time, in ticks.
    pub media_time: i64,
}

/// The `trak` of `spec`: `sizes.len()` samples of `delta` ticks each, stored in runs of
/// `per_run[i]` samples at `offsets[i]`, with one edit of `duration_ms` from `media_time`.
pub fn trak(spec: TrackSpec<'_>) -> Trak {
    Trak {
        tkhd: tkhd(&spec),
        edts: Some(Edts {
            elst: Some(Elst {
                entries: vec![Edit {
                    segment_duration: spec.duration_ms,
                    media_time: Some(spec.media_time),
                    media_rate_integer: 1,
                    media_rate_fraction: 0,
                }],
            }),
            other: vec![],
        }),
        mdia: mdia(spec),
        other: vec![],
    }
}

/// The track header of `spec` (1920x1080 for video, full volume for audio).
fn tkhd(spec: &TrackSpec<'_>) -> Tkhd {
    let video = spec.video;
    Tkhd {
        flags: 3,
        creation_time: 0,
        modification_time: 0,
        track_id: spec.id,
        duration: spec.duration_ms,
        layer: 0,
        alternate_group: 0,
        volume: if video { 0 } else { 0x100 },
        matrix: IDENTITY_MATRIX,
        width: if video { 1920 << 16 } else { 0 },
        height: if video { 1080 << 16 } else { 0 },
    }
}

/// The media box of `spec`: its header, handler and sample tables.
fn mdia(spec: TrackSpec<'_>) -> Mdia {
    let video = spec.video;
    let n = spec.sizes.len() as u32;
    let (stco, co64) = run_offsets(spec.offsets);
    let mut stsc: Vec<StscEntry> = Vec::new();
    for (i, &count) in spec.per_run.iter().enumerate() {
        if stsc.last().is_none_or(|e| e.samples_per_chunk != count) {
            stsc.push(StscEntry {
                first_chunk: i as u32 + 1,
                samples_per_chunk: count,
                sample_description_index: 1,
            });
        }
    }
    Mdia {
        mdhd: Mdhd {
            creation_time: 0,
            modification_time: 0,
            timescale: spec.timescale,
            duration: u64::from(n) * u64::from(spec.delta),
            language: 0x55c4,
        },
        hdlr: Hdlr::new(
            FourCc(if video { *b"vide" } else { *b"soun" }),
            if video {
                "VideoHandler"
            } else {
                "SoundHandler"
            },
        ),
        minf: Minf {
            vmhd: video.then(Vmhd::default),
            smhd: (!video).then(Smhd::default),
            dinf: Some(Dinf::default()),
            stbl: Stbl {
                stsd: Stsd {
                    entries: vec![spec.entry],
                },
                stts: Stts {
                    entries: vec![SttsEntry {
                        sample_count: n,
                        sample_delta: spec.delta,
                    }],
                },
                stss: spec.sync.map(|entries| Stss { entries }),
                stsc: Stsc { entries: stsc },
                stsz: Some(Stsz::from_sizes(spec.sizes)),
                stco,
                co64,
                ..Stbl::default()
            },
            other: vec![],
        },
        other: vec![],
    }
}

/// One synthetic chunk's samples: the source's frames repeated, video padded.
struct Synthetic<'a> {
    src: &'a Source,
    /// Pad each video frame to this many bytes (0: unpadded).
    pad_video: usize,
    /// Video frames per second.
    fps: u32,
    /// Seconds of media.
    seconds: u32,
    /// AAC frames: the priming frame and enough to cover `seconds`.
    audio_frames: u32,
}

/// The samples one second of a synthetic chunk stores together: its video frames, then its
/// audio frames (a run each).
struct Second {
    video: std::ops::Range<u32>,
    audio: std::ops::Range<u32>,
}

/// Where the runs of a written `mdat` are: per track, each run's offset and sample count.
#[derive(Default)]
struct Runs {
    video_offsets: Vec<u64>,
    video_per_run: Vec<u32>,
    audio_offsets: Vec<u64>,
    audio_per_run: Vec<u32>,
    /// The offset after the last sample.
    end: u64,
}

impl Synthetic<'_> {
    /// Video frame `i`: its bytes (padded) and sync flag.
    fn video_frame(&self, i: u32) -> (Vec<u8>, bool) {
        let (bytes, sync) = &self.src.video[i as usize % self.src.video.len()];
        let mut b = bytes.clone();
        if self.pad_video > 0 {
            pad_frame(&mut b, self.pad_video);
        }
        (b, *sync)
    }

    /// AAC frame `i` (0: the priming frame).
    fn audio_frame(&self, i: u32) -> &[u8] {
        if i == 0 {
            &self.src.priming
        } else {
            &self.src.audio[(i as usize - 1) % self.src.audio.len()]
        }
    }

    /// Per second: the video frames of that second, then the audio frames whose decode time
    /// falls in it (the last second takes the rest).
    fn seconds(&self) -> Vec<Second> {
        let (fps, rate) = (self.fps, u64::from(self.src.sample_rate));
        let mut per_second = Vec::new();
        let mut next_audio = 0u32;
        for s in 0..self.seconds {
            let end = if s + 1 == self.seconds {
                self.audio_frames
            } else {
                ((u64::from(s + 1) * rate).div_ceil(1024) as u32).min(self.audio_frames)
            };
            per_second.push(Second {
                video: s * fps..(s + 1) * fps,
                audio: next_audio..end,
            });
            next_audio = end;
        }
        per_second
    }

    /// Writes the samples second by second from offset `pos`.
    fn write_samples(&self, out: &mut impl Write, mut pos: u64) -> io::Result<Runs> {
        let mut runs = Runs::default();
        for Second { video: v, audio: a } in self.seconds() {
            runs.video_offsets.push(pos);
            runs.video_per_run.push(v.len() as u32);
            for i in v {
                let (b, _) = self.video_frame(i);
                out.write_all(&b)?;
                pos += b.len() as u64;
            }
            if !a.is_empty() {
                runs.audio_offsets.push(pos);
                runs.audio_per_run.push(a.len() as u32);
                for i in a {
                    let b = self.audio_frame(i);
                    out.write_all(b)?;
                    pos += b.len() as u64;
                }
            }
        }
        runs.end = pos;
        Ok(runs)
    }

    /// The `moov` of the chunk whose samples are at `runs`.
    fn moov(&self, runs: &Runs) -> Moov {
        let src = self.src;
        let frames = self.seconds * self.fps;
        let duration_ms = u64::from(self.seconds) * 1000;
        let sync: Vec<u32> = (0..frames)
            .filter(|&i| self.video_frame(i).1)
            .map(|i| i + 1)
            .collect();
        let video = TrackSpec {
            id: 1,
            video: true,
            timescale: src.video_timescale,
            delta: src.frame_ticks,
            sizes: self.video_sizes(),
            per_run: &runs.video_per_run,
            offsets: &runs.video_offsets,
            sync: Some(sync),
            entry: src.video_entry.clone(),
            duration_ms,
            media_time: 0,
        };
        let audio = TrackSpec {
            id: 2,
            video: false,
            timescale: src.sample_rate,
            delta: 1024,
            sizes: self.audio_sizes(),
            per_run: &runs.audio_per_run,
            offsets: &runs.audio_offsets,
            sync: None,
            entry: src.audio_entry.clone(),
            duration_ms,
            media_time: i64::from(PRIMING),
        };
        Moov {
            mvhd: Mvhd {
                timescale: 1000,
                duration: duration_ms,
                next_track_id: 3,
                ..Mvhd::default()
            },
            traks: vec![trak(video), trak(audio)],
            mvex: None,
            other: vec![],
        }
    }

    /// Every video sample's size.
    fn video_sizes(&self) -> Vec<u32> {
        (0..self.seconds * self.fps)
            .map(|i| self.video_frame(i).0.len() as u32)
            .collect()
    }

    /// Every audio sample's size.
    fn audio_sizes(&self) -> Vec<u32> {
        (0..self.audio_frames)
            .map(|i| self.audio_frame(i).len() as u32)
            .collect()
    }
}

/// Writes one synthetic chunk of `seconds` seconds to `path`, video frames padded to
/// `pad_video` bytes (0: unpadded). Memory use is one second of media plus the sample tables.
/// Returns the file size.
///
/// `index` (the chunk's) is added to the `ftyp` minor version, so that the chunks of one
/// recording are not byte-identical files (check warns `chunk.duplicate` on those).
pub fn write_chunk(
    src: &Source,
    path: &Path,
    index: u32,
    seconds: u32,
    pad_video: usize,
) -> io::Result<u64> {
    let chunk = Synthetic {
        src,
        pad_video,
        fps: src.fps(),
        seconds,
        audio_frames: (u64::from(seconds) * u64::from(src.sample_rate)).div_ceil(1024) as u32 + 1,
    };
    let payload: u64 = chunk
        .video_sizes()
        .iter()
        .chain(&chunk.audio_sizes())
        .map(|&s| u64::from(s))
        .sum();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut head = Vec::new();
    Ftyp {
        major_brand: FourCc(*b"isom"),
        minor_version: 512 + index,
        compatible_brands: [*b"isom", *b"iso2", *b"avc1", *b"mp41"]
            .map(FourCc)
            .to_vec(),
    }
    .encode(&mut head);
    callrec_mp4::write::write_mdat_header(&mut head, payload);
    out.write_all(&head)?;
    let runs = chunk.write_samples(&mut out, head.len() as u64)?;
    let mut tail = Vec::new();
    chunk.moov(&runs).encode(&mut tail);
    out.write_all(&tail)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(runs.end + tail.len() as u64)
}

/// Writes a synthetic recording: `event.json` and `chunks` chunks of `seconds` seconds each,
/// with metadata that matches them (declared video bitrate = the padded one). Returns the
/// total size of the media.
pub fn write_recording(
    src: &Source,
    dir: &Path,
    chunks: u32,
    seconds: u32,
    pad_video: usize,
) -> io::Result<u64> {
    fs::create_dir_all(dir)?;
    let mut event = src.event.clone();
    let data = &mut event[0]["data"];
    let start: DateTime<Utc> = data["recordingStartTime"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("event.json: no recordingStartTime".into()))?;
    let ids: Vec<String> = (0..chunks)
        .map(|k| format!("0-eus-d3-synthetic{k:023}"))
        .collect();
    data["recordingStorageInfo"]["recordingChunks"] = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let reason = if k + 1 == ids.len() {
                "SessionEnded"
            } else {
                "ChunkMaximumSizeExceeded"
            };
            json!({"documentId": id, "index": k, "endReason": reason})
        })
        .collect();
    data["recordingDurationMs"] = json!(u64::from(chunks) * u64::from(seconds) * 1000);
    fs::write(dir.join("event.json"), serde_json::to_vec_pretty(&event)?)?;
    let mut total = 0;
    for (k, id) in ids.iter().enumerate() {
        let bytes = write_chunk(
            src,
            &dir.join(format!("{id}.mp4")),
            k as u32,
            seconds,
            pad_video,
        )?;
        total += bytes;
        let mut meta = src.metadata.clone();
        let chunk_start = start + TimeDelta::seconds(i64::from(seconds) * k as i64);
        meta["chunkDocumentId"] = json!(id);
        meta["chunkIndex"] = json!(k);
        meta["chunkStartTime"] = json!(chunk_start.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        meta["chunkDuration"] = json!(u64::from(seconds) * 1000);
        meta["pauseResumeIntervals"] = json!([]);
        if pad_video > 0 {
            meta["recordingInfo"]["videoConfiguration"]["bitRate"] =
                json!(pad_video as u64 * 8 * u64::from(src.fps()));
        }
        fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(&meta)?,
        )?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_chunk_repeats_the_source_packets_and_parses_back() {
        let src = Source::load(&basic_fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunk.mp4");
        let seconds = 12; // longer than the 5 s source, so frames repeat
        let len = write_chunk(&src, &path, 0, seconds, 4000).unwrap();
        let data = fs::read(&path).unwrap();
        assert_eq!(data.len() as u64, len);
        let movie = Movie::parse(&data).unwrap();
        let video = movie.track(TrackKind::Video).unwrap();
        let audio = movie.track(TrackKind::Audio).unwrap();
        assert_eq!(video.samples.len() as u32, seconds * src.fps());
        // Priming plus enough AAC frames to cover the chunk.
        let frames = audio.samples.len() as u64;
        assert!((frames - 1) * 1024 >= u64::from(seconds) * u64::from(src.sample_rate));
        for (i, s) in video.samples.iter().enumerate() {
            let (orig, sync) = &src.video[i % src.video.len()];
            let got = &data[s.offset as usize..][..s.size as usize];
            assert_eq!(s.sync, *sync, "frame {i}");
            assert_eq!(
                &got[..orig.len()],
                &orig[..],
                "frame {i} starts with the source frame"
            );
            assert!(
                got.len() == 4000 || orig.len() + 6 > 4000,
                "frame {i} padded"
            );
        }
        assert_eq!(&data[audio.samples[0].range_usize()], &src.priming[..]);
    }

    trait RangeUsize {
        fn range_usize(&self) -> std::ops::Range<usize>;
    }

    impl RangeUsize for callrec_mp4::Sample {
        fn range_usize(&self) -> std::ops::Range<usize> {
            self.offset as usize..self.offset as usize + self.size as usize
        }
    }

    #[test]
    fn synthetic_recording_has_matching_event_and_metadata() {
        let src = Source::load(&basic_fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_recording(&src, dir.path(), 2, 3, 0).unwrap();
        let event: Value =
            serde_json::from_slice(&fs::read(dir.path().join("event.json")).unwrap()).unwrap();
        let chunks = event[0]["data"]["recordingStorageInfo"]["recordingChunks"]
            .as_array()
            .unwrap();
        assert_eq!(chunks.len(), 2);
        for (k, c) in chunks.iter().enumerate() {
            let id = c["documentId"].as_str().unwrap();
            let meta: Value =
                serde_json::from_slice(&fs::read(dir.path().join(format!("{id}.json"))).unwrap())
                    .unwrap();
            assert_eq!(meta["chunkIndex"], k);
            assert_eq!(meta["chunkDuration"], 3000);
            assert!(dir.path().join(format!("{id}.mp4")).exists());
        }
    }
}
