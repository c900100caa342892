//! Multiboot2: the test kernel's ELF against readelf, crafted headers, and the information structure read back
//! by an independent parser (Python).

mod common;

use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
use bootscript_handoff::multiboot2::{self, Info, Module, Multiboot2Image};
use bootscript_handoff::{detect, Error, Framebuffer, KernelKind};
use std::process::{Command, Stdio};

fn mb2kernel() -> Vec<u8> {
    common::run("tests/mb2kernel/build.sh", &[]);
    std::fs::read(common::root().join("build/mb2kernel.elf")).unwrap()
}

fn parse_hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn test_kernel_segments_match_readelf() {
    let bytes = mb2kernel();
    assert_eq!(detect(&bytes), Ok(KernelKind::Multiboot2));
    let image = Multiboot2Image::parse(&bytes).unwrap();
    let headers =
        String::from_utf8(common::run("readelf", &["-lhW", "build/mb2kernel.elf"])).unwrap();
    let mut expected = Vec::new();
    for line in headers.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"LOAD") && parse_hex(words[5]) != 0 {
            // Type Offset VirtAddr PhysAddr FileSiz MemSiz
            let (offset, phys, filesz, memsz) = (
                parse_hex(words[1]),
                parse_hex(words[3]),
                parse_hex(words[4]),
                parse_hex(words[5]),
            );
            expected.push((
                phys,
                bytes[offset as usize..(offset + filesz) as usize].to_vec(),
                memsz,
            ));
        }
    }
    let got: Vec<_> = image
        .segments
        .iter()
        .map(|s| (s.phys, s.bytes.to_vec(), s.mem_size))
        .collect();
    assert_eq!(got, expected);
    assert!(got.len() >= 2, "text and bss at least");
    let entry = headers
        .lines()
        .find(|l| l.contains("Entry point address"))
        .unwrap();
    assert_eq!(
        u64::from(image.entry),
        parse_hex(entry.split_whitespace().last().unwrap())
    );
    let grub = Command::new("grub-file")
        .args(["--is-x86-multiboot2", "build/mb2kernel.elf"])
        .current_dir(common::root())
        .status();
    assert!(grub
        .expect("grub-file is missing: run scripts/setup.sh")
        .success());
}

