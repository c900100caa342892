//! The boot test harness: boots the real payload through real GRUB in QEMU and talks to it over serial.
//!
//! ```no_run
//! use bootscript_boot_tests::{Boot, Exit};
//! use std::time::Duration;
//! let mut vm = Boot::new().cmdline("test=echo").module("greeting", "hello").start();
//! vm.expect_line("echo: ready", Duration::from_secs(30));
//! vm.send("hi\r");
//! vm.expect_line("got: [hi]", Duration::from_secs(10));
//! vm.send("exit\r");
//! vm.expect_exit(Exit::Success, Duration::from_secs(10));
//! ```
//!
//! Each boot gets its own temporary directory with a GRUB rescue ISO made by `grub-mkrescue` from a grub.cfg
//! of its own (payload command line, `module2` files). QEMU runs under TCG with `isa-debug-exit`, the serial
//! console on pipes and the monitor on a unix socket (for `sendkey`). Any failed expectation panics with the
//! whole serial transcript.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The GRUB modules the test ISOs need (the same as `make iso`).
const GRUB_MODULES: &str = "multiboot2 normal serial terminal boot xzio memrw";
/// Where Debian's ovmf package puts OVMF's firmware (a UEFI PC's).
const OVMF: &str = "/usr/share/OVMF";

#[path = "../../../payload/src/pf2.rs"]
mod pf2;

/// How QEMU leaves when the payload writes to isa-debug-exit: status `(code << 1) | 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The payload wrote 0x10: it finished what it was asked to do.
    Success,
    /// The payload wrote 0x11: an exception, a panic or a failed check.
    Failure,
}

impl Exit {
    /// The QEMU process exit status for this outcome.
    pub fn status(self) -> i32 {
        match self {
            Exit::Success => 33,
            Exit::Failure => 35,
        }
    }
}

/// The repository root (two levels above this crate).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Runs a tool the test needs and returns its stdout; panics loudly (with its output) when the tool is missing
/// or fails: a missing tool is a failure, never a skip.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e} (run `make setup`)"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Deterministic bytes that look random (xorshift32: no long runs, every byte value), for the files the tests
/// put on disks and hand to the payload; the same `seed` gives the same bytes.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 11) as u8
        })
        .collect()
}

/// The payload the tests boot: `$BOOTSCRIPT_ELF`, or `build/bootscript.elf`.
pub fn payload_path() -> PathBuf {
    std::env::var_os("BOOTSCRIPT_ELF").map_or_else(
        || repository_root().join("build/bootscript.elf"),
        PathBuf::from,
    )
}

/// One line of serial output and when it arrived (since QEMU was started).
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub at: Duration,
}

/// What to boot: command line, modules, disks, CPU model. `start` boots it.
#[derive(Debug, Clone)]
pub struct Boot {
    cmdline: String,
    modules: Vec<(String, Vec<u8>)>,
    disks: Vec<PathBuf>,
    /// Disks at a fixed IDE position (0 primary master ... 3 secondary slave).
    placed_disks: Vec<(u8, PathBuf)>,
    /// Where the GRUB CD sits; `None` is QEMU's `-cdrom` (secondary master).
    cd_position: Option<u8>,
    /// A disk with GRUB installed on it, booted instead of a GRUB CD.
    grub_disk: Option<PathBuf>,
    /// GRUB commands run in the menu entry before it loads the payload.
    grub_commands: Vec<String>,
    cpu: String,
    memory_mib: u32,
    serial: bool,
    /// A UEFI PC (OVMF, q35) booting GRUB's UEFI build from the CD, instead of a BIOS PC.
    uefi: bool,
    qemu_args: Vec<String>,
}

impl Default for Boot {
    fn default() -> Self {
        Self::new()
    }
}

