//! ISO-BMFF (MP4) boxes over `&[u8]`: parse progressive and fragmented files, write the boxes
//! callrec emits. No I/O, no policy: a file is read through the caller's [`Source`] (positioned
//! reads of the box headers, `moov` and `moof`; never the media).
//!
//! ```
//! use callrec_mp4::boxes::{Mp4Box, Stts, SttsEntry};
//! let stts = Stts { entries: vec![SttsEntry { sample_count: 3, sample_delta: 512 }] };
//! let bytes = stts.to_bytes();
//! assert_eq!(Stts::decode(&bytes).unwrap(), stts);
//! ```

pub mod boxes;
pub mod codec;
mod error;
mod fourcc;
pub mod fragment;
mod movie;
mod parse;
pub mod present;
pub mod reader;
pub mod source;
pub mod validate;
pub mod write;

pub use boxes::Mp4Box;
pub use error::{Error, Result};
pub use fourcc::FourCc;
pub use movie::{
    AacConfig, AvcConfig, Codec, Edit, Movie, ParseOptions, Sample, SampleEntry, Timescale, Track,
    TrackKind, TruncatedTail,
};
pub use reader::Reader;
pub use source::{top_header, Source, TopHeader, Window};
pub use validate::{
    validate, validate_movie, validate_source, validate_source_skipping, validate_tables, Defect,
    DefectKind, Tables,
};
