//! The strict JSON parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_crypto::json::parse(data);
});
