//! The bzImage reader, load plan and boot_params against Debian's real cloud kernel.

mod common;

use bootscript_handoff::linux::{self, BzImage, Machine};
use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
use bootscript_handoff::{detect, Error, KernelKind};

fn hex_u16(image: &str, offset: u32) -> u16 {
    // od reads the bytes independently of our parser.
    let out = common::run(
        "od",
        &["-An", "-tu2", "-j", &offset.to_string(), "-N2", image],
    );
    String::from_utf8(out).unwrap().trim().parse().unwrap()
}

fn hex_u32(image: &str, offset: u32) -> u32 {
    let out = common::run(
        "od",
        &["-An", "-tu4", "-j", &offset.to_string(), "-N4", image],
    );
    String::from_utf8(out).unwrap().trim().parse().unwrap()
}

/// The map QEMU's SeaBIOS gives a 1 GiB `-machine pc`.
fn qemu_map() -> Vec<MemoryRegion> {
    bootscript_handoff::memory::pc_map(1 << 30)
}

#[test]
fn real_kernel_header_matches_od_and_file() {
    let bytes = common::vmlinuz();
    let path = "build/cache/vmlinuz";
    let image = BzImage::parse(&bytes).unwrap();
    let h = &image.header;
    assert_eq!(detect(&bytes), Ok(KernelKind::Linux));
    assert_eq!(h.version, hex_u16(path, 0x206));
    assert!(h.version >= 0x020c, "protocol {:#x}", h.version);
    assert_eq!(h.initrd_addr_max, hex_u32(path, 0x22c));
    assert_eq!(h.kernel_alignment, hex_u32(path, 0x230));
    assert_eq!(h.cmdline_size, hex_u32(path, 0x238));
    assert_eq!(h.init_size, hex_u32(path, 0x260));
    assert_eq!(
        h.pref_address,
        u64::from(hex_u32(path, 0x258)) | u64::from(hex_u32(path, 0x25c)) << 32
    );
    assert_eq!(h.xloadflags, hex_u16(path, 0x236));
    let setup_sects = hex_u16(path, 0x1f1) & 0xff;
    assert_eq!(
        image.protected_mode().len(),
        bytes.len() - (setup_sects as usize + 1) * 512
    );
    assert!(h.relocatable_kernel);
    // file(1) prints the version string the header points at.
    let described = String::from_utf8(common::run("file", &["-b", path])).unwrap();
    assert!(described.contains("bzImage"), "{described}");
    let version = image.kernel_version().unwrap();
    let first_word = version.split(' ').next().unwrap();
    assert!(
        described.contains(&format!("version {first_word} ")),
        "{described} vs {version}"
    );
}

