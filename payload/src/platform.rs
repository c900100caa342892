//! The payload's safe surface: bring the machine up once with [`start`], then consoles, clock, power and the
//! boot information through the functions re-exported here. The interpreter is wired to these.

use core::panic::PanicInfo;

use spin::Once;

pub use crate::bootinfo::{MemoryKind, MemoryRegion, MemorySource, Rsdp};

/// The boot information as the payload keeps it (strings point into the boot loader's structure).
pub type BootInfo = crate::bootinfo::BootInfo<'static>;
/// A module as the payload keeps it; its contents are [`module_bytes`].
pub type Module = crate::bootinfo::Module<'static>;
pub use crate::clock::{sleep_ms, time_ms};
pub use crate::console::{read_key, read_line, read_line_timeout, set_keymap, write, ReadError};
pub use crate::drivers::keyboard::UnknownKeymap;
pub use crate::heap::usage as heap_usage;
pub use crate::power::{exit_qemu, power_off, reboot, ExitCode};

use crate::arch::{cpu, exceptions, paging};
use crate::bootinfo::{self, BootInfoError, MAPPED_LIMIT, MULTIBOOT2_MAGIC};
use crate::memory::{self, Range};
use crate::{clock, cmdline, console, heap, print, println};
use multiboot2::{BootInformation, BootInformationHeader};

/// The payload's version, shown in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

static BOOT_INFO: Once<BootInfo> = Once::new();
/// The loaded Multiboot2 structure that `BOOT_INFO`'s strings point into.
static MULTIBOOT_INFO: Once<BootInformation<'static>> = Once::new();

/// The boot information, once [`start`] has read it.
pub fn boot_info() -> Option<&'static BootInfo> {
    BOOT_INFO.get()
}

/// Prints one machine-readable phase line (`bootscript: phase=NAME t_ms=N`) for the benchmarks.
pub fn phase(name: &str) {
    println!("bootscript: phase={name} t_ms={}", time_ms());
}

/// The BIOS data area's keyboard flags (the locks: bit 4 Scroll, 5 Num, 6 Caps Lock).
const BIOS_KEYBOARD_FLAGS: usize = 0x417;

