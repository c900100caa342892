//! Fuzzes the FAT12/16/32 reader: boot sector, cluster chains, long names.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let disk = bootscript_disk_fuzz::padded_disk(data);
    if let Ok(fs) = bootscript_disk::fs::Fat::open(disk.clone()) {
        bootscript_disk_fuzz::walk(&fs);
    }
    bootscript_disk_fuzz::vfs(disk);
});
