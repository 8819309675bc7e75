//! One chunk: its media facts against what its metadata says.

use serde::Serialize;
use serde_json::json;

use crate::decode::DecodeFacts;
use crate::media::{AudioFacts, Inspection, MediaFacts, Unreadable, VideoFacts, AAC_FRAME};
use crate::{ChunkRef, Code, DurationReading, Finding, Options, Severity};

/// What a chunk's metadata says its media is. Built from `callrec_meta::ChunkMetadata` by
/// [`crate::check`]; callers with other sources may fill it themselves. `None` fields are not
/// checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Expected {
    /// `recordingInfo.videoConfiguration`, when the metadata has one.
    pub video: Option<ExpectedVideo>,
    /// `recordingInfo.audioConfiguration`, when the metadata has one.
    pub audio: Option<ExpectedAudio>,
    /// `chunkDuration` in milliseconds.
    pub duration_ms: Option<f64>,
    /// The sum of the chunk's pause durations (`pauseResumeIntervals[].duration`) in
    /// milliseconds. When the media is shorter than `chunkDuration` by this much, the finding
    /// is `duration.includes_pauses` (a warning) instead of `duration.chunk`.
    pub paused_ms: Option<f64>,
    /// The metadata says the recording is audio only (`channelType`/`contentType` `audio`):
    /// a video track is unexpected.
    pub audio_only: bool,
}

/// The video the metadata describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedVideo {
    /// `longerSideLength`.
    pub longer_side: u32,
    /// `shorterSideLength`.
    pub shorter_side: u32,
    /// `framerate` (frames per second). Zero, negative or not finite is invalid metadata: a
    /// `video.frame_rate` error (the media cannot be proved to match it).
    pub frame_rate: f64,
    /// `bitRate` in bits per second (0 or `None`: not checked).
    pub bit_rate: Option<u64>,
}

/// The audio the metadata describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedAudio {
    /// `sampleRate` in Hz.
    pub sample_rate: u32,
    /// `channels`.
    pub channels: u32,
    /// `bitRate` in bits per second (0 or `None`: not checked).
    pub bit_rate: Option<u64>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Findings for a file that could not be inspected at all.
pub(crate) fn unreadable(u: &Unreadable, chunk: &ChunkRef) -> Finding {
    let c = Some(chunk.clone());
    match u {
        Unreadable::Empty => Finding::new(
            Code::FileEmpty,
            Severity::Error,
            c,
            "the media file is empty (0 bytes): the download failed",
        )
        .actual(0),
        Unreadable::NotMp4 { prefix, html } => {
            let what = if *html {
                "an HTML page, not an MP4 (an error page saved as the download)"
            } else {
                "not an MP4: it does not start with an ISO-BMFF box"
            };
            Finding::new(
                Code::FileNotMp4,
                Severity::Error,
                c,
                format!("the media file is {what}; it starts with {prefix:?}"),
            )
            .values("ftyp box", prefix)
        }
        Unreadable::Changed(e) => Finding::new(
            Code::FileChanged,
            Severity::Error,
            c,
            format!(
                "the media file changed while it was read (it is shorter than when it was \
                 opened, or the read failed): {e}; check it again once nothing writes it"
            ),
        )
        .actual(json!({ "box": e.path(), "error": e.to_string() })),
        Unreadable::Io(e) => Finding::new(
            Code::FileUnreadable,
            Severity::Error,
            c,
            format!("the media file cannot be read: {e}"),
        )
        .values(json!("a readable file"), json!(e.to_string())),
        Unreadable::Parse(e) => Finding::new(
            Code::Mp4Parse,
            Severity::Error,
            c,
            format!("the mp4 does not parse: {e}"),
        )
        .actual(json!({ "box": e.path(), "error": e.to_string() })),
        Unreadable::Truncated { tail, error } => Finding::new(
            Code::Mp4Truncated,
            Severity::Error,
            c,
            format!(
                "the file is truncated (an incomplete download): {}, so the mp4 does not parse \
                 ({error}); download it again before the recording expires",
                if tail.declared == 0 {
                    format!(
                        "it ends inside the header of its last box (offset {})",
                        tail.offset
                    )
                } else {
                    format!(
                        "its {} box at offset {} declares {} bytes, {} are present",
                        tail.fourcc, tail.offset, tail.declared, tail.available
                    )
                }
            ),
        )
        .values(
            json!({ "box": tail.fourcc.to_string(), "size": tail.declared }),
            json!({
                "file_size": tail.offset.saturating_add(tail.available),
                "box_bytes_present": tail.available,
                "error": error.to_string(),
            }),
        ),
    }
}

