//! Decode every AAC frame of a track with symphonia's AAC-LC decoder, count the PCM samples and
//! measure digital silence.

use std::panic::AssertUnwindSafe;

use callrec_mp4::{AacConfig, Source, Track, Window};
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
    /// Sum of those packets' durations, in the track timescale (less the stretch of an
    /// edit-less first frame, see [`callrec_mp4::present`]).
    pub packets_duration: u64,
    /// PCM sample frames (per channel) the decoder produced.
    pub decoded_frames: u64,
    /// Sample rate the decoder produced them at.
    pub sample_rate: u32,
    /// Packets that failed to decode.
    pub errors: u64,
    /// The first few errors: `(sample number, message)`.
    pub first_errors: Vec<(usize, String)>,
    /// A sample could not be read (the file shrank or changed under the check): the sample
    /// number and the I/O error. The decode stopped there.
    pub read_error: Option<(usize, String)>,
    /// The decoder could not be created (unsupported configuration): the reason.
    pub unsupported: Option<String>,
    /// The longest run of digital silence, in milliseconds.
    pub longest_silence_ms: f64,
    /// Where that run starts, in milliseconds of decoded audio (priming included).
    pub longest_silence_start_ms: f64,
    /// Digital silence in all, in milliseconds.
    pub silent_ms: f64,
}

/// Bytes read at once from the file: consecutive AAC frames come from one positioned read.
const READ_WINDOW: usize = 256 << 10;

/// The largest AAC frame read: an AAC-LC raw_data_block holds at most 6144 bits per channel
/// (768 bytes), so 64 KiB is far beyond any real frame of up to 48 channels.
const MAX_AAC_FRAME: usize = 64 << 10;

/// Decodes every sample of `track` that lies inside `src` (its length when opened), reading
/// the frames through one reused window of [`READ_WINDOW`] bytes.
pub(crate) fn decode_aac(cfg: &AacConfig, track: &Track, src: &dyn Source) -> DecodeFacts {
    let mut facts = DecodeFacts {
        packets: 0,
        packets_duration: 0,
        decoded_frames: 0,
        sample_rate: cfg.sample_rate,
        errors: 0,
        first_errors: Vec::new(),
        read_error: None,
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
    let len = src.len();
    let mut window = Window::new(src, READ_WINDOW);
    for (i, s) in track.samples.iter().enumerate() {
        if s.range().end > len {
            // Past the end of the file: the truncation finding counts these.
            continue;
        }
        if s.size as usize > MAX_AAC_FRAME {
            // Not read: no AAC frame is this large (a hostile size must not size a buffer).
            facts.packets += 1;
            facts.errors += 1;
            if facts.first_errors.len() < KEEP_ERRORS {
                facts.first_errors.push((
                    i,
                    format!(
                        "the frame is {} bytes, more than any AAC frame ({MAX_AAC_FRAME})",
                        s.size
                    ),
                ));
            }
            run = 0;
            continue;
        }
        if !window.holds(s.offset, u64::from(s.size)) {
            // Read the run of contiguous samples that starts here (an stco chunk, a trun's
            // data), up to the window's size: not the video between them.
            let mut end = s.range().end;
            for n in &track.samples[i + 1..] {
                let e = n.range().end;
                if n.offset != end || e > len || e - s.offset > READ_WINDOW as u64 {
                    break;
                }
                end = e;
            }
            if let Err(e) = window.load(s.offset, (end - s.offset) as usize) {
                facts.read_error = Some((i, e.to_string()));
                break;
            }
        }
        let bytes = match window.get(s.offset, s.size as usize) {
            Ok(b) => b,
            Err(e) => {
                facts.read_error = Some((i, e.to_string()));
                break;
            }
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
        // Symphonia decodes many malformed frames without complaint (an all-0xff frame is one
        // END element; others become silence): the first element is checked first.
        if let Err(why) = frame_syntax(bytes, cfg.channels, cfg.sample_rate) {
            facts.errors += 1;
            if facts.first_errors.len() < KEEP_ERRORS {
                facts.first_errors.push((i, why.to_string()));
            }
            run = 0;
            continue;
        }
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

/// Reads bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// Scale factor bands of a long and of a short window at `sample_rate` (ISO/IEC 14496-3
/// 4.5.4, `num_swb_long_window` / `num_swb_short_window`).
fn num_swb(sample_rate: u32) -> (u32, u32) {
    match sample_rate {
        r if r >= 88_200 => (41, 12),
        r if r >= 64_000 => (47, 12),
        r if r >= 44_100 => (49, 14),
        r if r >= 32_000 => (51, 14),
        r if r >= 22_050 => (47, 15),
        r if r >= 11_025 => (43, 15),
        _ => (40, 15),
    }
}

/// Checks the start of an AAC-LC `raw_data_block` (ISO/IEC 14496-3 4.4.2.1): its first
/// syntactic element is not END, a mono stream starts with an SCE and a stereo one with a CPE,
/// and that element's `ics_info` is valid (reserved bit 0, `max_sfb` within the window's
/// bands, no prediction, which AAC-LC does not have).
pub(crate) fn frame_syntax(
    frame: &[u8],
    channels: u8,
    sample_rate: u32,
) -> Result<(), &'static str> {
    const SCE: u32 = 0;
    const CPE: u32 = 1;
    const END: u32 = 7;
    let mut b = Bits {
        data: frame,
        pos: 0,
    };
    let short = "the frame ends inside its first element";
    let id = b.read(3).ok_or(short)?;
    if id == END {
        return if frame.len() > 1 {
            Err("the frame's first element is END: it holds no audio")
        } else {
            Ok(())
        };
    }
    let want = match channels {
        1 => Some(SCE),
        2 => Some(CPE),
        _ => None,
    };
    match want {
        Some(w) if id == SCE || id == CPE => {
            if id != w {
                return Err("the frame's first channel element does not match the channel count");
            }
        }
        Some(_) if id == 2 || id == 3 => {
            return Err("the frame starts with a coupling or LFE element, not its channel element")
        }
        _ => return Ok(()),
    }
    b.read(4).ok_or(short)?; // element_instance_tag
    if id == CPE {
        let common_window = b.read(1).ok_or(short)?;
        if common_window == 0 {
            b.read(8).ok_or(short)?; // global_gain of the first channel
        }
    } else {
        b.read(8).ok_or(short)?; // global_gain
    }
    // ics_info
    if b.read(1).ok_or(short)? != 0 {
        return Err("the first element's ics_reserved_bit is set");
    }
    let window_sequence = b.read(2).ok_or(short)?;
    b.read(1).ok_or(short)?; // window_shape
    let (long, short_bands) = num_swb(sample_rate);
    if window_sequence == 2 {
        let max_sfb = b.read(4).ok_or(short)?;
        if max_sfb > short_bands {
            return Err("the first element's max_sfb exceeds the short window's bands");
        }
    } else {
        let max_sfb = b.read(6).ok_or(short)?;
        if max_sfb > long {
            return Err("the first element's max_sfb exceeds the long window's bands");
        }
        if b.read(1).ok_or(short)? != 0 {
            return Err("the first element uses prediction, which AAC-LC does not have");
        }
    }
    Ok(())
}
