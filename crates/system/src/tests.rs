//! The primitives through the interpreter, on disks made by the real tools.

use std::process::Command;
use std::rc::Rc;

use bootscript_disk::{BlockDevice, ImageFile, MemDisk};
use bootscript_lang::{Config, Interpreter};

use super::*;

/// A machine with scripted input, captured output and the given disks. Its clock moves `tick` milliseconds each
/// time it is read, and its user presses Ctrl-C the `ctrl_c`-th time it is asked (never when 0).
#[derive(Default)]
struct TestMachine {
    disks: Vec<Rc<dyn BlockDevice>>,
    input: Vec<String>,
    output: String,
    booted: Option<String>,
    now: u64,
    tick: u64,
    asked: u32,
    ctrl_c: u32,
    /// The memory in use the machine reports (none given: the boot stage at 1 MiB).
    in_use: Vec<(u64, u64)>,
    /// The summary `exec` gave with its hand-off: each initrd's path and size, each file's.
    summary: Option<(Sizes, Sizes)>,
    /// What the machine reports of the firmware: the RSDP's bytes and address, the VGA text cursor.
    rsdp: Option<Vec<u8>>,
    rsdp_address: Option<u64>,
    cursor: Option<(u8, u8)>,
    framebuffer: Option<crate::Framebuffer>,
    efi: Option<crate::Efi<'static>>,
    /// What `exec` handed on: the kind its summary named, a Linux kernel's boot_params and command line, and the
    /// tag types of a Multiboot2 kernel's information, in order.
    kind: &'static str,
    boot_params: Vec<u8>,
    kernel_cmdline: Vec<u8>,
    info_tags: Vec<u32>,
}

/// Paths and their sizes in bytes.
type Sizes = Vec<(String, u64)>;

impl Machine for TestMachine {
    fn write(&mut self, text: &str) {
        self.output.push_str(text);
    }
    fn read_line(&mut self, _echo: bool) -> Result<String, String> {
        if self.input.is_empty() {
            return Err(String::from("end of input"));
        }
        Ok(self.input.remove(0))
    }
    fn time_ms(&mut self) -> u64 {
        self.now += self.tick;
        self.now
    }
    fn sleep_ms(&mut self, _ms: u64) {}
    fn interrupted(&mut self) -> bool {
        self.asked += 1;
        self.asked == self.ctrl_c
    }
    fn reboot(&mut self) -> String {
        String::from("reboot is not possible in tests")
    }
    fn halt(&mut self) -> String {
        String::from("halt is not possible in tests")
    }
    fn keymap(&mut self, _name: &str) -> Result<(), String> {
        Ok(())
    }
    fn disks(&mut self) -> Vec<Rc<dyn BlockDevice>> {
        self.disks.clone()
    }
    fn memory(&mut self) -> Memory {
        Memory {
            map: vec![
                MemoryRegion {
                    addr: 0,
                    len: 0x9fc00,
                    kind: 1,
                },
                MemoryRegion {
                    addr: 0x100000,
                    len: (1 << 30) - 0x100000,
                    kind: 1,
                },
            ],
            in_use: match self.in_use.is_empty() {
                true => vec![(0x100000, 0x100000)],
                false => self.in_use.clone(),
            },
            limit: 1 << 32,
            rsdp: self.rsdp.clone(),
            rsdp_address: self.rsdp_address,
            cursor: self.cursor,
            framebuffer: self.framebuffer,
            efi: self.efi,
        }
    }
    fn boot(&mut self, handoff: Handoff<'_>, summary: &Summary) -> String {
        self.summary = Some((summary.initrds.clone(), summary.files.clone()));
        self.kind = summary.kind;
        self.booted = Some(match handoff {
            Handoff::Linux(b) => {
                self.boot_params = b.boot_params.clone();
                self.kernel_cmdline = b.cmdline.clone();
                format!(
                    "linux {:#x} initrd {:#x}+{:#x}",
                    b.plan.kernel_addr, b.plan.initrd_addr, b.plan.initrd_len
                )
            }
            // The segments, then each module as its tag tells it: `name=length`.
            Handoff::Multiboot2(b) => {
                let mut told = format!("multiboot2 {}", b.image.segments.len());
                let word = |at: usize| u32::from_le_bytes(b.info[at..at + 4].try_into().unwrap());
                let mut at = 8;
                while at + 8 <= b.info.len() && word(at) != 0 {
                    self.info_tags.push(word(at));
                    let size = word(at + 4) as usize;
                    if word(at) == 3 {
                        let name = &b.info[at + 16..at + size - 1];
                        let length = word(at + 12) - word(at + 8);
                        told.push_str(&format!(" {}={length}", String::from_utf8_lossy(name)));
                    }
                    at += (size + 7) & !7;
                }
                told
            }
        });
        String::from("test machine: no jump")
    }
}

fn run(
    disks: Vec<Rc<dyn BlockDevice>>,
    input: &[&str],
    source: &str,
) -> (World<TestMachine>, Result<(), String>) {
    let machine = TestMachine {
        disks,
        input: input.iter().map(|s| s.to_string()).collect(),
        ..TestMachine::default()
    };
    run_on(machine, source)
}