impl Boot {
    /// No command line, no modules, `-cpu qemu64`, 1 GiB of RAM.
    pub fn new() -> Self {
        Boot {
            cmdline: String::new(),
            modules: Vec::new(),
            disks: Vec::new(),
            placed_disks: Vec::new(),
            cd_position: None,
            grub_disk: None,
            grub_commands: Vec::new(),
            cpu: "qemu64".into(),
            memory_mib: 1024,
            serial: true,
            uefi: false,
            qemu_args: Vec::new(),
        }
    }

    /// Boots a UEFI PC instead: QEMU's q35 with OVMF's firmware, from a CD with GRUB's UEFI build, which sets up
    /// a framebuffer (its `efi_gop`) where a BIOS PC has the VGA text screen. [`Vm::screen`] reads the text back
    /// from the framebuffer.
    pub fn uefi(mut self) -> Self {
        self.uefi = true;
        self
    }

    /// The payload's command line (words without quotes or `$`; each is quoted for GRUB).
    pub fn cmdline(mut self, cmdline: &str) -> Self {
        self.cmdline = cmdline.into();
        self
    }

    /// A `module2` file with these contents, named `name` (no spaces or quotes).
    pub fn module(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.modules.push((name.into(), bytes.into()));
        self
    }

    /// A `module2` file copied from `path`.
    pub fn module_file(self, name: &str, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .unwrap_or_else(|e| panic!("cannot read module {}: {e}", path.display()));
        self.module(name, bytes)
    }

    /// A raw disk image attached as an IDE disk (in order: primary master, primary slave, ...).
    pub fn disk(mut self, path: impl AsRef<Path>) -> Self {
        self.disks.push(path.as_ref().to_path_buf());
        self
    }

    /// A raw disk image at IDE position `index`: 0 primary master, 1 primary slave, 2 secondary master,
    /// 3 secondary slave. Position 2 holds the GRUB CD unless `cd_at` moves it.
    pub fn disk_at(mut self, index: u8, path: impl AsRef<Path>) -> Self {
        assert!(index < 4, "IDE positions are 0 to 3, not {index}");
        self.placed_disks.push((index, path.as_ref().to_path_buf()));
        self
    }

    /// Puts the GRUB CD at IDE position `index` (0..=3) instead of the secondary master.
    pub fn cd_at(mut self, index: u8) -> Self {
        assert!(index < 4, "IDE positions are 0 to 3, not {index}");
        self.cd_position = Some(index);
        self
    }

    /// Boots the GRUB installed on this disk image, as a PC boots from its hard disk (`-boot c`), instead of a
    /// GRUB CD made for the test: the disk holds the payload, its grub.cfg and the script, so `cmdline` and
    /// `module` cannot be used with it. It is the primary master (the payload's hd0), opened with `snapshot=on`
    /// (the image is not written, and several QEMUs may share it).
    pub fn grub_disk(mut self, path: impl AsRef<Path>) -> Self {
        self.grub_disk = Some(path.as_ref().to_path_buf());
        self
    }

    /// A GRUB command run in the menu entry before the payload is loaded (`write_byte 0x417 0x40`: the memrw
    /// module is in the ISO), to leave the machine as a user at GRUB's prompt could.
    pub fn grub_command(mut self, command: &str) -> Self {
        self.grub_commands.push(command.into());
        self
    }

    /// The QEMU CPU model (`qemu64`, `max`, ...).
    pub fn cpu(mut self, model: &str) -> Self {
        self.cpu = model.into();
        self
    }

    /// RAM in MiB.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    /// A machine without a serial port (the payload must cope; only the screen and the exit status tell).
    pub fn no_serial(mut self) -> Self {
        self.serial = false;
        self
    }

    /// One more QEMU argument, as is.
    pub fn qemu_arg(mut self, arg: &str) -> Self {
        self.qemu_args.push(arg.into());
        self
    }

