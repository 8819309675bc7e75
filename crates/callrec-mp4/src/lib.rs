//! ISO-BMFF (MP4) boxes over `&[u8]`: parse progressive and fragmented files, write the boxes
//! callrec emits. No I/O, no policy.

mod fourcc;
mod movie;

pub use fourcc::FourCc;
pub use movie::{
    AacConfig, AvcConfig, Codec, Edit, Movie, ParseOptions, Sample, SampleEntry, Timescale, Track,
    TrackKind, TruncatedTail,
};
