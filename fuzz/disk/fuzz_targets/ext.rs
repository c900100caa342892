//! Fuzzes the ext2/3/4 reader: superblock, descriptors, inodes, block maps, extent trees, directories.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let disk = bootscript_disk_fuzz::padded_disk(data);
    if let Ok(fs) = bootscript_disk::fs::Ext::open(disk.clone()) {
        bootscript_disk_fuzz::walk(&fs);
    }
    bootscript_disk_fuzz::vfs(disk);
});
