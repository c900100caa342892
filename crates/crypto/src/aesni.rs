//! AES-128 and AES-256 with the AES-NI instructions, used whenever CPUID reports them (on the host and in
//! the payload), so the `aes` crate is needed only for its software path and the payload can leave out
//! its VAES code.
//!
//! Eight blocks go through the rounds together: one `aesenc` takes several cycles to finish but a new one
//! can start every cycle, so independent blocks fill the pipeline. Keys are kept in XMM-sized words and
//! wiped when dropped.
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::{
    __m128i, _mm_aesdec_si128, _mm_aesdeclast_si128, _mm_aesenc_si128, _mm_aesenclast_si128,
    _mm_aesimc_si128, _mm_aeskeygenassist_si128, _mm_loadu_si128, _mm_setzero_si128,
    _mm_shuffle_epi32, _mm_slli_si128, _mm_storeu_si128, _mm_xor_si128,
};
use zeroize::Zeroize;

cpufeatures::new!(cpuid_aes, "aes");

/// Blocks in flight at once: enough to cover `aesenc`'s latency, few enough to stay in the 16 XMM
/// registers together with a round key.
const LANES: usize = 8;

/// Whether CPUID reports AES-NI, unless `--cfg bootscript_aes="soft"` forces the software path (tests).
/// Deliberately not `aes_backend`: the payload sets that to leave the `aes` crate's own AES-NI and VAES
/// code out, and still wants this path.
pub(crate) fn available() -> bool {
    !cfg!(bootscript_aes = "soft") && cpuid_aes::get()
}

/// An expanded key: the round keys for encryption and, for decryption, the same keys in reverse order
/// passed through InvMixColumns (`aesimc`), as FIPS-197's equivalent inverse cipher uses them.
#[derive(Clone)]
pub(crate) struct AesNi {
    encrypt: [__m128i; 15],
    decrypt: [__m128i; 15],
    /// 10 for AES-128, 14 for AES-256: the round keys in use are `0..=rounds`.
    rounds: usize,
}

impl AesNi {
    /// Expands a 16- or 32-byte key; `None` for other lengths or when the CPU has no AES-NI.
    pub(crate) fn new(key: &[u8]) -> Option<AesNi> {
        if !available() {
            return None;
        }
        // SAFETY: AES-NI was found by CPUID just above, and SSE2 is part of x86-64.
        unsafe { expand(key) }
    }

    pub(crate) fn encrypt_blocks(&self, blocks: &mut [[u8; 16]]) {
        // SAFETY: an `AesNi` is only made by `new`, after CPUID reported AES-NI.
        unsafe { crypt::<false>(&self.encrypt[..=self.rounds], blocks) }
    }

    pub(crate) fn decrypt_blocks(&self, blocks: &mut [[u8; 16]]) {
        // SAFETY: an `AesNi` is only made by `new`, after CPUID reported AES-NI.
        unsafe { crypt::<true>(&self.decrypt[..=self.rounds], blocks) }
    }
}

impl Drop for AesNi {
    fn drop(&mut self) {
        self.encrypt.zeroize();
        self.decrypt.zeroize();
    }
}

#[target_feature(enable = "aes,sse2")]
#[optimize(speed)]
fn load(block: &[u8; 16]) -> __m128i {
    // SAFETY: reads the 16 bytes of `block`; the unaligned load accepts any address.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

#[target_feature(enable = "aes,sse2")]
#[optimize(speed)]
fn store(block: &mut [u8; 16], value: __m128i) {
    // SAFETY: writes the 16 bytes of `block`; the unaligned store accepts any address.
    unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), value) }
}

/// The next round key from `previous` (the key four words back) and `word`, the transformed word
/// broadcast to all four lanes: word i of the result is `word` XOR words 0..=i of `previous`, the
/// running XOR being built in two shift-and-XOR steps.
#[target_feature(enable = "aes,sse2")]
fn next_key(previous: __m128i, word: __m128i) -> __m128i {
    let key = _mm_xor_si128(previous, _mm_slli_si128::<4>(previous));
    let key = _mm_xor_si128(key, _mm_slli_si128::<8>(key));
    _mm_xor_si128(key, word)
}

/// A round key whose new first word comes from RotWord(SubWord(last word of `last`)) XOR `RCON`
/// (dword 3 of `aeskeygenassist`).
#[target_feature(enable = "aes,sse2")]
fn rotated_key<const RCON: i32>(previous: __m128i, last: __m128i) -> __m128i {
    let assist = _mm_aeskeygenassist_si128::<RCON>(last);
    next_key(previous, _mm_shuffle_epi32::<0xff>(assist))
}

/// AES-256's odd round keys, whose new first word is only SubWord(last word of `last`) (dword 2).
#[target_feature(enable = "aes,sse2")]
fn substituted_key(previous: __m128i, last: __m128i) -> __m128i {
    let assist = _mm_aeskeygenassist_si128::<0>(last);
    next_key(previous, _mm_shuffle_epi32::<0xaa>(assist))
}

