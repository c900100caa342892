//! AES sector ciphers as dm-crypt names them: `aes-xts-plain64`, `aes-cbc-essiv:sha256`, and the older
//! `aes-xts-plain`, `aes-cbc-plain64`, `aes-cbc-plain`.
//!
//! The block cipher is our own AES-NI code (`aesni`) whenever CPUID reports AES-NI, else the `aes`
//! crate's constant-time software path (the payload builds that crate with `aes_backend="soft"`, which
//! leaves out its own AES-NI and its VAES code, about 10 KB). `--cfg bootscript_aes="soft"` forces the
//! software path here, for tests. XTS and CBC are written here so that many blocks go to the cipher at
//! once (AES-NI pipelines them) and decryption happens in place.

#[cfg(target_arch = "x86_64")]
use crate::aesni::{self, AesNi};
use crate::hash::digest_sha256;
use crate::CryptoError;
use aes::cipher::array::{Array, ArraySize};
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
};
use aes::{Aes128, Aes256};
use alloc::string::ToString;
use zeroize::Zeroize;

/// Whether AES runs on the CPU's AES instructions here (decided at run time by CPUID).
pub fn aes_hardware_accelerated() -> bool {
    #[cfg(target_arch = "x86_64")]
    return aesni::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Blocks handed to the cipher per call: one 512-byte sector's worth, enough for the AES-NI pipeline.
const BATCH: usize = 32;

/// Sectors whose IVs are encrypted in one call.
const IV_GROUP: usize = 8;

/// An expanded AES key of either size, on AES-NI or in software.
#[derive(Clone)]
enum Aes {
    #[cfg(target_arch = "x86_64")]
    AesNi(AesNi),
    Aes128(Aes128),
    Aes256(Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        #[cfg(target_arch = "x86_64")]
        if let Some(aes) = AesNi::new(key) {
            return Some(Aes::AesNi(aes));
        }
        Aes::new_software(key)
    }

    /// The `aes` crate's key: its software path in the payload, and in host builds whatever it picks.
    fn new_software(key: &[u8]) -> Option<Aes> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(Aes::Aes128),
            32 => Aes256::new_from_slice(key).ok().map(Aes::Aes256),
            _ => None,
        }
    }

    fn encrypt(&self, block: &mut [u8; 16]) {
        self.encrypt_blocks(core::slice::from_mut(block));
    }

    /// In the payload, the software path's loop lies in `.text.aes`, a page of its own with the `aes` crate's
    /// round functions (see payload/linker.ld): under QEMU's TCG a jump into another page of guest code is looked
    /// up each time it is taken (see `hash::sha256_soft`).
    #[optimize(speed)]
    // SAFETY: `.text.aes` is code like `.text`; the payload's linker script puts it into its `.text`.
    #[allow(unsafe_code)]
    #[cfg_attr(target_os = "bootscript", link_section = ".text.aes")]
    fn decrypt(&self, blocks: &mut [[u8; 16]]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Aes::AesNi(aes) => aes.decrypt_blocks(blocks),
            Aes::Aes128(aes) => aes.decrypt_with_backend(Batches(blocks)),
            Aes::Aes256(aes) => aes.decrypt_with_backend(Batches(blocks)),
        }
    }

    #[optimize(speed)]
    fn encrypt_blocks(&self, blocks: &mut [[u8; 16]]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Aes::AesNi(aes) => aes.encrypt_blocks(blocks),
            Aes::Aes128(aes) => aes.encrypt_with_backend(Batches(blocks)),
            Aes::Aes256(aes) => aes.encrypt_with_backend(Batches(blocks)),
        }
    }
}

/// Blocks for the `aes` crate's cipher, given to it only in whole batches of its parallel width (four blocks in
/// its software form), a short last batch padded with zero blocks. The crate's own loop (`decrypt_blocks`) takes
/// such a tail through its one-block path, which in the software form is a second AES on 16-bit words: 2 KB
/// less packed payload without it, and sectors (32 blocks and more) never have such a tail.
struct Batches<'a>(&'a mut [[u8; 16]]);

