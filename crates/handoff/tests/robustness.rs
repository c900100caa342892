//! Bad input never panics: mutated and cut headers of the real images go through every parser.

mod common;

use bootscript_handoff::linux::{self, BzImage, Machine};
use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
use bootscript_handoff::{cpio, detect, multiboot2};

/// xorshift64: deterministic, so that a failure reproduces.
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(random: &mut Random, original: &[u8], hot: std::ops::Range<usize>) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..1 + random.below(6) {
        let at = hot.start + random.below(hot.len());
        if at < bytes.len() {
            bytes[at] = random.next() as u8;
        }
    }
    if random.below(4) == 0 {
        bytes.truncate(random.below(bytes.len() + 1));
    }
    bytes
}

#[test]
fn mutated_images_are_refused_or_loaded_never_a_panic() {
    let map = [
        MemoryRegion {
            addr: 0,
            len: 0x9fc00,
            kind: 1,
        },
        MemoryRegion {
            addr: 0x100000,
            len: 0x3fee0000,
            kind: 1,
        },
    ];
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: Some(0xf0000),
        cursor: Some((0, 0)),
        framebuffer: None,
        efi: None,
    };
    let mut random = Random(0x9e3779b97f4a7c15);

    // The kernel's first 128 KiB keep the parser on the header paths without copying 14 MB each time.
    let kernel = common::vmlinuz();
    let mut head = kernel[..128 * 1024].to_vec();
    // Make the short copy self-consistent (syssize) so that mutations reach the later checks.
    let setup = (head[0x1f1] as usize + 1) * 512;
    let paragraphs = ((head.len() - setup) / 16) as u32;
    head[0x1f4..0x1f8].copy_from_slice(&paragraphs.to_le_bytes());
    assert!(BzImage::parse(&head).is_ok());
    let mut loaded = 0;
    for _ in 0..3000 {
        let bytes = mutate(&mut random, &head, 0x1f0..0x270);
        let _ = detect(&bytes);
        if let Ok(image) = BzImage::parse(&bytes) {
            let mut free = FreeMemory::from_map(&map);
            if let Ok(plan) = linux::plan(
                &image,
                random.next() % (1 << 31),
                random.below(4096),
                random.below(8192),
                &mut free,
                1 << 32,
            ) {
                let bp = linux::boot_params(&image, &plan, &machine).unwrap();
                assert_eq!(bp.len(), 4096);
                loaded += 1;
            }
        }
    }
    assert!(loaded > 0, "some mutations keep the kernel bootable");

    common::run("tests/mb2kernel/build.sh", &[]);
    let mb2 = std::fs::read(common::root().join("build/mb2kernel.elf")).unwrap();
    for _ in 0..3000 {
        let bytes = mutate(&mut random, &mb2, 0..0x1100);
        let _ = detect(&bytes);
        let module = vec![1u8; random.below(100)];
        let modules: [(&[u8], &[u8]); 1] = [(b"m", &module)];
        let mut free = FreeMemory::from_map(&map);
        let _ = multiboot2::prepare(
            &bytes,
            b"x",
            &modules,
            &multiboot2::Info {
                memory_map: &map,
                rsdp: Some(&bytes[..bytes.len().min(40)]),
                ..Default::default()
            },
            &mut free,
        );
    }

    // Paths: arbitrary bytes from the alphabet that matters.
    for _ in 0..2000 {
        let path: String = (0..random.below(12))
            .map(|_| ['/', '.', 'a', '\0', 'b'][random.below(5)])
            .collect();
        let other: String = (0..random.below(12))
            .map(|_| ['/', '.', 'a', 'b'][random.below(4)])
            .collect();
        let _ = cpio::archive(&[(&path, b"1"), (&other, b"2")]);
    }
}

/// A UEFI memory map tag of any bytes (GRUB's, or a corrupted one) is read or refused, and its boot services'
/// ranges walked, without a panic; every range walked lies in a whole descriptor of the map.
#[test]
fn any_efi_memory_map_tag_is_read_or_refused() {
    let mut random = Random(0x5eed_0e41);
    for _ in 0..20_000 {
        let len = random.below(400);
        let mut tag: Vec<u8> = (0..len).map(|_| random.next() as u8).collect();
        // Mostly a plausible header: type 17, its own size, a descriptor size around UEFI's 48.
        if random.below(4) != 0 && len >= 16 {
            tag[..4].copy_from_slice(&17u32.to_le_bytes());
            tag[4..8].copy_from_slice(&(random.below(len + 8) as u32).to_le_bytes());
            tag[8..12].copy_from_slice(&(random.below(80) as u32).to_le_bytes());
            for d in (16..len).step_by(48) {
                tag[d] = [3, 4, 7][random.below(3)];
            }
        }
        if let Some(efi) = bootscript_handoff::Efi::from_tag(1, &tag) {
            let descriptors = efi.memory_map.len() / efi.desc_size as usize;
            let mut walked = 0;
            efi.boot_services(|_, _| walked += 1);
            assert!(walked <= descriptors);
        }
    }
}
