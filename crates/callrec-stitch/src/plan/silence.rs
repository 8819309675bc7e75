//! Silent AAC-LC frames, built bit by bit: what the planner inserts where the output's audio
//! must wait (a pause or a gap in wall-clock mode, a video that outlasts its chunk's audio), so
//! that a player decoding every audio frame back to back stays in sync with the video.
//!
//! A raw AAC frame (ISO/IEC 14496-3, 4.4.2) of one element per channel group, each an
//! `individual_channel_stream` with `max_sfb = 0` (no scale factor bands: no spectral data, the
//! decoder outputs zeros) and an `ID_END`, padded to a byte.

/// `id_syn_ele` values.
const ID_SCE: u32 = 0;
const ID_CPE: u32 = 1;
const ID_LFE: u32 = 3;
const ID_END: u32 = 7;

struct Bits {
    out: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            if self.used.is_multiple_of(8) {
                self.out.push(0);
            }
            let bit = ((value >> i) & 1) as u8;
            if let Some(last) = self.out.last_mut() {
                *last |= bit << (7 - self.used % 8);
            }
            self.used += 1;
        }
    }

    /// `individual_channel_stream(common_window = 0)` of a silent long window.
    fn silent_ics(&mut self) {
        self.put(100, 8); // global_gain (any value: no band uses it)
        self.put(0, 1); // ics_reserved_bit
        self.put(0, 2); // window_sequence: ONLY_LONG_SEQUENCE
        self.put(0, 1); // window_shape
        self.put(0, 6); // max_sfb: no bands
        self.put(0, 1); // predictor_data_present
        self.put(0, 1); // pulse_data_present
        self.put(0, 1); // tns_data_present
        self.put(0, 1); // gain_control_data_present
    }
}

/// One silent raw AAC-LC frame for `channel_configuration` 1 to 7 (the elements of ISO/IEC
/// 14496-3 table 1.19), `None` for other configurations (0: a program config element decides).
pub(crate) fn frame(channel_configuration: u8) -> Option<Vec<u8>> {
    let elements: &[u32] = match channel_configuration {
        1 => &[ID_SCE],
        2 => &[ID_CPE],
        3 => &[ID_SCE, ID_CPE],
        4 => &[ID_SCE, ID_CPE, ID_SCE],
        5 => &[ID_SCE, ID_CPE, ID_CPE],
        6 => &[ID_SCE, ID_CPE, ID_CPE, ID_LFE],
        7 => &[ID_SCE, ID_CPE, ID_CPE, ID_CPE, ID_LFE],
        _ => return None,
    };
    let mut b = Bits {
        out: Vec::new(),
        used: 0,
    };
    let (mut sce, mut cpe) = (0u32, 0u32);
    for &id in elements {
        b.put(id, 3);
        let tag = if id == ID_CPE { &mut cpe } else { &mut sce };
        b.put(*tag, 4);
        *tag += 1;
        if id == ID_CPE {
            b.put(0, 1); // common_window
            b.silent_ics();
            b.silent_ics();
        } else {
            b.silent_ics();
        }
    }
    b.put(ID_END, 3);
    Some(b.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_and_stereo_frames_have_the_expected_bits() {
        // SCE: 000 0000 | gain 01100100 | 0 00 0 000000 0 | 0 0 0 | END 111 = 32 bits.
        assert_eq!(frame(1), Some(vec![0x00, 0xC8, 0x00, 0x07]));
        // CPE: 001 0000 0, two streams of 22 bits, END: 55 bits -> 7 bytes.
        let stereo = frame(2).unwrap();
        assert_eq!(stereo.len(), 7);
        assert_eq!(stereo[0], 0x20);
        assert_eq!(frame(0), None);
        assert_eq!(frame(8), None);
    }
}