/// Which reading of `chunkDuration` the chunk's measured media fits (see
/// [`DurationReading`]), within one frame. `None` when the chunk was not measured, has no
/// pauses longer than that frame (both readings are the same), or fits neither reading (a
/// `duration.chunk` error).
pub(crate) fn duration_reading(f: &MediaFacts, exp: &Expected) -> Option<DurationReading> {
    let (want, got) = (exp.duration_ms?, f.duration_ms?);
    let tol = frame_tolerance_ms(f, exp) + 1e-6;
    let paused = exp.paused_ms.filter(|&p| p.is_finite() && p > tol)?;
    if (got - want).abs() <= tol {
        Some(DurationReading::ExcludesPauses)
    } else if (got - (want - paused)).abs() <= tol {
        Some(DurationReading::IncludesPauses)
    } else {
        None
    }
}

/// Tolerance of duration comparisons: one video frame (measured, else from the metadata's
/// frame rate), else one AAC frame.
fn frame_tolerance_ms(f: &MediaFacts, exp: &Expected) -> f64 {
    f.video
        .as_ref()
        .and_then(|v| v.frame_duration_ms)
        .or_else(|| {
            exp.video
                .as_ref()
                .filter(|v| v.frame_rate > 0.0)
                .map(|v| 1000.0 / v.frame_rate)
        })
        .or_else(|| {
            f.audio
                .as_ref()
                .and_then(|a| a.sample_rate)
                .filter(|&r| r > 0)
                .map(|r| AAC_FRAME as f64 * 1000.0 / f64::from(r))
        })
        .unwrap_or(0.0)
}

/// `actual` lies outside `[expected / (1 + t), expected * (1 + t)]`.
/// A declared bitrate is a target (a ceiling for constrained encoders): only an actual rate
/// well above it, past `declared * (1 + tolerance)`, is worth a warning; below never is.
fn above_declared(actual: f64, declared: f64, tolerance_pct: f64) -> bool {
    actual > declared * (1.0 + tolerance_pct / 100.0)
}

/// Collects one chunk's findings.
struct Findings<'a> {
    chunk: &'a ChunkRef,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        code: Code,
        sev: Severity,
        msg: String,
        e: serde_json::Value,
        a: serde_json::Value,
    ) {
        self.out
            .push(Finding::new(code, sev, Some(self.chunk.clone()), msg).values(e, a));
    }
}

/// Every finding about one readable chunk: integrity, video, audio, durations.
pub(crate) fn compare(
    ins: &Inspection,
    exp: &Expected,
    opts: &Options,
    chunk: &ChunkRef,
) -> Vec<Finding> {
    let f = &ins.facts;
    let mut p = Findings {
        chunk,
        out: Vec::new(),
    };
    integrity(ins, &mut p);
    video(f, exp, opts, &mut p);
    audio(f, exp, opts, &mut p);
    durations(f, exp, &mut p);
    p.out
}

