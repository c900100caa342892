//! Keys and encrypted volumes: SHA-1/SHA-2, RIPEMD-160, HMAC, PBKDF2, Argon2, AES-XTS and AES-CBC-ESSIV sector
//! decryption, and LUKS1/LUKS2 unlocking, as pure `no_std` + `alloc` code shared by the payload and the
//! host tool.
//!
//! Everything that reaches a disk is a [`BlockDevice`] view: [`plain_view`] maps like
//! `cryptsetup open --type plain`, [`luks_open`] like `cryptsetup open` on a LUKS1 or LUKS2 header.
#![cfg_attr(not(test), no_std)]
// Unsafe code only in `aesni` and `shani` (the AES-NI and SHA-NI intrinsics), which allow it for themselves,
// and in the call of `shani` where CPUID was asked.
#![deny(unsafe_code)]
// The LUKS2 metadata parsing (json, luks2, error) runs once per unlock: #[optimize(size)] there, while the
// hashing and ciphers keep the crate's speed level (root Cargo.toml): 4.3 KB less payload, the same unlock time.
// Not on luks1/view/kdf: the PBKDF2 loop is inlined into them and unlocking took 2.5 times as long.
#![feature(optimize_attribute)]
// `luks_open` and the big steps that only it calls (each version's header parse and open, LUKS2's metadata and
// key slot parse, Argon2's setup) are #[inline(never)]: inlined, they made one function of 16 KB, with a
// large stack frame, that took more code than they do apart (the payload: 0.3 KB packed, 3 KB unpacked).
// Where keeping one apart measured no smaller (either version's `unlock`), LLVM decides.

extern crate alloc;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod aesni;
mod af;
mod cipher;
mod error;
mod hash;
pub mod json;
mod kdf;
mod keyslot;
mod luks1;
mod luks2;
mod read;
mod ripemd;
mod secret;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod shani;
mod view;

pub use bootscript_disk::{check_read, BlockDevice, DiskError, SECTOR_SIZE};
pub use cipher::{aes_hardware_accelerated, SectorCipher};
pub use error::CryptoError;
pub use hash::{digest, hmac, pbkdf2, pbkdf2_with_progress, HashAlgorithm};
pub use kdf::{argon2, argon2_with_progress, Argon2Kind, Costs as Argon2Costs};
pub use luks1::{Luks1Header, Luks1KeySlot};
pub use luks2::{
    Digest as Luks2Digest, Kdf, KeySlot as Luks2KeySlot, Luks2Header, Metadata as Luks2Metadata,
    Segment as Luks2Segment,
};
pub use secret::Secret;
pub use view::{luks_open, plain_view, CryptView};

/// Largest PBKDF2 iteration count accepted from a header or a script: minutes of work on a fast host, far
/// above what `cryptsetup --iter-time 10000` writes there (about 50 million with SHA-256 on a CPU with SHA
/// instructions), so only a corrupt or hostile header hits it. A derivation this long shows its progress and
/// stops at Ctrl-C; a key slot over it is passed over, and the others are tried.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000_000;

/// Longest PBKDF2 output a script may ask for (LUKS keys are at most 64 bytes).
pub const MAX_PBKDF2_LENGTH: usize = 1024;

/// Largest Argon2 memory cost in KiB: cryptsetup's own maximum (4 GiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 4 * 1024 * 1024;

/// Largest Argon2 time cost accepted, and the largest total work (passes times KiB): 64 passes over 1 GiB, a
/// minute or so on one core of a fast host. cryptsetup's benchmark may well write 16 or more passes over 1 GiB
/// with 4 lanes on a fast machine, where its threads share the work (the payload runs on one core). As for
/// PBKDF2: the progress shows, Ctrl-C stops it, and a slot over the bound is passed over.
pub const MAX_ARGON2_TIME: u32 = 1_000_000;
pub const MAX_ARGON2_WORK: u64 = 64 * 1024 * 1024;

/// Most Argon2 lanes accepted (cryptsetup writes at most 4).
pub const MAX_ARGON2_LANES: u32 = 16;
