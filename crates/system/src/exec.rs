//! `exec`: read the kernel and its initrds from the mounted tree, lay everything out with the hand-off crate,
//! and give the result to the machine to copy and jump (or, on the host, to describe).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bootscript_handoff::memory::{FreeMemory, MemoryRegion};
use bootscript_handoff::{cpio, detect, linux, multiboot2, Error, KernelKind};
use bootscript_lang::Value;

use crate::{data_arg, str_arg, Machine, World};

/// Physical memory as the hand-off sees it.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// The firmware's memory map (Multiboot2 types).
    pub map: Vec<MemoryRegion>,
    /// `(start, length)` ranges that must survive until the jump: the boot stage, its stack, the part of its
    /// heap in use (where the kernel and initrd bytes are read to).
    pub in_use: Vec<(u64, u64)>,
    /// The first address the machine cannot write (the end of its identity map).
    pub limit: u64,
    /// The ACPI RSDP's bytes (as the boot loader passed them on), for a Multiboot2 kernel's information.
    pub rsdp: Option<Vec<u8>>,
    /// Where the firmware keeps the RSDP, for Linux: not the boot loader's copy, which lies in RAM that Linux
    /// reuses. `None` where it was not found (Linux then looks for it itself).
    pub rsdp_address: Option<u64>,
    /// The VGA text cursor (column, row), so Linux's console goes on below our lines; `None` where the screen
    /// is not in VGA text mode (the boot loader set a graphics framebuffer).
    pub cursor: Option<(u8, u8)>,
    /// The boot loader's linear framebuffer, where there is no VGA text screen (a UEFI PC), for Linux.
    pub framebuffer: Option<bootscript_handoff::Framebuffer>,
    /// A UEFI PC's system table and memory map, for Linux's efi_info (the map is copied when `exec` plans).
    pub efi: Option<bootscript_handoff::Efi<'static>>,
}

/// A kernel ready to start: the copies to make and the state to enter with.
pub enum Handoff<'a> {
    Linux(linux::LinuxBoot<'a>),
    Multiboot2(multiboot2::Multiboot2Boot<'a>),
}

/// What `exec` boots, for the log and the host's dry run: paths and sizes, never contents.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub kernel: String,
    /// "linux" or "multiboot2".
    pub kind: &'static str,
    pub cmdline: String,
    /// Each initrd's path and size in bytes, in load order.
    pub initrds: Vec<(String, u64)>,
    /// Each file handed on and its size in bytes.
    pub files: Vec<(String, u64)>,
}

/// The name of the extra module that carries `files` to a Multiboot2 kernel.
const FILES_MODULE: &str = "bootscript-files.cpio";

