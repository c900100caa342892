//! LUKS2 JSON metadata interpretation (key slots, digests, segments).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_crypto::Luks2Metadata::parse(data);
});