#[test]
fn truncated_garbage_and_unbootable_images_are_refused() {
    let bytes = common::vmlinuz();
    assert_eq!(
        BzImage::parse(&bytes[..0x100]).err(),
        Some(Error::Truncated("setup header"))
    );
    assert_eq!(
        BzImage::parse(&bytes[..0x220]).err(),
        Some(Error::Truncated("setup header"))
    );
    assert_eq!(
        BzImage::parse(&bytes[..bytes.len() / 2]).err(),
        Some(Error::Truncated("protected-mode kernel"))
    );
    // syssize says where the kernel ends; what follows (Debian's appended signature) is not needed to boot.
    let end = (bytes[0x1f1] as usize + 1) * 512
        + 16 * u32::from_le_bytes(bytes[0x1f4..0x1f8].try_into().unwrap()) as usize;
    assert_eq!(
        BzImage::parse(&bytes[..end - 1]).err(),
        Some(Error::Truncated("protected-mode kernel"))
    );
    assert!(BzImage::parse(&bytes[..end]).is_ok());
    let garbage: Vec<u8> = (0..70000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert_eq!(BzImage::parse(&garbage).err(), Some(Error::NotBzImage));
    assert_eq!(detect(&garbage), Err(Error::UnknownKernel));
    assert_eq!(detect(&[]), Err(Error::UnknownKernel));

    let mut old = bytes.clone();
    old[0x206..0x208].copy_from_slice(&0x020bu16.to_le_bytes());
    assert_eq!(
        BzImage::parse(&old).err(),
        Some(Error::ProtocolTooOld(2, 11))
    );
    let mut no64 = bytes.clone();
    no64[0x236] &= !1;
    assert_eq!(BzImage::parse(&no64).err(), Some(Error::Not64Bit));
    let mut zimage = bytes.clone();
    zimage[0x211] &= !1;
    assert_eq!(BzImage::parse(&zimage).err(), Some(Error::Not64Bit));
    assert!(Error::ProtocolTooOld(2, 11).to_string().contains("2.11"));
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

#[test]
fn plan_places_kernel_initrd_and_boot_params_apart() {
    let bytes = common::vmlinuz();
    let image = BzImage::parse(&bytes).unwrap();
    let map = qemu_map();
    let mut free = FreeMemory::from_map(&map);
    free.reserve(0x100000, 0x200000); // the payload itself
    let initrd = 30 << 20;
    let plan = linux::plan(&image, initrd, 40, 0, &mut free, 1 << 32).unwrap();
    assert_eq!(plan.kernel_addr, image.header.pref_address);
    assert_eq!(plan.entry_64, plan.kernel_addr + 0x200);
    assert!(plan.kernel_span >= u64::from(image.header.init_size));
    assert_eq!(plan.initrd_addr % 4096, 0);
    assert!(plan.initrd_addr + initrd <= u64::from(image.header.initrd_addr_max) + 1);
    // As high as allowed: right under the reserved top of RAM (or boot_params would be above it).
    assert!(
        plan.initrd_addr + initrd > 0x3ffe0000 - 0x10000,
        "{plan:x?}"
    );
    let pieces = [
        (plan.kernel_addr, plan.kernel_span),
        (plan.initrd_addr, initrd),
        (plan.boot_params_addr, 4096 + 41),
        (0x100000, 0x200000),
    ];
    for (i, a) in pieces.iter().enumerate() {
        assert!(
            map.iter()
                .any(|r| r.kind == 1 && r.addr <= a.0 && a.0 + a.1 <= r.addr + r.len),
            "{a:x?}"
        );
        for b in &pieces[i + 1..] {
            assert!(!overlaps(*a, *b), "{a:x?} overlaps {b:x?}");
        }
    }
    assert_eq!(plan.cmdline_addr, plan.boot_params_addr + 4096);

    // pref_address taken: relocated above it, kernel_alignment aligned.
    let mut free = FreeMemory::from_map(&map);
    free.reserve(image.header.pref_address, 0x1000);
    let moved = linux::plan(&image, 0, 10, 0, &mut free, 1 << 32).unwrap();
    assert!(moved.kernel_addr > image.header.pref_address);
    assert_eq!(
        moved.kernel_addr % u64::from(image.header.kernel_alignment),
        0
    );
    assert_eq!(moved.initrd_addr, 0);

    // Too little memory, too long a command line.
    let mut small = FreeMemory::from_ranges(&[(0x100000, 0x1000000)]);
    assert!(matches!(
        linux::plan(&image, 0, 10, 0, &mut small, 1 << 32),
        Err(Error::NoRoom("kernel", _))
    ));
    let mut free = FreeMemory::from_map(&map);
    assert!(matches!(
        linux::plan(&image, 2 << 30, 10, 0, &mut free, 1 << 32),
        Err(Error::NoRoom("initrd", _))
    ));
    let long = image.header.cmdline_size as usize + 1;
    let mut free = FreeMemory::from_map(&map);
    assert!(matches!(
        linux::plan(&image, 0, long, 0, &mut free, 1 << 32),
        Err(Error::CommandLineTooLong(..))
    ));
}

/// The initrd goes as high as the kernel can reach it: below initrd_addr_max + 1 (2 GiB for Debian's kernel)
/// unless the kernel says it may be above 4 GiB (xloadflags bit 1), on a machine with RAM above both.
#[test]
fn the_initrd_stays_where_the_kernel_can_reach_it() {
    let bytes = common::vmlinuz();
    let ram = [(1 << 20, 3 << 30)];
    let initrd = 1 << 20;
    let mut low_only = bytes.clone();
    low_only[0x236] &= !2;
    let image = BzImage::parse(&low_only).unwrap();
    assert_eq!(image.header.initrd_addr_max, 0x7fff_ffff);
    let mut free = FreeMemory::from_ranges(&ram);
    let plan = linux::plan(&image, initrd, 10, 0, &mut free, 1 << 32).unwrap();
    assert_eq!(plan.initrd_addr, 0x8000_0000 - initrd, "{plan:x?}");
    let image = BzImage::parse(&bytes).unwrap();
    assert_ne!(
        image.header.xloadflags & 2,
        0,
        "Debian's kernel may be loaded high"
    );
    let mut free = FreeMemory::from_ranges(&ram);
    let plan = linux::plan(&image, initrd, 10, 0, &mut free, 1 << 32).unwrap();
    assert_eq!(
        plan.initrd_addr,
        (1 << 20) + (3 << 30) - initrd,
        "{plan:x?}"
    );
    // A command line of exactly cmdline_size bytes fits; one more does not (the other test).
    let exact = image.header.cmdline_size as usize;
    let mut free = FreeMemory::from_ranges(&ram);
    assert!(linux::plan(&image, 0, exact, 0, &mut free, 1 << 32).is_ok());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn boot_params_fields_sit_at_the_protocol_offsets() {
    let bytes = common::vmlinuz();
    let image = BzImage::parse(&bytes).unwrap();
    let mut map = qemu_map();
    map.push(MemoryRegion {
        addr: 0x50000000,
        len: 0x1000,
        kind: 0xf00,
    }); // a vendor type -> reserved
    let mut free = FreeMemory::from_map(&map);
    let plan = linux::plan(&image, 123457, 20, 0, &mut free, 1 << 32).unwrap();
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: Some(0xf5a10),
        cursor: Some((0, 7)),
        framebuffer: None,
        efi: None,
    };
    let bp = linux::boot_params(&image, &plan, &machine).unwrap();
    assert_eq!(bp.len(), 4096);
    let header_end = 0x202 + bytes[0x201] as usize;
    // The setup header copied, except the fields the loader writes.
    let written = [0x210..0x212, 0x214..0x220, 0x224..0x226, 0x228..0x22c];
    for at in 0x1f1..header_end {
        if !written.iter().any(|r| r.contains(&at)) {
            assert_eq!(bp[at], bytes[at], "setup header byte {at:#x}");
        }
    }
    assert!(bp[header_end..0x290].iter().all(|&b| b == 0));
    assert_eq!(&bp[0x202..0x206], b"HdrS");
    assert_eq!(bp[0x210], 0xff);
    assert_eq!(bp[0x211] & 0x81, 0x81);
    assert_eq!(u32_at(&bp, 0x228) as u64, plan.cmdline_addr);
    assert_eq!(u32_at(&bp, 0xc8), 0);
    assert_eq!(u32_at(&bp, 0x218) as u64, plan.initrd_addr);
    assert_eq!(u32_at(&bp, 0x21c), 123457);
    assert_eq!(u64_at(&bp, 0x070), 0xf5a10);
    // screen_info: cursor row 7, mode 3, 80x25 VGA.
    assert_eq!(
        (bp[0x00], bp[0x01], bp[0x06], bp[0x07], bp[0x0e], bp[0x0f]),
        (0, 7, 3, 80, 25, 1)
    );
    // A 16-line font (orig_video_points): vgacon sizes its character cells from it.
    assert_eq!(u16::from_le_bytes([bp[0x10], bp[0x11]]), 16);
    // An initrd and a command line above 4 GiB have their top halves in ext_ramdisk_image and
    // ext_cmd_line_ptr (ext_ramdisk_size stays 0 for an initrd under 4 GiB long).
    let mut high = plan;
    high.initrd_addr = 0x1_2345_6000;
    high.cmdline_addr = 0x3_0000_8000;
    let bp_high = linux::boot_params(&image, &high, &machine).unwrap();
    assert_eq!(u32_at(&bp_high, 0x218), 0x2345_6000);
    assert_eq!(u32_at(&bp_high, 0xc0), 1);
    assert_eq!(u32_at(&bp_high, 0xc4), 0);
    assert_eq!(u32_at(&bp_high, 0x228), 0x8000);
    assert_eq!(u32_at(&bp_high, 0xc8), 3);
    // Without a VGA text screen (a graphics framebuffer), no VGA console is claimed.
    let graphics = Machine {
        cursor: None,
        ..machine
    };
    let bp = linux::boot_params(&image, &plan, &graphics).unwrap();
    // (screen_info is the first 0x40 bytes, ext_mem_k at 0x02 aside.)
    let screen = [&bp[..0x02], &bp[0x04..0x40]].concat();
    assert!(screen.iter().all(|&b| b == 0), "{screen:x?}");
    // E820: 7 entries, sorted, types mapped.
    assert_eq!(bp[0x1e8], 7);
    let entry = |i: usize| {
        let at = 0x2d0 + 20 * i;
        (u64_at(&bp, at), u64_at(&bp, at + 8), u32_at(&bp, at + 16))
    };
    assert_eq!(entry(0), (0, 0x9fc00, 1));
    assert_eq!(entry(3), (0x100000, 0x3fee0000, 1));
    assert_eq!(entry(5), (0x50000000, 0x1000, 2));
    assert_eq!(entry(6), (0xfffc0000, 0x40000, 2));
    assert_eq!(entry(7), (0, 0, 0));
    assert_eq!(u32_at(&bp, 0x1e0), 0x3fee0000 / 1024);
    assert_eq!(linux::command_line_bytes(b"ro"), b"ro\0");
}

#[test]
fn persistent_memory_reaches_linux_as_persistent_memory() {
    // GRUB's Multiboot2 map carries the firmware's types: 7 (an NVDIMM) and 12 (the older pmem type) are
    // Linux's /dev/pmem; a vendor type is reserved.
    let region = |addr, kind| MemoryRegion {
        addr,
        len: 0x1000_0000,
        kind,
    };
    let map = [
        region(0x1000_0000, 1),
        region(0x2000_0000, 7),
        region(0x3000_0000, 12),
        region(0x4000_0000, 0xf00),
    ];
    assert_eq!(
        linux::e820_entries(&map).unwrap(),
        vec![
            (0x1000_0000, 0x1000_0000, 1),
            (0x2000_0000, 0x1000_0000, 7),
            (0x3000_0000, 0x1000_0000, 12),
            (0x4000_0000, 0x1000_0000, 2),
        ]
    );
}

#[test]
fn long_memory_maps_are_merged_or_refused() {
    let many: Vec<MemoryRegion> = (0..200)
        .map(|i| MemoryRegion {
            addr: i * 0x1000,
            len: 0x1000,
            kind: 1,
        })
        .collect();
    assert_eq!(
        linux::e820_entries(&many).unwrap(),
        vec![(0, 200 * 0x1000, 1)]
    );
    let alternating: Vec<MemoryRegion> = (0..200)
        .map(|i| MemoryRegion {
            addr: i * 0x1000,
            len: 0x1000,
            kind: 1 + (i % 2) as u32,
        })
        .collect();
    assert_eq!(
        linux::e820_entries(&alternating),
        Err(Error::MemoryMapTooLong(200, 128))
    );
}

fn sha256_hex(data: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), data).unwrap();
    drop(child.stdin.take());
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()[..64].to_string()
}

