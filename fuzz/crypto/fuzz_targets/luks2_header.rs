//! LUKS2 binary header and JSON area. The input's checksum is recomputed first (when it is long
//! enough to hold a 16 KiB header) so that the fuzzer reaches the metadata, not just the checksum check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_crypto::Luks2Header::parse(data);
    if data.len() >= 16384 {
        let mut area = data[..16384].to_vec();
        area[..8].copy_from_slice(b"LUKS\xba\xbe\x00\x02");
        area[8..16].copy_from_slice(&16384u64.to_be_bytes());
        area[72..104].fill(0);
        area[72..78].copy_from_slice(b"sha256");
        area[448..512].fill(0);
        let sum = bootscript_crypto::digest("sha256", &area).unwrap();
        area[448..480].copy_from_slice(&sum);
        let _ = bootscript_crypto::Luks2Header::parse(&area);
    }
});
