//! RIPEMD-160's compression function, from its definition (H. Dobbertin, A. Bosselaers, B. Preneel,
//! "RIPEMD-160: A Strengthened Version of RIPEMD", 1996, appendix A): two lines of five rounds of 16 steps
//! each over the same block, combined at the end. Message words and the digest are little-endian (the padding
//! and output around it are in `hash.rs`).
//!
//! cryptsetup hashes a typed passphrase with RIPEMD-160 for a plain dm-crypt mapping unless told otherwise
//! (Debian 12's cryptsetup 2.6.1: `plain: aes-cbc-essiv:sha256, Key: 256 bits, Password hashing: ripemd160`),
//! and the LUKS1 format lists it among its hashes.

/// The word each step of the left line takes from the block, round after round.
const LEFT_WORD: [u8; 80] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, //
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8, //
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, //
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2, //
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
];

/// The word each step of the right line takes.
const RIGHT_WORD: [u8; 80] = [
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, //
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2, //
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, //
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14, //
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
];

/// The left line's rotation at each step.
const LEFT_SHIFT: [u8; 80] = [
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, //
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12, //
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, //
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12, //
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
];

/// The right line's rotation at each step.
const RIGHT_SHIFT: [u8; 80] = [
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, //
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11, //
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, //
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8, //
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
];

/// The constants added in each round, left line and right line.
const LEFT_K: [u32; 5] = [0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xa953fd4e];
const RIGHT_K: [u32; 5] = [0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x7a6d76e9, 0x00000000];

/// The nonlinear function of round `round` (0..5); the right line runs them in the opposite order.
fn f(round: usize, x: u32, y: u32, z: u32) -> u32 {
    match round {
        0 => x ^ y ^ z,
        1 => (x & y) | (!x & z),
        2 => (x | !y) ^ z,
        3 => (x & z) | (y & !z),
        _ => x ^ (y | !z),
    }
}

/// Compresses whole 64-byte blocks into the five-word state.
pub(crate) fn ripemd160_compress(state: &mut [u32; 5], blocks: &[[u8; 64]]) {
    for block in blocks {
        let mut x = [0u32; 16];
        for (word, bytes) in x.iter_mut().zip(block.as_chunks::<4>().0) {
            *word = u32::from_le_bytes(*bytes);
        }
        let mut left = *state;
        let mut right = *state;
        for step in 0..80 {
            let round = step / 16;
            // One step of a line: the words are A, B, C, D, E in `v`.
            let turn = |v: &mut [u32; 5], function: usize, word: u8, k: u32, shift: u8| {
                let t = v[0]
                    .wrapping_add(f(function, v[1], v[2], v[3]))
                    .wrapping_add(x[usize::from(word)])
                    .wrapping_add(k)
                    .rotate_left(u32::from(shift))
                    .wrapping_add(v[4]);
                *v = [v[4], t, v[1], v[2].rotate_left(10), v[3]];
            };
            turn(
                &mut left,
                round,
                LEFT_WORD[step],
                LEFT_K[round],
                LEFT_SHIFT[step],
            );
            turn(
                &mut right,
                4 - round,
                RIGHT_WORD[step],
                RIGHT_K[round],
                RIGHT_SHIFT[step],
            );
        }
        let t = state[1].wrapping_add(left[2]).wrapping_add(right[3]);
        state[1] = state[2].wrapping_add(left[3]).wrapping_add(right[4]);
        state[2] = state[3].wrapping_add(left[4]).wrapping_add(right[0]);
        state[3] = state[4].wrapping_add(left[0]).wrapping_add(right[1]);
        state[4] = state[0].wrapping_add(left[1]).wrapping_add(right[2]);
        state[0] = t;
    }
}