/// prepare() end to end: the initrd area is assembled in a simulated memory from copies() alone, then Linux
/// boots with it (QEMU's loader) and /init reports the files: ours replace the same path from an earlier initrd.
#[test]
fn prepared_initrd_area_boots_and_files_win() {
    let kernel = common::vmlinuz();
    common::run("scripts/mkinitramfs.sh", &[]);
    let root = common::root();
    let mut base = std::fs::read(root.join("build/initramfs.cpio.gz")).unwrap();
    if base.len().is_multiple_of(4) {
        base.push(0); // an odd length, so that the gap after it matters
    }
    // A second initrd made by the real cpio, holding an old root.key that `files` must replace.
    let dir = common::scratch("prepare");
    std::fs::create_dir_all(dir.join("tree/etc/keys")).unwrap();
    std::fs::write(dir.join("tree/etc/keys/root.key"), b"old key").unwrap();
    std::fs::write(dir.join("tree/etc/keys/other.key"), b"kept").unwrap();
    let listing = std::process::Command::new("sh")
        .args([
            "-c",
            "cd tree && find etc | sort | cpio -o -H newc -R 0:0 --quiet > ../second.cpio",
        ])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(listing.success());
    let mut second = std::fs::read(dir.join("second.cpio")).unwrap();
    second.extend_from_slice(b"\0\0\0"); // padding after the trailer is allowed, and makes the length odd

    let root_key = [0x5au8; 64];
    let map = qemu_map();
    let mut free = FreeMemory::from_map(&map);
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: Some((0, 0)),
        framebuffer: None,
        efi: None,
    };
    let files: [(&str, &[u8]); 2] = [
        ("/etc/keys/root.key", &root_key),
        ("/etc/keys/home.key", b"home"),
    ];
    let boot = linux::prepare(
        &kernel,
        b"console=ttyS0 quiet init.poweroff",
        &[&base, &second],
        bootscript_handoff::cpio::archive(&files).unwrap(),
        &machine,
        &mut free,
        1 << 32,
    )
    .unwrap();
    let plan = boot.plan;
    let mut area = vec![0u8; plan.initrd_len as usize];
    let copies = boot.copies();
    assert_eq!(copies[0], (plan.kernel_addr, boot.image.protected_mode()));
    assert_eq!(copies.len(), 1 + 3 + 2);
    for &(addr, bytes) in &copies[1..4] {
        assert!(addr >= plan.initrd_addr && (addr - plan.initrd_addr).is_multiple_of(4));
        let at = (addr - plan.initrd_addr) as usize;
        area[at..at + bytes.len()].copy_from_slice(bytes);
    }
    assert_eq!(
        copies[3].0 + copies[3].1.len() as u64,
        plan.initrd_addr + plan.initrd_len
    );
    // The copies and the zeroed gaps tile the initrd area exactly.
    let mut pieces: Vec<(u64, u64)> = copies[1..4]
        .iter()
        .map(|&(a, b)| (a, b.len() as u64))
        .collect();
    pieces.extend(boot.zeroed());
    assert_eq!(
        boot.zeroed().len(),
        2,
        "after the odd-length gzip and the odd-length second archive"
    );
    pieces.sort();
    let mut at = plan.initrd_addr;
    for (addr, len) in pieces {
        assert_eq!(addr, at);
        at += len;
    }
    assert_eq!(at, plan.initrd_addr + plan.initrd_len);
    assert_eq!(copies[4], (plan.boot_params_addr, &boot.boot_params[..]));
    assert_eq!(u32_at(&boot.boot_params, 0x21c) as u64, plan.initrd_len);
    std::fs::write(dir.join("area.img"), &area).unwrap();

    let out = std::process::Command::new("timeout")
        .args([
            "120",
            "qemu-system-x86_64",
            "-machine",
            "pc",
            "-m",
            "512M",
            "-nographic",
            "-no-reboot",
        ])
        .args(["-monitor", "none", "-serial", "stdio", "-kernel"])
        .arg(root.join("build/cache/vmlinuz"))
        .arg("-initrd")
        .arg(dir.join("area.img"))
        .args(["-append", "console=ttyS0 quiet init.poweroff"])
        .output()
        .expect("qemu-system-x86_64 is missing: run scripts/setup.sh");
    let serial = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let lines: Vec<&str> = serial
        .lines()
        .filter_map(|l| l.find("init: sha256").map(|i| &l[i..]))
        .collect();
    assert_eq!(
        lines,
        [
            format!("init: sha256 /etc/keys/home.key {}", sha256_hex(b"home")),
            format!("init: sha256 /etc/keys/other.key {}", sha256_hex(b"kept")),
            format!("init: sha256 /etc/keys/root.key {}", sha256_hex(&root_key)),
        ],
        "{serial}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The header checks at their bounds (boot.rst, "The real-mode kernel header"): protocol 2.12 itself is enough;
/// a header that ends right after init_size (the byte at 0x201 says 0x62) is whole; a file cut inside the
/// "HdrS" magic is truncated, not another kind of file; a setup_sects of 0 means 4; the protected-mode part
/// must not be empty; kernel_alignment must be a power of two.
#[test]
fn setup_header_checks_at_their_bounds() {
    let bytes = common::vmlinuz();
    assert_eq!(
        BzImage::parse(&bytes[..0x204]).err(),
        Some(Error::Truncated("setup header"))
    );

    let mut v2_12 = bytes.clone();
    v2_12[0x206..0x208].copy_from_slice(&0x020cu16.to_le_bytes());
    assert_eq!(
        BzImage::parse(&v2_12).unwrap().header.version_pair(),
        (2, 12)
    );

    let mut short_header = bytes.clone();
    short_header[0x201] = 0x62;
    let image = BzImage::parse(&short_header).unwrap();
    assert_eq!(image.header.header_end, 0x264);
    short_header[0x201] = 0x61;
    assert_eq!(BzImage::parse(&short_header).err(), Some(Error::NotBzImage));

    // The same kernel behind a real-mode part of 5 sectors whose setup_sects byte is 0.
    let setup_len = (bytes[0x1f1] as usize + 1) * 512;
    let mut zero_sects = bytes[..5 * 512].to_vec();
    zero_sects[0x1f1] = 0;
    zero_sects.extend_from_slice(&bytes[setup_len..]);
    let image = BzImage::parse(&zero_sects).unwrap();
    assert_eq!(image.header.setup_sects, 4);
    assert_eq!(image.protected_mode(), &bytes[setup_len..]);

    // The real-mode part alone, syssize 0: nothing to run.
    let mut no_kernel = bytes[..setup_len].to_vec();
    no_kernel[0x1f4..0x1f8].fill(0);
    assert_eq!(
        BzImage::parse(&no_kernel).err(),
        Some(Error::Truncated("protected-mode kernel"))
    );

    let mut odd_alignment = bytes.clone();
    odd_alignment[0x230..0x234].copy_from_slice(&0x30_0000u32.to_le_bytes());
    assert_eq!(
        BzImage::parse(&odd_alignment).err(),
        Some(Error::NotBzImage)
    );
}

/// The kernel's place against the loader's reach (`limit`, the end of its identity map) and against the other
/// pieces: at pref_address when it ends exactly at the limit, refused when it would end one byte past it (a
/// relocatable kernel is never moved below pref_address), and its span is never given to boot_params.
#[test]
fn the_kernel_stays_within_the_limit_and_keeps_its_span() {
    let bytes = common::vmlinuz();
    let image = BzImage::parse(&bytes).unwrap();
    let pref = image.header.pref_address;
    let span = image.span();
    let ram = [(1 << 20, 1 << 30)];
    let mut free = FreeMemory::from_ranges(&ram);
    let plan = linux::plan(&image, 0, 10, 0, &mut free, pref + span).unwrap();
    assert_eq!(plan.kernel_addr, pref);
    // Everything else went below the kernel.
    assert!(plan.boot_params_addr + 4096 + 11 <= pref, "{plan:x?}");
    // boot_params and the command line with its terminating NUL are reserved, to the last byte.
    assert!(!free.is_free(plan.boot_params_addr, 1));
    assert!(!free.is_free(plan.cmdline_addr + 10, 1));
    let mut free = FreeMemory::from_ranges(&ram);
    assert_eq!(
        linux::plan(&image, 0, 10, 0, &mut free, pref + span - 1),
        Err(Error::NoRoom("kernel", span))
    );
    // The same for a kernel that cannot relocate: pref_address or nothing.
    let mut fixed = bytes.clone();
    fixed[0x234] = 0;
    let fixed = BzImage::parse(&fixed).unwrap();
    let mut free = FreeMemory::from_ranges(&ram);
    let plan = linux::plan(&fixed, 0, 10, 0, &mut free, pref + span).unwrap();
    assert_eq!(plan.kernel_addr, pref);
    let mut free = FreeMemory::from_ranges(&ram);
    assert_eq!(
        linux::plan(&fixed, 0, 10, 0, &mut free, pref + span - 1),
        Err(Error::NoRoom("kernel", span))
    );

    // Room for the kernel's span and nothing else: boot_params has no place (not one inside the kernel's).
    let mut free = FreeMemory::from_ranges(&[(pref, span)]);
    assert_eq!(
        linux::plan(&image, 0, 10, 0, &mut free, 1 << 32),
        Err(Error::NoRoom("boot parameters", 4096 + 11))
    );
    // One page more: boot_params and the command line take it, right after the kernel.
    let mut free = FreeMemory::from_ranges(&[(pref, span + 0x2000)]);
    let plan = linux::plan(&image, 0, 10, 0, &mut free, 1 << 32).unwrap();
    assert_eq!(plan.boot_params_addr, pref + span);
}

/// On a machine with RAM above 4 GiB and a loader that reaches it, a kernel without XLF_CAN_BE_LOADED_ABOVE_4G
/// still gets boot_params and its command line below 4 GiB (cmd_line_ptr is their only address it reads), and
/// the initrd below initrd_addr_max.
#[test]
fn boot_params_stay_below_4_gib_for_a_kernel_that_needs_it() {
    let mut bytes = common::vmlinuz();
    bytes[0x236] &= !2;
    let image = BzImage::parse(&bytes).unwrap();
    let ram = [(1 << 20, (8 << 30) - (1 << 20))];
    let mut free = FreeMemory::from_ranges(&ram);
    let plan = linux::plan(&image, 1 << 20, 10, 0, &mut free, 8 << 30).unwrap();
    assert!(plan.boot_params_addr + 4096 + 11 <= 1 << 32, "{plan:x?}");
    assert_eq!(plan.cmdline_addr >> 32, 0, "{plan:x?}");
    assert!(plan.initrd_addr + (1 << 20) <= 0x8000_0000, "{plan:x?}");
}

/// A relocated kernel lands page aligned even when its kernel_alignment asks for less (the loader reserves and
/// maps whole pages), and above pref_address.
#[test]
fn a_relocated_kernel_is_page_aligned() {
    let mut bytes = common::vmlinuz();
    bytes[0x230..0x234].copy_from_slice(&16u32.to_le_bytes());
    let image = BzImage::parse(&bytes).unwrap();
    let pref = image.header.pref_address;
    let mut free = FreeMemory::from_ranges(&[(1 << 20, 1 << 30)]);
    free.reserve(pref, 0x10);
    let plan = linux::plan(&image, 0, 10, 0, &mut free, 1 << 32).unwrap();
    assert_eq!(plan.kernel_addr, pref + 0x1000, "{plan:x?}");
}

/// boot_params fields the kernel reads besides the plan's addresses (zero-page.rst): code32_start is the load
/// address; ext_mem_k (KiB above 1 MiB) is capped at 0xfc00 as the BIOS call it stands for was; a setup header
/// that says it runs past 0x290 is cut there (edd_mbr_sig_buffer follows, and the E820 table); the E820 table
/// holds up to its 128 slots and no entries of no length.
#[test]
fn boot_params_legacy_fields_header_bound_and_e820_slots() {
    let bytes = common::vmlinuz();
    let image = BzImage::parse(&bytes).unwrap();
    let mut map = qemu_map();
    map.push(MemoryRegion {
        addr: 0x6000_0000,
        len: 0,
        kind: 2,
    });
    let mut free = FreeMemory::from_map(&map);
    let plan = linux::plan(&image, 0, 10, 0, &mut free, 1 << 32).unwrap();
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: None,
        framebuffer: None,
        efi: None,
    };
    let bp = linux::boot_params(&image, &plan, &machine).unwrap();
    assert_eq!(u32_at(&bp, 0x214) as u64, plan.kernel_addr);
    assert_eq!(u16::from_le_bytes([bp[0x02], bp[0x03]]), 0xfc00);
    assert_eq!(bp[0x1e8] as usize, qemu_map().len());
    let small = [MemoryRegion {
        addr: 0x100000,
        len: 16 << 20,
        kind: 1,
    }];
    let machine = Machine {
        memory_map: &small,
        ..machine
    };
    let bp = linux::boot_params(&image, &plan, &machine).unwrap();
    assert_eq!(u16::from_le_bytes([bp[0x02], bp[0x03]]), 16 << 10);
    assert_eq!(u32_at(&bp, 0x1e0), 16 << 10);

    let mut long_header = bytes.clone();
    long_header[0x201] = 0xff;
    let image = BzImage::parse(&long_header).unwrap();
    assert_eq!(image.header.header_end, 0x301);
    let bp = linux::boot_params(&image, &plan, &machine).unwrap();
    assert_eq!(&bp[0x1f1..0x210], &long_header[0x1f1..0x210]);
    assert!(bp[0x290..0x2d0].iter().all(|&b| b == 0));
    assert_eq!(bp[0x1e8], 1);
    assert_eq!(u64_at(&bp, 0x2d0 + 8), 16 << 20);
    assert!(bp[0x2d0 + 20..0x301].iter().all(|&b| b == 0));

    let alternating = |n: u64| -> Vec<MemoryRegion> {
        (0..n)
            .map(|i| MemoryRegion {
                addr: i * 0x1000,
                len: 0x1000,
                kind: 1 + (i % 2) as u32,
            })
            .collect()
    };
    assert_eq!(linux::e820_entries(&alternating(128)).unwrap().len(), 128);
    assert_eq!(
        linux::e820_entries(&alternating(129)),
        Err(Error::MemoryMapTooLong(129, 128))
    );
}

