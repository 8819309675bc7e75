//! Reading outputs back: what an edit list presents (exact), and symphonia's decode.

use std::cmp::Ordering;
use std::path::Path;

use callrec_mp4::{Edit, Sample, Track};

/// An exact signed rational (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Q {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Q {
    pub const ZERO: Q = Q { num: 0, den: 1 };
    pub fn new(num: i128, den: i128) -> Q {
        let g = gcd(num, den);
        Q {
            num: num / g,
            den: den / g,
        }
    }
    pub fn add(self, o: Q) -> Q {
        Q::new(self.num * o.den + o.num * self.den, self.den * o.den)
    }
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
    pub fn sub(self, o: Q) -> Q {
        Q::new(self.num * o.den - o.num * self.den, self.den * o.den)
    }
}
impl PartialEq for Q {
    fn eq(&self, o: &Q) -> bool {
        self.num * o.den == o.num * self.den
    }
}
impl Eq for Q {}
impl PartialOrd for Q {
    fn partial_cmp(&self, o: &Q) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Q {
    fn cmp(&self, o: &Q) -> Ordering {
        (self.num * o.den).cmp(&(o.num * self.den))
    }
}

/// The samples an edit list presents, in presentation-edit order (each sample once, at the first
/// edit that shows any of it), each with the time it is first presented.
pub struct Presented {
    pub samples: Vec<(Sample, Q)>,
}

/// A sample is presented by a media edit when its `[pts, pts + duration)` overlaps the edit's
/// media interval; it is first shown at the edit's start plus `pts - media_time`, or at the edit's
/// start when the edit starts inside it.
pub fn presented(movie_ts: u64, t: &Track, edits: &[Edit]) -> Presented {
    let ts = i128::from(t.timescale.get());
    let mts = i128::from(movie_ts);
    let mut at = Q::ZERO;
    let mut seen = vec![false; t.samples.len()];
    let mut samples = Vec::new();
    for e in edits {
        let dur = Q::new(i128::from(e.segment_duration), mts);
        if let Some(mt) = e.media_time {
            let lo = Q::new(i128::from(mt), ts);
            let hi = lo.add(dur);
            for (k, s) in t.samples.iter().enumerate() {
                let p = Q::new(i128::from(s.pts()), ts);
                let pend = Q::new(i128::from(s.pts()) + i128::from(s.duration), ts);
                if !seen[k] && p < hi && pend > lo {
                    seen[k] = true;
                    // First shown at the edit's start when the edit starts inside it.
                    samples.push((*s, at.add(p.sub(lo).max(Q::ZERO))));
                }
            }
        }
        at = at.add(dur);
    }
    Presented { samples }
}

/// Decodes the audio track of `path` with symphonia's isomp4 reader and AAC decoder: (packets,
/// decoded sample frames). An error opening the file is returned; any later error panics.
pub fn symphonia_decode(path: &Path) -> Result<(usize, u64), String> {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    let file = std::fs::File::open(path).unwrap();
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut reader = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    let (id, params) = reader
        .tracks()
        .iter()
        .find_map(|t| {
            let a = t.codec_params.as_ref()?.audio()?.clone();
            Some((t.id, a))
        })
        .expect("an audio track");
    let mut dec = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .expect("an AAC decoder");
    let (mut packets, mut frames) = (0usize, 0u64);
    while let Some(p) = reader.next_packet().expect("symphonia reads every packet") {
        if p.track_id != id {
            continue;
        }
        packets += 1;
        let buf = dec.decode(&p).expect("symphonia decodes every packet");
        frames += buf.frames() as u64;
    }
    Ok((packets, frames))
}

/// Decodes every sample of the output's audio track, as our parser finds them, with symphonia's
/// AAC decoder: (packets, decoded sample frames).
pub fn symphonia_decode_packets(movie: &callrec_mp4::Movie, data: &[u8]) -> (usize, u64) {
    use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
    use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
    use symphonia::core::packet::Packet;
    use symphonia::core::units::{Duration, Timestamp};

    let t = movie.track(callrec_mp4::TrackKind::Audio).unwrap();
    let Some(callrec_mp4::Codec::Aac(cfg)) = t.codec() else {
        panic!("not AAC")
    };
    let mut params = AudioCodecParameters::new();
    params
        .for_codec(CODEC_ID_AAC)
        .with_sample_rate(cfg.sample_rate)
        .with_extra_data(cfg.asc.clone().into_boxed_slice());
    let mut dec = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap();
    let mut frames = 0u64;
    for s in &t.samples {
        let bytes = &data[s.range().start as usize..s.range().end as usize];
        let p = Packet::new(
            t.id,
            Timestamp::new(s.dts as i64),
            Duration::new(u64::from(s.duration)),
            bytes.to_vec(),
        );
        frames += dec.decode(&p).expect("decodes").frames() as u64;
    }
    (t.samples.len(), frames)
}
