//! Fuzzes the MBR/GPT readers and the `disks()` registry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each input as a disk of 512-byte sectors and as one of 4096-byte blocks.
    for disk in [
        bootscript_disk_fuzz::disk(data),
        bootscript_disk_fuzz::disk_4k(data),
    ] {
        let _ = bootscript_disk::partition::read_partitions(&*disk);
        let (entries, _) = bootscript_disk::probe_disks(&[disk]);
        for entry in entries {
            let _ = entry.device.read(0, &mut [0u8; 512]);
        }
    }
});