fn run_on(machine: TestMachine, source: &str) -> (World<TestMachine>, Result<(), String>) {
    run_with(machine, Config::default(), source)
}

fn run_with(
    machine: TestMachine,
    config: Config,
    source: &str,
) -> (World<TestMachine>, Result<(), String>) {
    let mut world = World::new(machine);
    let mut interpreter = Interpreter::new(config);
    let result = interpreter
        .run("test.bs", source, &mut world)
        .map_err(|e| e.to_string());
    (world, result)
}

fn tool(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!("{program} is needed for this test (make setup installs it): {e}")
        });
    assert!(status.success(), "{program} {args:?} failed");
}

/// A whole-disk ext2 image (`hd0`, no partition table) of `size` made by mke2fs from the tree `tree`.
fn ext2_of(dir: &std::path::Path, tree: &std::path::Path, size: &str) -> Rc<dyn BlockDevice> {
    let fs = dir.join("fs.img");
    mke2fs_ext2(tree, &fs, size);
    Rc::new(ImageFile::with_name(fs.to_str().unwrap(), "hd0").unwrap())
}

/// An ext2 file system of `size` made by mke2fs at `image` from the tree `tree`.
fn mke2fs_ext2(tree: &std::path::Path, image: &std::path::Path, size: &str) {
    let (tree, image) = (tree.to_str().unwrap(), image.to_str().unwrap());
    tool(
        "mke2fs",
        &["-q", "-F", "-t", "ext2", "-d", tree, image, size],
    );
}