/// Truncation, structural defects, no track at all.
fn integrity(ins: &Inspection, p: &mut Findings) {
    let f = &ins.facts;
    // Integrity.
    if ins.truncated_tail.is_some() || f.samples_past_eof > 0 {
        let mut msg = String::from("the file is truncated");
        let mut expected = json!(null);
        let mut actual =
            json!({ "file_size": f.file_size, "samples_past_eof": f.samples_past_eof });
        if let Some(t) = &ins.truncated_tail {
            msg = format!(
                "the file is truncated: its {} box at offset {} declares {} bytes, {} are present",
                t.fourcc, t.offset, t.declared, t.available
            );
            expected = json!({ "box": t.fourcc.to_string(), "size": t.declared });
            actual["box_bytes_present"] = json!(t.available);
        }
        if f.samples_past_eof > 0 {
            msg.push_str(&format!(
                "; {} samples lie past the end of the file ({} bytes)",
                f.samples_past_eof, f.file_size
            ));
        }
        p.push(Code::Mp4Truncated, Severity::Error, msg, expected, actual);
    }
    // Structure: one finding per defect the validator names (samples past the end of the file
    // are the truncation above).
    for d in &ins.defects {
        if d.past_end_of_file(f.file_size) {
            continue;
        }
        let code = defect_code(d.kind);
        let mut msg = d.reason.clone();
        if let Some(t) = d.track_id {
            msg = format!("track {t}, {}: {msg}", d.path);
        }
        p.push(
            code,
            Severity::Error,
            msg,
            json!(null),
            json!({
                "track": d.track_id,
                "track_index": d.track_index,
                "box": d.path,
                "sample": d.sample,
            }),
        );
    }
    if f.video.is_none() && f.audio.is_none() {
        p.push(
            Code::TrackMissing,
            Severity::Error,
            "the file has neither a video nor an audio track".into(),
            json!(["video", "audio"]),
            json!([]),
        );
    }
}

/// The video track against the metadata's kind and video configuration.
fn video(f: &MediaFacts, exp: &Expected, opts: &Options, p: &mut Findings) {
    // Video.
    if exp.audio_only && f.video.is_some() {
        p.push(
            Code::TrackUnexpected,
            Severity::Warning,
            "the metadata says audio only, but the file has a video track".into(),
            json!("audio"),
            json!("audioVideo"),
        );
    }
    match (&f.video, &exp.video) {
        (None, Some(_)) => p.push(
            Code::TrackMissing,
            Severity::Error,
            "the metadata describes video but the file has no video track".into(),
            json!("video"),
            json!(null),
        ),
        (Some(v), ev) => video_track(v, ev.as_ref(), opts, p),
        (None, None) => {}
    }
}

/// A video track: codec, first sample, and what the metadata describes.
fn video_track(v: &VideoFacts, ev: Option<&ExpectedVideo>, opts: &Options, p: &mut Findings) {
    if v.codec != "avc1" && v.codec != "avc3" {
        p.push(
            Code::VideoCodec,
            Severity::Error,
            format!("video codec is {}, not h.264 (avc1)", v.codec),
            json!("avc1"),
            json!(v.codec),
        );
    }
    if !v.first_sample_sync && v.samples > 0 {
        p.push(
            Code::VideoFirstSampleSync,
            Severity::Error,
            "the first video sample is not a sync sample (keyframe): the chunk cannot \
             start playing cleanly"
                .into(),
            json!(true),
            json!(false),
        );
    }
    if let Some(ev) = ev {
        video_metadata(v, ev, opts, p);
    }
}