unsafe extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// Brings the machine up: consoles, CPU tables, clock, boot information, heap; prints the banner.
/// `magic` and `info_address` are what the boot loader passed in EAX and EBX. Returns only if the payload can
/// go on (a heap exists); otherwise it has said why and stops.
///
/// # Safety
/// Call once, first thing, from the entry stub, with the boot loader's registers.
pub unsafe fn start(magic: u32, info_address: u32) -> &'static BootInfo {
    clock::start();
    cpu::enable_extended_state();
    // The exception table first: a fault anywhere after this is reported (once a console is open), never a
    // silent triple fault.
    cpu::init_gdt();
    exceptions::init();
    cpu::mask_legacy_interrupts();
    paging::protect_stack();
    let serial = console::init_serial();
    // SAFETY: the boot loader passed these registers; the information stays where it is (kept out of the heap).
    let parsed = unsafe { load_boot_info(magic, info_address) };
    // The VGA text screen, or the framebuffer GRUB set up on a UEFI PC instead.
    let mut refused = None;
    match &parsed {
        Ok(boot) if !boot.vga_text => {
            if let Some(fb) = &boot.framebuffer {
                refused = console::init_framebuffer(fb).err().map(|why| (fb, why));
            }
        }
        _ => console::init_screen(),
    }
    // The locks as the BIOS left them; a UEFI PC has no BIOS data area, and its byte there means nothing.
    let uefi = parsed.as_ref().is_ok_and(|b| b.uefi);
    let flags = match uefi {
        true => 0,
        // SAFETY: the BIOS data area lies in the first page, identity mapped and readable; its byte at 0x417 (the
        // keyboard flags) is only read.
        false => unsafe { core::ptr::read_volatile(BIOS_KEYBOARD_FLAGS as *const u8) },
    };
    console::init_keyboard(flags);
    println!("bootscript {VERSION} starting");
    if let Err(error) = serial {
        println!(
            "bootscript: serial console unavailable: {error}; using the screen and keyboard only"
        );
    }
    if let Some((fb, why)) = refused {
        println!(
            "bootscript: the framebuffer ({}x{}, {} bits per pixel) is no screen: {why}",
            fb.width, fb.height, fb.bits_per_pixel
        );
    }
    phase("consoles");
    let rsdp = parsed.as_ref().ok().and_then(|boot| boot.rsdp.as_ref());
    match clock::calibrate(|| rsdp.and_then(crate::power::pm_timer)) {
        Some((rate, by)) => println!(
            "bootscript: clock: TSC {}.{:03} MHz (by {by})",
            rate / 1000,
            rate % 1000
        ),
        None => println!(
            "bootscript: clock: neither the PIT nor the ACPI PM timer counted; times are guesses (2 GHz assumed)"
        ),
    }
    phase("clock");
    let boot = match parsed {
        Ok(boot) => BOOT_INFO.call_once(|| boot),
        Err(error) => fail(format_args!("cannot read the boot information: {error}")),
    };
    if boot.ignored_modules > 0 {
        println!(
            "bootscript: {} module(s) left out (more than {} or not inside the first 4 GiB)",
            boot.ignored_modules,
            bootinfo::MAX_MODULES
        );
    }
    if boot.ignored_regions > 0 {
        println!(
            "bootscript: {} memory map entries left out",
            boot.ignored_regions
        );
    }
    phase("bootinfo");
    let heap = choose_heap(boot);
    // SAFETY: `choose_heap` returns usable RAM below the mapping limit that overlaps no image, module or
    // boot information, and nothing else in the payload uses RAM it did not get from the heap.
    unsafe { heap::init(heap) };
    phase("heap");
    banner(boot, heap);
    if let Some(name) = cmdline::value(boot.cmdline, "keymap") {
        match set_keymap(name) {
            Ok(()) => println!("keymap: {name}"),
            Err(error) => println!("keymap: {name}: {error}"),
        }
    }
    phase("banner");
    // The USB keyboards, before anything asks for a key (the PS/2 one needs no setting up). (No phase line of its
    // own: on a machine without xHCI nothing is printed, and the screen keeps its lines for the banner.)
    // (On a BIOS PC the firmware may be emulating a PS/2 keyboard for a USB one: see `probe`.)
    let emulated = !boot.uefi && crate::drivers::keyboard::i8042_present();
    crate::drivers::xhci::probe(emulated);
    boot
}

/// # Safety
/// As for [`start`]: the boot loader's EAX and EBX, the structure left intact for the whole run.
unsafe fn load_boot_info(magic: u32, address: u32) -> Result<BootInfo, BootInfoError> {
    if magic != MULTIBOOT2_MAGIC {
        return Err(BootInfoError::NotMultiboot2(magic));
    }
    let pointer = address as usize as *const BootInformationHeader;
    // SAFETY: the magic says a Multiboot2 loader passed this address; nothing overwrites it (heap avoids it).
    let info = unsafe { BootInformation::load(pointer) }.map_err(|_| BootInfoError::Malformed)?;
    Ok(bootinfo::read(MULTIBOOT_INFO.call_once(|| info)))
}

/// A module's contents.
pub fn module_bytes(module: &Module) -> &'static [u8] {
    // SAFETY: `bootinfo::read` keeps only modules inside the identity-mapped first 4 GiB with start <= end;
    // the heap is placed outside them and nothing writes there, so the bytes stay valid and unchanged.
    unsafe {
        core::slice::from_raw_parts(
            module.range.start as *const u8,
            module.range.length() as usize,
        )
    }
}

/// The RAM below this is left out of the heap, for kernels loaded where they ask (see [`choose_heap`])...
const KERNELS_LOW: u64 = 128 << 20;
/// ...where the heap still gets at least this much above it.
const LARGE_HEAP: u64 = 256 << 20;