/// Partitions the disk image `disk` as sfdisk's script `layout` says.
fn sfdisk(disk: &std::path::Path, layout: &str) {
    let mut sfdisk = Command::new("sfdisk")
        .args(["-q", disk.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk is needed for this test");
    use std::io::Write;
    let stdin = sfdisk.stdin.take();
    stdin.unwrap().write_all(layout.as_bytes()).unwrap();
    assert!(sfdisk.wait().unwrap().success());
}

/// An MBR disk (by sfdisk) whose second partition holds an ext2 made by mke2fs -d from a small tree (and a file
/// of 512 KiB, `/big.bin`, and a directory of 600 files with names of 250 bytes, `/many`).
fn ext2_disk(dir: &std::path::Path) -> Rc<dyn BlockDevice> {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("boot")).unwrap();
    std::fs::write(tree.join("boot/hello.txt"), b"hello from ext2\n").unwrap();
    std::fs::write(tree.join("big.bin"), vec![7u8; 512 << 10]).unwrap();
    std::fs::create_dir_all(tree.join("many")).unwrap();
    for i in 0..600 {
        std::fs::write(tree.join("many").join(format!("{i:0>250}")), b"").unwrap();
    }
    let fs = dir.join("fs.img");
    mke2fs_ext2(&tree, &fs, "4M");
    let disk = dir.join("disk.img");
    std::fs::write(&disk, vec![0u8; 8 << 20]).unwrap();
    sfdisk(
        &disk,
        "label: dos\nstart=2048, size=2048, type=83\nstart=4096, size=8192, type=83\n",
    );
    tool(
        "dd",
        &[
            "status=none",
            "conv=notrunc",
            "bs=512",
            "seek=4096",
            &format!("if={}", fs.display()),
            &format!("of={}", disk.display()),
        ],
    );
    Rc::new(ImageFile::with_name(disk.to_str().unwrap(), "hd0").unwrap())
}

#[test]
fn disks_lists_the_partitions_sfdisk_made() {
    let dir = tempdir("disks");
    let disk = ext2_disk(&dir);
    let (world, result) = run(
        vec![disk],
        &[],
        r#"
        for d in disks() { print(d.name, d.size, d.kind) }
    "#,
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "hd0 8388608 disk\nhd0p1 1048576 partition\nhd0p2 4194304 partition\n"
    );
}

#[test]
fn mount_ls_read_stat_on_an_ext2_partition() {
    let dir = tempdir("mount");
    let disk = ext2_disk(&dir);
    let (world, result) = run(
        vec![disk],
        &[],
        r#"
        mount("hd0p2", "/")
        print(ls("/boot"))
        print(text(read("/boot/hello.txt")))
        print(stat("/boot/hello.txt"), stat("/boot").kind, exists("/nope"), exists("/boot/hello.txt"))
        print(hex(sha1(read("/boot/hello.txt"))))
    "#,
    );
    result.unwrap();
    let expected_sha1 = {
        let out = Command::new("sha1sum")
            .arg(dir.join("tree/boot/hello.txt"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..40].to_string()
    };
    assert_eq!(
        world.machine.output,
        format!("[\"hello.txt\"]\nhello from ext2\n\n{{size: 16, kind: \"file\"}} dir false true\n{expected_sha1}\n")
    );
}

#[test]
fn a_file_system_mounts_at_a_path_that_exists_nowhere_yet() {
    // The contract's first example mounts its boot partition at /boot, with nothing at /.
    let dir = tempdir("mount-anywhere");
    let disk = ext2_disk(&dir);
    let (world, result) = run(
        vec![disk],
        &[],
        r#"
        mount("hd0p2", "/boot")
        print(ls("/"), text(read("/boot/boot/hello.txt")), stat("/").kind, exists("/etc"))
        read("/etc/hostname")
    "#,
    );
    assert_eq!(
        world.machine.output,
        "[\"boot\"] hello from ext2\n dir false\n"
    );
    assert!(result
        .unwrap_err()
        .to_string()
        .ends_with(":4:9: error: /etc: no such file or directory"),);
}

#[test]
fn read_refuses_a_file_larger_than_the_script_may_still_hold() {
    // A limit of 1 MiB: the file of 512 KiB is read while the script holds little, and refused, before it is
    // read, while the script holds a str of 640 KiB.
    let dir = tempdir("room");
    let disk = ext2_disk(&dir);
    let config = || Config {
        memory_limit: 1 << 20,
        ..Config::default()
    };
    let machine = || TestMachine {
        disks: vec![disk.clone()],
        ..TestMachine::default()
    };
    let (world, result) = run_with(
        machine(),
        config(),
        "mount(\"hd0p2\", \"/\")\nprint(len(read(\"/big.bin\")))",
    );
    result.unwrap();
    assert_eq!(world.machine.output, "524288\n");
    let held = "let a = \"x\"\nfor i in range(19) { a = a + a }\nlet b = \"x\"\nfor i in range(17) { b = b + b }\n";
    let (world, result) = run_with(
        machine(),
        config(),
        &format!(
            "{held}mount(\"hd0p2\", \"/\")\nprint(len(a) + len(b))\nlet f = read(\"/big.bin\")"
        ),
    );
    assert_eq!(world.machine.output, "655360\n");
    let message = result.unwrap_err();
    assert!(
        message.starts_with(
            "test.bs:7:9: error: /big.bin: 524288 bytes, more than the script may hold ("
        ),
        "{message}"
    );
}

/// A file exactly as large as the room the script has left is read: only more than that is refused. The room is
/// learnt from the refusal under a smaller limit, which is then raised by what was missing.
#[test]
fn read_takes_a_file_exactly_as_large_as_the_room_left() {
    let dir = tempdir("exact-room");
    let disk = ext2_disk(&dir);
    let run_under = |memory_limit: usize| {
        let machine = TestMachine {
            disks: vec![disk.clone()],
            ..TestMachine::default()
        };
        let config = Config {
            memory_limit,
            ..Config::default()
        };
        run_with(
            machine,
            config,
            "mount(\"hd0p2\", \"/\")\nlet f = read(\"/big.bin\")",
        )
        .1
    };
    let message = run_under(256 << 10).unwrap_err();
    // "...: /big.bin: 524288 bytes, more than the script may hold (ROOM more)"
    let room: usize = message
        .rsplit('(')
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let fits = (256 << 10) + (512 << 10) - room;
    run_under(fits).unwrap();
    let message = run_under(fits - 1).unwrap_err();
    assert!(
        message.ends_with("/big.bin: 524288 bytes, more than the script may hold (524287 more)"),
        "{message}"
    );
}

#[test]
fn ls_refuses_a_directory_whose_names_take_more_than_the_script_may_still_hold() {
    // 600 names of 250 bytes (about 164 KB as strings): listed while the script holds little, refused while it
    // holds 896 KiB of its 1 MiB.
    let dir = tempdir("names");
    let disk = ext2_disk(&dir);
    let machine = || TestMachine {
        disks: vec![disk.clone()],
        ..TestMachine::default()
    };
    let (world, result) = run_on(
        machine(),
        "mount(\"hd0p2\", \"/\")\nlet names = ls(\"/many\")\nprint(len(names), len(names[0]))",
    );
    result.unwrap();
    assert_eq!(world.machine.output, "600 250\n");
    let held = "let a = \"x\"\nfor i in range(19) { a = a + a }\nlet b = \"x\"\nfor i in range(18) { b = b + b }\nlet c = \"x\"\nfor i in range(17) { c = c + c }\n";
    let config = Config {
        memory_limit: 1 << 20,
        ..Config::default()
    };
    let (_, result) = run_with(
        machine(),
        config,
        &format!("{held}mount(\"hd0p2\", \"/\")\nlet names = ls(\"/many\")"),
    );
    let message = result.unwrap_err();
    assert!(
        message.starts_with("test.bs:8:13: error: /many: its names take more than the "),
        "{message}"
    );
}

/// What `exec` plans keeps clear of the memory the machine says is in use (the boot stage's heap, where the
/// kernel and initrd bytes wait to be copied): here the top 256 MiB of a 1 GiB machine, where the initrd would
/// go otherwise. Debian's kernel and a 1 MiB initrd on an ext2 partition.
#[test]
fn exec_keeps_clear_of_the_memory_in_use() {
    let in_use = (0x3000_0000, 0x1000_0000);
    let (start, len) = initrd_placed("exec-in-use", |disk| TestMachine {
        disks: vec![disk],
        in_use: vec![(0x100000, 0x100000), in_use],
        ..TestMachine::default()
    });
    assert_eq!(len, 1 << 20);
    // As high as it may go, under the memory in use.
    assert_eq!(start + len, in_use.0);
}

/// On a UEFI PC nothing is copied where UEFI's boot services were (code and data, types 3 and 4), as Linux's
/// own EFI stub leaves them: here boot services data over the top 256 MiB of the 1 GiB machine, where the initrd
/// would go otherwise; the conventional memory (type 7) below it is not kept clear.
#[test]
fn exec_keeps_clear_of_what_uefi_s_boot_services_held() {
    let (start, len) = initrd_placed("exec-boot-services", |disk| TestMachine {
        disks: vec![disk],
        efi: Some(uefi_map(&[
            (7, 0x2000_0000, 0x10000),
            (4, 0x3000_0000, 0x10000),
        ])),
        ..TestMachine::default()
    });
    assert_eq!(start + len, 0x3000_0000);
}

/// Where `exec` puts a 1 MiB initrd for Debian's kernel (both on an ext2 disk, given to the machine `with`
/// makes): its address and length.
fn initrd_placed(name: &str, with: impl FnOnce(Rc<dyn BlockDevice>) -> TestMachine) -> (u64, u64) {
    let dir = tempdir(name);
    let tree = linux_tree(&dir);
    std::fs::write(tree.join("boot/initrd.img"), vec![3u8; 1 << 20]).unwrap();
    let disk = ext2_of(&dir, &tree, "32M");
    let source = r#"mount("hd0", "/"); exec("/boot/vmlinuz", initrd="/boot/initrd.img")"#;
    let (world, result) = run_on(with(disk), source);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:20: error: test machine: no jump"
    );
    let booted = world.machine.booted.unwrap();
    let initrd: Vec<u64> = booted
        .split(['+', ' '])
        .skip(3)
        .map(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).unwrap())
        .collect();
    (initrd[0], initrd[1])
}

