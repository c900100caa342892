//! SHA-1, SHA-256, SHA-512, RIPEMD-160, HMAC and PBKDF2.
//!
//! SHA-256's and SHA-512's compression functions come from RustCrypto's `sha2` crate: it picks SHA-NI (or AVX2
//! for SHA-512) at run time through `cpufeatures`, which PBKDF2's speed depends on, and exports the bare
//! compression function. On a CPU without SHA-NI, SHA-256 is compressed by our own [`sha256_soft`], written out
//! for speed (the payload builds the crate's in its compact form, for size). SHA-1's is ours: with SHA-NI
//! `shani`'s, else [`sha1_soft`] (the `sha1` crate's software form took 3.5 KB of the payload).
//! The padding, HMAC and PBKDF2 around them are written here so that PBKDF2 can run each iteration as
//! exactly two compressions of a pre-padded block from the HMAC key's inner and outer states, computed
//! once per derivation (GRUB recomputes the whole HMAC each time).

use crate::ripemd::ripemd160_compress;
use crate::{CryptoError, Secret, MAX_PBKDF2_ITERATIONS, MAX_PBKDF2_LENGTH};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// SHA-512's initial state (FIPS 180-4, 5.3.5); BLAKE2b starts from the same words (RFC 7693, 2.6).
pub(crate) const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// SHA-1's initial state (FIPS 180-4, 5.3.1); RIPEMD-160 starts from the same words.
const SHA1_IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];

/// A hash named in a LUKS header or a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha512,
    Ripemd160,
}

impl HashAlgorithm {
    /// Parses the names cryptsetup writes (`sha1`, `sha256`, `sha512`, `ripemd160`), in any case.
    pub fn from_name(name: &str) -> Result<HashAlgorithm, CryptoError> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Ok(HashAlgorithm::Sha1),
            "sha256" => Ok(HashAlgorithm::Sha256),
            "sha512" => Ok(HashAlgorithm::Sha512),
            "ripemd160" => Ok(HashAlgorithm::Ripemd160),
            _ => Err(CryptoError::UnknownHash(name.to_string())),
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// The chaining state of one hash. One enum rather than a generic engine per hash: PBKDF2 and HMAC
/// then exist once in the payload instead of three times, and the match per compression costs
/// nothing next to the compression itself.
#[derive(Clone)]
pub(crate) enum State {
    Sha1([u32; 5]),
    Sha256([u32; 8]),
    Sha512([u64; 8]),
    /// Little-endian, unlike the others: its words go out so, and its length in the padding.
    Ripemd160([u32; 5]),
}

impl State {
    pub(crate) fn new(algorithm: HashAlgorithm) -> State {
        match algorithm {
            HashAlgorithm::Sha1 => State::Sha1(SHA1_IV),
            HashAlgorithm::Ripemd160 => State::Ripemd160(SHA1_IV),
            HashAlgorithm::Sha256 => State::Sha256([
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ]),
            HashAlgorithm::Sha512 => State::Sha512(SHA512_IV),
        }
    }

    fn block_len(&self) -> usize {
        match self {
            State::Sha512(_) => 128,
            _ => 64,
        }
    }

    fn output_len(&self) -> usize {
        match self {
            State::Sha1(_) | State::Ripemd160(_) => 20,
            State::Sha256(_) => 32,
            State::Sha512(_) => 64,
        }
    }

    /// The message length in bits as the padding's last 8 bytes hold it.
    fn length_field(&self, bits: u64) -> [u8; 8] {
        match self {
            State::Ripemd160(_) => bits.to_le_bytes(),
            _ => bits.to_be_bytes(),
        }
    }

    /// Compresses whole blocks (`data.len()` is a multiple of the block length).
    #[optimize(speed)]
    fn compress(&mut self, data: &[u8]) {
        match self {
            State::Sha1(words) => sha1_compress(words, data.as_chunks::<64>().0),
            State::Sha256(words) => sha256_compress(words, data.as_chunks::<64>().0),
            State::Sha512(words) => sha2::block_api::compress512(words, data.as_chunks::<128>().0),
            State::Ripemd160(words) => ripemd160_compress(words, data.as_chunks::<64>().0),
        }
    }