fn choose_heap(boot: &BootInfo) -> Range {
    let usable: [Range; bootinfo::MAX_REGIONS] =
        core::array::from_fn(|i| match boot.memory_map().get(i) {
            Some(region) if region.kind == MemoryKind::Usable => region.range,
            _ => Range { start: 0, end: 0 },
        });
    let image = Range {
        start: core::ptr::addr_of!(__image_start) as u64,
        end: core::ptr::addr_of!(__image_end) as u64,
    };
    let (reserved, count) = boot.kept_from_heap(image);
    match boot.memory_source {
        MemorySource::Nothing => fail(format_args!(
            "the boot loader gave no memory map (neither the memory map nor the basic memory tag); \
             cannot place the heap"
        )),
        MemorySource::BasicInfo => {
            println!("bootscript: no memory map from the boot loader; using basic memory info")
        }
        MemorySource::MemoryMap => {}
    }
    match memory::largest_free(&usable, &reserved[..count], MAPPED_LIMIT) {
        // Multiboot2 kernels load at the addresses they are linked at, low ones (1 MiB, 2 MiB for Xen, 16
        // MiB), and a Linux kernel that cannot be relocated at its pref_address (16 MiB, and Debian's needs
        // 51 MiB from there): the RAM below KERNELS_LOW stays out of the heap for them, where the rest is large
        // enough.
        Some(range) if range.start < KERNELS_LOW && range.end >= KERNELS_LOW + LARGE_HEAP => {
            Range {
                start: KERNELS_LOW,
                end: range.end,
            }
        }
        Some(range) => range,
        None => fail(format_args!(
            "no free RAM outside the payload, modules and boot information for the heap"
        )),
    }
}

fn banner(boot: &BootInfo, heap: Range) {
    const MIB: u64 = 1 << 20;
    println!("bootscript {VERSION}: boot script loader");
    println!("boot loader: {}", boot.loader);
    print!("cpu:");
    for name in cpu::feature_names() {
        print!(" {name}");
    }
    println!();
    println!("cmdline: {}", boot.cmdline);
    println!(
        "memory: {} MiB usable; heap {} MiB at {:#x}-{:#x}",
        boot.usable_bytes() / MIB,
        heap.length() / MIB,
        heap.start,
        heap.end
    );
    println!("memory map: {} entries", boot.memory_map().len());
    for region in boot.memory_map() {
        println!(
            "  {:#014x}-{:#014x} {}",
            region.range.start,
            region.range.end,
            region.kind.name()
        );
    }
    match boot.modules().len() {
        0 => println!("modules: none"),
        n => println!("modules: {n}"),
    }
    for module in boot.modules() {
        println!(
            "  module \"{}\" at {:#x} size {}",
            module.name,
            module.range.start,
            module.range.length()
        );
    }
    match boot.rsdp {
        Some(rsdp) => println!(
            "acpi: rsdp at {:#x} revision {} table {:#x}",
            rsdp.address, rsdp.revision, rsdp.table_address
        ),
        None => println!("acpi: no rsdp"),
    }
}

/// Says why the payload cannot go on and stops (a QEMU test run ends with the failure code).
pub fn fail(args: core::fmt::Arguments<'_>) -> ! {
    console::emergency(format_args!("bootscript: FATAL: {args}\n"));
    exit_qemu(ExitCode::Failure)
}

/// Where the payload's loaded image lies (code, constants, data, stack and tables), for the exception report.
pub fn image_range() -> (u64, u64) {
    // Only the addresses of the linker's symbols are taken, never their contents.
    (
        core::ptr::addr_of!(__image_start) as u64,
        core::ptr::addr_of!(__image_end) as u64,
    )
}

/// The rest of the report of a panic, called by the exception handler for the `ud2` a panic ends in.
///
/// The payload is built with `-Cpanic=immediate-abort` (12 KB less code: no panic messages are formatted), so
/// a panic stops at a `ud2` right where it happened and its message is not known; its address is, and
/// `addr2line -fCe build/bootscript.full.elf ADDRESS` names the function. A failed allocation that nothing
/// could handle (an infallible one) is named, since the allocator noted it.
pub fn report_panic(rip: u64) {
    console::emergency(format_args!(
        "bootscript: PANIC: an internal error at {rip:#x} (addr2line -fCe build/bootscript.full.elf {rip:#x})\n"
    ));
    if let Some(size) = heap::last_failure() {
        console::emergency(format_args!(
            "bootscript: memory allocation of {size} bytes failed\n"
        ));
    }
    if let Some((used, size)) = heap::usage_for_report() {
        console::emergency(format_args!(
            "bootscript: heap: {used} of {size} bytes in use\n"
        ));
    }
}

/// Never called: with `-Cpanic=immediate-abort` a panic is a `ud2` (see `report_panic`); `no_std` still
/// needs a handler.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    exit_qemu(ExitCode::Failure)
}