impl Batches<'_> {
    /// Runs `cipher` over the blocks, batch by batch, in place; a short last batch is copied into a batch of
    /// its own. One call of `cipher` for both, so that the crate's cipher has a single caller and is inlined
    /// there, as in the crate's own loop (called from two places, it stayed a function of its own, built for
    /// size: more instructions and calls per block). The padded batch is made only for a short one: made on
    /// every call, it cost 1.3% more instructions in an XTS read.
    #[optimize(speed)]
    fn run<N: ArraySize>(self, mut cipher: impl FnMut(&mut Array<Array<u8, U16>, N>)) {
        let blocks = Array::cast_slice_from_core_mut(self.0);
        let (batches, tail) = Array::<Array<u8, U16>, N>::slice_as_chunks_mut(blocks);
        let mut padded = None;
        let last = (!tail.is_empty()).then(|| {
            let last = padded.insert(Array::<Array<u8, U16>, N>::default());
            last[..tail.len()].copy_from_slice(tail);
            last
        });
        for batch in batches.iter_mut().chain(last) {
            cipher(batch);
        }
        if let Some(last) = &mut padded {
            tail.copy_from_slice(&last[..tail.len()]);
            Array::slice_as_flattened_mut(last).zeroize();
        }
    }
}

impl BlockSizeUser for Batches<'_> {
    type BlockSize = U16;
}

impl BlockCipherDecClosure for Batches<'_> {
    #[inline(always)]
    fn call<B: BlockCipherDecBackend<BlockSize = U16>>(self, backend: &B) {
        self.run(|batch| backend.decrypt_par_blocks_inplace(batch));
    }
}

impl BlockCipherEncClosure for Batches<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        self.run(|batch| backend.encrypt_par_blocks_inplace(batch));
    }
}

/// How the per-sector IV is made from the sector number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IvMode {
    /// Little-endian 64-bit sector number.
    Plain64,
    /// Little-endian sector number truncated to 32 bits.
    Plain,
    /// The sector number encrypted under SHA-256 of the key.
    EssivSha256,
}

#[derive(Clone)]
enum Mode {
    Xts { data: Aes, tweak: Aes },
    Cbc { data: Aes, essiv: Option<Aes> },
}

/// A dm-crypt cipher specification with its key expanded: decrypts whole sectors in place.
#[derive(Clone)]
pub struct SectorCipher {
    mode: Mode,
    iv: IvMode,
}

impl core::fmt::Debug for SectorCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mode = match self.mode {
            Mode::Xts { .. } => "xts",
            Mode::Cbc { .. } => "cbc",
        };
        write!(f, "SectorCipher(aes-{mode}, {:?}, key hidden)", self.iv)
    }
}

impl SectorCipher {
    /// Expands `key` for the dm-crypt cipher `spec` (e.g. `aes-xts-plain64`). XTS takes 32 or 64 bytes
    /// (AES-128 or AES-256, two keys), CBC takes 16 or 32.
    pub fn new(spec: &str, key: &[u8]) -> Result<SectorCipher, CryptoError> {
        let spec_lower = spec.to_ascii_lowercase();
        let (mode, iv) = match spec_lower.as_str() {
            "aes-xts-plain64" => ("xts", IvMode::Plain64),
            "aes-xts-plain" => ("xts", IvMode::Plain),
            "aes-cbc-essiv:sha256" => ("cbc", IvMode::EssivSha256),
            "aes-cbc-plain64" => ("cbc", IvMode::Plain64),
            "aes-cbc-plain" => ("cbc", IvMode::Plain),
            _ => return Err(CryptoError::UnknownCipher(spec.to_string())),
        };
        let key_error = || CryptoError::KeyLength {
            cipher: spec.to_string(),
            length: key.len(),
        };
        let mode = if mode == "xts" {
            if key.len() != 32 && key.len() != 64 {
                return Err(key_error());
            }
            let (data, tweak) = key.split_at(key.len() / 2);
            Mode::Xts {
                data: Aes::new(data).ok_or_else(key_error)?,
                tweak: Aes::new(tweak).ok_or_else(key_error)?,
            }
        } else {
            let data = Aes::new(key).ok_or_else(key_error)?;
            let essiv = if iv == IvMode::EssivSha256 {
                let mut salt = digest_sha256(key);
                let essiv = Aes::new(&salt);
                salt.zeroize();
                essiv
            } else {
                None
            };
            Mode::Cbc { data, essiv }
        };
        Ok(SectorCipher { mode, iv })
    }

