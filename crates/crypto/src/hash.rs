//! SHA-1, SHA-256, SHA-512, HMAC and PBKDF2.
//!
//! The compression functions come from RustCrypto's `sha1` and `sha2` crates (not `sha1_smol`): they pick
//! SHA-NI (or AVX2 for SHA-512) at run time through `cpufeatures`, which PBKDF2's speed depends on, and
//! export the bare compression function. The padding, HMAC and PBKDF2 around them are written here so
//! that PBKDF2 can run each iteration as exactly two compressions of a pre-padded block from the HMAC
//! key's inner and outer states, computed once per derivation (GRUB recomputes the whole HMAC each time).

use crate::{CryptoError, Secret, MAX_PBKDF2_ITERATIONS, MAX_PBKDF2_LENGTH};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// A hash named in a LUKS header or a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    /// Parses the names cryptsetup writes (`sha1`, `sha256`, `sha512`), in any case.
    pub fn from_name(name: &str) -> Result<HashAlgorithm, CryptoError> {
        match name.to_ascii_lowercase().as_str() {
            "sha1" => Ok(HashAlgorithm::Sha1),
            "sha256" => Ok(HashAlgorithm::Sha256),
            "sha512" => Ok(HashAlgorithm::Sha512),
            _ => Err(CryptoError::UnknownHash(name.to_string())),
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// The state of one Merkle-Damgard hash: its block size, compression function and output encoding.
pub(crate) trait Engine: Clone {
    const BLOCK: usize;
    const OUT: usize;
    fn initial() -> Self;
    /// Compresses whole blocks (`data.len()` is a multiple of `BLOCK`).
    fn compress(&mut self, data: &[u8]);
    /// Writes the big-endian state (the digest) into `out[..OUT]`.
    fn write_out(&self, out: &mut [u8]);
    fn wipe(&mut self);
    /// XORs another state's words into this one (PBKDF2's running sum, kept as words).
    fn xor_assign(&mut self, other: &Self);
}

#[derive(Clone)]
pub(crate) struct Sha1State([u32; 5]);
#[derive(Clone)]
pub(crate) struct Sha256State([u32; 8]);
#[derive(Clone)]
pub(crate) struct Sha512State([u64; 8]);

impl Engine for Sha1State {
    fn xor_assign(&mut self, other: &Self) {
        for (word, with) in self.0.iter_mut().zip(other.0.iter()) {
            *word ^= with;
        }
    }
    const BLOCK: usize = 64;
    const OUT: usize = 20;
    fn initial() -> Self {
        Sha1State([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0])
    }
    fn compress(&mut self, data: &[u8]) {
        sha1::block_api::compress(&mut self.0, data.as_chunks::<64>().0);
    }
    fn write_out(&self, out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.0.iter()) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }
    fn wipe(&mut self) {
        self.0.zeroize();
    }
}

impl Engine for Sha256State {
    fn xor_assign(&mut self, other: &Self) {
        for (word, with) in self.0.iter_mut().zip(other.0.iter()) {
            *word ^= with;
        }
    }
    const BLOCK: usize = 64;
    const OUT: usize = 32;
    fn initial() -> Self {
        Sha256State([
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ])
    }
    fn compress(&mut self, data: &[u8]) {
        sha2::block_api::compress256(&mut self.0, data.as_chunks::<64>().0);
    }
    fn write_out(&self, out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.0.iter()) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }
    fn wipe(&mut self) {
        self.0.zeroize();
    }
}

impl Engine for Sha512State {
    fn xor_assign(&mut self, other: &Self) {
        for (word, with) in self.0.iter_mut().zip(other.0.iter()) {
            *word ^= with;
        }
    }
    const BLOCK: usize = 128;
    const OUT: usize = 64;
    fn initial() -> Self {
        Sha512State([
            0x6a09e667f3bcc908,
            0xbb67ae8584caa73b,
            0x3c6ef372fe94f82b,
            0xa54ff53a5f1d36f1,
            0x510e527fade682d1,
            0x9b05688c2b3e6c1f,
            0x1f83d9abfb41bd6b,
            0x5be0cd19137e2179,
        ])
    }
    fn compress(&mut self, data: &[u8]) {
        sha2::block_api::compress512(&mut self.0, data.as_chunks::<128>().0);
    }
    fn write_out(&self, out: &mut [u8]) {
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.0.iter()) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }
    fn wipe(&mut self) {
        self.0.zeroize();
    }
}

/// A streaming hash over an engine; wiped on drop since it may hold key-derived state.
pub(crate) struct Hasher<E: Engine> {
    state: E,
    buffer: [u8; 128],
    buffered: usize,
    /// Bytes hashed so far, including any prefix already compressed into a starting state.
    total: u64,
}