#[test]
fn broken_elf_images_are_refused() {
    let bytes = mb2kernel();
    let phoff = u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
    // The first program header's p_filesz (offset 16) made to run past the end of the file.
    let mut outside = bytes.clone();
    outside[phoff + 16..phoff + 20].copy_from_slice(&0x100_0000u32.to_le_bytes());
    outside[phoff + 20..phoff + 24].copy_from_slice(&0x100_0000u32.to_le_bytes());
    assert_eq!(
        Multiboot2Image::parse(&outside),
        Err(Error::BadElf("a segment lies outside the file"))
    );
    let mut wrapping = bytes.clone();
    wrapping[phoff + 12..phoff + 16].copy_from_slice(&0xffff_ff00u32.to_le_bytes());
    assert_eq!(
        Multiboot2Image::parse(&wrapping),
        Err(Error::BadElf("a segment lies above 4 GiB"))
    );
    let mut filesz_over = bytes.clone();
    filesz_over[phoff + 20..phoff + 24].copy_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        Multiboot2Image::parse(&filesz_over),
        Err(Error::BadElf(_))
    ));
    let mut dynamic = bytes.clone();
    dynamic[16] = 3;
    assert_eq!(
        Multiboot2Image::parse(&dynamic),
        Err(Error::BadElf("not an executable (ET_EXEC)"))
    );
    // Cut inside the program headers / segments: refused, never a panic.
    for cut in [40, phoff + 10, 0x1001, 0x2100] {
        assert!(
            Multiboot2Image::parse(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

/// A raw (non-ELF) image: header at `at`, then `tags`, then the end tag.
fn raw_image(at: usize, tags: &[u8], total: usize) -> Vec<u8> {
    let mut header = Vec::new();
    let len = 16 + tags.len() + 8;
    for word in [
        0xe85250d6u32,
        0,
        len as u32,
        0u32.wrapping_sub(0xe85250d6).wrapping_sub(len as u32),
    ] {
        header.extend_from_slice(&word.to_le_bytes());
    }
    header.extend_from_slice(tags);
    header.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
    let mut image = vec![0x90u8; total];
    image[at..at + header.len()].copy_from_slice(&header);
    image
}

fn header_tag(kind: u16, flags: u16, body: &[u32]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&kind.to_le_bytes());
    t.extend_from_slice(&flags.to_le_bytes());
    t.extend_from_slice(&(8 + 4 * body.len() as u32).to_le_bytes());
    for w in body {
        t.extend_from_slice(&w.to_le_bytes());
    }
    while t.len() % 8 != 0 {
        t.push(0);
    }
    t
}

#[test]
fn address_tag_images_and_header_refusals() {
    // The a.out kludge: header 0x40 bytes into the file, loaded at 2 MiB, 8 KiB of bss after the file.
    let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0, 0x204000]);
    tags.extend(header_tag(3, 0, &[0x200080]));
    let image = raw_image(0x40, &tags, 0x1000);
    let loaded = Multiboot2Image::parse(&image).unwrap();
    assert_eq!(loaded.entry, 0x200080);
    assert_eq!(loaded.segments.len(), 1);
    assert_eq!(
        (
            loaded.segments[0].phys,
            loaded.segments[0].bytes.len(),
            loaded.segments[0].mem_size
        ),
        (0x200000, 0x1000, 0x4000)
    );

    // Missing entry tag with an address tag.
    let image = raw_image(0x40, &header_tag(2, 0, &[0x200040, 0x200000, 0, 0]), 0x1000);
    assert!(matches!(
        Multiboot2Image::parse(&image),
        Err(Error::BadMultiboot2(_))
    ));
    // A required framebuffer, or a required information tag we do not write (8: framebuffer info).
    let image = raw_image(0, &header_tag(5, 0, &[1024, 768, 32]), 0x100);
    assert_eq!(
        Multiboot2Image::parse(&image),
        Err(Error::Unsupported("a graphics framebuffer", 5))
    );
    let image = raw_image(0, &header_tag(1, 0, &[1, 8]), 0x100);
    assert_eq!(
        Multiboot2Image::parse(&image),
        Err(Error::Unsupported(
            "an information tag we do not provide",
            8
        ))
    );
    // The same requests marked optional are fine (then the ELF is what is missing).
    let image = raw_image(0, &header_tag(1, 1, &[1, 8]), 0x100);
    assert_eq!(
        Multiboot2Image::parse(&image),
        Err(Error::BadElf("no ELF magic (and no address tag)"))
    );
    // Bad checksum: not recognised at all; past 32 KiB: not found.
    let mut image = raw_image(0, &[], 0x100);
    image[12] ^= 1;
    assert_eq!(detect(&image), Err(Error::UnknownKernel));
    let image = raw_image(32 * 1024, &[], 40 * 1024);
    assert_eq!(detect(&image), Err(Error::UnknownKernel));
    let image = raw_image(32 * 1024 - 24, &[], 40 * 1024);
    assert_eq!(detect(&image), Ok(KernelKind::Multiboot2));
    // The header must lie whole in the first 32 KiB: one that starts there and ends past it is not found.
    let image = raw_image(32 * 1024 - 16, &[], 40 * 1024);
    assert_eq!(detect(&image), Err(Error::UnknownKernel));

    // load_addr -1: the file is loaded from its start, so that the header lands at header_addr.
    let mut tags = header_tag(2, 0, &[0x200040, u32::MAX, 0, 0]);
    tags.extend(header_tag(3, 0, &[0x200080]));
    let image = raw_image(0x40, &tags, 0x1000);
    let loaded = Multiboot2Image::parse(&image).unwrap();
    assert_eq!(
        (loaded.segments[0].phys, loaded.segments[0].bytes.len()),
        (0x200000, 0x1000)
    );
    assert_eq!(loaded.segments[0].bytes, &image[..]);
    assert!(!loaded.load_base_wanted);
    // ...which a header too early in the file for its header_addr cannot be.
    let tags = [
        header_tag(2, 0, &[0x20, u32::MAX, 0, 0]),
        header_tag(3, 0, &[0x20]),
    ]
    .concat();
    assert_eq!(
        Multiboot2Image::parse(&raw_image(0x40, &tags, 0x1000)),
        Err(Error::BadMultiboot2("inconsistent address tag"))
    );

    // A relocatable image (tag 10), or one that requires tag 21, is told its load base.
    for extra in [
        header_tag(10, 0, &[0x100000, 0x1000000, 0x1000, 0]),
        header_tag(1, 0, &[21]),
    ] {
        let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0, 0]);
        tags.extend(header_tag(3, 0, &[0x200080]));
        tags.extend(extra);
        let image = raw_image(0x40, &tags, 0x1000);
        assert!(Multiboot2Image::parse(&image).unwrap().load_base_wanted);
    }
}

