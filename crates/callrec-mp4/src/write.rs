//! Writing helpers: big-endian puts, box headers with back-patched sizes.

use crate::FourCc;

/// Starts a box: writes a placeholder size and the type; returns the header offset for
/// [`end_box`].
pub fn begin_box(out: &mut Vec<u8>, fourcc: FourCc) -> usize {
    let start = out.len();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&fourcc.0);
    start
}

/// Starts a full box (version and flags after the type).
pub fn begin_full_box(out: &mut Vec<u8>, fourcc: FourCc, version: u8, flags: u32) -> usize {
    let start = begin_box(out, fourcc);
    put_u32(out, (u32::from(version) << 24) | (flags & 0x00ff_ffff));
    start
}

/// Back-patches the size of a box begun at `start`. Boxes written by this crate (other than
/// `mdat`, see [`write_mdat_header`]) must stay under 4 GiB; a larger one saturates the size
/// field (and a debug build asserts).
pub fn end_box(out: &mut [u8], start: usize) {
    let size = out.len() - start;
    debug_assert!(u32::try_from(size).is_ok(), "box larger than 4 GiB");
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    if let Some(slot) = out.get_mut(start..start + 4) {
        slot.copy_from_slice(&size.to_be_bytes());
    }
}

/// Writes an `mdat` header for a payload of `payload_len` bytes: 8-byte form when the whole box
/// fits in 32 bits, else the 16-byte 64-bit form. Returns the header length.
pub fn write_mdat_header(out: &mut Vec<u8>, payload_len: u64) -> usize {
    match u32::try_from(payload_len.saturating_add(8)) {
        Ok(size) => {
            put_u32(out, size);
            out.extend_from_slice(b"mdat");
            8
        }
        Err(_) => {
            put_u32(out, 1);
            out.extend_from_slice(b"mdat");
            put_u64(out, payload_len.saturating_add(16));
            16
        }
    }
}

/// Length of the `mdat` header [`write_mdat_header`] would write.
pub fn mdat_header_len(payload_len: u64) -> usize {
    if u32::try_from(payload_len.saturating_add(8)).is_ok() {
        8
    } else {
        16
    }
}

/// Puts a `u16`.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Puts an `i16`.
pub fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Puts a `u32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Puts an `i32`.
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Puts a `u64`.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// Puts an `i64`.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}
