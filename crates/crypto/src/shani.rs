//! SHA-1's compression with the SHA instructions (SHA-NI), used when CPUID reports them (`hash::sha1_compress`).
//!
//! Written from the instructions' definitions (Intel SDM, vol. 2: SHA1RNDS4, SHA1NEXTE, SHA1MSG1, SHA1MSG2): the
//! state's A to D sit in one XMM register with A in its highest 32 bits, and four message words in another with
//! the first one highest. Each group of four rounds is one SHA1RNDS4, with its round function and constant chosen
//! by the group's fifth of the 80 rounds; SHA1NEXTE adds the E the rounds before left (A of four rounds earlier,
//! turned left by 30) to the group's first word; SHA1MSG1, an XOR and SHA1MSG2 make the next four words of the
//! schedule from the sixteen before them (FIPS 180-4, 6.1.2).
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_loadu_si128, _mm_set_epi32, _mm_set_epi64x,
    _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32,
    _mm_shuffle_epi32, _mm_shuffle_epi8, _mm_storeu_si128, _mm_xor_si128,
};

/// Compresses `blocks` into `state`.
///
/// # Safety
/// The CPU must have the SHA extensions and SSE4.1 (CPUID, as `hash::cpuid_sha` asks).
#[optimize(speed)]
// (The last group's words are kept by the macro too, though no group after it reads them.)
#[allow(unused_assignments)]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(crate) unsafe fn sha1_compress(state: &mut [u32; 5], blocks: &[[u8; 64]]) {
    // Reverses the 16 bytes of a load: the big-endian words byte-swapped, and the first one in the highest lane.
    let reverse = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f);
    // SAFETY: the first 16 of the state's 20 bytes; the load accepts any alignment.
    let loaded = unsafe { _mm_loadu_si128(state.as_ptr().cast()) };
    // (A to D, the first A in the lowest lane: turned around.)
    let mut abcd = _mm_shuffle_epi32::<0x1b>(loaded);
    let mut e = state[4] as i32;
    for block in blocks {
        let (abcd_start, e_start) = (abcd, _mm_set_epi32(e, 0, 0, 0));
        // The schedule's last sixteen words, four to a register: group `g`'s in `w[g % 4]`.
        let mut w: [__m128i; 4] = [e_start; 4];
        // A to D before the last group of rounds: its A gives the next group's E.
        let mut before = abcd;
        // Group `$g` of four rounds (rounds 4g to 4g + 3), its round function `$f` (0 to 3, one per 20 rounds).
        macro_rules! group {
            ($g:literal, $f:literal) => {{
                let words = if $g < 4 {
                    // SAFETY: bytes 16g..16g + 16 of a 64-byte block; the load accepts any alignment.
                    let bytes = unsafe { _mm_loadu_si128(block.as_ptr().add(16 * $g).cast()) };
                    _mm_shuffle_epi8(bytes, reverse)
                } else {
                    // W[t] = (W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) <<< 1: MSG1 makes W[t-16] ^ W[t-14] from the
                    // groups g-4 and g-3, the XOR adds W[t-8] (group g-2), MSG2 W[t-3] and the rotation.
                    let partial = _mm_sha1msg1_epu32(w[$g % 4], w[($g + 1) % 4]);
                    _mm_sha1msg2_epu32(_mm_xor_si128(partial, w[($g + 2) % 4]), w[($g + 3) % 4])
                };
                w[$g % 4] = words;
                let e_words = if $g == 0 {
                    _mm_add_epi32(e_start, words)
                } else {
                    _mm_sha1nexte_epu32(before, words)
                };
                before = abcd;
                abcd = _mm_sha1rnds4_epu32::<$f>(abcd, e_words);
            }};
        }
        group!(0, 0);
        group!(1, 0);
        group!(2, 0);
        group!(3, 0);
        group!(4, 0);
        group!(5, 1);
        group!(6, 1);
        group!(7, 1);
        group!(8, 1);
        group!(9, 1);
        group!(10, 2);
        group!(11, 2);
        group!(12, 2);
        group!(13, 2);
        group!(14, 2);
        group!(15, 3);
        group!(16, 3);
        group!(17, 3);
        group!(18, 3);
        group!(19, 3);
        // E after the 80 rounds (A before the last group, turned left by 30) plus E at the start.
        e = _mm_extract_epi32::<3>(_mm_sha1nexte_epu32(before, e_start));
        abcd = _mm_add_epi32(abcd, abcd_start);
    }
    // SAFETY: the first 16 of the state's 20 bytes; the store accepts any alignment.
    unsafe { _mm_storeu_si128(state.as_mut_ptr().cast(), _mm_shuffle_epi32::<0x1b>(abcd)) };
    state[4] = e as u32;
}