#[test]
fn plan_keeps_segments_and_modules_apart() {
    let bytes = mb2kernel();
    let image = Multiboot2Image::parse(&bytes).unwrap();
    let map = [
        MemoryRegion {
            addr: 0,
            len: 0x9fc00,
            kind: 1,
        },
        MemoryRegion {
            addr: 0x100000,
            len: 0x7f00000,
            kind: 1,
        },
    ];
    let mut free = FreeMemory::from_map(&map);
    let addrs = multiboot2::plan(&image, &[5000, 13, 0], &mut free).unwrap();
    assert_eq!(addrs.len(), 3);
    let mut used: Vec<(u64, u64)> = image
        .segments
        .iter()
        .map(|s| (s.phys, s.mem_size))
        .collect();
    used.extend(addrs.iter().zip([5000u64, 13, 1]).map(|(&a, l)| (a, l)));
    for (i, a) in used.iter().enumerate() {
        assert!(a.0 + a.1 <= 0x8000000);
        for b in &used[i + 1..] {
            assert!(a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0, "{a:x?} {b:x?}");
        }
    }
    assert!(addrs.iter().all(|a| a % 4096 == 0));
    // The linked address is not free: refused.
    let mut busy = FreeMemory::from_map(&map);
    busy.reserve(0x100000, 0x1000);
    assert!(matches!(
        multiboot2::plan(&image, &[], &mut busy),
        Err(Error::NoRoom(..))
    ));
}

/// An independent reader of the Multiboot2 information structure (spec section 3.6), in Python.
const PARSER: &str = r#"
import struct, sys
b = sys.stdin.buffer.read()
total, reserved = struct.unpack_from('<II', b, 0)
assert total == len(b) and reserved == 0, (total, len(b))
at = 8
while True:
    assert at % 8 == 0
    t, size = struct.unpack_from('<II', b, at)
    body = b[at + 8:at + size]
    if t == 0:
        assert size == 8 and at + 8 == total
        print('end')
        break
    elif t in (1, 2):
        assert body.endswith(b'\0')
        print(t, body[:-1].decode())
    elif t == 3:
        start, end = struct.unpack_from('<II', body)
        print('module', hex(start), hex(end), body[8:-1].decode())
    elif t == 4:
        print('meminfo', *struct.unpack_from('<II', body))
    elif t == 6:
        esize, ever = struct.unpack_from('<II', body)
        assert esize == 24 and ever == 0
        for o in range(8, len(body), 24):
            base, length, kind, zero = struct.unpack_from('<QQII', body, o)
            print('mmap', hex(base), hex(length), kind)
    elif t in (14, 15):
        print('acpi', t, body.hex())
    elif t == 8:
        addr, pitch, width, height, bpp, kind, reserved = struct.unpack_from('<QIIIBBH', body)
        assert kind == 1 and reserved == 0 and size == 8 + 24 + 6
        print('framebuffer', hex(addr), pitch, width, height, bpp, *body[24:30])
    elif t == 12:
        assert size == 16
        print('efi64', hex(*struct.unpack_from('<Q', body)))
    elif t == 17:
        dsize, dver = struct.unpack_from('<II', body)
        assert (len(body) - 8) % dsize == 0
        print('efi_mmap', dsize, dver, body[8:].hex())
    elif t == 21:
        assert size == 12
        print('load_base', hex(*struct.unpack_from('<I', body)))
    else:
        print('unknown', t)
    at += (size + 7) & ~7
