//! Our Argon2 (crates/crypto/src/kdf.rs) against the argon2 crate, on small costs chosen by the input: the kind,
//! passes, lanes, memory (from 8 KiB a lane, not always a multiple of 4 lanes), output length (across H''s
//! 64-byte step), password and salt. Shapes both refuse are skipped; any other difference is a finding.
#![no_main]

use bootscript_crypto::{argon2, Argon2Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [kind, time, lanes, memory, length, salt_length, rest @ ..] = data else {
        return;
    };
    let kind = if kind & 1 == 0 { Argon2Kind::Argon2i } else { Argon2Kind::Argon2id };
    let time = u32::from(time % 3) + 1;
    let lanes = u32::from(lanes % 4) + 1;
    let memory_kib = 8 * lanes + u32::from(*memory) % 200;
    let length = usize::from(*length) % 140;
    let salt_length = (usize::from(*salt_length) % 24).min(rest.len());
    let (salt, password) = rest.split_at(salt_length);
    let ours = argon2(kind, password, salt, time, memory_kib, lanes, length);
    let algorithm = match kind {
        Argon2Kind::Argon2i => argon2::Algorithm::Argon2i,
        Argon2Kind::Argon2id => argon2::Algorithm::Argon2id,
    };
    let theirs = argon2::Params::new(memory_kib, time, lanes, Some(length))
        .map_err(|_| ())
        .and_then(|params| {
            let mut out = vec![0u8; length];
            argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password_into(password, salt, &mut out)
                .map(|()| out)
                .map_err(|_| ())
        });
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours.as_bytes(), &theirs[..]),
        (Err(_), Err(())) => {}
        (ours, theirs) => panic!("ours {ours:?}, the crate's {theirs:?}"),
    }
});