/// A video track against `videoConfiguration`: picture sizes, frame rate, bitrate.
fn video_metadata(v: &VideoFacts, ev: &ExpectedVideo, opts: &Options, p: &mut Findings) {
    let sizes = v
        .width
        .zip(v.height)
        .into_iter()
        .chain(v.other_sizes.iter().copied());
    let (l, s) = (ev.longer_side, ev.shorter_side);
    for (w, h) in sizes {
        if !((w == l && h == s) || (w == s && h == l)) {
            p.push(
                Code::VideoResolution,
                Severity::Error,
                format!("picture is {w}x{h}, metadata says {l}x{s}"),
                json!({ "longer_side": l, "shorter_side": s }),
                json!({ "width": w, "height": h }),
            );
        }
    }
    if !(ev.frame_rate.is_finite() && ev.frame_rate > 0.0) {
        // Nothing to compare with: the metadata is invalid, and the media cannot be
        // proved to match it.
        let measured = v.frame_rate.map(round3);
        p.push(
            Code::VideoFrameRate,
            Severity::Error,
            format!(
                "the metadata's framerate is {}, not a frame rate; the media has {}",
                ev.frame_rate,
                measured.map_or_else(
                    || "no measurable frame rate".to_string(),
                    |m| format!("{m} fps")
                )
            ),
            json!(ev.frame_rate),
            json!(measured),
        );
    } else if let Some(fr) = v.frame_rate {
        if (fr - ev.frame_rate).abs() > ev.frame_rate * opts.frame_rate_tolerance_pct / 100.0 {
            p.push(
                Code::VideoFrameRate,
                Severity::Error,
                format!(
                    "frame rate from the sample durations is {} fps, metadata says {}",
                    round3(fr),
                    ev.frame_rate
                ),
                json!(ev.frame_rate),
                json!(round3(fr)),
            );
        }
    }
    if let (Some(br), Some(want)) = (v.bitrate, ev.bit_rate.filter(|&b| b > 0)) {
        if above_declared(br, want as f64, opts.bitrate_tolerance_pct) {
            p.push(
                Code::VideoBitrate,
                Severity::Warning,
                format!(
                    "average video bitrate is {} bit/s, above the {want} bit/s the metadata declares (tolerance {}%)",
                    br.round(),
                    opts.bitrate_tolerance_pct
                ),
                json!(want),
                json!(br.round()),
            );
        }
    }
}

/// The audio track against the metadata's audio configuration.
fn audio(f: &MediaFacts, exp: &Expected, opts: &Options, p: &mut Findings) {
    // Audio.
    match (&f.audio, &exp.audio) {
        (None, Some(_)) => p.push(
            Code::TrackMissing,
            Severity::Error,
            "the metadata describes audio but the file has no audio track".into(),
            json!("audio"),
            json!(null),
        ),
        (Some(a), ea) => audio_track(a, ea.as_ref(), opts, p),
        (None, None) => {}
    }
}

/// An audio track: codec, object type, timescale, decoding, and what the metadata describes.
fn audio_track(a: &AudioFacts, ea: Option<&ExpectedAudio>, opts: &Options, p: &mut Findings) {
    if a.codec != "mp4a" {
        p.push(
            Code::AudioCodec,
            Severity::Error,
            format!("audio codec is {}, not aac (mp4a)", a.codec),
            json!("mp4a"),
            json!(a.codec),
        );
    }
    if let Some(ot) = a.object_type.filter(|&o| o != 2) {
        p.push(
            Code::AudioObjectType,
            Severity::Error,
            format!("aac object type is {ot}, not 2 (aac-lc)"),
            json!(2),
            json!(ot),
        );
    }
    let rate = a.sample_rate.or(ea.map(|e| e.sample_rate));
    if let Some(ea) = ea {
        audio_metadata(a, ea, opts, p);
    }
    if let Some(r) = rate.filter(|&r| r != a.timescale) {
        p.push(
            Code::AudioTimescale,
            Severity::Error,
            format!(
                "audio track timescale is {}, the sample rate is {r} Hz",
                a.timescale
            ),
            json!(r),
            json!(a.timescale),
        );
    }
    if let Some(d) = &a.decode {
        decode_errors(a, d, p);
        silence(a, d, opts, p);
    }
}

