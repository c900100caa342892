//! LUKS1 header parsing: any bytes give a header or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_crypto::Luks1Header::parse(data);
});
