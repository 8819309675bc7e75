//! Decode every AAC frame of a track with symphonia's AAC-LC decoder, count the PCM samples and
//! measure digital silence.

use std::panic::AssertUnwindSafe;

use callrec_mp4::{AacConfig, Sample, Source, Track, Window};
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
    let mut facts = DecodeFacts::empty(cfg.sample_rate);
    let mut decoder = match aac_decoder(cfg) {
        Ok(d) => d,
        Err(e) => {
            facts.unsupported = Some(e);
            return facts;
        }
    };
    let mut pcm: Vec<f32> = Vec::new();
    let mut silence = Silence::default();
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
            facts.error(
                i,
                format!(
                    "the frame is {} bytes, more than any AAC frame ({MAX_AAC_FRAME})",
                    s.size
                ),
            );
            silence.broken();
            continue;
        }
        let bytes = match frame_bytes(&mut window, track, i, len) {
            Ok(b) => b,
            Err(e) => {
                facts.read_error = Some((i, e.to_string()));
                break;
            }
        };
        facts.packets += 1;
        facts.packets_duration = facts.packets_duration.saturating_add(u64::from(s.duration));
        // Symphonia decodes many malformed frames without complaint (an all-0xff frame is one
        // END element; others become silence): the first element is checked first.
        if let Err(why) = frame_syntax(bytes, cfg.channels, cfg.sample_rate) {
            facts.error(i, why.to_string());
            silence.broken();
            continue;
        }
        match decode_frame(&mut decoder, track, s, bytes, &mut pcm) {
            Decoded::Panicked => {
                facts.error(i, "the decoder panicked".to_string());
                break;
            }
            Decoded::Frames { channels, frames } => {
                silence.scan(&pcm, channels, facts.decoded_frames);
                facts.decoded_frames = facts.decoded_frames.saturating_add(frames);
            }
            Decoded::Failed(e) => {
                facts.error(i, e);
                silence.broken();
            }
        }
    }
    silence.finish(&mut facts, cfg.sample_rate);
    facts
}

impl DecodeFacts {
    /// Nothing decoded yet, at `sample_rate`.
    fn empty(sample_rate: u32) -> DecodeFacts {
        DecodeFacts {
            packets: 0,
            packets_duration: 0,
            decoded_frames: 0,
            sample_rate,
            errors: 0,
            first_errors: Vec::new(),
            read_error: None,
            unsupported: None,
            longest_silence_ms: 0.0,
            longest_silence_start_ms: 0.0,
            silent_ms: 0.0,
        }
    }

    /// Counts a packet that failed to decode, keeping the first [`KEEP_ERRORS`] messages.
    fn error(&mut self, sample: usize, message: String) {
        self.errors += 1;
        if self.first_errors.len() < KEEP_ERRORS {
            self.first_errors.push((sample, message));
        }
    }
}

/// The AAC decoder for `cfg`, or why symphonia cannot make one.
fn aac_decoder(cfg: &AacConfig) -> Result<AacDecoder, String> {
    let mut params = AudioCodecParameters::new();
    params
        .for_codec(CODEC_ID_AAC)
        .with_extra_data(cfg.asc.clone().into_boxed_slice());
    if cfg.sample_rate > 0 {
        params.with_sample_rate(cfg.sample_rate);
    }
    AacDecoder::try_new(&params, &AudioDecoderOptions::default()).map_err(|e| e.to_string())
}

/// The bytes of sample `i` of `track`: when the window does not hold them, it is loaded with
/// the run of contiguous samples that starts there (an stco chunk, a trun's data), up to its
/// size: not the video between them.
fn frame_bytes<'w>(
    window: &'w mut Window<'_, dyn Source + '_>,
    track: &Track,
    i: usize,
    len: u64,
) -> std::io::Result<&'w [u8]> {
    let s = &track.samples[i];
    if !window.holds(s.offset, u64::from(s.size)) {
        let mut end = s.range().end;
        for n in &track.samples[i + 1..] {
            let e = n.range().end;
            if n.offset != end || e > len || e - s.offset > READ_WINDOW as u64 {
                break;
            }
            end = e;
        }
        window.load(s.offset, (end - s.offset) as usize)?;
    }
    window.get(s.offset, s.size as usize)
}

/// What decoding one frame gave.
enum Decoded {
    /// PCM frames (per channel) of `channels` interleaved channels, in the buffer.
    Frames { channels: usize, frames: u64 },
    /// The decoder's error.
    Failed(String),
    /// The decoder panicked.
    Panicked,
}

/// Decodes sample `s` (`bytes`) into `pcm`, interleaved. A decoder bug must not take the
/// whole check down: a panic is caught and reported as [`Decoded::Panicked`].
fn decode_frame(
    decoder: &mut AacDecoder,
    track: &Track,
    s: &Sample,
    bytes: &[u8],
    pcm: &mut Vec<f32>,
) -> Decoded {
    let pkt = PacketRef::new(
        track.id,
        Timestamp::new(s.dts as i64),
        Duration::new(u64::from(s.duration)),
        bytes,
    );
    let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        decoder.decode_ref(&pkt).map(|buf| {
            buf.copy_to_vec_interleaved(&mut *pcm);
            (buf.num_planes().max(1), buf.frames() as u64)
        })
    }));
    match decoded {
        Err(_) => Decoded::Panicked,
        Ok(Ok((channels, frames))) => Decoded::Frames { channels, frames },
        Ok(Err(e)) => Decoded::Failed(e.to_string()),
    }
}

/// The runs of digital silence in the decoded audio, in PCM frames.
#[derive(Default)]
struct Silence {
    /// The current run.
    run: u64,
    /// Where it started.
    run_start: u64,
    /// The longest run so far.
    longest: u64,
    /// Where that started.
    longest_start: u64,
    /// Silent frames in all.
    silent: u64,
}

impl Silence {
    /// A frame that could not be decoded ends the current run.
    fn broken(&mut self) {
        self.run = 0;
    }

    /// The frames of `pcm` (`channels` interleaved), the first at frame `at` of the track.
    fn scan(&mut self, pcm: &[f32], channels: usize, at: u64) {
        for (k, frame) in pcm.chunks(channels).enumerate() {
            let quiet = frame.iter().all(|x| x.abs() <= SILENCE_THRESHOLD);
            if quiet {
                if self.run == 0 {
                    self.run_start = at + k as u64;
                }
                self.run += 1;
                self.silent += 1;
                if self.run > self.longest {
                    self.longest = self.run;
                    self.longest_start = self.run_start;
                }
            } else {
                self.run = 0;
            }
        }
    }

    /// Writes the runs into `facts` in milliseconds at `sample_rate`.
    fn finish(&self, facts: &mut DecodeFacts, sample_rate: u32) {
        let rate = f64::from(sample_rate.max(1));
        facts.longest_silence_ms = self.longest as f64 * 1000.0 / rate;
        facts.longest_silence_start_ms = self.longest_start as f64 * 1000.0 / rate;
        facts.silent_ms = self.silent as f64 * 1000.0 / rate;
    }
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