/// An audio track against `audioConfiguration`: sample rate, channels, bitrate.
fn audio_metadata(a: &AudioFacts, ea: &ExpectedAudio, opts: &Options, p: &mut Findings) {
    if let Some(r) = a.sample_rate.filter(|&r| r != ea.sample_rate) {
        p.push(
            Code::AudioSampleRate,
            Severity::Error,
            format!(
                "audio sample rate is {r} Hz, metadata says {}",
                ea.sample_rate
            ),
            json!(ea.sample_rate),
            json!(r),
        );
    }
    if let Some(ch) = a.channels.filter(|&ch| ch != ea.channels) {
        p.push(
            Code::AudioChannels,
            Severity::Error,
            format!("audio has {ch} channels, metadata says {}", ea.channels),
            json!(ea.channels),
            json!(ch),
        );
    }
    if let (Some(br), Some(want)) = (a.bitrate, ea.bit_rate.filter(|&b| b > 0)) {
        if above_declared(br, want as f64, opts.bitrate_tolerance_pct) {
            p.push(
                Code::AudioBitrate,
                Severity::Warning,
                format!(
                    "average audio bitrate is {} bit/s, above the {want} bit/s the metadata declares (tolerance {}%)",
                    br.round(),
                    opts.bitrate_tolerance_pct
                ),
                json!(want),
                json!(br.round()),
            );
        }
    }
}

/// What decoding the audio found wrong: a read error, an unsupported stream, frames that
/// fail, a decoded length off the track's.
fn decode_errors(a: &AudioFacts, d: &DecodeFacts, p: &mut Findings) {
    if let Some((k, why)) = &d.read_error {
        p.push(
            Code::FileChanged,
            Severity::Error,
            format!(
                "the media file changed while it was read: audio sample {k} cannot \
                 be read ({why}); check it again once nothing writes it"
            ),
            json!(null),
            json!({ "track": "audio", "sample": k, "error": why }),
        );
    } else if let Some(why) = &d.unsupported {
        p.push(
            Code::AudioDecode,
            Severity::Error,
            format!("the audio cannot be decoded: {why}"),
            json!("aac-lc"),
            json!(why),
        );
    } else if d.errors > 0 {
        let (first, msg) = d.first_errors.first().cloned().unwrap_or_default();
        p.push(
            Code::AudioDecode,
            Severity::Error,
            format!(
                "{} of {} aac frames fail to decode (first: sample {first}: {msg})",
                d.errors, d.packets
            ),
            json!(0),
            json!({ "errors": d.errors, "first_frame": first, "first": d.first_errors }),
        );
    } else if d.packets > 0 && a.timescale > 0 {
        // The track's duration in decoded samples; the last frame may be cut short
        // (its stts duration < 1024), so the decoder may yield up to one frame more.
        let want = u64::try_from(
            u128::from(d.packets_duration) * u128::from(d.sample_rate) / u128::from(a.timescale),
        )
        .unwrap_or(u64::MAX);
        let got = d.decoded_frames;
        if got < want || got - want >= AAC_FRAME {
            p.push(
                Code::AudioDecodedSamples,
                Severity::Error,
                format!("decoding gave {got} samples, the track's duration is {want} samples"),
                json!(want),
                json!(got),
            );
        }
    }
}