/// One initrd of an odd length and no `files`: the initrd area is the initrd, not rounded up (the bytes past it
/// would be copied by nobody, and Linux would read them as part of it).
#[test]
fn one_odd_initrd_without_files_is_the_whole_area() {
    let kernel = common::vmlinuz();
    let initrd = [0x1fu8, 0x8b, 0x08, 0x00, 0x00];
    let map = qemu_map();
    let mut free = FreeMemory::from_map(&map);
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: None,
        framebuffer: None,
        efi: None,
    };
    let boot = linux::prepare(
        &kernel,
        b"quiet",
        &[&initrd],
        Vec::new(),
        &machine,
        &mut free,
        1 << 32,
    )
    .unwrap();
    assert_eq!(boot.plan.initrd_len, 5);
    assert_eq!(u32_at(&boot.boot_params, 0x21c), 5);
    assert_eq!(boot.copies()[1], (boot.plan.initrd_addr, &initrd[..]));
    assert!(boot.zeroed().is_empty());
}

/// Free memory from a firmware map: every type but "available" wins where it overlaps available RAM (ACPI
/// tables, NVS and bad RAM as much as "reserved"); a reservation that ends where a free range ends leaves no
/// empty range behind.
#[test]
fn free_memory_keeps_out_every_non_available_type() {
    let region = |addr, len, kind| MemoryRegion { addr, len, kind };
    let free = FreeMemory::from_map(&[
        region(0x100000, 0x1000000, 1),
        region(0x200000, 0x1000, 3),
        region(0x300000, 0x1000, 4),
        region(0x400000, 0x1000, 5),
    ]);
    assert_eq!(
        free.ranges().collect::<Vec<_>>(),
        [
            (0x100000, 0x100000),
            (0x201000, 0xff000),
            (0x301000, 0xff000),
            (0x401000, 0xcff000)
        ]
    );
    let mut free = FreeMemory::from_ranges(&[(0x100000, 0x2000), (0x200000, 0x2000)]);
    free.reserve(0x101000, 0x1000);
    free.reserve(0x200000, 0x2000);
    assert_eq!(free.ranges().collect::<Vec<_>>(), [(0x100000, 0x1000)]);
}