    /// The IVs of `out.len()` consecutive sectors, ready to use: for XTS encrypted under the tweak key
    /// (the first tweak), for ESSIV under the hashed key. They are encrypted together in one call,
    /// since the software AES costs as much for one block as for four.
    #[optimize(speed)]
    fn ivs(&self, first: u64, step: u64, out: &mut [[u8; 16]]) {
        let mut sector = first;
        for iv in out.iter_mut() {
            *iv = [0; 16];
            match self.iv {
                IvMode::Plain => iv[..4].copy_from_slice(&(sector as u32).to_le_bytes()),
                IvMode::Plain64 | IvMode::EssivSha256 => {
                    iv[..8].copy_from_slice(&sector.to_le_bytes())
                }
            }
            sector = sector.wrapping_add(step);
        }
        match &self.mode {
            Mode::Xts { tweak, .. } => tweak.encrypt_blocks(out),
            Mode::Cbc {
                essiv: Some(essiv), ..
            } => essiv.encrypt_blocks(out),
            Mode::Cbc { essiv: None, .. } => {}
        }
    }

    /// Runs `each(sector, iv)` over whole sectors, with IVs made `IV_GROUP` sectors at a time.
    #[optimize(speed)]
    fn for_sectors(
        &self,
        data: &mut [u8],
        sector_size: usize,
        first_iv: u64,
        iv_step: u64,
        mut each: impl FnMut(&mut [[u8; 16]], [u8; 16]),
    ) {
        let mut iv_sector = first_iv;
        let mut ivs = [[0u8; 16]; IV_GROUP];
        for group in data.chunks_mut(sector_size * IV_GROUP) {
            let count = group.len() / sector_size;
            self.ivs(iv_sector, iv_step, &mut ivs[..count]);
            for (sector, iv) in group.chunks_exact_mut(sector_size).zip(ivs.iter()) {
                each(sector.as_chunks_mut::<16>().0, *iv);
            }
            iv_sector = iv_sector.wrapping_add(iv_step.wrapping_mul(count as u64));
        }
    }

    /// Decrypts `data` in place: whole sectors of `sector_size` bytes, the first with IV sector number
    /// `first_iv`, each next one `iv_step` further (1, or `sector_size / 512` when IVs count 512-byte
    /// units as dm-crypt does without `iv_large_sectors`).
    #[optimize(speed)]
    pub fn decrypt_sectors(
        &self,
        data: &mut [u8],
        sector_size: usize,
        first_iv: u64,
        iv_step: u64,
    ) {
        self.for_sectors(
            data,
            sector_size,
            first_iv,
            iv_step,
            |blocks, iv| match &self.mode {
                Mode::Xts { data, .. } => xts_apply(iv, blocks, |batch| data.decrypt(batch)),
                Mode::Cbc { data, .. } => cbc_decrypt(data, iv, blocks),
            },
        );
    }

