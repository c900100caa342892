//! CRC-32 (IEEE 802.3, reflected, as GPT and zlib use it), a bit at a time: GPT's tables are its only use, 16 KiB
//! or so per disk, which this reads in well under a millisecond, and a table of 256 entries would be 1 KiB of the
//! payload that compresses badly.

/// The CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = c >> 1 ^ 0xEDB8_8320 & (c & 1).wrapping_neg();
        }
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        assert_eq!(super::crc32(b""), 0);
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            super::crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }
}
