//! Fuzzes the Multiboot2 hand-off: the header and its tags, the ELF program headers or the address tag, the
//! placement of segments and modules, and the information structure; a plan that is made must keep its pieces
//! apart and in free memory below 4 GiB.
#![no_main]

use bootscript_handoff::multiboot2;
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 32;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_handoff::detect(data);
    let map = bootscript_handoff_fuzz::machine_map();
    let free = bootscript_handoff_fuzz::free_memory(&map);
    let module = [0x4du8; 5000];
    let modules: [(&[u8], &[u8]); 2] = [(b"/boot/initrd", &module), (b"/boot/empty", &[])];
    let mut left = free.clone();
    let Ok(boot) = multiboot2::prepare(data, b"quiet", &modules, &multiboot2::Info::of_map(&map), &mut left) else {
        return;
    };
    assert_eq!(boot.info_addr % 8, 0);
    let mut ranges: Vec<(u64, u64)> = boot
        .image
        .segments
        .iter()
        .map(|s| (s.phys, s.mem_size))
        .collect();
    for (addr, (_, bytes)) in boot.module_addrs.iter().zip(&modules) {
        assert_eq!(addr % 4096, 0);
        ranges.push((*addr, (bytes.len() as u64).max(1)));
    }
    ranges.push((boot.info_addr, boot.info.len() as u64));
    let mut pieces: Vec<(u64, u64)> = boot
        .copies()
        .iter()
        .map(|c| (c.0, c.1.len() as u64))
        .collect();
    pieces.extend(boot.zeroed());
    bootscript_handoff_fuzz::check_layout(&free, LIMIT, &ranges, &pieces);
});