/// exec(kernel, cmdline="", initrd=nil, files=nil)
pub(crate) fn exec<M: Machine>(world: &mut World<M>, args: &[Value]) -> Result<Value, String> {
    let nil = Value::Nil;
    let arg = |i: usize| args.get(i).unwrap_or(&nil);
    let kernel_path = String::from(str_arg(arg(0), "kernel")?);
    let cmdline = String::from(str_arg(arg(1), "cmdline")?);
    // The kernel reads its command line as a C string: it would end at the NUL, without a word.
    if cmdline.contains('\0') {
        return Err(String::from("the command line holds a NUL byte (\\0)"));
    }
    let initrd_paths: Vec<String> = match arg(2) {
        Value::Nil => Vec::new(),
        Value::Str(_) => alloc::vec![String::from(str_arg(arg(2), "initrd")?)],
        list => match list.list_items() {
            Some(items) => {
                let mut paths = Vec::with_capacity(items.len());
                for item in items.iter() {
                    paths.push(String::from(str_arg(item, "each initrd")?));
                }
                paths
            }
            None => {
                return Err(format!(
                    "initrd must be a path or a list of paths, not {}",
                    list.type_name()
                ))
            }
        },
    };
    let files: Vec<(String, Value)> = match arg(3) {
        Value::Nil => Vec::new(),
        map => map
            .map_entries()
            .ok_or_else(|| format!("files must be a map, not {}", map.type_name()))?,
    };
    let mut file_slices: Vec<(&str, &[u8])> = Vec::with_capacity(files.len());
    let mut file_sizes = Vec::with_capacity(files.len());
    for (path, value) in &files {
        let data = data_arg(value, &format!("files[\"{path}\"]"))?;
        file_slices.push((path, data));
        file_sizes.push((path.clone(), data.len() as u64));
    }

    // (Not the script's values: held by the hand-off, to the size of memory.)
    let kernel = world.read_file(&kernel_path, usize::MAX)?;
    let kind = detect(&kernel).map_err(|e| about(&kernel_path, e))?;
    let mut initrds = Vec::with_capacity(initrd_paths.len());
    let mut initrd_sizes = Vec::with_capacity(initrd_paths.len());
    for path in &initrd_paths {
        let data = world.read_file(path, usize::MAX)?;
        initrd_sizes.push((path.clone(), data.len() as u64));
        initrds.push(data);
    }
    let mut initrd_slices: Vec<&[u8]> = Vec::with_capacity(initrds.len());
    for data in &initrds {
        initrd_slices.push(data);
    }

    let summary = Summary {
        kernel: kernel_path.clone(),
        kind: match kind {
            KernelKind::Linux => "linux",
            KernelKind::Multiboot2 => "multiboot2",
        },
        cmdline: cmdline.clone(),
        initrds: initrd_sizes,
        files: file_sizes,
    };
    // A refusal from here on, or a jump that failed, leaves the block with its message: what is held is
    // dropped in one place (smaller code than a return at each step).
    let message = 'exec: {
        // The files archive first: the memory in use is taken after it, so that its bytes are kept clear too.
        let archive = if file_slices.is_empty() {
            Vec::new()
        } else {
            match cpio::archive(&file_slices) {
                Ok(archive) => archive,
                Err(e) => break 'exec format!("files: {e}"),
            }
        };
        let memory = world.machine.memory();
        let mut free = FreeMemory::from_map(&memory.map);
        for &(start, len) in &memory.in_use {
            free.reserve(start, len);
        }
        // A Multiboot2 kernel's modules: the initrds, then the files archive.
        let mut modules: Vec<(&[u8], &[u8])> = Vec::new();
        let handoff = match kind {
            KernelKind::Linux => {
                // Nothing of Linux's is copied where UEFI's boot services were (see `Efi::boot_services`). (A
                // Multiboot2 kernel may load there, as GRUB lets it once it has left them: one linked low may
                // have no other place.)
                if let Some(efi) = memory.efi {
                    efi.boot_services(|start, len| free.reserve(start, len));
                }
                let machine = linux::Machine {
                    memory_map: &memory.map,
                    rsdp_addr: memory.rsdp_address,
                    cursor: memory.cursor,
                    framebuffer: memory.framebuffer,
                    efi: memory.efi,
                };
                linux::prepare(
                    &kernel,
                    cmdline.as_bytes(),
                    &initrd_slices,
                    archive,
                    &machine,
                    &mut free,
                    memory.limit,
                )
                .map(Handoff::Linux)
            }
            KernelKind::Multiboot2 => {
                for (path, data) in initrd_paths.iter().zip(&initrds) {
                    modules.push((path.as_bytes(), data));
                }
                if !archive.is_empty() {
                    modules.push((FILES_MODULE.as_bytes(), &archive));
                }
                let machine = multiboot2::Info {
                    memory_map: &memory.map,
                    rsdp: memory.rsdp.as_deref(),
                    framebuffer: memory.framebuffer,
                    efi: memory.efi,
                    ..Default::default()
                };
                multiboot2::prepare(&kernel, cmdline.as_bytes(), &modules, &machine, &mut free)
                    .map(Handoff::Multiboot2)
            }
        };
        match handoff {
            Ok(handoff) => world.machine.boot(handoff, &summary),
            Err(e) => about(&kernel_path, e),
        }
    };
    Err(message)
}

/// A hand-off error about the kernel at `path`, formatted in one place for the three steps that can fail.
fn about(path: &str, error: Error) -> String {
    format!("{path}: {error}")
}