"#;

#[test]
fn information_structure_reads_back_independently() {
    let map = [
        MemoryRegion {
            addr: 0,
            len: 0x9fc00,
            kind: 1,
        },
        MemoryRegion {
            addr: 0x9fc00,
            len: 0x400,
            kind: 2,
        },
        MemoryRegion {
            addr: 0x100000,
            len: 0x3fee0000,
            kind: 1,
        },
        MemoryRegion {
            addr: 0xfd00000000,
            len: 0x300000000,
            kind: 2,
        },
    ];
    let modules = [
        Module {
            addr: 0x3f000000,
            len: 13,
            name: b"/boot/initrd.img",
        },
        Module {
            addr: 0x3f001000,
            len: 5,
            name: b"files.cpio",
        },
    ];
    let mut rsdp = b"RSD PTR \x12OEMID \x02\x00\x00\x00\x00".to_vec();
    rsdp.extend_from_slice(&36u32.to_le_bytes());
    rsdp.extend_from_slice(&0xfe000000u64.to_le_bytes());
    rsdp.extend_from_slice(&[0x34, 0, 0, 0]);
    let efi_map: Vec<u8> = (0..96).collect();
    let info = Info {
        cmdline: b"console=ttyS0 x=1",
        modules: &modules,
        memory_map: &map,
        rsdp: Some(&rsdp),
        load_base: Some(0x200000),
        framebuffer: Some(Framebuffer {
            address: 0x8000_0000,
            pitch: 5120,
            width: 1280,
            height: 800,
            bits_per_pixel: 32,
            colors: [(8, 16), (8, 8), (8, 0)],
            efi: true,
        }),
        efi: Some(bootscript_handoff::Efi {
            system_table: 0x3f9e_e018,
            memory_map: &efi_map,
            desc_size: 48,
            desc_version: 1,
        }),
    };
    let bytes = multiboot2::info(&info).unwrap();

    let mut python = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is missing");
    std::io::Write::write_all(python.stdin.as_mut().unwrap(), &bytes).unwrap();
    drop(python.stdin.take());
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser rejected it");
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "1 console=ttyS0 x=1\n2 bootscript\nmodule 0x3f000000 0x3f00000d /boot/initrd.img\n\
         module 0x3f001000 0x3f001005 files.cpio\nmeminfo 639 1047424\nmmap 0x0 0x9fc00 1\n\
         mmap 0x9fc00 0x400 2\nmmap 0x100000 0x3fee0000 1\nmmap 0xfd00000000 0x300000000 2\n\
         acpi 14 {}\nacpi 15 {}\nframebuffer 0x80000000 5120 1280 800 32 16 8 8 8 0 8\n\
         efi64 0x3f9ee018\nefi_mmap 48 1 {}\nload_base 0x200000\nend\n",
        hex(&rsdp[..20]),
        hex(&rsdp),
        hex(&efi_map)
    );
    assert_eq!(text, expected);

    // A module above 4 GiB cannot be described (32-bit fields).
    let high = [Module {
        addr: 0xffff_f000,
        len: 0x2000,
        name: b"x",
    }];
    assert!(multiboot2::info(&Info {
        modules: &high,
        ..Info::default()
    })
    .is_err());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn prepare_lays_out_segments_modules_and_info() {
    let bytes = mb2kernel();
    let map = [
        MemoryRegion {
            addr: 0,
            len: 0x9fc00,
            kind: 1,
        },
        MemoryRegion {
            addr: 0x100000,
            len: 0x7f00000,
            kind: 1,
        },
    ];
    let mut free = FreeMemory::from_map(&map);
    let one = b"first module\n".to_vec();
    let two = vec![0xaau8; 5000];
    let modules: [(&[u8], &[u8]); 2] = [(b"one.txt", &one), (b"two.bin", &two)];
    let boot = multiboot2::prepare(
        &bytes,
        b"hello",
        &modules,
        &multiboot2::Info::of_map(&map),
        &mut free,
    )
    .unwrap();
    let copies = boot.copies();
    let segments = boot.image.segments.len();
    assert_eq!(copies.len(), segments + 3);
    assert_eq!(copies[segments], (boot.module_addrs[0], &one[..]));
    assert_eq!(copies[segments + 1], (boot.module_addrs[1], &two[..]));
    assert_eq!(copies[segments + 2], (boot.info_addr, &boot.info[..]));
    assert_eq!(boot.info_addr % 8, 0);
    assert!(boot.info_addr + boot.info.len() as u64 <= 1 << 32);
    // The bss segment (no file bytes) is exactly what must be zeroed.
    let bss: Vec<(u64, u64)> = boot
        .image
        .segments
        .iter()
        .filter(|s| s.bytes.is_empty())
        .map(|s| (s.phys, s.mem_size))
        .collect();
    assert_eq!(boot.zeroed(), bss);
    // The module tags carry the chosen addresses.
    let needle = [
        (boot.module_addrs[1] as u32).to_le_bytes(),
        ((boot.module_addrs[1] + 5000) as u32).to_le_bytes(),
    ]
    .concat();
    assert!(boot.info.windows(8).any(|w| w == needle));
    assert!(free.is_free(0, 0x1000) && !free.is_free(boot.info_addr, 1));
}