    /// Encrypts in place, the inverse of [`SectorCipher::decrypt_sectors`]. Tests use it only to check
    /// the round trip; fixtures are always encrypted by an independent tool.
    pub fn encrypt_sectors(
        &self,
        data: &mut [u8],
        sector_size: usize,
        first_iv: u64,
        iv_step: u64,
    ) {
        self.for_sectors(
            data,
            sector_size,
            first_iv,
            iv_step,
            |blocks, iv| match &self.mode {
                Mode::Xts { data, .. } => xts_apply(iv, blocks, |batch| data.encrypt_blocks(batch)),
                Mode::Cbc { data, .. } => {
                    let mut previous = iv;
                    for block in blocks.iter_mut() {
                        xor(block, &previous);
                        data.encrypt(block);
                        previous = *block;
                    }
                }
            },
        );
    }
}

impl SectorCipher {
    /// Test hook: encrypts (or with `decrypt` decrypts) `blocks` in place under `key` (16 or 32 bytes)
    /// with our AES-NI code (`aes_ni`) or with the `aes` crate, so that tests can set the two against
    /// each other. Returns false, leaving `blocks` alone, when that path is not available here (no AES-NI,
    /// or `bootscript_aes="soft"`) or the key length is wrong.
    #[doc(hidden)]
    pub fn aes_blocks_for_tests(
        key: &[u8],
        aes_ni: bool,
        decrypt: bool,
        blocks: &mut [[u8; 16]],
    ) -> bool {
        let aes = if aes_ni {
            #[cfg(target_arch = "x86_64")]
            let aes = AesNi::new(key).map(Aes::AesNi);
            #[cfg(not(target_arch = "x86_64"))]
            let aes = None;
            aes
        } else {
            Aes::new_software(key)
        };
        let Some(aes) = aes else {
            return false;
        };
        if decrypt {
            aes.decrypt(blocks);
        } else {
            aes.encrypt_blocks(blocks);
        }
        true
    }
}

#[optimize(speed)]
fn xor(block: &mut [u8; 16], with: &[u8; 16]) {
    // Whole 128-bit words: the byte loop does not vectorise at opt-level "s".
    *block = (u128::from_ne_bytes(*block) ^ u128::from_ne_bytes(*with)).to_ne_bytes();
}

/// Multiplies an XTS tweak by x in GF(2^128) (IEEE 1619 little-endian convention).
#[optimize(speed)]
fn next_tweak(tweak: u128) -> u128 {
    (tweak << 1) ^ ((tweak >> 127) * 0x87)
}

/// Runs XTS over one sector's blocks from its first (already encrypted) tweak, with `cipher`
/// (decrypt or encrypt) taking `BATCH` blocks per call.
#[optimize(speed)]
fn xts_apply(first_tweak: [u8; 16], blocks: &mut [[u8; 16]], cipher: impl Fn(&mut [[u8; 16]])) {
    let mut tweak = u128::from_le_bytes(first_tweak);
    let mut tweaks = [0u128; BATCH];
    for batch in blocks.chunks_mut(BATCH) {
        for (block, slot) in batch.iter_mut().zip(tweaks.iter_mut()) {
            *slot = tweak;
            *block = (u128::from_le_bytes(*block) ^ tweak).to_le_bytes();
            tweak = next_tweak(tweak);
        }
        cipher(batch);
        for (block, slot) in batch.iter_mut().zip(tweaks.iter()) {
            *block = (u128::from_le_bytes(*block) ^ slot).to_le_bytes();
        }
    }
}

/// CBC decryption in place: all blocks of a batch are decrypted in one call, then each is XORed with
/// the ciphertext before it, kept from a copy made before decrypting.
#[optimize(speed)]
fn cbc_decrypt(data: &Aes, iv: [u8; 16], blocks: &mut [[u8; 16]]) {
    let mut previous = iv;
    let mut saved = [[0u8; 16]; BATCH];
    for batch in blocks.chunks_mut(BATCH) {
        saved[..batch.len()].copy_from_slice(batch);
        data.decrypt(batch);
        for (index, block) in batch.iter_mut().enumerate() {
            xor(
                block,
                if index == 0 {
                    &previous
                } else {
                    &saved[index - 1]
                },
            );
        }
        previous = saved[batch.len() - 1];
    }
}