impl<E: Engine> Hasher<E> {
    pub(crate) fn new() -> Self {
        Self::resume(E::initial(), 0)
    }

    /// Continues from a state that has already absorbed `total` bytes (a whole number of blocks).
    fn resume(state: E, total: u64) -> Self {
        Hasher {
            state,
            buffer: [0; 128],
            buffered: 0,
            total,
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (E::BLOCK - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < E::BLOCK {
                return;
            }
            self.state.compress(&self.buffer[..E::BLOCK]);
            self.buffered = 0;
        }
        let whole = data.len() - data.len() % E::BLOCK;
        if whole > 0 {
            self.state.compress(&data[..whole]);
        }
        let rest = &data[whole..];
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// Pads, compresses and writes the digest into `out[..E::OUT]`.
    pub(crate) fn finish_into(mut self, out: &mut [u8]) {
        let length_bytes = E::BLOCK / 8; // 8 for 64-byte blocks, 16 for SHA-512's 128-byte blocks
        let bits = self.total.wrapping_mul(8);
        let mut n = self.buffered;
        self.buffer[n] = 0x80;
        n += 1;
        if n > E::BLOCK - length_bytes {
            self.buffer[n..E::BLOCK].fill(0);
            self.state.compress(&self.buffer[..E::BLOCK]);
            n = 0;
        }
        self.buffer[n..E::BLOCK - 8].fill(0);
        self.buffer[E::BLOCK - 8..E::BLOCK].copy_from_slice(&bits.to_be_bytes());
        self.state.compress(&self.buffer[..E::BLOCK]);
        self.state.write_out(out);
    }
}

impl<E: Engine> Drop for Hasher<E> {
    fn drop(&mut self) {
        self.state.wipe();
        self.buffer.zeroize();
    }
}

fn digest_with<E: Engine>(data: &[u8]) -> Vec<u8> {
    let mut out = alloc::vec![0; E::OUT];
    let mut hasher = Hasher::<E>::new();
    hasher.update(data);
    hasher.finish_into(&mut out);
    out
}

/// Hashes `data` with the hash called `name` (`sha1`, `sha256`, `sha512`).
pub fn digest(name: &str, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(match HashAlgorithm::from_name(name)? {
        HashAlgorithm::Sha1 => digest_with::<Sha1State>(data),
        HashAlgorithm::Sha256 => digest_with::<Sha256State>(data),
        HashAlgorithm::Sha512 => digest_with::<Sha512State>(data),
    })
}

pub(crate) fn digest_sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    let mut hasher = Hasher::<Sha256State>::new();
    hasher.update(data);
    hasher.finish_into(&mut out);
    out
}

/// The HMAC key's inner and outer states: the hash state after one block of `key ^ ipad` / `key ^ opad`.
struct HmacKey<E: Engine> {
    inner: E,
    outer: E,
}

impl<E: Engine> HmacKey<E> {
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 128];
        if key.len() > E::BLOCK {
            let mut hasher = Hasher::<E>::new();
            hasher.update(key);
            hasher.finish_into(&mut block);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 128];
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x36;
        }
        let mut inner = E::initial();
        inner.compress(&pad[..E::BLOCK]);
        for (p, k) in pad.iter_mut().zip(block.iter()) {
            *p = k ^ 0x5c;
        }
        let mut outer = E::initial();
        outer.compress(&pad[..E::BLOCK]);
        block.zeroize();
        pad.zeroize();
        HmacKey { inner, outer }
    }

    /// HMAC of the concatenation of `parts`, into `out[..E::OUT]`.
    fn mac(&self, parts: &[&[u8]], out: &mut [u8]) {
        let mut hasher = Hasher::resume(self.inner.clone(), E::BLOCK as u64);
        for part in parts {
            hasher.update(part);
        }
        let mut inner_digest = [0u8; 64];
        hasher.finish_into(&mut inner_digest);
        let mut hasher = Hasher::resume(self.outer.clone(), E::BLOCK as u64);
        hasher.update(&inner_digest[..E::OUT]);
        hasher.finish_into(out);
        inner_digest.zeroize();
    }
}

impl<E: Engine> Drop for HmacKey<E> {
    fn drop(&mut self) {
        self.inner.wipe();
        self.outer.wipe();
    }
}

fn hmac_with<E: Engine>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = alloc::vec![0; E::OUT];
    HmacKey::<E>::new(key).mac(&[data], &mut out);
    out
}