/// The same kernel as ELF64 (objcopy), and with its code linked high (virtual != physical): the same segments
/// and the same physical entry point.
#[test]
fn elf64_and_high_virtual_addresses_load_the_same() {
    let bytes = mb2kernel();
    let reference = Multiboot2Image::parse(&bytes).unwrap();
    let dir = common::scratch("elf64");
    let variants: [(&str, &[&str]); 2] = [
        ("wide.elf", &["-O", "elf64-x86-64"]),
        (
            "high.elf",
            &[
                "-O",
                "elf64-x86-64",
                "--change-section-vma",
                ".text+0xc0000000",
                "--change-start",
                "0xc0000000",
            ],
        ),
    ];
    for (name, args) in variants {
        let out = dir.join(name);
        let mut command = Command::new("objcopy");
        command
            .args(args)
            .arg(common::root().join("build/mb2kernel.elf"))
            .arg(&out);
        assert!(command
            .status()
            .expect("objcopy is missing (binutils)")
            .success());
        let converted = std::fs::read(&out).unwrap();
        assert_eq!(converted[4], 2, "{name} is ELF64");
        let image = Multiboot2Image::parse(&converted).unwrap();
        assert_eq!(image.entry, reference.entry, "{name}");
        assert_eq!(image.segments, reference.segments, "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The information tags of a structure, `(type, body)` in order, up to the end tag.
fn info_tags(info: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let word = |at: usize| u32::from_le_bytes(info[at..at + 4].try_into().unwrap());
    let mut tags = Vec::new();
    let mut at = 8;
    while at < info.len() {
        let (kind, size) = (word(at), word(at + 4) as usize);
        tags.push((kind, info[at + 8..at + size].to_vec()));
        if kind == 0 {
            break;
        }
        at += (size + 7) & !7;
    }
    tags
}

/// An address tag whose bss ends where the loaded file ends (no bss) is consistent; the structure is
/// placed 8-byte aligned even when the free memory below a kernel ends 4 bytes past a multiple of 8, as
/// the specification requires of EBX; and all 640 KiB of conventional memory are told in mem_lower.
#[test]
fn no_bss_an_aligned_structure_and_all_conventional_memory() {
    let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0x201000, 0x201000]);
    tags.extend(header_tag(3, 0, &[0x200080]));
    let image = raw_image(0x40, &tags, 0x1000);
    let loaded = Multiboot2Image::parse(&image).unwrap();
    assert_eq!(
        (loaded.segments[0].bytes.len(), loaded.segments[0].mem_size),
        (0x1000, 0x1000)
    );
    // The kernel at the top of memory, from 0x2ff004: free memory below it ends 4 bytes past a multiple of 8.
    let mut tags = header_tag(2, 0, &[0x2ff044, 0x2ff004, 0, 0]);
    tags.extend(header_tag(3, 0, &[0x2ff084]));
    let top = raw_image(0x40, &tags, 0xffc);
    for (image, end) in [(&image, 0x300000u64), (&top, 0x300000)] {
        let map = [
            MemoryRegion {
                addr: 0,
                len: 0xa0000,
                kind: 1,
            },
            MemoryRegion {
                addr: 0x100000,
                len: end - 0x100000,
                kind: 1,
            },
        ];
        let mut free = FreeMemory::from_map(&map);
        let boot =
            multiboot2::prepare(image, b"x", &[], &multiboot2::Info::of_map(&map), &mut free)
                .unwrap();
        assert_eq!(boot.info_addr % 8, 0, "{:#x}", boot.info_addr);
        let basic = info_tags(&boot.info)
            .into_iter()
            .find(|t| t.0 == 4)
            .unwrap()
            .1;
        assert_eq!(u32::from_le_bytes(basic[..4].try_into().unwrap()), 640);
    }
}

/// A module placed as high as it goes, on a machine whose RAM runs up to 4 GiB, still has an end its tag can
/// tell: the tag holds 32-bit addresses, and an end of 4 GiB read as 0.
#[test]
fn a_module_never_ends_at_4_gib() {
    let map = [MemoryRegion {
        addr: 0x100000,
        len: 0xfff0_0000,
        kind: 1,
    }];
    let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0, 0]);
    tags.extend(header_tag(3, 0, &[0x200080]));
    let image = raw_image(0x40, &tags, 0x1000);
    let mut free = FreeMemory::from_map(&map);
    let module = vec![7u8; 0x1000];
    let boot = multiboot2::prepare(
        &image,
        b"",
        &[(b"m", &module)],
        &multiboot2::Info::of_map(&map),
        &mut free,
    )
    .unwrap();
    let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let tag = info_tags(&boot.info)
        .into_iter()
        .find(|t| t.0 == 3)
        .unwrap()
        .1;
    let (start, end) = (word(&tag, 0), word(&tag, 4));
    assert_eq!(u64::from(start), boot.module_addrs[0]);
    assert_eq!(end - start, 0x1000, "{start:#x}..{end:#x}");
    // A module described as ending at 4 GiB is refused, not told as ending at 0.
    let modules = [Module {
        addr: 0xffff_f000,
        len: 0x1000,
        name: b"m",
    }];
    let described = Info {
        modules: &modules,
        ..Info::default()
    };
    assert!(matches!(
        multiboot2::info(&described),
        Err(Error::NoRoom(..))
    )); // One byte shorter, it ends at 0xffffffff: that fits the tag.
    let modules = [Module {
        addr: 0xffff_f000,
        len: 0xfff,
        name: b"m",
    }];
    let described = Info {
        modules: &modules,
        ..Info::default()
    };
    let info = multiboot2::info(&described).unwrap();
    let tag = info_tags(&info).into_iter().find(|t| t.0 == 3).unwrap().1;
    assert_eq!((word(&tag, 0), word(&tag, 4)), (0xffff_f000, 0xffff_ffff));
}

