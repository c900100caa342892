//! Fuzzes the Linux hand-off: the bzImage setup header, the plan of where the kernel, the initrd area and
//! boot_params go, and boot_params itself; a plan that is made must keep its pieces apart and in free memory.
#![no_main]

use bootscript_handoff::linux::{self, Machine};
use libfuzzer_sys::fuzz_target;

const LIMIT: u64 = 1 << 32;

fuzz_target!(|data: &[u8]| {
    let _ = bootscript_handoff::detect(data);
    let map = bootscript_handoff_fuzz::machine_map();
    let free = bootscript_handoff_fuzz::free_memory(&map);
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: Some(0xf0000),
        cursor: Some((0, 0)),
        framebuffer: None,
        efi: None,
    };
    let cmdline = b"console=ttyS0 root=/dev/sda1";
    let initrd = [0x30u8; 1000];
    let files: [(&str, &[u8]); 1] = [("etc/bootscript/key", b"secret")];
    let mut left = free.clone();
    let Ok(boot) = linux::prepare(
        data,
        cmdline,
        &[&initrd],
        bootscript_handoff::cpio::archive(&files).unwrap(),
        &machine,
        &mut left,
        LIMIT,
    ) else {
        return;
    };
    let _ = boot.image.kernel_version();
    let plan = boot.plan;
    assert_eq!(boot.boot_params.len(), 4096);
    assert_eq!(plan.cmdline_addr, plan.boot_params_addr + 4096);
    assert!(
        plan.entry_64 >= plan.kernel_addr && plan.entry_64 < plan.kernel_addr + plan.kernel_span
    );
    let ranges = [
        (plan.kernel_addr, plan.kernel_span),
        (plan.initrd_addr, plan.initrd_len),
        (plan.boot_params_addr, 4096 + cmdline.len() as u64 + 1),
    ];
    let mut pieces: Vec<(u64, u64)> = boot
        .copies()
        .iter()
        .map(|c| (c.0, c.1.len() as u64))
        .collect();
    pieces.extend(boot.zeroed());
    bootscript_handoff_fuzz::check_layout(&free, LIMIT, &ranges, &pieces);
});