    /// The grub.cfg this boot uses. (Its command line's words are GRUB's arguments; see [`grub_words`].)
    pub fn grub_cfg(&self) -> String {
        let mut cfg = String::from(
            "set timeout=0\nset default=0\nserial --unit=0 --speed=115200\n\
             terminal_input serial console\nterminal_output serial console\n\
             menuentry bootscript {\n    insmod xzio\n",
        );
        if self.uefi {
            // The graphics driver of GRUB's UEFI build, without which it passes on no screen at all.
            cfg.push_str("    insmod efi_gop\n");
        }
        for command in &self.grub_commands {
            writeln!(cfg, "    {command}").unwrap();
        }
        cfg.push_str("    multiboot2 /boot/bootscript.elf");
        for word in grub_words(&self.cmdline) {
            write!(cfg, " '{word}'").unwrap();
        }
        cfg.push('\n');
        for (index, (name, _)) in self.modules.iter().enumerate() {
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"'\"$\\;{}".contains(c));
            assert!(plain, "module names must be plain words: {name:?}");
            writeln!(cfg, "    module2 /boot/modules/{index} '{name}'").unwrap();
        }
        cfg.push_str("    boot\n}\n");
        cfg
    }

    /// Makes the GRUB rescue ISO of this boot (its grub.cfg, the payload `elf` and the modules) in `dir`.
    fn make_iso(&self, elf: &Path, dir: &Path) -> PathBuf {
        let iso_root = dir.join("iso");
        std::fs::create_dir_all(iso_root.join("boot/grub")).unwrap();
        std::fs::create_dir_all(iso_root.join("boot/modules")).unwrap();
        std::fs::copy(elf, iso_root.join("boot/bootscript.elf")).unwrap();
        std::fs::write(iso_root.join("boot/grub/grub.cfg"), self.grub_cfg()).unwrap();
        for (index, (_, bytes)) in self.modules.iter().enumerate() {
            std::fs::write(iso_root.join(format!("boot/modules/{index}")), bytes).unwrap();
        }
        let iso = dir.join("boot.iso");
        // One platform's GRUB (with both installed, grub-mkrescue makes a CD for both).
        let (platform, modules) = match self.uefi {
            false => ("i386-pc", GRUB_MODULES.to_string()),
            true => ("x86_64-efi", format!("{GRUB_MODULES} efi_gop")),
        };
        let output = Command::new("grub-mkrescue")
            .arg("-d")
            .arg(format!("/usr/lib/grub/{platform}"))
            .arg("-o")
            .arg(&iso)
            .arg(format!("--install-modules={modules}"))
            .args(["--locales=", "--fonts=", "--themes="])
            .arg(&iso_root)
            .output()
            .unwrap_or_else(|e| panic!("cannot run grub-mkrescue ({e}); run `make setup`"));
        assert!(
            output.status.success(),
            "grub-mkrescue failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        iso
    }

    /// Builds the ISO (none for a boot from a GRUB disk) and boots it. Panics (with a clear message) when the payload or a tool is missing.
    pub fn start(self) -> Vm {
        let elf = payload_path();
        assert!(
            elf.is_file(),
            "{} is missing: build the payload first with `make build` (`make test` does it)",
            elf.display()
        );
        let dir = TempDir::new();
        let iso = match &self.grub_disk {
            None => Some(self.make_iso(&elf, dir.path())),
            Some(disk) => {
                assert!(
                    self.cmdline.is_empty()
                        && self.modules.is_empty()
                        && self.grub_commands.is_empty()
                        && self.cd_position.is_none(),
                    "a boot from {} takes its command line, modules and GRUB commands from that disk's grub.cfg",
                    disk.display()
                );
                None
            }
        };

        let monitor = dir.path().join("monitor.sock");
        let mut command = Command::new("qemu-system-x86_64");
        if self.uefi {
            // OVMF's firmware, and a copy of its variable store of its own (written to as it boots).
            let variables = dir.path().join("OVMF_VARS.fd");
            std::fs::copy(format!("{OVMF}/OVMF_VARS_4M.fd"), &variables)
                .unwrap_or_else(|e| panic!("cannot copy OVMF's variables ({e}); run `make setup`"));
            command
                .args(["-machine", "q35", "-drive"])
                .arg(format!(
                    "if=pflash,format=raw,readonly=on,file={OVMF}/OVMF_CODE_4M.fd"
                ))
                .arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", variables.display()));
        } else {
            command.args(["-machine", "pc"]);
        }
        command
            .args(["-accel", "tcg", "-cpu", &self.cpu])
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-display", "none", "-no-reboot"])
            .args(["-boot", if iso.is_some() { "d" } else { "c" }])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .args(["-serial", if self.serial { "stdio" } else { "none" }])
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()));
        match (&iso, self.cd_position, &self.grub_disk) {
            (Some(iso), None, _) => {
                command.arg("-cdrom").arg(iso);
            }
            (Some(iso), Some(index), _) => {
                command.arg("-drive").arg(format!(
                    "file={},format=raw,if=ide,index={index},media=cdrom,readonly=on",
                    iso.display()
                ));
            }
            (None, _, Some(disk)) => {
                command.arg("-drive").arg(format!(
                    "file={},format=raw,if=ide,index=0,snapshot=on",
                    disk.display()
                ));
            }
            (None, _, None) => unreachable!("a boot without an ISO boots its GRUB disk"),
        }
        // Placed disks first, so that the unplaced ones take the positions left free.
        for (index, disk) in &self.placed_disks {
            command.arg("-drive").arg(format!(
                "file={},format=raw,if=ide,index={index}",
                disk.display()
            ));
        }
        for disk in &self.disks {
            command
                .arg("-drive")
                .arg(format!("file={},format=raw,if=ide", disk.display()));
        }
        command.args(&self.qemu_args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run qemu-system-x86_64 ({e}); run `make setup`"));

        let transcript = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let shared = Arc::clone(&transcript);
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut raw = Vec::new();
            while reader
                .read_until(b'\n', &mut raw)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let text = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                raw.clear();
                shared.lock().unwrap().push_str(&format!("{text}\n"));
                if sender
                    .send(Line {
                        text,
                        at: started.elapsed(),
                    })
                    .is_err()
                {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().unwrap();
        let shared = Arc::clone(&stderr);
        thread::spawn(move || {
            // As it comes (a `-trace` event is read while QEMU runs), whole bytes of UTF-8 kept whole.
            let mut raw = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = child_stderr.read(&mut chunk) {
                raw.extend_from_slice(&chunk[..n]);
                let whole = match std::str::from_utf8(&raw) {
                    Ok(_) => raw.len(),
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    Err(_) => raw.len(),
                };
                let text: Vec<u8> = raw.drain(..whole).collect();
                shared
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&text));
            }
        });
        let stdin = child.stdin.take();
        Vm {
            child,
            stdin,
            lines,
            transcript,
            stderr,
            monitor_path: monitor,
            monitor: None,
            started,
            uefi: self.uefi,
            _dir: dir,
        }
    }
}