/// ELF program headers at their bounds: segments that touch (one ends where the next starts) are not an
/// overlap, one byte more is; a segment may end exactly at 4 GiB; program header entries smaller than
/// Elf32_Phdr are refused.
#[test]
fn elf_segments_at_their_bounds() {
    let bytes = mb2kernel();
    let phoff = u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
    let ph = |i: usize, field: usize| phoff + 32 * i + field;
    // The first segment (0x100000, 0x407 bytes) grown to end where the second starts (0x101000).
    let mut touching = bytes.clone();
    touching[ph(0, 20)..ph(0, 24)].copy_from_slice(&0x1000u32.to_le_bytes());
    let image = Multiboot2Image::parse(&touching).unwrap();
    assert_eq!(image.segments[0].mem_size, 0x1000);
    assert_eq!(image.segments[1].phys, 0x101000);
    touching[ph(0, 20)..ph(0, 24)].copy_from_slice(&0x1001u32.to_le_bytes());
    assert_eq!(
        Multiboot2Image::parse(&touching),
        Err(Error::BadElf("segments overlap"))
    );

    // The bss-only third segment moved to end at 4 GiB.
    let mut top = bytes.clone();
    let memsz = u32::from_le_bytes(top[ph(2, 20)..ph(2, 24)].try_into().unwrap());
    assert_eq!(
        u32::from_le_bytes(top[ph(2, 16)..ph(2, 20)].try_into().unwrap()),
        0
    );
    top[ph(2, 12)..ph(2, 16)].copy_from_slice(&0u32.wrapping_sub(memsz).to_le_bytes());
    let image = Multiboot2Image::parse(&top).unwrap();
    assert_eq!(image.segments[2].phys + image.segments[2].mem_size, 1 << 32);

    // The entry is translated by the segment it lies in, not by one that ends right before it: the second
    // segment moved to end (virtually) where the first starts, loaded elsewhere, the entry at that start.
    let mut adjacent = bytes.clone();
    let filesz = u32::from_le_bytes(adjacent[ph(1, 16)..ph(1, 20)].try_into().unwrap());
    adjacent[ph(1, 8)..ph(1, 12)].copy_from_slice(&(0x100000 - filesz).to_le_bytes());
    adjacent[ph(1, 12)..ph(1, 16)].copy_from_slice(&0x500000u32.to_le_bytes());
    adjacent[24..28].copy_from_slice(&0x100000u32.to_le_bytes());
    assert_eq!(Multiboot2Image::parse(&adjacent).unwrap().entry, 0x100000);

    let mut small_entries = bytes.clone();
    small_entries[42..44].copy_from_slice(&16u16.to_le_bytes());
    assert_eq!(
        Multiboot2Image::parse(&small_entries),
        Err(Error::BadElf("program header entries too small"))
    );
}