/// A UEFI system table and a memory map of 48-byte descriptors: `(type, start, pages)` each.
fn uefi_map(descriptors: &[(u32, u64, u64)]) -> crate::Efi<'static> {
    let mut map = Vec::new();
    for &(kind, start, pages) in descriptors {
        map.extend_from_slice(&kind.to_le_bytes());
        map.extend_from_slice(&[0; 4]);
        map.extend_from_slice(&start.to_le_bytes());
        map.extend_from_slice(&[0; 8]);
        map.extend_from_slice(&pages.to_le_bytes());
        map.extend_from_slice(&[0; 16]);
    }
    crate::Efi {
        system_table: 0x3f9e_e018,
        memory_map: Box::leak(map.into_boxed_slice()),
        desc_size: 48,
        desc_version: 1,
    }
}

/// A Multiboot2 kernel may load where UEFI's boot services were, as GRUB lets it once it has left them: here
/// the test kernel linked at 2 MiB, over boot services data at 2-4 MiB (found by a review: it was refused).
#[test]
fn a_multiboot2_kernel_may_load_where_uefi_s_boot_services_were() {
    let dir = tempdir("exec-mb2-boot-services");
    let tree = mb2_tree(&dir);
    let disk = ext2_of(&dir, &tree, "4M");
    let machine = TestMachine {
        disks: vec![disk],
        efi: Some(uefi_map(&[(4, 0x20_0000, 0x200), (7, 0x40_0000, 0x1000)])),
        ..TestMachine::default()
    };
    let (world, result) = run_on(machine, r#"mount("hd0", "/"); exec("/boot/kernel.elf")"#);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:20: error: test machine: no jump"
    );
    assert_eq!(world.machine.kind, "multiboot2");
}

/// A tree under `dir` with Debian's kernel (fetched once) at `boot/vmlinuz`.
fn linux_tree(dir: &std::path::Path) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let kernel = root.join("build/cache/vmlinuz");
    if !kernel.exists() {
        tool(
            "bash",
            &[root.join("scripts/fetch-kernel.sh").to_str().unwrap()],
        );
    }
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("boot")).unwrap();
    std::fs::copy(&kernel, tree.join("boot/vmlinuz")).unwrap();
    tree
}

/// `exec` hands Linux the script's command line, the firmware's RSDP address (not the boot loader's copy, in RAM
/// Linux takes) and the VGA cursor, so that its console goes on below the script's lines; its summary says
/// "linux".
#[test]
fn exec_hands_linux_its_command_line_the_rsdp_and_the_cursor() {
    let dir = tempdir("exec-linux");
    let tree = linux_tree(&dir);
    let disk = ext2_of(&dir, &tree, "32M");
    let machine = TestMachine {
        disks: vec![disk],
        rsdp_address: Some(0xf68f0),
        cursor: Some((0, 7)),
        ..TestMachine::default()
    };
    let source = r#"mount("hd0", "/"); exec("/boot/vmlinuz", cmdline="root=/dev/vda1 quiet")"#;
    let (world, result) = run_on(machine, source);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:20: error: test machine: no jump"
    );
    let machine = world.machine;
    assert_eq!(machine.kind, "linux");
    assert_eq!(machine.kernel_cmdline, b"root=/dev/vda1 quiet\0");
    // boot_params: acpi_rsdp_addr at 0x70; screen_info's orig_x and orig_y at 0 and 1, orig_video_mode at 6.
    let params = &machine.boot_params;
    assert_eq!(params[0x70..0x78], 0xf68f0u64.to_le_bytes());
    assert_eq!((params[0], params[1], params[6]), (0, 7, 3));
}