/// A running QEMU.
pub struct Vm {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    transcript: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    monitor_path: PathBuf,
    monitor: Option<UnixStream>,
    started: Instant,
    /// A UEFI PC: its screen is a framebuffer.
    uefi: bool,
    _dir: TempDir,
}

impl Vm {
    /// Waits for a line containing `needle`; panics with the transcript if none comes within `timeout`.
    pub fn expect_line(&mut self, needle: &str, timeout: Duration) -> Line {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.text.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no line containing {needle:?} within {timeout:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => self.fail(&format!(
                    "QEMU closed the serial line before a line containing {needle:?}"
                )),
            }
        }
    }

    /// Collects every line until one contains `needle` (that one included).
    pub fn lines_until(&mut self, needle: &str, timeout: Duration) -> Vec<Line> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.text.contains(needle);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => self.fail(&format!("no line containing {needle:?} within {timeout:?}")),
            }
        }
    }

    /// Types `text` into the serial console (use `\r` for Enter, `\u{8}` for backspace, `\u{15}` for Ctrl-U).
    pub fn send(&mut self, text: &str) {
        let sent = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(text.as_bytes()).and_then(|()| s.flush()));
        if !matches!(sent, Some(Ok(()))) {
            self.fail(&format!(
                "cannot type {text:?}: QEMU's serial input is closed"
            ));
        }
    }

    /// At the `test=keys` self-test, once it is ready: types a, Shift+A, 1 and Enter, expects each decoded (the
    /// Shift press is a key of its own, with no character), and then the self-test's end.
    pub fn type_test_keys(&mut self, step: Duration) {
        for (key, line) in [
            ("a", "key: 'a' U+0061"),
            ("shift-a", "key: 'A' U+0041"),
            ("1", "key: '1' U+0031"),
            ("ret", "key: enter"),
        ] {
            self.sendkey(key);
            self.expect_line(line, step);
        }
        self.expect_exit(Exit::Success, step);
    }

    /// Presses a key on the PS/2 keyboard through the QEMU monitor (`sendkey a`, `sendkey shift-a`, `ret`).
    pub fn sendkey(&mut self, key: &str) {
        self.monitor_command(&format!("sendkey {key}"));
        // The monitor holds a key for 100 ms; let it be released before the next one.
        thread::sleep(Duration::from_millis(150));
    }

    /// The VGA text screen once a line of it reads `line` exactly, or as it is when `within` has passed (the
    /// caller's assertions then show it). The screen lags the serial line: the console writes serial first.
    pub fn screen_showing(&mut self, line: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if screen.iter().any(|l| l == line) || Instant::now() > deadline {
                return screen;
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// `length` bytes of the guest's RAM from physical address `start`, read through the monitor.
    pub fn physical_memory(&mut self, start: u64, length: usize) -> Vec<u8> {
        let dump = self._dir.path().join("memory.bin");
        let _ = std::fs::remove_file(&dump);
        self.monitor_command(&format!(
            "pmemsave {start:#x} {length:#x} \"{}\"",
            dump.display()
        ));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match std::fs::read(&dump) {
                Ok(bytes) if bytes.len() == length => return bytes,
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => self.fail("the QEMU monitor did not save the memory"),
            }
        }
    }

    /// The VGA text screen (25 lines of 80 characters, trailing blanks removed), read through the monitor.
    /// Code page 437's pilcrow (0x14) reads as `¶`; other cells that are not ASCII graphics read as spaces.
    pub fn screen(&mut self) -> Vec<String> {
        if self.uefi {
            return self.framebuffer_screen();
        }
        let dump = self._dir.path().join("screen.bin");
        let _ = std::fs::remove_file(&dump);
        self.monitor_command(&format!("pmemsave 0xb8000 4000 \"{}\"", dump.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let bytes = loop {
            match std::fs::read(&dump) {
                Ok(bytes) if bytes.len() == 4000 => break bytes,
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => self.fail("the QEMU monitor did not save the screen"),
            }
        };
        bytes
            .chunks(160)
            .map(|row| {
                let text: String = row
                    .iter()
                    .step_by(2)
                    .map(|&b| match b {
                        0x14 => '\u{b6}',
                        b if b.is_ascii_graphic() => b as char,
                        _ => ' ',
                    })
                    .collect();
                text.trim_end().to_string()
            })
            .collect()
    }

    /// The text on a UEFI PC's framebuffer, as [`Vm::screen`] gives the VGA text screen's: the screen saved
    /// through the monitor (`screendump`), read by [`cells_text`].
    fn framebuffer_screen(&mut self) -> Vec<String> {
        let dump = self._dir.path().join("screen.ppm");
        let _ = std::fs::remove_file(&dump);
        self.monitor_command(&format!("screendump \"{}\"", dump.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let (width, height, pixels) = loop {
            let read = std::fs::read(&dump).ok().and_then(|bytes| read_ppm(&bytes));
            match read {
                Some(image) => break image,
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => self.fail("the QEMU monitor did not save the screen"),
            }
        };
        cells_text(width, height, |x, y| {
            pixels
                .get((y * width + x) * 3)
                .is_some_and(|&red| red > 0x55)
        })
    }

    /// The text on a framebuffer of 32-bit pixels (blue, green, red, unused) in the guest's memory at `address`,
    /// `width` x `height` pixels and `pitch` bytes a line, read through the monitor and by [`cells_text`].
    pub fn memory_screen(
        &mut self,
        address: u64,
        width: usize,
        height: usize,
        pitch: usize,
    ) -> Vec<String> {
        let bytes = self.physical_memory(address, pitch * height);
        cells_text(width, height, |x, y| bytes[y * pitch + x * 4 + 2] > 0x55)
    }

    /// Sends one command line to the QEMU monitor (connecting on first use).
    pub fn monitor_command(&mut self, command: &str) {
        if self.monitor.is_none() {
            let deadline = Instant::now() + Duration::from_secs(10);
            let stream = loop {
                match UnixStream::connect(&self.monitor_path) {
                    Ok(stream) => break stream,
                    Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                    Err(e) => self.fail(&format!("cannot reach the QEMU monitor: {e}")),
                }
            };
            // The monitor talks back (banner, prompts, echo); drain it so it never blocks.
            let mut reader = stream.try_clone().unwrap();
            thread::spawn(move || {
                let mut sink = [0u8; 1024];
                while reader.read(&mut sink).map(|n| n > 0).unwrap_or(false) {}
            });
            self.monitor = Some(stream);
        }
        let sent = self
            .monitor
            .as_mut()
            .unwrap()
            .write_all(format!("{command}\n").as_bytes());
        if let Err(e) = sent {
            self.fail(&format!("cannot send {command:?} to the QEMU monitor: {e}"));
        }
    }

    /// Waits for QEMU to end and returns its exit status; kills it and panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader thread take the last lines into the transcript.
                    thread::sleep(Duration::from_millis(50));
                    return status.code().unwrap_or(-1);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    self.fail(&format!("QEMU still running after {timeout:?}"));
                }
            }
        }
    }

    /// Waits for QEMU to end with this outcome; panics with the transcript otherwise.
    pub fn expect_exit(&mut self, expected: Exit, timeout: Duration) {
        let status = self.wait_exit(timeout);
        if status != expected.status() {
            self.fail(&format!(
                "QEMU exited with status {status}, expected {} ({expected:?}); 0 means a reset or triple fault",
                expected.status()
            ));
        }
    }

    /// Everything read from the serial line so far.
    pub fn transcript(&self) -> String {
        self.transcript.lock().unwrap().clone()
    }

    /// What QEMU wrote to its stderr so far: its own messages, and the events a `-trace` argument asks for.
    pub fn qemu_stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Panics with `message`, the serial transcript and QEMU's own messages.
    pub fn fail(&mut self, message: &str) -> ! {
        let _ = self.child.kill();
        thread::sleep(Duration::from_millis(50));
        panic!(
            "{message}\n----- serial transcript -----\n{}----- QEMU stderr -----\n{}-----",
            self.transcript(),
            self.stderr.lock().unwrap()
        );
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bootscript-boot-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The arguments that make GRUB's `multiboot2` line pass `cmdline` to the payload as it is written. GRUB joins
/// its arguments with spaces, wraps one that holds a space in double quotes, and puts a backslash before a
/// quote or backslash inside one. So a word wrapped in double quotes as a whole (`"name=two words"`) is an
/// argument without them; any other quote could not come through as written, and is refused.
pub fn grub_words(cmdline: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = cmdline.trim_start();
    while !rest.is_empty() {
        let (word, after) = match rest.strip_prefix('"') {
            Some(inner) => {
                let end = inner.find('"').expect("a closing quote");
                (&inner[..end], &inner[end + 1..])
            }
            None => rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len())),
        };
        assert!(
            !word.contains(['"', '\\', '\''])
                && after.chars().next().is_none_or(char::is_whitespace),
            "GRUB would not pass this command line as written: {cmdline}"
        );
        words.push(word);
        rest = after.trim_start();
    }
    words
}