/// A header whose tags run to its end without an end tag is refused (the specification ends the list with
/// one).
#[test]
fn a_header_without_an_end_tag_is_refused() {
    // The a.out kludge image of the test above, which loads.
    let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0, 0x204000]);
    tags.extend(header_tag(3, 0, &[0x200080]));
    let mut image = raw_image(0x40, &tags, 0x1000);
    assert!(Multiboot2Image::parse(&image).is_ok());
    // The end tag made a console flags tag (type 4, 8 bytes): the list now just stops.
    image[0x40 + 16 + tags.len()] = 4;
    assert_eq!(
        Multiboot2Image::parse(&image),
        Err(Error::BadMultiboot2("no end tag"))
    );
}

/// An ACPI 2.0 RSDP whose length field says less than the 36 bytes of the structure: tag 15 still carries all
/// 36 (the XSDT address is in the last 12).
#[test]
fn a_short_rsdp_length_still_hands_on_the_whole_2_0_structure() {
    let mut rsdp = b"RSD PTR \x12OEMID \x02\x00\x00\x00\x00".to_vec();
    rsdp.extend_from_slice(&20u32.to_le_bytes());
    rsdp.extend_from_slice(&0xfe000000u64.to_le_bytes());
    rsdp.extend_from_slice(&[0x34, 0, 0, 0]);
    assert_eq!(rsdp.len(), 36);
    let info = multiboot2::info(&Info {
        rsdp: Some(&rsdp),
        ..Info::default()
    })
    .unwrap();
    let tags = info_tags(&info);
    let v2 = &tags.iter().find(|t| t.0 == 15).unwrap().1;
    assert_eq!(&v2[..36], &rsdp[..]);
    let v1 = &tags.iter().find(|t| t.0 == 14).unwrap().1;
    assert_eq!(&v1[..20], &rsdp[..20]);
}