/// A Multiboot2 EFI memory map tag (type 17) of `count` descriptors of `desc_size` bytes, each filled with its
/// index.
fn efi_tag(desc_size: u32, count: usize) -> Vec<u8> {
    let mut tag = Vec::new();
    let size = 16 + desc_size as usize * count;
    for word in [17, size as u32, desc_size, 1] {
        tag.extend_from_slice(&word.to_le_bytes());
    }
    for i in 0..count {
        tag.extend(std::iter::repeat_n(i as u8, desc_size as usize));
    }
    tag
}

/// The tag is read as Linux would walk it: descriptors of at least UEFI's 40 bytes, 8-byte multiples, that fill
/// the map evenly; anything else is no map (Linux then gets none, as before).
#[test]
fn an_efi_memory_map_tag_is_read_only_when_linux_could_walk_it() {
    let tag = efi_tag(48, 3);
    let efi = bootscript_handoff::Efi::from_tag(0x7f9e_e018, &tag).unwrap();
    assert_eq!(
        (efi.system_table, efi.desc_size, efi.desc_version),
        (0x7f9e_e018, 48, 1)
    );
    assert_eq!(efi.memory_map, &tag[16..]);
    // Bytes past the tag's size (the padding to the next tag) are not the map's.
    let mut padded = tag.clone();
    padded.extend_from_slice(&[0xee; 8]);
    assert_eq!(
        bootscript_handoff::Efi::from_tag(1, &padded)
            .unwrap()
            .memory_map,
        &tag[16..]
    );
    let refused = |tag: &[u8]| bootscript_handoff::Efi::from_tag(1, tag).is_none();
    assert!(refused(&efi_tag(32, 3)), "descriptors shorter than UEFI's");
    assert!(refused(&efi_tag(44, 3)), "descriptors not a multiple of 8");
    assert!(refused(&efi_tag(48, 0)), "an empty map");
    assert!(refused(&tag[..tag.len() - 1]), "a tag cut short");
    let mut uneven = efi_tag(48, 3);
    uneven[4] -= 8;
    assert!(refused(&uneven), "a map that is not whole descriptors");
    let mut other = efi_tag(48, 3);
    other[0] = 6;
    assert!(refused(&other), "another tag");
}

