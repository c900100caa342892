//! What LUKS1 and LUKS2 key slots share once the passphrase has given a slot's key: the key material read
//! and decrypted with it, merged into a candidate volume key (see `af`), and the candidate checked against
//! the volume key's digest.

use crate::af;
use crate::cipher::SectorCipher;
use crate::hash::{pbkdf2_into, HashAlgorithm};
use crate::read::read_bytes;
use crate::{CryptoError, Secret, SECTOR_SIZE};
use alloc::string::ToString;
use bootscript_disk::BlockDevice;

/// Where and how a key slot stores the volume key.
pub(crate) struct KeyMaterial<'a> {
    /// The dm-crypt cipher of the material, keyed with what the passphrase derives.
    pub cipher: &'a str,
    /// Start of the material, in bytes from the device's start.
    pub offset: u64,
    pub key_size: usize,
    /// Anti-forensic stripes and the hash that merges them.
    pub stripes: usize,
    pub hash: HashAlgorithm,
}

/// The PBKDF2 digest that the volume key must give.
pub(crate) struct KeyDigest<'a> {
    pub hash: HashAlgorithm,
    pub salt: &'a [u8],
    pub iterations: u32,
    pub digest: &'a [u8],
}

/// The volume key that `slot_key` (the key derived from the passphrase) opens from `material`, or `None` if
/// the digest says it is not the volume key (a wrong passphrase). The digest's PBKDF2 is part of the slot's
/// work, done at 100: `progress` is only asked whether to go on.
// Not inlined: LUKS1 and LUKS2 each call it, and it would be one copy per call in `luks_open`.
#[inline(never)]
pub(crate) fn recover_key(
    device: &dyn BlockDevice,
    material: &KeyMaterial,
    slot_key: &[u8],
    check: &KeyDigest,
    progress: &mut dyn FnMut(u32) -> bool,
) -> Result<Option<Secret>, CryptoError> {
    let cipher = SectorCipher::new(material.cipher, slot_key)?;
    // Both bounded at parse: at most 4 MiB.
    let length = (material.key_size * material.stripes).div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
    let mut stored = Secret::from_vec(read_bytes(device, material.offset, length as u64)?);
    cipher.decrypt_sectors(stored.as_mut_bytes(), SECTOR_SIZE, 0, 1);
    let candidate = af::merge(
        stored.as_bytes(),
        material.key_size,
        material.stripes,
        material.hash,
    )?;
    if check.digest.is_empty() {
        return Err(CryptoError::BadHeader("empty digest".to_string()));
    }
    let mut computed = Secret::zeroed(check.digest.len());
    pbkdf2_into(
        check.hash,
        candidate.as_bytes(),
        check.salt,
        check.iterations,
        computed.as_mut_bytes(),
        &mut |_| progress(100),
    )?;
    Ok((computed.as_bytes() == check.digest).then_some(candidate))
}