/// On a UEFI PC (no VGA text screen), `exec` tells Linux of the framebuffer GRUB set up, in screen_info as an EFI
/// framebuffer: its type, size in pixels and bytes, address (the upper half apart, with its capability bit), line
/// length and colour fields; on a BIOS PC, as a VESA one.
#[test]
fn exec_hands_linux_the_framebuffer_of_a_uefi_pc() {
    let dir = tempdir("exec-fb");
    let tree = linux_tree(&dir);
    let disk = ext2_of(&dir, &tree, "32M");
    let framebuffer = crate::Framebuffer {
        address: 0x1_8000_0000,
        pitch: 5120,
        width: 1280,
        height: 800,
        bits_per_pixel: 32,
        colors: [(8, 16), (8, 8), (8, 0)],
        efi: true,
    };
    let params = |framebuffer| {
        let machine = TestMachine {
            disks: vec![disk.clone()],
            framebuffer: Some(framebuffer),
            ..TestMachine::default()
        };
        let source = r#"mount("hd0", "/"); exec("/boot/vmlinuz")"#;
        run_on(machine, source).0.machine.boot_params
    };
    let u16_at = |p: &[u8], at: usize| u16::from_le_bytes([p[at], p[at + 1]]);
    let u32_at = |p: &[u8], at: usize| u32::from_le_bytes(p[at..at + 4].try_into().unwrap());
    let p = params(framebuffer);
    assert_eq!(p[0x0f], 0x70);
    assert_eq!(
        (u16_at(&p, 0x12), u16_at(&p, 0x14), u16_at(&p, 0x16)),
        (1280, 800, 32)
    );
    // The base's halves; the capabilities: values as the firmware gave them, and a 64-bit base.
    assert_eq!(
        (u32_at(&p, 0x18), u32_at(&p, 0x3a), u32_at(&p, 0x36)),
        (0x8000_0000, 1, 3)
    );
    assert_eq!((u32_at(&p, 0x1c), u16_at(&p, 0x24)), (5120 * 800, 5120));
    assert_eq!(p[0x26..0x2c], [8, 16, 8, 8, 8, 0]);
    // No VGA text mode beside it.
    assert_eq!((p[0x06], p[0x07]), (0, 0));
    // One a BIOS's VBE set up (GRUB's gfxpayload on a BIOS PC), below 4 GiB: a VESA framebuffer, whose size
    // counts 64 KiB units.
    let p = params(crate::Framebuffer {
        address: 0xfd00_0000,
        efi: false,
        ..framebuffer
    });
    assert_eq!(p[0x0f], 0x23);
    assert_eq!(
        (u32_at(&p, 0x18), u32_at(&p, 0x3a), u32_at(&p, 0x36)),
        (0xfd00_0000, 0, 0)
    );
    assert_eq!(u32_at(&p, 0x1c), (5120 * 800_u32).div_ceil(1 << 16));
}

/// A tree under `dir` with the test kernel (tests/mb2kernel) at `boot/kernel.elf`, linked at 2 MiB: the test
/// machine's boot stage is at 1 MiB.
fn mb2_tree(dir: &std::path::Path) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("boot")).unwrap();
    let kernel = tree.join("boot/kernel.elf");
    let build = root.join("tests/mb2kernel/build.sh");
    tool(
        "bash",
        &[
            build.to_str().unwrap(),
            kernel.to_str().unwrap(),
            "0x200000",
        ],
    );
    tree
}

/// `exec` hands a Multiboot2 kernel each initrd as a module named by its path, in order, and the files as
/// one more module, `bootscript-files.cpio`; the summary it prints tells each initrd's size and each file's.
/// The test kernel (tests/mb2kernel) on an ext2 image.
#[test]
fn exec_hands_a_multiboot2_kernel_its_modules_by_name() {
    let dir = tempdir("exec-mb2");
    let tree = mb2_tree(&dir);
    std::fs::write(tree.join("boot/one.txt"), b"first module\n").unwrap();
    std::fs::write(tree.join("boot/two.bin"), vec![9u8; 3000]).unwrap();
    let disk = ext2_of(&dir, &tree, "4M");
    let source = r#"mount("hd0", "/")
exec("/boot/kernel.elf", initrd=["/boot/one.txt", "/boot/two.bin"], files={"/etc/k": "secret"})"#;
    let (world, result) = run(vec![disk], &[], source);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:2:1: error: test machine: no jump"
    );
    // (A BIOS PC's VGA text screen is no framebuffer to tell of.)
    assert!(
        !world.machine.info_tags.contains(&8),
        "{:?}",
        world.machine.info_tags
    );
    let booted = world.machine.booted.unwrap();
    let modules: Vec<&str> = booted.split(' ').skip(2).collect();
    assert_eq!(
        modules[..2],
        ["/boot/one.txt=13", "/boot/two.bin=3000"],
        "{booted}"
    );
    assert_eq!(modules.len(), 3, "{booted}");
    assert!(modules[2].starts_with("bootscript-files.cpio="), "{booted}");
    let (initrds, files) = world.machine.summary.unwrap();
    assert_eq!(
        initrds,
        [
            (String::from("/boot/one.txt"), 13),
            (String::from("/boot/two.bin"), 3000)
        ]
    );
    assert_eq!(files, [(String::from("/etc/k"), 6)]);
}