    /// Writes the big-endian state (the digest) into `out[..output_len]`.
    #[optimize(speed)]
    fn write_out(&self, out: &mut [u8]) {
        match self {
            State::Sha1(words) => write_words(words, out),
            State::Sha256(words) => write_words(words, out),
            State::Sha512(words) => {
                for (chunk, word) in out.chunks_exact_mut(8).zip(words.iter()) {
                    chunk.copy_from_slice(&word.to_be_bytes());
                }
            }
            State::Ripemd160(words) => {
                for (chunk, word) in out.chunks_exact_mut(4).zip(words.iter()) {
                    chunk.copy_from_slice(&word.to_le_bytes());
                }
            }
        }
    }

    /// XORs another state of the same hash into this one (PBKDF2's running sum, kept as words).
    #[optimize(speed)]
    fn xor_assign(&mut self, other: &State) {
        match (self, other) {
            (State::Sha1(a), State::Sha1(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x ^= y),
            (State::Sha256(a), State::Sha256(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x ^= y),
            (State::Sha512(a), State::Sha512(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x ^= y),
            (State::Ripemd160(a), State::Ripemd160(b)) => {
                a.iter_mut().zip(b).for_each(|(x, y)| *x ^= y)
            }
            _ => {}
        }
    }

    fn wipe(&mut self) {
        match self {
            State::Sha1(words) => words.zeroize(),
            State::Sha256(words) => words.zeroize(),
            State::Sha512(words) => words.zeroize(),
            State::Ripemd160(words) => words.zeroize(),
        }
    }
}

cpufeatures::new!(cpuid_sha, "sha", "sse2", "ssse3", "sse4.1");

/// SHA-1's compression: with the SHA instructions on a CPU that has them ([`crate::shani`]), else
/// [`sha1_soft`].
#[optimize(speed)]
#[allow(unsafe_code)]
fn sha1_compress(state: &mut [u32; 5], blocks: &[[u8; 64]]) {
    #[cfg(target_arch = "x86_64")]
    if cpuid_sha::get() {
        // SAFETY: CPUID reported the SHA extensions and SSE4.1, which is all the function needs.
        unsafe { crate::shani::sha1_compress(state, blocks) };
        return;
    }
    sha1_soft(state, blocks);
}

/// SHA-256's compression: the `sha2` crate's on a CPU with SHA-NI (which it picks then), else [`sha256_soft`].
#[optimize(speed)]
fn sha256_compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    if cpuid_sha::get() {
        sha2::block_api::compress256(state, blocks);
    } else {
        sha256_soft(state, blocks);
    }
}

/// PBKDF2-HMAC-SHA256's iterations (the LUKS case): `n` times, `work` (one padded block holding U) becomes
/// the next U, the inner then the outer hash resumed from the key's states, and `sum` takes its XOR.
///
/// Under QEMU's TCG the speed of this loop depended on where its data lay on the stack: a LUKS1 unlock of 1M
/// iterations took 5.3 s where the `pbkdf2` primitive's took 2.3 s, through the same code, and 2 KiB more of
/// stack in between made the unlock 2.3 s too (found when an unrelated change moved the frames). So the loop
/// works on a copy of its data at the start of a page of the stack, the same wherever it is called from; and
/// it lies in `.text.hot` beside [`sha256_soft`], so that a qemu64 unlock runs within one page of code (see
/// there). Measured under TCG, 1M iterations: the unlock 2.3 s with qemu64 and max alike. SHA-1 and SHA-512
/// keep the generic loop in `pbkdf2_run`: the same copy made SHA-512's slower there (0.65 s -> 1.47 s for
/// 300,000 iterations), so they were left as they were.
#[optimize(speed)]
#[inline(never)]
// SAFETY: as for `sha256_soft`.
#[allow(unsafe_code)]
#[cfg_attr(target_os = "bootscript", link_section = ".text.hot")]
fn sha256_iterations(
    inner: &[u32; 8],
    outer: &[u32; 8],
    work: &mut [u8; 128],
    sum: &mut [u32; 8],
    n: u32,
) {
    /// The loop's data at the start of a page of the stack, wherever the caller's frame lies: under TCG the
    /// same loop ran at half speed at some stack depths (see the function's text).
    #[repr(C, align(4096))]
    struct Hot {
        work: [u8; 128],
        inner: [u32; 8],
        outer: [u32; 8],
        sum: [u32; 8],
    }
    let mut hot = Hot {
        work: *work,
        inner: *inner,
        outer: *outer,
        sum: *sum,
    };
    let shani = cpuid_sha::get();
    // The hash of one padded block, resumed from `start`, written over the block's first 32 bytes.
    let hash = |start: &[u32; 8], work: &mut [u8; 128]| {
        let mut state = *start;
        let block = &work.as_chunks::<64>().0[..1];
        if shani {
            sha2::block_api::compress256(&mut state, block);
        } else {
            sha256_soft(&mut state, block);
        }
        for (chunk, word) in work.as_chunks_mut::<4>().0.iter_mut().zip(&state) {
            *chunk = word.to_be_bytes();
        }
        state
    };
    for _ in 0..n {
        hash(&hot.inner, &mut hot.work);
        let next = hash(&hot.outer, &mut hot.work);
        for (s, w) in hot.sum.iter_mut().zip(&next) {
            *s ^= w;
        }
    }
    *work = hot.work;
    *sum = hot.sum;
    // The copies held key-derived state.
    hot.work.zeroize();
    hot.inner.zeroize();
    hot.outer.zeroize();
    hot.sum.zeroize();
}

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
const K256: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256's compression in software (FIPS 180-4, 6.2.2), eight rounds written out per turn of its loop, so
/// that the working variables rotate by their names rather than by eight moves a round, and the message
/// schedule kept as a ring of 16 words. The LUKS unlock on a CPU without SHA-NI is this function: 1M
/// PBKDF2-SHA256 iterations under QEMU's TCG (-cpu qemu64) took 8.0 s, where the `sha2` crate's compact loop
/// took 10.4 s (its unrolled form made the packed payload 10.5 KB bigger; this adds 1.2 KB).
///
/// Under TCG, QEMU chains a jump straight to the code it jumps to only within one 4 KiB page of guest code; a
/// jump into another page is looked up each time it is taken. So the payload keeps this loop within one page: in
/// the section `.text.hot`, which payload/linker.ld places first, in the payload's first page (checked there).
/// Measured under -cpu qemu64: unlock 7.8 s -> 6.4 s, where the loop had straddled a page boundary.
#[optimize(speed)]
#[inline(never)]
// SAFETY: `.text.hot` is code like `.text`; the payload's linker script puts it into its `.text`.
#[allow(unsafe_code)]
#[cfg_attr(target_os = "bootscript", link_section = ".text.hot")]
fn sha256_soft(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    for block in blocks {
        let mut w = [0u32; 16];
        for (word, bytes) in w.iter_mut().zip(block.as_chunks::<4>().0) {
            *word = u32::from_be_bytes(*bytes);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
        // Round `t` with the working variables named in their order for it: it updates `d` and `h`, which
        // the next round names `e` and `a`.
        macro_rules! round {
            ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $t:expr) => {{
                let t: usize = $t;
                if t >= 16 {
                    let (w2, w15) = (w[(t - 2) & 15], w[(t - 15) & 15]);
                    let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
                    let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
                    w[t & 15] = w[t & 15]
                        .wrapping_add(s0)
                        .wrapping_add(w[(t - 7) & 15])
                        .wrapping_add(s1);
                }
                let s1 = $e.rotate_right(6) ^ $e.rotate_right(11) ^ $e.rotate_right(25);
                let ch = ($e & $f) ^ (!$e & $g);
                let t1 = $h
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K256[t & 63])
                    .wrapping_add(w[t & 15]);
                let s0 = $a.rotate_right(2) ^ $a.rotate_right(13) ^ $a.rotate_right(22);
                let maj = ($a & $b) ^ ($a & $c) ^ ($b & $c);
                $d = $d.wrapping_add(t1);
                $h = t1.wrapping_add(s0.wrapping_add(maj));
            }};
        }
        for t in (0..64).step_by(8) {
            round!(a, b, c, d, e, f, g, h, t);
            round!(h, a, b, c, d, e, f, g, t + 1);
            round!(g, h, a, b, c, d, e, f, t + 2);
            round!(f, g, h, a, b, c, d, e, t + 3);
            round!(e, f, g, h, a, b, c, d, t + 4);
            round!(d, e, f, g, h, a, b, c, t + 5);
            round!(c, d, e, f, g, h, a, b, t + 6);
            round!(b, c, d, e, f, g, h, a, t + 7);
        }
        for (word, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *word = word.wrapping_add(v);
        }
        // The words of an HMAC key's pad are the passphrase's: none is left on the stack (16 stores a block).
        w.zeroize();
    }
}

/// SHA-1's round constants, one per group of 20 rounds (FIPS 180-4, 4.2.1).
const SHA1_K: [u32; 4] = [0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6];

/// SHA-1's compression in software (FIPS 180-4, 6.1.2), five rounds written out per turn of its loop, so that the
/// working variables rotate by their names, and the message schedule kept as a ring of 16 words, as in
/// [`sha256_soft`]; each round picks its function by its group of 20 (a branch the CPU predicts: one loop per
/// group was 10% faster on the host, and 0.4 KB more of the packed payload). Ours rather than the `sha1` crate's,
/// whose software form (its four-round steps emulating the SHA instructions, unrolled) took 3.5 KB of the payload
/// and ran PBKDF2 at 80% of this one's speed on the host, half under TCG; the crate is left out of the payload,
/// and this is checked against it in the tests.
#[optimize(speed)]
fn sha1_soft(state: &mut [u32; 5], blocks: &[[u8; 64]]) {
    for block in blocks {
        let mut w = [0u32; 16];
        for (word, bytes) in w.iter_mut().zip(block.as_chunks::<4>().0) {
            *word = u32::from_be_bytes(*bytes);
        }
        let [mut a, mut b, mut c, mut d, mut e] = *state;
        // Round `t` with the working variables named in their order for it: it updates `e` (the next round's
        // `a`) and `b`. The round function and constant are those of the group of 20 rounds `group`.
        macro_rules! round {
            ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $t:expr, $group:expr) => {{
                let t: usize = $t;
                if t >= 16 {
                    w[t & 15] = (w[(t - 3) & 15] ^ w[(t - 8) & 15] ^ w[(t - 14) & 15] ^ w[t & 15])
                        .rotate_left(1);
                }
                let f = match $group {
                    0 => $d ^ ($b & ($c ^ $d)),
                    2 => ($b & $c) | ($d & ($b | $c)),
                    _ => $b ^ $c ^ $d,
                };
                $e = $e
                    .wrapping_add($a.rotate_left(5))
                    .wrapping_add(f)
                    .wrapping_add(SHA1_K[$group])
                    .wrapping_add(w[t & 15]);
                $b = $b.rotate_left(30);
            }};
        }
        for t in (0..80).step_by(5) {
            let group = t / 20;
            round!(a, b, c, d, e, t, group);
            round!(e, a, b, c, d, t + 1, group);
            round!(d, e, a, b, c, t + 2, group);
            round!(c, d, e, a, b, t + 3, group);
            round!(b, c, d, e, a, t + 4, group);
        }
        for (word, v) in state.iter_mut().zip([a, b, c, d, e]) {
            *word = word.wrapping_add(v);
        }
        // As in `sha256_soft`: the words of an HMAC key's pad are the passphrase's. Wiped as a slice: the
        // array's own `zeroize`, called from here too, was no longer inlined into `sha256_soft`, whose every
        // block then called it (2% more instructions in a TCG unlock).
        w.as_mut_slice().zeroize();
    }
}

#[optimize(speed)]
fn write_words(words: &[u32], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(words.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// A streaming hash; wiped on drop since it may hold key-derived state.
pub(crate) struct Hasher {
    state: State,
    buffer: [u8; 128],
    buffered: usize,
    /// Bytes hashed so far, including any prefix already compressed into a starting state.
    total: u64,
}

impl Hasher {
    pub(crate) fn new(algorithm: HashAlgorithm) -> Self {
        Self::resume(State::new(algorithm), 0)
    }

    /// Continues from a state that has already absorbed `total` bytes (a whole number of blocks).
    fn resume(state: State, total: u64) -> Self {
        Hasher {
            state,
            buffer: [0; 128],
            buffered: 0,
            total,
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        let block = self.state.block_len();
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (block - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < block {
                return;
            }
            self.state.compress(&self.buffer[..block]);
            self.buffered = 0;
        }
        let whole = data.len() - data.len() % block;
        if whole > 0 {
            self.state.compress(&data[..whole]);
        }
        let rest = &data[whole..];
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// Pads, compresses and writes the digest into `out[..output length]`.
    pub(crate) fn finish_into(mut self, out: &mut [u8]) {
        let block = self.state.block_len();
        let length_bytes = block / 8; // 8 for 64-byte blocks, 16 for SHA-512's 128-byte blocks
        let bits = self.total.wrapping_mul(8);
        let mut n = self.buffered;
        self.buffer[n] = 0x80;
        n += 1;
        if n > block - length_bytes {
            self.buffer[n..block].fill(0);
            self.state.compress(&self.buffer[..block]);
            n = 0;
        }
        self.buffer[n..block - 8].fill(0);
        let length = self.state.length_field(bits);
        self.buffer[block - 8..block].copy_from_slice(&length);
        self.state.compress(&self.buffer[..block]);
        self.state.write_out(out);
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.state.wipe();
        self.buffer.zeroize();
    }
}

/// Hashes `data` with the hash called `name` (`sha1`, `sha256`, `sha512`, `ripemd160`).
pub fn digest(name: &str, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let algorithm = HashAlgorithm::from_name(name)?;
    let mut out = alloc::vec![0; algorithm.output_len()];
    let mut hasher = Hasher::new(algorithm);
    hasher.update(data);
    hasher.finish_into(&mut out);
    Ok(out)
}

pub(crate) fn digest_sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    let mut hasher = Hasher::new(HashAlgorithm::Sha256);
    hasher.update(data);
    hasher.finish_into(&mut out);
    out
}

/// The HMAC key's inner and outer states: the hash state after one block of `key ^ ipad` / `key ^ opad`.
struct HmacKey {
    inner: State,
    outer: State,
}

impl HmacKey {
    fn new(algorithm: HashAlgorithm, key: &[u8]) -> Self {
        let mut inner = State::new(algorithm);
        let mut outer = inner.clone();
        let block_len = inner.block_len();
        let mut block = [0u8; 128];
        if key.len() > block_len {
            let mut hasher = Hasher::new(algorithm);
            hasher.update(key);
            hasher.finish_into(&mut block);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 128];
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x36;
        }
        inner.compress(&pad[..block_len]);
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x5c;
        }
        outer.compress(&pad[..block_len]);
        block.zeroize();
        pad.zeroize();
        HmacKey { inner, outer }
    }

    /// HMAC of the concatenation of `parts`, into `out[..output length]`.
    fn mac(&self, parts: &[&[u8]], out: &mut [u8]) {
        let block_len = self.inner.block_len() as u64;
        let mut hasher = Hasher::resume(self.inner.clone(), block_len);
        for part in parts {
            hasher.update(part);
        }
        let mut inner_digest = [0u8; 64];
        hasher.finish_into(&mut inner_digest);
        let mut hasher = Hasher::resume(self.outer.clone(), block_len);
        hasher.update(&inner_digest[..self.inner.output_len()]);
        hasher.finish_into(out);
        inner_digest.zeroize();
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.wipe();
        self.outer.wipe();
    }
}

/// HMAC (RFC 2104) of `data` under `key` with the hash called `name`.
pub fn hmac(name: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let algorithm = HashAlgorithm::from_name(name)?;
    let mut out = alloc::vec![0; algorithm.output_len()];
    HmacKey::new(algorithm, key).mac(&[data], &mut out);
    Ok(out)
}

/// How many iterations run between two calls of the progress callback: often enough for a smooth percentage
/// and a prompt stop (Ctrl-C) on a slow machine, rarely enough that the call costs nothing next to the 8,192
/// compressions between two.
const PROGRESS_STRIDE: u32 = 4096;

/// PBKDF2 (RFC 8018) filling `out`, telling `progress` the percent done every [`PROGRESS_STRIDE`] iterations;
/// `Err(Interrupted)`, with `out` wiped, when it says to stop.
#[optimize(speed)]
fn pbkdf2_run(
    algorithm: HashAlgorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<(), CryptoError> {
    let key = HmacKey::new(algorithm, password);
    let (block_len, output_len) = (key.inner.block_len(), key.inner.output_len());
    let blocks = out.len().div_ceil(output_len) as u64;
    let total = blocks * u64::from(iterations);
    let mut done = 0u64;
    // The percentage said last, and what the callback answered.
    let (mut said, mut go_on) = (u32::MAX, true);
    // One padded block holding an output-sized message after the one-block key pad: the same layout
    // for the inner hash (input U) and the outer hash (input inner digest), so one buffer serves both.
    let mut work = [0u8; 128];
    work[output_len] = 0x80;
    let bits = ((block_len + output_len) as u64) * 8;
    work[block_len - 8..block_len].copy_from_slice(&key.inner.length_field(bits));
    for (index, chunk) in out.chunks_mut(output_len).enumerate() {
        let counter = (index as u32).wrapping_add(1).to_be_bytes();
        key.mac(&[salt, &counter], &mut work);
        // U_1 is kept as bytes; the XOR of U_2..U_c is kept as hash words (no byte loop per
        // iteration) and folded in once at the end.
        let mut sum = State::new(algorithm);
        sum.wipe();
        let mut first = [0u8; 64];
        first[..output_len].copy_from_slice(&work[..output_len]);
        done += 1;
        let mut remaining = iterations - 1;
        while remaining > 0 && go_on {
            let run = remaining.min(PROGRESS_STRIDE);
            match (&key.inner, &key.outer, &mut sum) {
                (State::Sha256(inner), State::Sha256(outer), State::Sha256(sum)) => {
                    sha256_iterations(inner, outer, &mut work, sum, run)
                }
                _ => {
                    for _ in 0..run {
                        let mut state = key.inner.clone();
                        state.compress(&work[..block_len]);
                        state.write_out(&mut work);
                        let mut state = key.outer.clone();
                        state.compress(&work[..block_len]);
                        state.write_out(&mut work);
                        sum.xor_assign(&state);
                    }
                }
            }
            remaining -= run;
            done += u64::from(run);
            said = (done * 100 / total) as u32;
            go_on = progress(said);
        }
        let mut folded = [0u8; 64];
        sum.write_out(&mut folded);
        for (byte, (a, b)) in chunk.iter_mut().zip(first.iter().zip(folded.iter())) {
            *byte = a ^ b;
        }
        sum.wipe();
        first.zeroize();
        folded.zeroize();
        if !go_on {
            break;
        }
    }
    work.zeroize();
    // (The last stride ended at 100, unless there was none.)
    if go_on && said != 100 {
        go_on = progress(100);
    }
    if go_on {
        return Ok(());
    }
    // Stopped: nothing of the half-made key is left.
    out.zeroize();
    Err(CryptoError::Interrupted)
}

fn check_pbkdf2(iterations: u32, length: usize) -> Result<(), CryptoError> {
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(CryptoError::Limit(format!(
            "PBKDF2 iteration count {iterations} is outside 1..={MAX_PBKDF2_ITERATIONS}"
        )));
    }
    if length == 0 || length > MAX_PBKDF2_LENGTH {
        return Err(CryptoError::Limit(format!(
            "PBKDF2 output length {length} is outside 1..={MAX_PBKDF2_LENGTH}"
        )));
    }
    Ok(())
}

/// PBKDF2 into a caller's buffer, with a progress callback given percent done every few thousand iterations,
/// which can stop it (see [`pbkdf2_run`]).
pub(crate) fn pbkdf2_into(
    algorithm: HashAlgorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<(), CryptoError> {
    check_pbkdf2(iterations, out.len())?;
    pbkdf2_run(algorithm, password, salt, iterations, out, progress)
}

/// PBKDF2-HMAC with the hash called `name`; `iterations` and `length` are bounded by
/// [`MAX_PBKDF2_ITERATIONS`] and [`MAX_PBKDF2_LENGTH`].
pub fn pbkdf2(
    name: &str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    length: usize,
) -> Result<Secret, CryptoError> {
    pbkdf2_with_progress(name, password, salt, iterations, length, &mut |_| true)
}

/// [`pbkdf2`] with a progress callback that receives percent done every few thousand iterations and returns
/// whether to go on: `false` stops the derivation with [`CryptoError::Interrupted`] (Ctrl-C).
pub fn pbkdf2_with_progress(
    name: &str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    length: usize,
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<Secret, CryptoError> {
    let algorithm = HashAlgorithm::from_name(name)?;
    check_pbkdf2(iterations, length)?;
    let mut out = Secret::zeroed(length);
    pbkdf2_into(
        algorithm,
        password,
        salt,
        iterations,
        out.as_mut_bytes(),
        progress,
    )?;
    Ok(out)
}

/// The anti-forensic diffusion step of LUKS: each digest-sized piece of `data` becomes
/// `H(be32(piece index) || piece)`, truncated to the piece's length.
pub(crate) fn diffuse(algorithm: HashAlgorithm, data: &mut [u8]) {
    let mut out = [0u8; 64];
    for (index, piece) in data.chunks_mut(algorithm.output_len()).enumerate() {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(&(index as u32).to_be_bytes());
        hasher.update(piece);
        hasher.finish_into(&mut out);
        let n = piece.len();
        piece.copy_from_slice(&out[..n]);
    }
    out.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compression `ours` against `theirs` on 200 sets of 1 to 5 pseudo-random blocks, from states made of the
    /// same pseudo-random words with one word flipped.
    fn agree<const N: usize>(
        ours: fn(&mut [u32; N], &[[u8; 64]]),
        theirs: fn(&mut [u32; N], &[[u8; 64]]),
    ) {
        let mut blocks = [[0u8; 64]; 5];
        let mut x = 0x2545f491u32;
        for turn in 0..200 {
            for byte in blocks.iter_mut().flatten() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *byte = x as u8;
            }
            let n = turn % 5 + 1;
            let mut start = [x; N];
            start[turn % N] ^= 0x5a5a5a5a;
            let (mut a, mut b) = (start, start);
            ours(&mut a, &blocks[..n]);
            theirs(&mut b, &blocks[..n]);
            assert_eq!(a, b, "turn {turn}");
        }
    }

    /// The software SHA-1 against the `sha1` crate's compression.
    #[test]
    fn sha1_soft_agrees_with_sha1() {
        agree(sha1_soft, sha1::block_api::compress);
    }

    /// SHA-1 with the SHA instructions (on a CPU that has them) against the `sha1` crate's compression.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn sha1_with_sha_ni_agrees_with_sha1() {
        if cpuid_sha::get() {
            agree(sha1_compress, sha1::block_api::compress);
        }
    }

    /// The software SHA-256 against the `sha2` crate's compression (on a host with SHA-NI the hashes of the
    /// other tests take the crate's path).
    #[test]
    fn sha256_soft_agrees_with_sha2() {
        agree(sha256_soft, sha2::block_api::compress256);
    }
}
