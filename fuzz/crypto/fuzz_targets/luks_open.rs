//! Opening whole (small) devices: header reads, key slot reads and views over damaged volumes. Costs
//! are capped by the crate's limits, which allow minutes of work (a user would see the progress and press
//! Ctrl-C); here the progress callback stops a derivation after 64 reports (about 260,000 PBKDF2 iterations
//! or 256 MiB of Argon2 blocks), as Ctrl-C would, so that slow inputs stay quick.
#![no_main]

use bootscript_crypto::{luks_open, BlockDevice, DiskError, SECTOR_SIZE};
use libfuzzer_sys::fuzz_target;
use std::rc::Rc;

struct Bytes(Vec<u8>);

impl BlockDevice for Bytes {
    fn sectors(&self) -> u64 {
        (self.0.len() / SECTOR_SIZE) as u64
    }
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        bootscript_crypto::check_read(self.sectors(), lba, buf.len())?;
        let start = lba as usize * SECTOR_SIZE;
        buf.copy_from_slice(&self.0[start..start + buf.len()]);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reports = 0;
    let stop_after_64 = &mut |_| {
        reports += 1;
        reports <= 64
    };
    if let Ok(view) = luks_open(Rc::new(Bytes(data.to_vec())), b"pass", stop_after_64) {
        let mut sector = [0u8; SECTOR_SIZE];
        if view.sectors() > 0 {
            let _ = view.read(0, &mut sector);
        }
    }
});