/// Without `files`, a Multiboot2 kernel gets its initrd and no empty files module; the RSDP the machine has is
/// in its information (tag 14, an ACPI 1.0 one's), and so is its framebuffer (tag 8, a UEFI PC's); the summary says
/// "multiboot2".
#[test]
fn exec_without_files_hands_a_multiboot2_kernel_no_files_module_and_the_rsdp() {
    let dir = tempdir("exec-mb2-plain");
    let tree = mb2_tree(&dir);
    std::fs::write(tree.join("boot/one.txt"), b"first module\n").unwrap();
    let disk = ext2_of(&dir, &tree, "4M");
    let mut rsdp = b"RSD PTR ".to_vec();
    rsdp.extend_from_slice(&[
        0x42, b'B', b'O', b'C', b'H', b'S', b' ', 0, 0x78, 0x56, 0x34, 0x12,
    ]);
    let machine = TestMachine {
        disks: vec![disk],
        rsdp: Some(rsdp),
        framebuffer: Some(crate::Framebuffer::default()),
        ..TestMachine::default()
    };
    let source = r#"mount("hd0", "/")
exec("/boot/kernel.elf", initrd="/boot/one.txt")"#;
    let (world, result) = run_on(machine, source);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:2:1: error: test machine: no jump"
    );
    let machine = world.machine;
    let booted = machine.booted.unwrap();
    let modules: Vec<&str> = booted.split(' ').skip(2).collect();
    assert_eq!(modules, ["/boot/one.txt=13"], "{booted}");
    assert!(machine.info_tags.contains(&14), "{:?}", machine.info_tags);
    assert!(machine.info_tags.contains(&8), "{:?}", machine.info_tags);
    assert_eq!(machine.kind, "multiboot2");
}