/// The payload's 80x25 cells on a screen of `width` x `height` pixels, where `lit(x, y)` says whether a pixel shows
/// text: each cell read as the character whose glyph in GRUB's font it shows (scaled up as the payload scales it:
/// the middle of each font pixel's square is looked at), `_` for a cell whose pixels are no glyph's (the cursor's
/// cell, say); lines without trailing blanks.
fn cells_text(width: usize, height: usize, lit: impl Fn(usize, usize) -> bool) -> Vec<String> {
    let font =
        std::fs::read("/usr/share/grub/unicode.pf2").expect("GRUB's font (run `make setup`)");
    let glyphs = pf2::cells(&font, pf2::characters()).unwrap();
    let scale = (width / 640).min(height / 400).max(1);
    (0..25)
        .map(|row| {
            let text: String = (0..80)
                .map(|column| {
                    let mut cell = [0u8; 16];
                    for (y, bits) in cell.iter_mut().enumerate() {
                        for x in 0..8 {
                            let at = |cell: usize, pixel: usize, size: usize| {
                                (cell * size + pixel) * scale + scale / 2
                            };
                            if lit(at(column, x, 8), at(row, y, 16)) {
                                *bits |= 0x80 >> x;
                            }
                        }
                    }
                    glyphs
                        .iter()
                        .zip(pf2::characters())
                        .find(|(glyph, _)| **glyph == cell)
                        .map_or('_', |(_, c)| c)
                })
                .collect();
            text.trim_end().to_string()
        })
        .collect()
}

