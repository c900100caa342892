//! The host as the script's [`Machine`]: stdout for the consoles, stdin for `prompt`, image files for disks,
//! and a dry run instead of the jump.

use std::io::{BufRead, IsTerminal, Write};
use std::process::Command;
use std::rc::Rc;
use std::time::Instant;

use bootscript_disk::{BlockDevice, ImageFile};
use bootscript_system::{pc_map, Handoff, Machine, Memory, Summary};

/// The PC a dry run plans for: QEMU's `-m 1G` memory map, with the boot stage at 1 MiB.
const DRY_RUN_RAM: u64 = 1 << 30;

pub struct Host {
    start: Instant,
    stdin: std::io::StdinLock<'static>,
    /// The disk images given with --disk, opened, in order: hd0, hd1, ...
    images: Vec<Rc<dyn BlockDevice>>,
    /// halt() or reboot() was called: the run ends successfully.
    pub stopped: bool,
}

/// Opens the `--disk` images as hd0, hd1, ... A path that is not there, or that names a directory, is refused
/// with the error of the first such path: a dry run goes on with the disks it was given or not at all (a
/// script run without its disk would fail later, with an error that does not name the path).
pub fn open_disks(paths: &[String]) -> Result<Vec<Rc<dyn BlockDevice>>, String> {
    let mut disks: Vec<Rc<dyn BlockDevice>> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let open = |path| {
            if std::fs::metadata(path)?.is_dir() {
                return Err(std::io::Error::from(std::io::ErrorKind::IsADirectory));
            }
            ImageFile::with_name(path, &format!("hd{i}"))
        };
        disks.push(Rc::new(
            open(path).map_err(|e| format!("--disk {path}: {e}"))?,
        ));
    }
    Ok(disks)
}

impl Host {
    pub fn new(images: Vec<Rc<dyn BlockDevice>>) -> Host {
        Host {
            start: Instant::now(),
            stdin: std::io::stdin().lock(),
            images,
            stopped: false,
        }
    }
}

impl Machine for Host {
    fn write(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn read_line(&mut self, echo: bool) -> Result<String, String> {
        // Never echo a passphrase: turn the terminal's echo off while it is typed.
        let hide = !echo && std::io::stdin().is_terminal();
        if hide {
            let _ = Command::new("stty").arg("-echo").status();
        }
        let mut line = String::new();
        let result = self.stdin.read_line(&mut line);
        if hide {
            let _ = Command::new("stty").arg("echo").status();
        }
        if !echo {
            // Nothing showed the Enter: end the prompt's line, as the payload's console does.
            self.write("\n");
        }
        match result {
            Ok(0) => Err("end of input".into()),
            Ok(_) => {
                let trimmed = line.trim_end_matches(['\n', '\r']).len();
                line.truncate(trimmed);
                Ok(line)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn time_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn sleep_ms(&mut self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    fn reboot(&mut self) -> String {
        self.stopped = true;
        "reboot".into()
    }

    fn halt(&mut self) -> String {
        self.stopped = true;
        "halt".into()
    }

    fn keymap(&mut self, name: &str) -> Result<(), String> {
        match name {
            "us" | "uk" | "de" | "fr" => Ok(()),
            _ => Err(format!("unknown keymap '{name}' (us, uk, de, fr)")),
        }
    }

    fn disks(&mut self) -> Vec<Rc<dyn BlockDevice>> {
        self.images.clone()
    }

    fn memory(&mut self) -> Memory {
        Memory {
            map: pc_map(DRY_RUN_RAM),
            // The payload's heap holding what the script read, as on the machine (its image at 1 MiB may be
            // overwritten by a Multiboot2 kernel: the payload relocates itself out of the way).
            in_use: vec![(0x200000, 32 << 20)],
            limit: 1 << 32,
            rsdp: None,
            cursor: (0, 24),
        }
    }

    fn boot(&mut self, handoff: Handoff<'_>, summary: &Summary) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "exec: dry run: would boot {} as a {} kernel\n",
            summary.kernel, summary.kind
        ));
        match &handoff {
            Handoff::Linux(b) => {
                let (major, minor) = b.image.header.version_pair();
                out.push_str(&format!(
                    "exec: Linux boot protocol {major}.{minor}{}\n",
                    b.image
                        .kernel_version()
                        .map(|v| format!(", version {v}"))
                        .unwrap_or_default()
                ));
                out.push_str(&format!(
                    "exec: kernel {} bytes at {:#x} ({} bytes reserved), 64-bit entry {:#x}\n",
                    b.image.protected_mode().len(),
                    b.plan.kernel_addr,
                    b.plan.kernel_span,
                    b.plan.entry_64
                ));
                if b.plan.initrd_len > 0 {
                    out.push_str(&format!(
                        "exec: initrd area {} bytes at {:#x}\n",
                        b.plan.initrd_len, b.plan.initrd_addr
                    ));
                }
                out.push_str(&format!(
                    "exec: boot_params at {:#x}\n",
                    b.plan.boot_params_addr
                ));
            }
            Handoff::Multiboot2(b) => {
                out.push_str(&format!(
                    "exec: Multiboot2 entry {:#x}, {} segment(s), information at {:#x}\n",
                    b.image.entry,
                    b.image.segments.len(),
                    b.info_addr
                ));
            }
        }
        out.push_str(&format!("exec: command line: {}\n", summary.cmdline));
        for (path, size) in &summary.initrds {
            out.push_str(&format!("exec: initrd {path} ({size} bytes)\n"));
        }
        for (path, size) in &summary.files {
            out.push_str(&format!("exec: file handed on: {path} ({size} bytes)\n"));
        }
        self.write(&out);
        // exec does not return: a dry run ends here, successfully.
        std::process::exit(0)
    }
}