/// An initrd or `files` of the wrong type is refused by name before anything is read: not booted without them.
#[test]
fn exec_refuses_an_initrd_or_files_of_the_wrong_type() {
    let (world, result) = run(
        vec![],
        &[],
        r#"
        try { exec("/boot/vmlinuz", initrd=5) } catch e { print(e) }
        try { exec("/boot/vmlinuz", files=5) } catch e { print(e) }
        try { exec("/boot/vmlinuz", files={"/etc/key": 5}) } catch e { print(e) }
    "#,
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "initrd must be a path or a list of paths, not int\n\
         files must be a map, not int\n\
         files[\"/etc/key\"] must be a str or bytes, not int\n"
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let dir = tempdir("errors");
    let disk = ext2_disk(&dir);
    let (_, result) = run(vec![disk.clone()], &[], r#"mount("hd9", "/")"#);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:1: error: no device named 'hd9' (see disks())"
    );
    let (_, result) = run(vec![disk.clone()], &[], r#"mount("hd0p1", "/")"#);
    let message = result.unwrap_err();
    assert!(
        message.starts_with("test.bs:1:1: error: hd0p1: "),
        "{message}"
    );
    let (_, result) = run(vec![disk.clone()], &[], r#"read("/x")"#);
    assert!(result.unwrap_err().starts_with("test.bs:1:1: error: "));
    let (_, result) = run(
        vec![disk],
        &[],
        r#"mount("hd0p2", "/"); exec("/boot/hello.txt")"#,
    );
    let message = result.unwrap_err();
    assert!(message.contains("/boot/hello.txt: "), "{message}");
    // A NUL would end the kernel's command line where the script did not: refused before anything is read.
    let (_, result) = run(
        vec![],
        &[],
        r#"exec("/boot/vmlinuz", cmdline="root=/dev/sda1\0quiet")"#,
    );
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:1: error: the command line holds a NUL byte (\\0)"
    );
}

#[test]
fn hashes_and_pbkdf2_match_the_rfc_vectors() {
    let (world, result) = run(
        vec![],
        &[],
        r#"
        print(hex(sha1("abc")))
        print(hex(pbkdf2("sha1", "password", "salt", 2, 20)))
        print(hex(hmac("sha256", x"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There")))
    "#,
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "a9993e364706816aba3e25717850c26c9cd0d89d\n\
         ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957\n\
         b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7\n"
    );
}

/// Ctrl-C during a long key derivation stops it at the next look (not 50 million iterations later), ends its
/// progress line with `stopped`, and stops the script at the call: a `try` around it does not catch it.
#[test]
fn ctrl_c_stops_a_key_derivation_and_the_script() {
    let machine = TestMachine {
        tick: 400,
        ctrl_c: 5,
        ..TestMachine::default()
    };
    let source = "\
try {
    let key = pbkdf2(\"sha256\", \"pw\", \"salt\", 50000000, 32)
} catch e {
    print(\"caught\", e)
}
print(\"after\")
";
    let (mut world, result) = run_on(machine, source);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:2:15: error: interrupted (Ctrl-C)"
    );
    // Asked at each look at the progress: four went on, the fifth saw the press, which the interpreter then
    // got from the world without asking the machine.
    assert_eq!(world.machine.asked, 5);
    assert!(
        world
            .machine
            .output
            .ends_with("\rderiving key ... 0%\rderiving key ... stopped\n"),
        "{:?}",
        world.machine.output
    );
    assert!(!world.machine.output.contains("caught"));
    // Told once: the next question is the machine's own.
    assert!(!Platform::interrupted(&mut world));
    assert_eq!(world.machine.asked, 6);

    // Without Ctrl-C the same failure of a primitive is an error that `try` catches.
    let (world, result) = run(
        vec![],
        &[],
        "try { pbkdf2(\"sha256\", \"pw\", \"salt\", 0, 32) } catch e { print(\"caught\", e) }",
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "caught PBKDF2 iteration count 0 is outside 1..=1000000000\n"
    );
    // Past what the types hold, the same errors.
    let (world, result) = run(
        vec![],
        &[],
        r#"
        try { pbkdf2("sha256", "pw", "salt", 4294967296, 32) } catch e { print(e) }
        try { pbkdf2("SHA256", "pw", "salt", 1, -1) } catch e { print(e) }
        "#,
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "PBKDF2 iteration count 4294967296 is outside 1..=1000000000\nPBKDF2 output length -1 is outside 1..=1024\n"
    );
}

#[test]
fn aes_setup_names_a_mapping_and_refuses_a_second_of_the_same_name() {
    let disk: Rc<dyn BlockDevice> = Rc::new(MemDisk::new("hd0", vec![0u8; 1 << 20]));
    let (world, result) = run(
        vec![disk.clone()],
        &[],
        r#"
        print(aes_setup("root", "hd0", x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"))
        let key = x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        aes_setup("part", "hd0", key, offset=8, size=16)
        aes_setup("rest", "hd0", key, offset=8, size=0)
        for d in disks() { print(d.name, d.kind, d.size) }
    "#,
    );
    result.unwrap();
    // `size=0` is the rest of the device after the offset, as `cryptsetup open --type plain --size 0` maps it.
    assert_eq!(
        world.machine.output,
        "root\nhd0 disk 1048576\nroot mapped 1048576\npart mapped 8192\nrest mapped 1044480\n"
    );
    let (_, result) = run(
        vec![disk],
        &[],
        r#"
        aes_setup("root", "hd0", x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        aes_setup("root", "hd0", x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
    "#,
    );
    assert!(result
        .unwrap_err()
        .ends_with("a device named 'root' exists already"));
}

/// Encrypts the sectors of `src` with AES-XTS as dm-crypt's `plain64` IVs do, the first sector's IV being
/// `skip`, after `offset` sectors of filler: python3's `cryptography`, not this crate's code.
const XTS_PY: &str = r#"
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
src, dst, key, offset, skip = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = open(src, 'rb').read()
out = bytearray(b'\xa5' * 512 * offset)
for i in range(len(data) // 512):
    e = Cipher(algorithms.AES(key), modes.XTS((skip + i).to_bytes(16, 'little'))).encryptor()
    out += e.update(data[i * 512:(i + 1) * 512]) + e.finalize()
open(dst, 'wb').write(out)
"#;

/// `aes_setup` maps the device from `offset` sectors on, with IVs counted from `skip`, as `cryptsetup open
/// --type plain --offset 8 --skip 5` does: an ext2 image encrypted that way mounts and reads. Nothing else
/// passed `skip` through the primitive (swapped with `offset`, every other test still passed).
#[test]
fn aes_setup_maps_from_its_offset_with_ivs_from_its_skip() {
    let dir = tempdir("aes-skip");
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("hello.txt"), b"hello from a plain volume\n").unwrap();
    let fs = dir.join("fs.img");
    mke2fs_ext2(&tree, &fs, "1M");
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let disk = dir.join("disk.img");
    tool(
        "python3",
        &[
            "-c",
            XTS_PY,
            fs.to_str().unwrap(),
            disk.to_str().unwrap(),
            key,
            "8",
            "5",
        ],
    );
    let disk: Rc<dyn BlockDevice> =
        Rc::new(ImageFile::with_name(disk.to_str().unwrap(), "hd0").unwrap());
    let (world, result) = run(
        vec![disk],
        &[],
        &format!(
            "aes_setup(\"root\", \"hd0\", x\"{key}\", offset=8, skip=5)\n\
             mount(\"root\", \"/\")\n\
             print(text(read(\"/hello.txt\")))"
        ),
    );
    result.unwrap();
    assert_eq!(world.machine.output, "hello from a plain volume\n\n");
}

/// A negative offset, size or skip is refused by name (as an unsigned number it would be a huge one), and a
/// new device's name may have up to 64 characters, not 65.
#[test]
fn aes_setup_refuses_negative_sectors_and_names_past_64_characters() {
    let disk: Rc<dyn BlockDevice> = Rc::new(MemDisk::new("hd0", vec![0u8; 1 << 20]));
    let (long, too_long) = ("n".repeat(64), "n".repeat(65));
    let (world, result) = run(
        vec![disk],
        &[],
        &format!(
            r#"
        let key = x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        try {{ aes_setup("a", "hd0", key, offset=-1) }} catch e {{ print(e) }}
        try {{ aes_setup("b", "hd0", key, size=-8) }} catch e {{ print(e) }}
        try {{ aes_setup("c", "hd0", key, skip=-1) }} catch e {{ print(e) }}
        print(len(aes_setup("{long}", "hd0", key)))
        try {{ aes_setup("{too_long}", "hd0", key) }} catch e {{ print(e) }}
        print(len(disks()))
    "#
        ),
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "offset must not be negative\nsize must not be negative\nskip must not be negative\n64\n\
         bad device name: use 1 to 64 letters, digits, '_', '-' and '.'\n2\n"
    );
}

/// A new device's name is letters, digits, '_', '-' and '.' (as Linux's /dev/mapper takes them): anything else, or
/// nothing, is refused.
#[test]
fn device_names_take_letters_digits_underscores_dashes_and_dots_only() {
    let disk: Rc<dyn BlockDevice> = Rc::new(MemDisk::new("hd0", vec![0u8; 1 << 20]));
    let (world, result) = run(
        vec![disk],
        &[],
        r#"
        let key = x"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        print(aes_setup("cr_root-1.2", "hd0", key))
        for name in ["", "a/b", "a b", "-/"] {
            try { aes_setup(name, "hd0", key) } catch e { print(e) }
        }
    "#,
    );
    result.unwrap();
    assert_eq!(
        world.machine.output,
        format!(
            "cr_root-1.2\n{}",
            "bad device name: use 1 to 64 letters, digits, '_', '-' and '.'\n".repeat(4)
        )
    );
}

/// `luks_open` refuses a name in use before it tries the passphrase (a key derivation of seconds, its progress
/// shown): the error names the name, whatever the device holds.
#[test]
fn luks_open_refuses_a_name_in_use_before_unlocking() {
    let disk: Rc<dyn BlockDevice> = Rc::new(MemDisk::new("hd0", vec![0u8; 1 << 20]));
    let (world, result) = run(vec![disk], &[], r#"luks_open("hd0", "pw", "hd0")"#);
    assert_eq!(
        result.unwrap_err(),
        "test.bs:1:1: error: a device named 'hd0' exists already"
    );
    assert_eq!(world.machine.output, "");
}

/// A disk whose partition table is broken (here sfdisk's extended partition with its boot record's signature
/// wiped) is still listed, and the console says what is wrong with the table.
#[test]
fn a_broken_partition_table_is_reported_and_the_disk_listed() {
    let dir = tempdir("broken-table");
    let image = dir.join("disk.img");
    std::fs::write(&image, vec![0u8; 8 << 20]).unwrap();
    sfdisk(
        &image,
        "label: dos\nstart=2048, size=8192, type=5\nstart=4096, size=2048, type=83\n",
    );
    tool(
        "dd",
        &[
            "status=none",
            "conv=notrunc",
            "if=/dev/zero",
            "bs=1",
            "count=2",
            &format!("seek={}", 2048 * 512 + 510),
            &format!("of={}", image.display()),
        ],
    );
    let disk: Rc<dyn BlockDevice> =
        Rc::new(ImageFile::with_name(image.to_str().unwrap(), "hd0").unwrap());
    let (world, result) = run(vec![disk], &[], "for d in disks() { print(d.name) }");
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "bootscript: partition table: hd0: MBR: extended boot record at sector 2048 has no signature\nhd0\n"
    );
}

/// `disks()` gives a GPT partition's name (label) and unique GUID (Linux's PARTUUID) as sfdisk wrote them, so
/// that a script can find its root partition by either; a disk has neither.
#[test]
fn disks_gives_the_label_and_uuid_of_gpt_partitions() {
    let dir = tempdir("gpt-disks");
    let image = dir.join("gpt.img");
    std::fs::write(&image, vec![0u8; 4 << 20]).unwrap();
    let layout = "label: gpt\n\
        start=2048, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, \
        uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE, name=\"rootfs\"\n";
    sfdisk(&image, layout);
    let disk: Rc<dyn BlockDevice> =
        Rc::new(ImageFile::with_name(image.to_str().unwrap(), "hd0").unwrap());
    let (world, result) = run(vec![disk], &[], "for d in disks() { print(d) }");
    result.unwrap();
    assert_eq!(
        world.machine.output,
        "{name: \"hd0\", size: 4194304, kind: \"disk\"}\n\
         {name: \"hd0p1\", size: 1048576, kind: \"partition\", label: \"rootfs\", \
         uuid: \"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\"}\n"
    );
}

/// With nothing mounted, `exists` is an error as `ls`, `stat` and `read` are, not a quiet `false`: a script that
/// forgot its `mount` hears of it at once.
#[test]
fn path_primitives_with_nothing_mounted_are_errors() {
    let (world, result) = run(
        vec![],
        &[],
        r#"
        try { exists("/boot/vmlinuz") } catch e { print(e) }
        try { ls("/") } catch e { print(e) }
        try { stat("/boot") } catch e { print(e) }
        try { read("/boot/vmlinuz") } catch e { print(e) }
    "#,
    );
    result.unwrap();
    assert_eq!(world.machine.output, "nothing is mounted at /\n".repeat(4));
}

/// A scratch directory of the test's, removed with what it holds when the test ends (a run of these tests makes
/// about 60 MB of images; left behind, they filled the disk over many runs).
struct TempDir(std::path::PathBuf);

impl core::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("bootscript-system-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}