/// On a UEFI PC Linux gets efi_info as its EFI stub would fill it: the "EL64" signature, the system table, the
/// descriptors' size and version, and the memory map, copied after the command line (8-byte aligned, below
/// 4 GiB, inside the block planned for boot_params) by one more copy.
#[test]
fn linux_gets_the_efi_system_table_and_memory_map() {
    let kernel = common::vmlinuz();
    let map = qemu_map();
    let mut free = FreeMemory::from_map(&map);
    let tag = efi_tag(48, 5);
    let machine = Machine {
        memory_map: &map,
        rsdp_addr: None,
        cursor: None,
        framebuffer: None,
        efi: bootscript_handoff::Efi::from_tag(0x1_2345_6018, &tag),
    };
    let cmdline = b"console=ttyS0";
    let boot = linux::prepare(
        &kernel,
        cmdline,
        &[],
        Vec::new(),
        &machine,
        &mut free,
        1 << 32,
    )
    .unwrap();
    let plan = boot.plan;
    let bp = &boot.boot_params;
    assert_eq!(&bp[0x1c0..0x1c4], b"EL64");
    let at = |offset| u32_at(bp, offset);
    assert_eq!(
        (at(0x1c4), at(0x1d8), at(0x1c8), at(0x1cc)),
        (0x2345_6018, 1, 48, 1)
    );
    let map_addr = u64::from(at(0x1d0)) | u64::from(at(0x1dc)) << 32;
    assert_eq!(map_addr, plan.efi_map_addr);
    assert_eq!(at(0x1d4), 5 * 48);
    assert_eq!(
        map_addr,
        (plan.cmdline_addr + cmdline.len() as u64 + 1).next_multiple_of(8)
    );
    assert!(map_addr + 5 * 48 <= 1 << 32);
    // The block crosses no 2 MiB boundary, where Linux's KASLR might put the kernel over the map: here the top
    // of free memory lies a page past one, where a page-aligned block would straddle it (found by a review).
    let top = [MemoryRegion {
        addr: 0x100000,
        len: 0x4000_1000 - 0x100000,
        kind: 1,
    }];
    let mut free_top = FreeMemory::from_map(&top);
    let image = BzImage::parse(&kernel).unwrap();
    let high = linux::plan(&image, 0, cmdline.len(), 5 * 48, &mut free_top, 1 << 32).unwrap();
    let last = high.efi_map_addr + 5 * 48 - 1;
    assert_eq!(high.boot_params_addr >> 21, last >> 21, "{high:x?}");
    assert_eq!(boot.copies().last(), Some(&(map_addr, &tag[16..])));
    // The block was reserved with the map in it: nothing else may be planned over the map.
    assert!(!free.is_free(map_addr, 5 * 48));

    // Without a UEFI map: no efi_info, no copy for it.
    let mut free = FreeMemory::from_map(&map);
    let bios = linux::prepare(
        &kernel,
        cmdline,
        &[],
        Vec::new(),
        &Machine {
            efi: None,
            ..machine
        },
        &mut free,
        1 << 32,
    )
    .unwrap();
    assert!(bios.boot_params[0x1c0..0x1e0].iter().all(|&b| b == 0));
    assert_eq!(bios.plan.efi_map_addr, 0);
    assert_eq!(bios.copies().len(), 3);
}