/// Digital silence in the decoded audio: all of it, or the longest stretch past the
/// threshold.
fn silence(a: &AudioFacts, d: &DecodeFacts, opts: &Options, p: &mut Findings) {
    if d.decoded_frames > 0 && d.errors == 0 {
        let rate = f64::from(d.sample_rate.max(1));
        let total_ms = d.decoded_frames as f64 * 1000.0 / rate;
        // The priming frame and a short last frame decode to (almost) nothing.
        let all_silent = d.longest_silence_ms >= total_ms - 2.0 * AAC_FRAME as f64 * 1000.0 / rate;
        if all_silent {
            p.push(
                Code::AudioSilence,
                Severity::Warning,
                format!(
                    "the audio is digital silence from start to end ({} ms): no sound was recorded",
                    d.longest_silence_ms.round()
                ),
                json!("sound"),
                json!({ "silent_ms": d.longest_silence_ms.round() }),
            );
        } else if d.longest_silence_ms >= opts.silence_warn_ms as f64 {
            // On the chunk's presentation: the decoded audio starts with the
            // priming frame and ends with the padding, which are not presented.
            let priming = AAC_FRAME as f64 * 1000.0 / rate;
            let end = a.duration_ms.unwrap_or(f64::INFINITY);
            let start = (d.longest_silence_start_ms - priming).clamp(0.0, end.max(0.0));
            let len = d.longest_silence_ms.min(end - start).max(0.0);
            p.push(
                Code::AudioSilence,
                Severity::Warning,
                format!(
                    "{} ms of digital silence from {} ms into the audio",
                    len.round(),
                    start.round()
                ),
                json!({ "max_silence_ms": opts.silence_warn_ms }),
                json!({ "silence_ms": len.round(), "start_ms": start.round() }),
            );
        }
    }
}

/// The media's duration against `chunkDuration`, and video against audio.
fn durations(f: &MediaFacts, exp: &Expected, p: &mut Findings) {
    // Durations.
    let tol = frame_tolerance_ms(f, exp);
    if let (Some(want), Some(got)) = (exp.duration_ms, f.duration_ms) {
        let paused = exp.paused_ms.unwrap_or(0.0);
        if duration_reading(f, exp) == Some(DurationReading::IncludesPauses) {
            p.push(
                Code::DurationIncludesPauses,
                Severity::Warning,
                format!(
                    "the media lasts {} ms, chunkDuration says {want} ms: the metadata's \
                     chunkDuration appears to include the {} ms the chunk was paused, so the \
                     wall clock of this recording should be read with that convention \
                     (tolerance one frame, {} ms)",
                    round3(got),
                    round3(paused),
                    round3(tol)
                ),
                json!({ "chunk_duration_ms": want, "paused_ms": round3(paused) }),
                json!({ "media_ms": round3(got) }),
            );
        } else if (got - want).abs() > tol + 1e-6 {
            p.push(
                Code::DurationChunk,
                Severity::Error,
                format!(
                    "the media lasts {} ms, chunkDuration says {want} ms (tolerance one frame, {} ms)",
                    round3(got),
                    round3(tol)
                ),
                json!(want),
                json!(round3(got)),
            );
        }
    }
    if let (Some(v), Some(a)) = (
        f.video.as_ref().and_then(|v| v.duration_ms),
        f.audio.as_ref().and_then(|a| a.duration_ms),
    ) {
        if (v - a).abs() > tol + 1e-6 {
            p.push(
                Code::DurationTracks,
                Severity::Warning,
                format!(
                    "video lasts {} ms and audio {} ms: they differ by more than one frame ({} ms)",
                    round3(v),
                    round3(a),
                    round3(tol)
                ),
                json!(round3(v)),
                json!(round3(a)),
            );
        }
    }
}
/// The finding code of a structural defect.
pub(crate) fn defect_code(kind: callrec_mp4::DefectKind) -> Code {
    use callrec_mp4::DefectKind as K;
    match kind {
        K::SampleEntry => Code::Mp4SampleEntry,
        K::Stsz => Code::Mp4Stsz,
        K::Stts => Code::Mp4Stts,
        K::Ctts => Code::Mp4Ctts,
        K::Stsc => Code::Mp4Stsc,
        K::SampleRange => Code::Mp4SampleRange,
        K::Trun => Code::Mp4Trun,
        K::CompositionOffset => Code::Mp4CompositionOffset,
        K::Stss => Code::Mp4Stss,
        K::EmptySample => Code::Mp4EmptySample,
        K::SampleData => Code::Mp4SampleData,
        K::DecodeOrder => Code::Mp4DecodeOrder,
        K::DecodeGap => Code::Mp4DecodeGap,
        K::Edit => Code::Mp4Elst,
        _ => Code::Mp4Parse,
    }
}
