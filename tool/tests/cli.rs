//! The host tool's contract: exit codes, stdin to `prompt`, stdout from `print`, errors on stderr.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// This test process's scratch directory, emptied on first use: a directory left by an earlier process with the
/// same id (ids are reused) would hold images that `mkfs.fat -C` refuses to overwrite. A static is never dropped,
/// so the directory outlives the process; those of earlier runs whose process is gone are removed here.
fn scratch() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let temp = std::env::temp_dir();
        for entry in std::fs::read_dir(&temp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("bootscript-cli-"));
            if pid.is_some_and(|pid| !std::path::Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = temp.join(format!("bootscript-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    })
}

fn script(name: &str, text: &str) -> std::path::PathBuf {
    let path = scratch().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn bootscript(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootscript"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // (A tool that ends without reading its input, as at a wrong command line, closes the pipe first.)
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_prints_and_exits_zero() {
    let path = script(
        "ok.bs",
        "let name = prompt(\"Name: \")\nprint(\"hello\", name)\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap()], "world\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Name: hello world\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn hidden_prompt_writes_a_newline_and_never_the_passphrase() {
    let path = script(
        "pass.bs",
        "let p = prompt(\"Passphrase: \", echo=false)\nprint(len(p))\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap()], "s3cret-pass\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "Passphrase: \n11\n");
    assert!(!text(&out.stdout).contains("s3cret") && !text(&out.stderr).contains("s3cret"));
}

/// A passphrase passed by mistake where a name goes (swapped arguments, a hash's name) is not quoted by the
/// error, caught or uncaught: the primitives' errors say `(hidden input)` where they would quote it.
#[test]
fn errors_never_quote_a_hidden_input() {
    let path = script(
        "swapped.bs",
        "let pass = prompt(\"pw: \", echo=false)
try { luks_open(pass, \"hd0p1\", \"root\") } catch e { print(e) }
try { mount(pass, \"/\") } catch e { print(e) }
try { pbkdf2(pass, \"x\", \"salt\", 1, 32) } catch e { print(e) }
try { keymap(pass) } catch e { print(e) }
mount(\"/\", pass)
",
    );
    let out = bootscript(&["run", path.to_str().unwrap()], "Tq7-swapped\n");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(
        text(&out.stdout),
        "pw: 
no device named (hidden input) (see disks())
no device named (hidden input) (see disks())
unknown hash (hidden input)
unknown keymap (hidden input) (us, uk, de, fr)
"
    );
    assert!(!text(&out.stderr).contains("Tq7"), "{}", text(&out.stderr));
}

#[test]
fn runtime_error_exits_70_with_the_position_on_stderr() {
    let path = script(
        "fail.bs",
        "print(\"before\")\nlet x = [1][5]\nprint(\"after\")\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(text(&out.stdout), "before\n");
    assert_eq!(
        text(&out.stderr),
        format!("{}:2:9: error: index out of range\n", path.display())
    );
}

#[test]
fn end_of_input_at_prompt_is_a_runtime_error() {
    let path = script("eof.bs", "prompt(\"? \")\n");
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert!(
        text(&out.stderr).ends_with(":1:1: error: end of input\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn syntax_error_exits_65_and_nothing_runs() {
    let path = script("syntax.bs", "print(\"never\")\nlet = 2\n");
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!("{}:2:5: error: expected a name near '='\n", path.display())
    );
    // A file that is not UTF-8 (a Latin-1 `é` in a comment) is a syntax error at its first bad byte.
    let path = scratch().join("latin1.bs");
    std::fs::write(&path, b"print(\"never\")\n# caf\xe9\n").unwrap();
    for command in ["run", "check"] {
        let out = bootscript(&[command, path.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(65), "{command}");
        assert_eq!(text(&out.stdout), "", "{command}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "{}:2:6: error: not UTF-8 text (byte 0xe9)\n",
                path.display()
            ),
            "{command}"
        );
    }
}

#[test]
fn check_reports_syntax_unknown_names_and_argument_counts() {
    let good = script("good.bs", "fn f(a) { return len(a) }\nprint(f(\"x\"))\n");
    let out = bootscript(&["check", good.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "", "check runs nothing");
    let bad = script("bad.bs", "print(nosuch)\nlen(1, 2)\n");
    let out = bootscript(&["check", bad.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    let p = bad.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{p}:1:7: error: unknown name 'nosuch'\n{p}:2:1: error: too many arguments to len\n"
        )
    );
    let syntax = script("bad2.bs", "if {\n");
    let out = bootscript(&["check", syntax.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    // Several files: each is checked, and the status is the first failure's.
    let (good, bad, syntax) = (
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        syntax.to_str().unwrap(),
    );
    let out = bootscript(&["check", good, bad, "/nonexistent.bs", syntax], "");
    assert_eq!(out.status.code(), Some(65));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{p}:2:1: error: too many arguments to len\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains("bootscript: cannot read /nonexistent.bs"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{syntax}:2:1: error:")),
        "{stderr}"
    );
    assert_eq!(
        bootscript(&["check", good, good], "").status.code(),
        Some(0)
    );
    assert_eq!(
        bootscript(&["check", "/nonexistent.bs", good], "")
            .status
            .code(),
        Some(64)
    );
}

/// `check` goes through every file and exits with the first failure's status, whatever fails after it: a file
/// that cannot be read (64) before one with errors (65) is 64, the other way round 65; both are said.
#[test]
fn check_exits_with_the_first_failures_status() {
    let bad = script("first-bad.bs", "print(nosuch)\n");
    let bad = bad.to_str().unwrap();
    for (args, status) in [
        (["check", "/nonexistent.bs", bad], 64),
        (["check", bad, "/nonexistent.bs"], 65),
    ] {
        let out = bootscript(&args, "");
        assert_eq!(out.status.code(), Some(status), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("bootscript: cannot read /nonexistent.bs")
                && stderr.contains(&format!("{bad}:1:7: error: unknown name 'nosuch'\n")),
            "{args:?}: {stderr}"
        );
    }
}

/// `check`'s argument counts are the built-ins': `cmdline` and `args` are values the command line gives, not
/// built-ins, so a call of one is left to the run (which cannot call a str) and is no argument-count error of a
/// built-in with no name.
#[test]
fn check_counts_arguments_of_built_ins_only() {
    let path = script("call-cmdline.bs", "print(cmdline(1))\nprint(args(2, 3))\n");
    let out = bootscript(&["check", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert!(
        text(&out.stderr).ends_with(":1:7: error: cannot call str\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cmdline_sets_cmdline_and_args() {
    let path = script("args.bs", "print(cmdline)\nprint(args)\n");
    let out = bootscript(
        &[
            "run",
            path.to_str().unwrap(),
            "--cmdline",
            "quiet root=/dev/sda1",
        ],
        "",
    );
    assert_eq!(
        text(&out.stdout),
        "quiet root=/dev/sda1\n{quiet: true, root: \"/dev/sda1\"}\n"
    );
}

/// Runs a program the test needs (made by `make setup`); its absence is a failure, not a skip.
fn tool(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program} is needed (make setup installs it): {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// An image of file system `kind` (`ext2`, `ext4`) and `size` (`8M`), made by mke2fs from a tree that holds the
/// file `file` (a path such as `boot/hello.txt`) with `contents`; `name` names the tree and the image.
fn ext_image(name: &str, kind: &str, size: &str, file: &str, contents: &str) -> std::path::PathBuf {
    let tree = scratch().join(name);
    script(&format!("{name}/{file}"), contents);
    let image = scratch().join(format!("{name}.img"));
    tool(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            kind,
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
            size,
        ],
    );
    image
}

#[test]
fn disk_images_are_hd0_hd1_and_their_files_read_right() {
    let image = ext_image(
        "tree",
        "ext4",
        "8M",
        "boot/hello.txt",
        "hello from an ext4 image\n",
    );
    let path = script(
        "disk.bs",
        "for d in disks() { print(d.name, d.size, d.kind) }\n\
         mount(\"hd1\", \"/\")\n\
         print(ls(\"/boot\"), text(read(\"/boot/hello.txt\")))\n\
         mount(\"hd9\", \"/\")\n",
    );
    let image = image.to_str().unwrap();
    let out = bootscript(
        &[
            "run",
            path.to_str().unwrap(),
            "--disk",
            image,
            "--disk",
            image,
        ],
        "",
    );
    assert_eq!(
        text(&out.stdout),
        "hd0 8388608 disk\nhd1 8388608 disk\n[\"hello.txt\"] hello from an ext4 image\n\n"
    );
    assert!(
        text(&out.stderr).ends_with(":4:1: error: no device named 'hd9' (see disks())\n"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(70));
}

/// A disk itself (a block device, as `/dev/sda` is) reads as its image does: its size is not its metadata's
/// (0 bytes for a block device). The block device is a read-only loop device over an ext4 image, which needs
/// root and the loop driver; where `losetup` cannot make one, the test says so on stderr and checks nothing.
#[test]
fn a_block_device_is_a_disk_of_its_size() {
    let image = ext_image(
        "block-tree",
        "ext4",
        "8M",
        "boot/hello.txt",
        "hello from a block device\n",
    );
    let made = Command::new("losetup")
        .args(["--read-only", "--find", "--show"])
        .arg(&image)
        .output();
    let device = match made {
        Ok(out) if out.status.success() => text(&out.stdout).trim().to_string(),
        other => {
            eprintln!("a_block_device_is_a_disk_of_its_size: no loop device here ({other:?}); not checked");
            return;
        }
    };
    let path = script(
        "block.bs",
        "print(disks()[0].size)\nmount(\"hd0\", \"/\")\nprint(text(read(\"/boot/hello.txt\")))\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap(), "--disk", &device], "");
    let _ = Command::new("losetup").args(["--detach", &device]).status();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "8388608\nhello from a block device\n\n");
}

/// A disk itself of 4096-byte logical sectors ("4Kn") has its MBR read in them, as Linux says its sectors are: a
/// read-only loop device of 4096-byte sectors over an image that fdisk partitioned so (an MBR, which does not say
/// its unit itself). As above, where `losetup` cannot make one, the test says so and checks nothing.
#[test]
fn a_block_device_of_4096_byte_sectors_has_its_table_read_in_them() {
    let fs = ext_image(
        "4kn-tree",
        "ext4",
        "8M",
        "boot/hello.txt",
        "hello from a 4Kn disk\n",
    );
    let image = scratch().join("4kn.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let mut fdisk = Command::new("fdisk")
        .args(["-b", "4096"])
        .arg(&image)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("fdisk (make setup installs it)");
    let commands = b"o\nn\np\n1\n\n\nw\n";
    fdisk.stdin.take().unwrap().write_all(commands).unwrap();
    assert!(fdisk.wait().unwrap().success());
    // fdisk's first partition starts at 1 MiB: its sector 256.
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap(),
        &std::fs::read(&fs).unwrap(),
        1 << 20,
    )
    .unwrap();
    let made = Command::new("losetup")
        .args(["--read-only", "--sector-size", "4096", "--find", "--show"])
        .arg(&image)
        .output();
    let device = match made {
        Ok(out) if out.status.success() => text(&out.stdout).trim().to_string(),
        other => {
            eprintln!("a_block_device_of_4096_byte_sectors...: no loop device here ({other:?}); not checked");
            return;
        }
    };
    let path = script(
        "4kn.bs",
        "print(disks()[1])\nmount(\"hd0p1\", \"/\")\nprint(text(read(\"/boot/hello.txt\")))\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap(), "--disk", &device], "");
    let _ = Command::new("losetup").args(["--detach", &device]).status();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{name: \"hd0p1\", size: 15728640, kind: \"partition\"}\nhello from a 4Kn disk\n\n"
    );
}

#[test]
fn exec_is_a_dry_run_that_names_what_would_boot() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let dir = script("boot/cmd.txt", "")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let kernel = dir.join("boot/kernel.elf");
    tool(
        root.join("tests/mb2kernel/build.sh").to_str().unwrap(),
        &[kernel.to_str().unwrap()],
    );
    std::fs::write(dir.join("boot/initrd.img"), vec![7u8; 5000]).unwrap();
    let image = dir.join("exec.img");
    tool("mkfs.fat", &["-C", image.to_str().unwrap(), "4096"]);
    tool(
        "mcopy",
        &[
            "-s",
            "-i",
            image.to_str().unwrap(),
            dir.join("boot").to_str().unwrap(),
            "::/",
        ],
    );
    let path = script(
        "exec.bs",
        "mount(\"hd0\", \"/\")\n\
         let pass = prompt(\"Passphrase: \", echo=false)\n\
         exec(\"/boot/kernel.elf\", cmdline=\"hello\", initrd=[\"/boot/initrd.img\"], files={\"/etc/keys/k\": pass})\n\
         print(\"not reached\")\n",
    );
    let out = bootscript(
        &[
            "run",
            path.to_str().unwrap(),
            "--disk",
            image.to_str().unwrap(),
        ],
        "s3cret\n",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("exec: dry run: would boot /boot/kernel.elf as a multiboot2 kernel\n"),
        "{stdout}"
    );
    assert!(stdout.contains("exec: command line: hello\n"), "{stdout}");
    assert!(
        stdout.contains("exec: initrd /boot/initrd.img (5000 bytes)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exec: file handed on: /etc/keys/k (6 bytes)\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("not reached") && !stdout.contains("s3cret"),
        "{stdout}"
    );
    // The entry said is the kernel's own (its ELF header's: the kernel has no entry address tag).
    let elf = std::fs::read(&kernel).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x01", "a 32-bit ELF");
    let entry = u32::from_le_bytes(elf[24..28].try_into().unwrap());
    assert!(
        stdout.contains(&format!("exec: Multiboot2 entry {entry:#x}, ")),
        "{stdout}"
    );
}

#[test]
fn steps_limit_the_run() {
    let path = script("loop.bs", "while true { }\n");
    let out = bootscript(&["run", path.to_str().unwrap(), "--steps", "1000"], "");
    assert_eq!(out.status.code(), Some(70));
    assert!(text(&out.stderr).ends_with(":1:7: error: step budget exhausted\n"));
    // Exactly N steps: a loop's turn is one.
    let path = script(
        "count.bs",
        "let n = 0\nwhile true {\n  n = n + 1\n  print(n)\n}\n",
    );
    let out = bootscript(&["run", path.to_str().unwrap(), "--steps", "25"], "");
    assert_eq!(out.status.code(), Some(70));
    let printed: Vec<String> = (1..=25).map(|n| format!("{n}\n")).collect();
    assert_eq!(text(&out.stdout), printed.concat());
}

#[test]
fn deep_recursion_and_nesting_are_errors_not_crashes() {
    let path = script("deep.bs", "fn f(n) { return f(n + 1) }\nf(0)\n");
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert!(text(&out.stderr).contains("error: too many nested calls"));
    let path = script("parens.bs", &"(".repeat(100_000));
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    assert!(text(&out.stderr).contains("error: too deeply nested near '('"));
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(bootscript(&[], "").status.code(), Some(64));
    assert_eq!(bootscript(&["run"], "").status.code(), Some(64));
    // `check` with no file to check is no successful check.
    let out = bootscript(&["check"], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).starts_with("usage:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        bootscript(&["run", "/nonexistent/x.bs"], "").status.code(),
        Some(64)
    );
}

/// A wrong command line says what was wrong before the usage; `--help` is the usage on stdout, successfully.
#[test]
fn usage_errors_name_what_was_wrong() {
    let path = script("wrong-args.bs", "print(1)\n");
    let path = path.to_str().unwrap();
    let disk = script("args.img", "");
    let disk = disk.to_str().unwrap();
    for (args, said) in [
        (vec!["run", path, "--foo"], "unknown option '--foo'"),
        (vec!["run", path, "--disk"], "--disk needs a value"),
        (vec!["run", path, path], "one script only, not also"),
        (
            vec!["run", path, "--cmdline", "a", "--cmdline", "b"],
            "--cmdline is given once",
        ),
        (
            vec!["check", path, "--disk", disk],
            "check takes files only, not '--disk'",
        ),
        (
            vec![
                "run", path, "--disk", disk, "--disk", disk, "--disk", disk, "--disk", disk,
                "--disk", disk,
            ],
            "at most 4 --disk images",
        ),
    ] {
        let out = bootscript(&args, "");
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with(&format!("bootscript: {said}")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("usage:"), "{args:?}: {stderr}");
    }
    for help in ["--help", "-h"] {
        let out = bootscript(&[help], "");
        assert_eq!(out.status.code(), Some(0));
        assert!(
            text(&out.stdout).starts_with("usage:\n"),
            "{}",
            text(&out.stdout)
        );
    }
    // An image whose size is no whole number of sectors: said, and its whole sectors used.
    let odd = script("odd.img", &"x".repeat(1000));
    let count = script("count.bs", "print(disks()[0].size)\n");
    let out = bootscript(
        &[
            "run",
            count.to_str().unwrap(),
            "--disk",
            odd.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "512\n");
    assert!(
        text(&out.stderr).ends_with("its last 488 bytes are no whole sector and are left out\n"),
        "{}",
        text(&out.stderr)
    );
}

/// Four `--disk` images, as many as the payload's ATA positions, are taken (five are refused, above).
#[test]
fn four_disk_images_are_hd0_to_hd3() {
    let disk = script("four.img", &"x".repeat(1024));
    let disk = disk.to_str().unwrap();
    let path = script("four.bs", "for d in disks() { print(d.name, d.size) }\n");
    let out = bootscript(
        &[
            "run",
            path.to_str().unwrap(),
            "--disk",
            disk,
            "--disk",
            disk,
            "--disk",
            disk,
            "--disk",
            disk,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "hd0 1024\nhd1 1024\nhd2 1024\nhd3 1024\n"
    );
}

#[test]
fn a_disk_image_that_cannot_be_opened_stops_before_the_script_runs() {
    let path = script("never.bs", "print(\"ran\")\n");
    let path = path.to_str().unwrap();
    let dir = scratch().to_str().unwrap().to_string();
    for (disk, error) in [
        ("/nonexistent/disk.img", "No such file or directory"),
        (dir.as_str(), "is a directory"),
    ] {
        for args in [
            vec!["run", path, "--disk", disk],
            vec!["repl", "--disk", disk],
        ] {
            let out = bootscript(&args, "print(\"ran\")\n");
            assert_eq!(out.status.code(), Some(64), "{args:?}");
            assert_eq!(text(&out.stdout), "", "{args:?}");
            assert!(
                text(&out.stderr).starts_with(&format!("bootscript: --disk {disk}: {error}")),
                "{args:?}: {}",
                text(&out.stderr)
            );
        }
    }
    let out = bootscript(&["run", path, "--steps", "many"], "");
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        text(&out.stderr),
        "bootscript: --steps takes a count of steps, not 'many'\n"
    );
}

#[test]
fn repl_has_the_disks_and_the_command_line() {
    let image = ext_image("repl-tree", "ext2", "2M", "etc/motd", "hi\n");
    let input = "mount(\"hd0\", \"/\")\nls(\"/etc\")\nargs.root\n";
    let out = bootscript(
        &[
            "repl",
            "--disk",
            image.to_str().unwrap(),
            "--cmdline",
            "root=hd0 quiet",
        ],
        input,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let p = "bootscript> ";
    assert_eq!(
        text(&out.stdout),
        format!("{p}{p}[\"motd\"]\n{p}\"hd0\"\n{p}\n")
    );
    // Options of `run` only, or a script, are not the shell's.
    for args in [&["repl", "--steps", "10"][..], &["repl", "x.bs"]] {
        assert_eq!(bootscript(args, "").status.code(), Some(64), "{args:?}");
    }
}

#[test]
fn repl_keeps_globals_prints_values_and_reads_multiple_lines() {
    let input = "let x = 2\nx * 21\nfn add(a,\n  b) {\n  return a + b\n}\nadd(x, 1)\n\"text\"\nprint(\"shown\")\nnope\nx\n";
    let out = bootscript(&["repl"], input);
    assert_eq!(out.status.code(), Some(0));
    let p = "bootscript> ";
    let expected = format!(
        "{p}{p}42\n{p}... ... ... {p}3\n{p}\"text\"\n{p}shown\n{p}shell:1:1: error: unknown name 'nope'\n{p}2\n{p}\n"
    );
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn help_lists_every_built_in() {
    let out = bootscript(&["help"], "");
    let help = text(&out.stdout);
    for name in [
        "print(",
        "prompt(message, echo=true)",
        "aes_setup(",
        "exec(kernel, cmdline=\"\"",
        "umount(",
    ] {
        assert!(help.contains(name), "{name} missing from:\n{help}");
    }
}

#[test]
fn halt_and_reboot_end_the_run_successfully_on_the_host() {
    for call in ["halt()", "reboot()"] {
        let path = script(
            "stop.bs",
            &format!("print(\"before\")\n{call}\nprint(\"never\")\n"),
        );
        let out = bootscript(&["run", path.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(0), "{call}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "before\n");
        // They do not return, so no `try` catches them; and nothing after them runs, an error included.
        let path = script(
            "caught.bs",
            &format!("try {{ {call} }} catch e {{ print(\"caught\", e) }}\nlet x = [1][7]\n"),
        );
        let out = bootscript(&["run", path.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(0), "{call}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{call}");
        assert_eq!(text(&out.stderr), "", "{call}");
        // At the shell too: it ends, successfully.
        let out = bootscript(&["repl"], &format!("print(\"a\")\n{call}\nprint(\"b\")\n"));
        assert_eq!(out.status.code(), Some(0), "{call}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "bootscript> a
bootscript> ",
            "{call}"
        );
    }
}

/// A `bootscript` whose stdout is read as it comes, for the Ctrl-C tests: stdin stays open until `close`.
struct Interactive {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Interactive {
    fn start(args: &[&str]) -> Interactive {
        Interactive::spawn(Command::new(env!("CARGO_BIN_EXE_bootscript")).args(args))
    }

    /// The tool on a terminal of its own: util-linux's `script` runs it on a pseudo-terminal and passes stdin
    /// and stdout through (the terminal's output, with its `\r\n` line ends). `script` starts the command with
    /// `$SHELL -c`; the `exec` makes the tool the terminal's only process whatever that shell is (dash, unlike
    /// bash, would stay in between, and a Ctrl-C typed would kill it).
    fn on_terminal(args: &str) -> Interactive {
        let command = format!("exec '{}' {args}", env!("CARGO_BIN_EXE_bootscript"));
        Interactive::spawn(Command::new("script").args(["-qec", &command, "/dev/null"]))
    }

    fn spawn(command: &mut Command) -> Interactive {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let shared = std::sync::Arc::clone(&out);
        std::thread::spawn(move || {
            use std::io::Read;
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                shared.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Interactive { child, out }
    }

    fn stdout(&self) -> String {
        text(&self.out.lock().unwrap())
    }

    /// Waits until stdout ends with `tail`, then a little longer, for the tool to be in what comes next (a
    /// read of stdin, a loop).
    fn wait_for(&mut self, tail: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !self.stdout().ends_with(tail) {
            if std::time::Instant::now() > deadline || self.child.try_wait().unwrap().is_some() {
                let _ = self.child.kill();
                panic!("stdout does not end with {tail:?}: {:?}", self.stdout());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    fn send(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Ctrl-C on a terminal: SIGINT to the tool.
    fn ctrl_c(&mut self) {
        let pid = self.child.id().to_string();
        tool("kill", &["-INT", &pid]);
    }

    /// The exit status (stdin still open: the tool must end by itself) and stderr.
    fn wait(mut self) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running 20 s after Ctrl-C: {:?}", self.stdout());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let output = self.child.wait_with_output().unwrap();
        (output.status.code(), text(&output.stderr))
    }
}

#[test]
fn ctrl_c_stops_a_running_script_a_prompt_and_a_sleep_with_their_position() {
    for (name, source, shown, error) in [
        (
            "spin.bs",
            "print(\"go\")\nwhile true {}\n",
            "go\n",
            "spin.bs:2:7: error: interrupted (Ctrl-C)\n",
        ),
        (
            "ask.bs",
            "let p = prompt(\"say: \")\nprint(p)\n",
            "say: ",
            "ask.bs:1:9: error: interrupted (Ctrl-C)\n",
        ),
        (
            "nap.bs",
            "print(\"go\")\nsleep_ms(600000)\nprint(\"slept\")\n",
            "go\n",
            "nap.bs:2:1: error: interrupted (Ctrl-C)\n",
        ),
    ] {
        let path = script(name, source);
        let mut run = Interactive::start(&["run", path.to_str().unwrap()]);
        run.wait_for(shown);
        run.ctrl_c();
        let (status, stderr) = run.wait();
        assert_eq!(status, Some(70), "{name}: {stderr}");
        assert!(stderr.ends_with(error), "{name}: {stderr}");
    }
}

#[test]
fn ctrl_c_in_the_repl_stops_the_statement_or_drops_the_input_being_typed() {
    let p = "bootscript> ";
    let mut repl = Interactive::start(&["repl"]);
    repl.wait_for(p);
    repl.send("let n = 0\nwhile true { n = n + 1 }\n");
    repl.wait_for(&format!("{p}{p}"));
    repl.ctrl_c();
    repl.wait_for(&format!("shell:1:7: error: interrupted (Ctrl-C)\n{p}"));
    // The globals are kept: the loop ran, and stopped.
    repl.send("n > 0\nfn f(a,\n");
    repl.wait_for(&format!("true\n{p}... "));
    repl.ctrl_c();
    repl.wait_for(&format!("... \n{p}"));
    // The half-typed function is gone: this line is read on its own.
    repl.send("6 * 7\n");
    repl.wait_for(&format!("42\n{p}"));
    drop(repl.child.stdin.take());
    let (status, stderr) = repl.wait();
    assert_eq!(status, Some(0), "{stderr}");
}

#[test]
fn the_repl_on_a_terminal_edits_lines_recalls_them_and_hides_a_passphrase() {
    let p = "bootscript> ";
    let mut repl = Interactive::on_terminal("repl");
    repl.wait_for(p);
    // Backspace erases the `x`; the up arrow recalls the last line, which runs again.
    repl.send("6 * 7x\u{7f}\r");
    repl.wait_for(&format!("42\r\n{p}"));
    // A pasted CR LF is one Enter, not two.
    repl.send("1 + 1\r\n");
    repl.wait_for(&format!("2\r\n{p}"));
    repl.send("\u{1b}[A\r");
    repl.wait_for(&format!("{p}1 + 1\r\n2\r\n{p}"));
    // A passphrase is not shown as it is typed.
    repl.send("let pass = prompt(\"pw: \", echo=false)\r");
    repl.wait_for("pw: ");
    repl.send("Tq7-hidden\r");
    repl.wait_for(p);
    repl.send("len(pass)\r");
    repl.wait_for(&format!("10\r\n{p}"));
    // Ctrl-C drops a half-typed input; Ctrl-D on an empty line ends the shell.
    repl.send("fn f(a,\r");
    repl.wait_for("... ");
    repl.send("\u{3}");
    repl.wait_for(&format!("^C\r\n{p}"));
    repl.send("1 + 1\r");
    repl.wait_for(&format!("2\r\n{p}"));
    repl.send("\u{4}");
    let out = repl.stdout();
    let (status, stderr) = repl.wait();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(!out.contains("Tq7-hidden"), "{out:?}");
    assert!(!out.contains(&format!("2\r\n{p}\r\n{p}")), "{out:?}");
    assert!(
        out.contains(&format!("{p}6 * 7x\u{8} \u{8}\r\n42\r\n")),
        "{out:?}"
    );
}

/// `run boot.bs > log` at a terminal: the person typing sees each prompt and what they type (on stderr, the
/// terminal), never a passphrase; the log gets the script's output and the prompts' text, not what was typed.
#[test]
fn with_stdout_in_a_file_the_prompts_still_show_on_the_terminal() {
    let path = script(
        "prompts.bs",
        "print(\"start\")\nlet name = prompt(\"name: \")\nlet pass = prompt(\"pw: \", echo=false)\nprint(\"hello \" + name, len(pass))\n",
    );
    let log = scratch().join("prompts.log");
    let mut run =
        Interactive::on_terminal(&format!("run '{}' > '{}'", path.display(), log.display()));
    run.wait_for("name: ");
    run.send("moon\r");
    run.wait_for("name: moon\r\npw: ");
    run.send("Tq7-hidden\r");
    run.wait_for("pw: \r\n");
    let terminal = run.stdout();
    let (status, stderr) = run.wait();
    assert_eq!(status, Some(0), "{stderr}");
    // (The terminal shows only the conversation: the output went to the file.)
    assert_eq!(terminal, "name: moon\r\npw: \r\n");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start\nname: \npw: \nhello moon 10\n"
    );
}

/// Input without end is refused, never read into memory without end: a script file, and a prompt's line.
#[test]
fn endless_input_is_an_error_not_endless_memory() {
    let out = bootscript(&["check", "/dev/zero"], "");
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "/dev/zero:1:1: error: script too large: more than 2097152 bytes\n"
    );
    // A long script of characters beyond ASCII is too large too: it is read up to the limit and a little more,
    // and not cut inside a character and called "not UTF-8". (64 MiB: the tool once read as much as the memory
    // limit and one byte, which cut one here.)
    let long = script("long.bs", &format!("# {}\n", "\u{e9}".repeat(32 << 20)));
    let out = bootscript(&["check", long.to_str().unwrap()], "");
    let _ = std::fs::remove_file(&long);
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:1:1: error: script too large: more than 2097152 bytes\n",
            long.display()
        )
    );
    let path = script("line.bs", "let p = prompt(\"q: \")\nprint(len(p))\n");
    let out = Command::new(env!("CARGO_BIN_EXE_bootscript"))
        .args(["run", path.to_str().unwrap()])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(70), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).ends_with("line.bs:1:9: error: the line is longer than 16384 bytes\n"),
        "{}",
        text(&out.stderr)
    );
    // A line that long but ended is read whole.
    let long = "é".repeat(4096);
    let out = bootscript(&["run", path.to_str().unwrap()], &format!("{long}\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "q: 4096\n");
}

/// A line as long as the payload's editor keeps (4096 characters), of characters as long as UTF-8 has them (4
/// bytes) and ended by CR LF, is read whole from a pipe: the limit is the bytes such a line can take.
#[test]
fn the_longest_line_of_four_byte_characters_is_read_whole() {
    let path = script("wide-line.bs", "let p = prompt(\"q: \")\nprint(len(p))\n");
    let long = "\u{1F600}".repeat(4096);
    assert_eq!(long.len(), 16384);
    let out = bootscript(&["run", path.to_str().unwrap()], &format!("{long}\r\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "q: 4096\n");
}

/// The end of input at a prompt ends the prompt's line before the error, as at any other failed read.
#[test]
fn end_of_input_at_a_prompt_ends_its_line() {
    let path = script("eof-line.bs", "let n = prompt(\"Name: \")\n");
    let out = bootscript(&["run", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(text(&out.stdout), "Name: \n");
    assert!(
        text(&out.stderr).ends_with("error: end of input\n"),
        "{}",
        text(&out.stderr)
    );
    // At the shell: the prompt's line is ended once.
    let out = bootscript(&["repl"], "1\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "bootscript> 1\nbootscript> \n");
    // An input left unfinished at the end is not dropped unsaid.
    let out = bootscript(&["repl"], "let x = [1,\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "bootscript> ... \nshell:2:1: error: expected an expression near end of input\n"
    );
}

/// Output that cannot be written ends the run (74): a script printing into a closed pipe does not run on unseen
/// (silently: whoever closed it wanted no more), nor into a full disk (said on stderr).
#[test]
fn output_that_cannot_be_written_ends_the_run() {
    let path = script(
        "print-loop.bs",
        "let i = 0\nwhile true { print(i)\ni = i + 1 }\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootscript"))
        .args(["run", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let out = Command::new(env!("CARGO_BIN_EXE_bootscript"))
        .args(["run", path.to_str().unwrap()])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(
        text(&out.stderr),
        "bootscript: cannot write the output: No space left on device (os error 28)\n"
    );
}

/// A signal that ends the tool at a prompt (SIGTERM, SIGHUP) gives the terminal its settings back: left raw,
/// the shell after it would show nothing typed.
#[test]
fn a_signal_at_a_prompt_leaves_the_terminal_as_it_was() {
    for (signal, name) in [("TERM", "sigterm"), ("HUP", "sighup")] {
        let path = script(&format!("{name}.bs"), "let n = prompt(\"Name: \")\n");
        let tool = env!("CARGO_BIN_EXE_bootscript");
        let mark = format!("{}-{name}", std::process::id());
        let command = format!(
            "'{tool}' run '{}' --cmdline {mark}; stty -a",
            path.display()
        );
        let mut run =
            Interactive::spawn(Command::new("script").args(["-qec", &command, "/dev/null"]));
        run.wait_for("Name: ");
        run.send("ab");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let pattern = format!("^{tool} run .* --cmdline {mark}$");
        let killed = Command::new("pkill")
            .args([&format!("-{signal}"), "-f", &pattern])
            .status()
            .unwrap();
        assert!(killed.success(), "{name}: no process matched {pattern}");
        let shared = std::sync::Arc::clone(&run.out);
        let (_, stderr) = run.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let out = text(&shared.lock().unwrap());
        assert!(
            out.contains("icanon") && out.contains("echo"),
            "{name}: {out:?} {stderr}"
        );
        for raw in [" -icanon", " -echo ", " -icrnl"] {
            assert!(
                !out.contains(raw),
                "{name}: the terminal was left with {raw}: {out:?}"
            );
        }
    }
}

/// The terminal settings of the process matched by `pattern` (`pgrep -f`), through its stdin, by `stty -a`.
fn terminal_settings_of(pattern: &str) -> (String, String) {
    let pids = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    let pid = text(&pids.stdout).trim().to_string();
    assert!(
        !pid.is_empty() && !pid.contains('\n'),
        "pgrep {pattern}: {pid:?}"
    );
    let tty = format!("/proc/{pid}/fd/0");
    let settings = Command::new("stty")
        .args(["-F", &tty, "-a"])
        .output()
        .unwrap();
    (pid, text(&settings.stdout))
}

/// Stopped at a hidden prompt and continued after the shell set the terminal its way (echo on, as bash does at
/// a stop), the tool puts raw mode back: the passphrase typed then is not shown. Ctrl-Z (SIGTSTP) where no shell
/// could continue the tool (its process group is orphaned, and the kernel drops the stop) leaves it reading,
/// raw still.
#[test]
fn a_hidden_prompt_stays_hidden_after_a_stop() {
    let path = script(
        "stopped.bs",
        "let p = prompt(\"pw: \", echo=false)\nprint(len(p))\n",
    );
    let bin = env!("CARGO_BIN_EXE_bootscript");
    let mark = format!("{}-stopped", std::process::id());
    let command = format!("exec '{bin}' run '{}' --cmdline {mark}", path.display());
    let mut run = Interactive::spawn(Command::new("script").args(["-qec", &command, "/dev/null"]));
    run.wait_for("pw: ");
    let pattern = format!("^{bin} run .* --cmdline {mark}$");
    let (pid, settings) = terminal_settings_of(&pattern);
    assert!(settings.contains(" -echo "), "{settings}");
    tool("kill", &["-TSTP", &pid]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, settings) = terminal_settings_of(&pattern);
    assert!(settings.contains(" -echo "), "after SIGTSTP: {settings}");
    tool("kill", &["-STOP", &pid]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let tty = format!("/proc/{pid}/fd/0");
    tool("stty", &["-F", &tty, "echo", "icanon", "icrnl"]);
    tool("kill", &["-CONT", &pid]);
    // (`script` stops itself when the process on its terminal stops, to pass the stop on to its own shell.)
    tool("kill", &["-CONT", &run.child.id().to_string()]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    run.send("Tq7-stopped\r");
    run.wait_for("11\r\n");
    let out = run.stdout();
    let (status, stderr) = run.wait();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(!out.contains("Tq7"), "{out:?}");
}

/// Output that cannot be written ends the tool (status 74) with the terminal given back, not left raw:
/// `repl 2>/dev/null | head -c 5` at a terminal, where the echo of the first key typed (on stdout, as stderr is
/// no terminal) is what cannot be written.
#[test]
fn output_that_cannot_be_written_leaves_the_terminal_as_it_was() {
    let bin = env!("CARGO_BIN_EXE_bootscript");
    let command = format!("'{bin}' repl 2>/dev/null | head -c 5; echo; stty -a");
    let mut run = Interactive::spawn(Command::new("script").args(["-qec", &command, "/dev/null"]));
    run.wait_for("boots");
    run.send("1");
    let shared = std::sync::Arc::clone(&run.out);
    let (status, stderr) = run.wait();
    assert_eq!(status, Some(0), "{stderr}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let out = text(&shared.lock().unwrap());
    assert!(out.contains("icanon") && out.contains("echo"), "{out:?}");
    for raw in [" -icanon", " -echo ", " -icrnl"] {
        assert!(
            !out.contains(raw),
            "the terminal was left with {raw}: {out:?}"
        );
    }
}

/// The parse benchmark says what is wrong with a file that does not parse, as `check` does.
#[test]
fn bench_parse_reports_a_syntax_error() {
    for (source, error) in [
        (
            "let x = = 1\n",
            "1:9: error: expected an expression near '='",
        ),
        (
            "let x = [1,\n",
            "2:1: error: expected an expression near end of input",
        ),
    ] {
        let path = script("bench.bs", source);
        let out = bootscript(&["bench-parse", path.to_str().unwrap(), "3"], "");
        assert_eq!(out.status.code(), Some(65), "{source:?}");
        assert!(
            text(&out.stderr).ends_with(&format!("bench.bs:{error}\n")),
            "{}",
            text(&out.stderr)
        );
    }
    let path = script("fine.bs", "let x = [1, 2]\n");
    let out = bootscript(&["bench-parse", path.to_str().unwrap(), "3"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