/// An ELF image that asks for its load base (information tag 21) is told its lowest segment's address: the test
/// kernel, whose request tag is made to list 21 in place of 15, loads from 0x100000 (readelf's lowest LOAD).
#[test]
fn the_load_base_of_an_elf_image_is_its_lowest_segment() {
    let mut bytes = mb2kernel();
    let header = multiboot2::find_header(&bytes).unwrap();
    // The request tag right after the 16-byte header: type 1, size, then 1, 2, 3, 4, 6, 14, 15.
    let last = header + 16 + 8 + 6 * 4;
    assert_eq!(&bytes[last..last + 4], &15u32.to_le_bytes());
    bytes[last..last + 4].copy_from_slice(&21u32.to_le_bytes());
    let image = Multiboot2Image::parse(&bytes).unwrap();
    assert!(image.load_base_wanted);
    assert!(image.segments.len() > 1);
    let map = [MemoryRegion {
        addr: 0x100000,
        len: 0x1000_0000,
        kind: 1,
    }];
    let mut free = FreeMemory::from_map(&map);
    let boot =
        multiboot2::prepare(&bytes, b"", &[], &multiboot2::Info::of_map(&map), &mut free).unwrap();
    let tags = info_tags(&boot.info);
    let base = &tags.iter().find(|t| t.0 == 21).unwrap().1;
    assert_eq!(base[..4], 0x100000u32.to_le_bytes());
}

/// On a UEFI PC a kernel gets the UEFI system table and memory map (tags 12 and 17), unless its header asks to
/// keep UEFI's boot services (tag 7, as Xen's does): Xen takes its UEFI path on tag 12 and stops there when
/// the boot services are gone, as they are behind GRUB and the payload; without the tags it takes the path that
/// works.
#[test]
fn a_kernel_that_asks_for_uefi_boot_services_gets_no_uefi_tags() {
    let map = [MemoryRegion {
        addr: 0x100000,
        len: 0x3ff0_0000,
        kind: 1,
    }];
    let efi_map = [0u8; 48];
    let machine = multiboot2::Info {
        memory_map: &map,
        efi: Some(bootscript_handoff::Efi {
            system_table: 0x3f9e_e018,
            memory_map: &efi_map,
            desc_size: 48,
            desc_version: 1,
        }),
        ..Default::default()
    };
    let tag_types = |extra: &[u8]| {
        let mut tags = header_tag(2, 0, &[0x200040, 0x200000, 0, 0]);
        tags.extend(header_tag(3, 0, &[0x200080]));
        tags.extend_from_slice(extra);
        let image = raw_image(0x40, &tags, 0x1000);
        let mut free = FreeMemory::from_map(&map);
        let boot = multiboot2::prepare(&image, b"", &[], &machine, &mut free).unwrap();
        info_tags(&boot.info)
            .into_iter()
            .map(|t| t.0)
            .collect::<Vec<u32>>()
    };
    let plain = tag_types(&[]);
    assert!(plain.contains(&12) && plain.contains(&17), "{plain:?}");
    // Tag 7 (no fields), optional or not.
    for flags in [0, 1] {
        let keeps = tag_types(&header_tag(7, flags, &[]));
        assert!(!keeps.contains(&12) && !keeps.contains(&17), "{keeps:?}");
    }
}
