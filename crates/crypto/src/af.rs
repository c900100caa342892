//! LUKS anti-forensic merge: the key slot's key material is `stripes` pieces of the key's length,
//! folded back into the key with the header's hash (cryptsetup's AF_merge).

use crate::hash::{diffuse, HashAlgorithm};
use crate::{CryptoError, Secret};
use alloc::string::ToString;

/// Merges `material` (`stripes * key_length` bytes, already decrypted) into the key.
pub(crate) fn merge(
    material: &[u8],
    key_length: usize,
    stripes: usize,
    hash: HashAlgorithm,
) -> Result<Secret, CryptoError> {
    let needed = key_length.checked_mul(stripes);
    if key_length == 0 || stripes == 0 || needed.is_none_or(|n| n > material.len()) {
        return Err(CryptoError::BadHeader(
            "key material shorter than its stripes".to_string(),
        ));
    }
    let mut key = Secret::zeroed(key_length);
    let pieces = material.chunks_exact(key_length).take(stripes);
    for (index, piece) in pieces.enumerate() {
        for (k, m) in key.as_mut_bytes().iter_mut().zip(piece.iter()) {
            *k ^= m;
        }
        if index + 1 < stripes {
            diffuse(hash, key.as_mut_bytes());
        }
    }
    Ok(key)
}