/// HMAC (RFC 2104) of `data` under `key` with the hash called `name`.
pub fn hmac(name: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(match HashAlgorithm::from_name(name)? {
        HashAlgorithm::Sha1 => hmac_with::<Sha1State>(key, data),
        HashAlgorithm::Sha256 => hmac_with::<Sha256State>(key, data),
        HashAlgorithm::Sha512 => hmac_with::<Sha512State>(key, data),
    })
}

/// How many iterations run between two looks at the progress callback: small enough for a smooth
/// percentage on a slow machine, large enough that the call costs nothing next to 2 compressions each.
const PROGRESS_STRIDE: u32 = 4096;

/// PBKDF2 (RFC 8018) filling `out`, reporting percent done through `progress`.
fn pbkdf2_with<E: Engine>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    progress: &mut dyn FnMut(u32),
) {
    let key = HmacKey::<E>::new(password);
    let blocks = out.len().div_ceil(E::OUT) as u64;
    let total = blocks * u64::from(iterations);
    let mut done = 0u64;
    let mut last_percent = u32::MAX;
    // One padded block holding an E::OUT-byte message after the one-block key pad: the same layout for
    // the inner hash (input U) and the outer hash (input inner digest), so one buffer serves both.
    let mut work = [0u8; 128];
    work[E::OUT] = 0x80;
    let bits = ((E::BLOCK + E::OUT) as u64) * 8;
    work[E::BLOCK - 8..E::BLOCK].copy_from_slice(&bits.to_be_bytes());
    for (index, chunk) in out.chunks_mut(E::OUT).enumerate() {
        let counter = (index as u32).wrapping_add(1).to_be_bytes();
        key.mac(&[salt, &counter], &mut work);
        // U_1 is kept as bytes; the XOR of U_2..U_c is kept as hash words (no byte loop per
        // iteration) and folded in once at the end.
        let mut sum = E::initial();
        sum.wipe();
        let mut first = [0u8; 64];
        first[..E::OUT].copy_from_slice(&work[..E::OUT]);
        done += 1;
        let mut remaining = iterations - 1;
        while remaining > 0 {
            let run = remaining.min(PROGRESS_STRIDE);
            for _ in 0..run {
                let mut state = key.inner.clone();
                state.compress(&work[..E::BLOCK]);
                state.write_out(&mut work);
                let mut state = key.outer.clone();
                state.compress(&work[..E::BLOCK]);
                state.write_out(&mut work);
                sum.xor_assign(&state);
            }
            remaining -= run;
            done += u64::from(run);
            let percent = (done * 100 / total) as u32;
            if percent != last_percent {
                last_percent = percent;
                progress(percent);
            }
        }
        let mut folded = [0u8; 64];
        sum.write_out(&mut folded);
        for (byte, (a, b)) in chunk.iter_mut().zip(first.iter().zip(folded.iter())) {
            *byte = a ^ b;
        }
        sum.wipe();
        first.zeroize();
        folded.zeroize();
    }
    if last_percent != 100 {
        progress(100);
    }
    work.zeroize();
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

/// PBKDF2 into a caller's buffer, with a progress callback given percent done (called at most once per
/// percent, and only every few thousand iterations).
pub(crate) fn pbkdf2_into(
    algorithm: HashAlgorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: &mut [u8],
    progress: &mut dyn FnMut(u32),
) -> Result<(), CryptoError> {
    check_pbkdf2(iterations, out.len())?;
    match algorithm {
        HashAlgorithm::Sha1 => pbkdf2_with::<Sha1State>(password, salt, iterations, out, progress),
        HashAlgorithm::Sha256 => {
            pbkdf2_with::<Sha256State>(password, salt, iterations, out, progress)
        }
        HashAlgorithm::Sha512 => {
            pbkdf2_with::<Sha512State>(password, salt, iterations, out, progress)
        }
    }
    Ok(())
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
    pbkdf2_with_progress(name, password, salt, iterations, length, &mut |_| {})
}

/// [`pbkdf2`] with a progress callback that receives percent done.
pub fn pbkdf2_with_progress(
    name: &str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    length: usize,
    progress: &mut dyn FnMut(u32),
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
    fn run<E: Engine>(data: &mut [u8]) {
        let mut out = [0u8; 64];
        for (index, piece) in data.chunks_mut(E::OUT).enumerate() {
            let mut hasher = Hasher::<E>::new();
            hasher.update(&(index as u32).to_be_bytes());
            hasher.update(piece);
            hasher.finish_into(&mut out);
            let n = piece.len();
            piece.copy_from_slice(&out[..n]);
        }
        out.zeroize();
    }
    match algorithm {
        HashAlgorithm::Sha1 => run::<Sha1State>(data),
        HashAlgorithm::Sha256 => run::<Sha256State>(data),
        HashAlgorithm::Sha512 => run::<Sha512State>(data),
    }
}