/// A binary PPM image (QEMU's `screendump`): its width, height and RGB bytes, or `None` until it is whole.
fn read_ppm(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let mut fields = bytes.splitn(5, |b| b.is_ascii_whitespace());
    let (magic, width, height, _max) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let number = |field: &[u8]| std::str::from_utf8(field).ok()?.parse::<usize>().ok();
    let (width, height) = (number(width)?, number(height)?);
    let pixels = fields.next()?;
    (magic == b"P6" && pixels.len() == width * height * 3).then(|| (width, height, pixels.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::pf2;

    /// A font file of one glyph, as grub-mkfont lays one out: 'A', 3x2 pixels, one right of the origin, on the
    /// baseline (ascent 14), its rows `#.#` and `.##` packed without padding.
    fn font() -> Vec<u8> {
        let section =
            |name: &[u8], body: &[u8]| [name, &(body.len() as u32).to_be_bytes(), body].concat();
        let mut file = [
            section(b"FILE", b"PFF2"),
            section(b"ASCE", &14u16.to_be_bytes()),
        ]
        .concat();
        // The glyph goes after the index (9 bytes) and DATA's header (8).
        let glyph_at = (file.len() + 8 + 9 + 8) as u32;
        let entry = [&0x41u32.to_be_bytes()[..], &[0], &glyph_at.to_be_bytes()].concat();
        file.extend(section(b"CHIX", &entry));
        file.extend(b"DATA\xff\xff\xff\xff");
        for field in [3i16, 2, 1, 0, 8] {
            file.extend(field.to_be_bytes());
        }
        file.push(0b1010_1100);
        file
    }

    #[test]
    fn a_glyph_is_placed_on_the_baseline_of_its_cell() {
        let cells = pf2::cells(&font(), "A".chars()).unwrap();
        let mut expected = [0u8; 16];
        expected[12] = 0b0101_0000;
        expected[13] = 0b0011_0000;
        assert_eq!(cells, [expected]);
        assert_eq!(
            pf2::cells(&font(), "B".chars()).unwrap_err(),
            "no glyph for 'B'"
        );
        assert_eq!(
            pf2::cells(b"GRUB", "A".chars()).unwrap_err(),
            "not a PF2 font file"
        );
        let cut = font();
        assert!(pf2::cells(&cut[..cut.len() - 1], "A".chars()).is_err());
    }
}