/// # Safety
/// The CPU must have AES-NI.
#[target_feature(enable = "aes,sse2")]
unsafe fn expand(key: &[u8]) -> Option<AesNi> {
    let mut encrypt = [_mm_setzero_si128(); 15];
    let rounds = match key.len() {
        16 => {
            let mut first = [0u8; 16];
            first.copy_from_slice(key);
            let k = &mut encrypt;
            k[0] = load(&first);
            first.zeroize();
            k[1] = rotated_key::<0x01>(k[0], k[0]);
            k[2] = rotated_key::<0x02>(k[1], k[1]);
            k[3] = rotated_key::<0x04>(k[2], k[2]);
            k[4] = rotated_key::<0x08>(k[3], k[3]);
            k[5] = rotated_key::<0x10>(k[4], k[4]);
            k[6] = rotated_key::<0x20>(k[5], k[5]);
            k[7] = rotated_key::<0x40>(k[6], k[6]);
            k[8] = rotated_key::<0x80>(k[7], k[7]);
            k[9] = rotated_key::<0x1b>(k[8], k[8]);
            k[10] = rotated_key::<0x36>(k[9], k[9]);
            10
        }
        32 => {
            let mut halves = [[0u8; 16]; 2];
            halves.as_flattened_mut().copy_from_slice(key);
            let k = &mut encrypt;
            k[0] = load(&halves[0]);
            k[1] = load(&halves[1]);
            halves.zeroize();
            k[2] = rotated_key::<0x01>(k[0], k[1]);
            k[3] = substituted_key(k[1], k[2]);
            k[4] = rotated_key::<0x02>(k[2], k[3]);
            k[5] = substituted_key(k[3], k[4]);
            k[6] = rotated_key::<0x04>(k[4], k[5]);
            k[7] = substituted_key(k[5], k[6]);
            k[8] = rotated_key::<0x08>(k[6], k[7]);
            k[9] = substituted_key(k[7], k[8]);
            k[10] = rotated_key::<0x10>(k[8], k[9]);
            k[11] = substituted_key(k[9], k[10]);
            k[12] = rotated_key::<0x20>(k[10], k[11]);
            k[13] = substituted_key(k[11], k[12]);
            k[14] = rotated_key::<0x40>(k[12], k[13]);
            14
        }
        _ => return None,
    };
    let mut decrypt = [_mm_setzero_si128(); 15];
    decrypt[0] = encrypt[rounds];
    for round in 1..rounds {
        decrypt[round] = _mm_aesimc_si128(encrypt[rounds - round]);
    }
    decrypt[rounds] = encrypt[0];
    Some(AesNi {
        encrypt,
        decrypt,
        rounds,
    })
}

/// Encrypts (or with `DECRYPT` decrypts) `blocks` in place with the round keys `keys` (first, middle
/// rounds, last), `LANES` blocks at a time; the last few blocks go through the same code padded to
/// `LANES`, which costs little more than one block alone would (the rounds are latency-bound then).
///
/// # Safety
/// The CPU must have AES-NI.
#[target_feature(enable = "aes,sse2")]
#[optimize(speed)]
unsafe fn crypt<const DECRYPT: bool>(keys: &[__m128i], blocks: &mut [[u8; 16]]) {
    let (chunks, tail) = blocks.as_chunks_mut::<LANES>();
    for chunk in chunks {
        crypt_lanes::<DECRYPT>(keys, chunk);
    }
    if !tail.is_empty() {
        let mut padded = [[0u8; 16]; LANES];
        padded[..tail.len()].copy_from_slice(tail);
        crypt_lanes::<DECRYPT>(keys, &mut padded);
        tail.copy_from_slice(&padded[..tail.len()]);
        // The padding held data (plaintext, or an IV) that needs no copy on the stack.
        padded.zeroize();
    }
}

#[target_feature(enable = "aes,sse2")]
#[optimize(speed)]
fn crypt_lanes<const DECRYPT: bool>(keys: &[__m128i], blocks: &mut [[u8; 16]; LANES]) {
    let [first, middle @ .., last] = keys else {
        return;
    };
    let mut state = [_mm_setzero_si128(); LANES];
    for (lane, block) in state.iter_mut().zip(blocks.iter()) {
        *lane = _mm_xor_si128(load(block), *first);
    }
    for key in middle {
        for lane in state.iter_mut() {
            *lane = if DECRYPT {
                _mm_aesdec_si128(*lane, *key)
            } else {
                _mm_aesenc_si128(*lane, *key)
            };
        }
    }
    for (lane, block) in state.iter().zip(blocks.iter_mut()) {
        let out = if DECRYPT {
            _mm_aesdeclast_si128(*lane, *last)
        } else {
            _mm_aesenclast_si128(*lane, *last)
        };
        store(block, out);
    }
}
