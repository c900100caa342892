//! Argon2i/Argon2id key derivation for LUKS2 key slots, through the `argon2` crate, with bounds on its
//! costs and a clear error when the machine cannot give the memory.

use crate::{
    CryptoError, Secret, MAX_ARGON2_LANES, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_TIME, MAX_ARGON2_WORK,
};
use alloc::format;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// Which Argon2 variant (LUKS2 `kdf.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Kind {
    Argon2i,
    Argon2id,
}

/// Argon2 (version 0x13) of `password` and `salt` into `length` bytes: `time` passes over `memory_kib`
/// KiB in `lanes` lanes. The memory is allocated fallibly; too little is `CryptoError::OutOfMemory`.
pub fn argon2(
    kind: Argon2Kind,
    password: &[u8],
    salt: &[u8],
    time: u32,
    memory_kib: u32,
    lanes: u32,
    length: usize,
) -> Result<Secret, CryptoError> {
    if time == 0 || time > MAX_ARGON2_TIME {
        return Err(CryptoError::Limit(format!(
            "Argon2 time cost {time} is outside 1..={MAX_ARGON2_TIME}"
        )));
    }
    if memory_kib > MAX_ARGON2_MEMORY_KIB {
        return Err(CryptoError::Limit(format!(
            "Argon2 memory cost {memory_kib} KiB is over the limit {MAX_ARGON2_MEMORY_KIB} KiB"
        )));
    }
    if u64::from(time) * u64::from(memory_kib) > MAX_ARGON2_WORK {
        return Err(CryptoError::Limit(format!(
            "Argon2 work of {time} passes over {memory_kib} KiB is over the limit"
        )));
    }
    if lanes == 0 || lanes > MAX_ARGON2_LANES {
        return Err(CryptoError::Limit(format!(
            "Argon2 lane count {lanes} is outside 1..={MAX_ARGON2_LANES}"
        )));
    }
    let params = argon2::Params::new(memory_kib, time, lanes, Some(length))
        .map_err(|error| CryptoError::Limit(format!("Argon2 parameters refused: {error}")))?;
    let algorithm = match kind {
        Argon2Kind::Argon2i => argon2::Algorithm::Argon2i,
        Argon2Kind::Argon2id => argon2::Algorithm::Argon2id,
    };
    let blocks = params.block_count();
    let context = argon2::Argon2::new(algorithm, argon2::Version::V0x13, params);
    // Our own fallible allocation (the crate's would not be wiped): the memory holds passphrase-derived
    // state, so it is zeroized before it is freed.
    let mut memory: Vec<argon2::Block> = Vec::new();
    memory
        .try_reserve_exact(blocks)
        .map_err(|_| CryptoError::OutOfMemory {
            kib: u64::from(memory_kib),
        })?;
    memory.resize(blocks, argon2::Block::default());
    let mut out = Secret::zeroed(length);
    let result =
        context.hash_password_into_with_memory(password, salt, out.as_mut_bytes(), &mut memory[..]);
    memory.iter_mut().for_each(Zeroize::zeroize);
    result.map_err(|error| CryptoError::Limit(format!("Argon2 refused its input: {error}")))?;
    Ok(out)
}
