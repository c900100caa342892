//! Fuzzes the MBR/GPT readers and the `disks()` registry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let disk = bootscript_disk_fuzz::disk(data);
    let _ = bootscript_disk::partition::read_partitions(&*disk);
    let (entries, _) = bootscript_disk::probe_disks(&[disk]);
    for entry in entries {
        let _ = entry.device.read(0, &mut [0u8; 512]);
    }
});
