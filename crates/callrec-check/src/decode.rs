//! Decode every AAC frame of a track with symphonia's AAC-LC decoder, count the PCM samples and
//! measure digital silence.

use std::panic::AssertUnwindSafe;

use callrec_mp4::{AacConfig, Track};
use serde::Serialize;
use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};
use symphonia::default::codecs::AacDecoder;

/// A decoded sample counts as digital silence when every channel is within one 16-bit step of
/// zero (|x| <= 1/32768): it would be written as 0 in 16-bit PCM.
pub const SILENCE_THRESHOLD: f32 = 1.0 / 32768.0;

/// How many decode error messages are kept (the count is always exact).
const KEEP_ERRORS: usize = 5;

/// What decoding a whole audio track gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodeFacts {
    /// Packets handed to the decoder (samples that lie wholly inside the file).
    pub packets: u64,
    /// Sum of those packets' durations, in the track timescale.
    pub packets_duration: u64,
    /// PCM sample frames (per channel) the decoder produced.
    pub decoded_frames: u64,
    /// Sample rate the decoder produced them at.
    pub sample_rate: u32,
    /// Packets that failed to decode.
    pub errors: u64,
    /// The first few errors: `(sample number, message)`.
    pub first_errors: Vec<(usize, String)>,
    /// The decoder could not be created (unsupported configuration): the reason.
    pub unsupported: Option<String>,
    /// The longest run of digital silence, in milliseconds.
    pub longest_silence_ms: f64,
    /// Where that run starts, in milliseconds of decoded audio (priming included).
    pub longest_silence_start_ms: f64,
    /// Digital silence in all, in milliseconds.
    pub silent_ms: f64,
}

/// Decodes every sample of `track` that lies inside `data`.
pub(crate) fn decode_aac(cfg: &AacConfig, track: &Track, data: &[u8]) -> DecodeFacts {
    let mut facts = DecodeFacts {
        packets: 0,
        packets_duration: 0,
        decoded_frames: 0,
        sample_rate: cfg.sample_rate,
        errors: 0,
        first_errors: Vec::new(),
        unsupported: None,
        longest_silence_ms: 0.0,
        longest_silence_start_ms: 0.0,
        silent_ms: 0.0,
    };
    let mut params = AudioCodecParameters::new();
    params
        .for_codec(CODEC_ID_AAC)
        .with_extra_data(cfg.asc.clone().into_boxed_slice());
    if cfg.sample_rate > 0 {
        params.with_sample_rate(cfg.sample_rate);
    }
    let mut decoder = match AacDecoder::try_new(&params, &AudioDecoderOptions::default()) {
        Ok(d) => d,
        Err(e) => {
            facts.unsupported = Some(e.to_string());
            return facts;
        }
    };
    let mut pcm: Vec<f32> = Vec::new();
    let mut run: u64 = 0;
    let mut run_start: u64 = 0;
    let mut longest: u64 = 0;
    let mut longest_start: u64 = 0;
    let mut silent: u64 = 0;
    for (i, s) in track.samples.iter().enumerate() {
        let r = s.range();
        let (Ok(start), Ok(end)) = (usize::try_from(r.start), usize::try_from(r.end)) else {
            continue;
        };
        let Some(bytes) = data.get(start..end) else {
            continue;
        };
        facts.packets += 1;
        facts.packets_duration = facts.packets_duration.saturating_add(u64::from(s.duration));
        let pkt = PacketRef::new(
            track.id,
            Timestamp::new(s.dts as i64),
            Duration::new(u64::from(s.duration)),
            bytes,
        );
        // A decoder bug must not take the whole check down: a panic ends this track's decode
        // and is reported as a decode error.
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
            decoder.decode_ref(&pkt).map(|buf| {
                buf.copy_to_vec_interleaved(&mut pcm);
                (buf.num_planes().max(1), buf.frames() as u64)
            })
        }));
        match decoded {
            Err(_) => {
                facts.errors += 1;
                if facts.first_errors.len() < KEEP_ERRORS {
                    facts
                        .first_errors
                        .push((i, "the decoder panicked".to_string()));
                }
                break;
            }
            Ok(Ok((channels, frames))) => {
                for (k, frame) in pcm.chunks(channels).enumerate() {
                    let quiet = frame.iter().all(|x| x.abs() <= SILENCE_THRESHOLD);
                    if quiet {
                        if run == 0 {
                            run_start = facts.decoded_frames + k as u64;
                        }
                        run += 1;
                        silent += 1;
                        if run > longest {
                            longest = run;
                            longest_start = run_start;
                        }
                    } else {
                        run = 0;
                    }
                }
                facts.decoded_frames = facts.decoded_frames.saturating_add(frames);
            }
            Ok(Err(e)) => {
                facts.errors += 1;
                if facts.first_errors.len() < KEEP_ERRORS {
                    facts.first_errors.push((i, e.to_string()));
                }
                run = 0;
            }
        }
    }
    let rate = f64::from(cfg.sample_rate.max(1));
    facts.longest_silence_ms = longest as f64 * 1000.0 / rate;
    facts.longest_silence_start_ms = longest_start as f64 * 1000.0 / rate;
    facts.silent_ms = silent as f64 * 1000.0 / rate;
    facts
}
